//! The web UI: plain ES modules and hand-written CSS under `crates/modelgate-server/ui/`,
//! embedded in the binary at build time (no build step, no CDN, works offline) and served
//! under `/ui/` with a strict content security policy. `/` and `/ui` redirect to `/ui/`.
//! The pages talk to the same JSON API as every other client, with the session cookie and
//! its CSRF token.

use crate::state::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Scripts, styles and connections only from this origin; no inline script or style, no
/// framing.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// `(path, content type)` pairs → `(path under /ui/, content type, contents)`, each file
/// embedded from `crates/modelgate-server/ui/` at build time.
macro_rules! assets {
    ($(($path:literal, $ty:expr)),* $(,)?) => {
        &[$(($path, $ty, include_str!(concat!("../ui/", $path)))),*]
    };
}

/// Every asset: its path under `/ui/`, content type and contents.
const ASSETS: &[(&str, &str, &str)] = assets![
    ("index.html", HTML),
    ("app.js", JS),
    ("style.css", CSS),
    ("lib/api.js", JS),
    ("lib/dom.js", JS),
    ("lib/markdown.js", JS),
    ("lib/sse.js", JS),
    ("pages/login.js", JS),
    ("pages/chat.js", JS),
    ("pages/connect.js", JS),
    ("pages/keys.js", JS),
    ("pages/providers.js", JS),
    ("pages/provider-form.js", JS),
    ("pages/tunnels.js", JS),
    ("pages/usage.js", JS),
    ("pages/admin.js", JS),
    ("pages/admin-org.js", JS),
];

/// `GET /`, `GET /ui`, `GET /ui/` and `GET /ui/{*path}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(to_ui))
        .route("/ui", get(to_ui))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(asset))
}

async fn to_ui() -> Redirect {
    Redirect::to("/ui/")
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return with_headers(
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "not found\n",
            )
                .into_response(),
        );
    };
    with_headers(([(header::CONTENT_TYPE, *content_type)], *body).into_response())
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type() {
        for (path, ty, body) in ASSETS {
            assert!(!body.is_empty(), "{path} is empty");
            let resp = serve(path);
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(resp.headers()[header::CONTENT_TYPE], *ty, "{path}");
            assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
            assert_eq!(resp.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(
                resp.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .contains("script-src 'self'")
            );
        }
        assert_eq!(serve("nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("../Cargo.toml").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn every_file_of_the_ui_directory_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap().to_str().unwrap();
                let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
                assert!(
                    ASSETS.iter().any(|(p, _, _)| *p == rel),
                    "ui/{rel} is not in ASSETS"
                );
            }
        }
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let html = ASSETS[0].2;
        assert!(!html.contains("style="), "inline style attribute");
        assert!(!html.contains("<style"), "inline style element");
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
    }
}
