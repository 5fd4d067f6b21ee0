//! The axum extractors every handler takes instead of repeating the same steps: who is
//! calling ([`Reader`], [`OwnReader`], [`Writer`]), a change with its typed body
//! ([`Change`]), a model call with its raw body ([`ModelCall`]), and the request id.
//!
//! Bodies are read *before* the caller is checked, so a refused request never leaves
//! unread bytes on a kept-alive connection; then the caller is authenticated (and, for a
//! session, the CSRF token checked); then the body is parsed. A body that is not the
//! expected JSON is a 400 in the API's error shape, never axum's plain-text rejection; an
//! empty body is read as `{}`.

use crate::caller::{Surface, caller, own_reader, reader, writer};
use crate::error::ApiError;
use crate::request::{RequestId, body_of, read_body};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use modelgate_gateway::GatewayError;
use modelgate_org::auth::Principal;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The caller of an admin read (GET): a key needs the `management` scope.
pub struct Reader(pub Arc<Principal>);

/// The caller of a self-service read (`GET /api/me`, own usage): any key.
pub struct OwnReader(pub Arc<Principal>);

/// The caller of a change without a body (DELETE, actions): a key needs the `management`
/// scope, a session the CSRF token.
pub struct Writer(pub Arc<Principal>);

/// Each caller extractor is its check in [`crate::caller`].
macro_rules! caller_extractor {
    ($extractor:ident, $check:ident) => {
        impl FromRequestParts<AppState> for $extractor {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                st: &AppState,
            ) -> Result<Self, ApiError> {
                $check(st, &parts.headers).await.map(Self)
            }
        }
    };
}

caller_extractor!(Reader, reader);
caller_extractor!(OwnReader, own_reader);
caller_extractor!(Writer, writer);

impl FromRequestParts<AppState> for RequestId {
    type Rejection = ApiError;

    /// Set by the request-id middleware on every request; minted here if it is missing.
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(modelgate_core::ids::new_id("req"))))
    }
}

/// A change to the admin API: who makes it and its body as the typed spec `T`.
pub struct Change<T> {
    pub who: Arc<Principal>,
    pub spec: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Change<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = body_of(&parts.headers, body).await?;
        let who = writer(st, &parts.headers).await?;
        Ok(Self {
            who,
            spec: parse(&bytes)?,
        })
    }
}

/// A body that needs no caller (`POST /api/auth/login`), as the typed spec `T`. Only JSON
/// is taken (a plain HTML form on another site cannot send it), and a browser's
/// cross-site post is refused: `Sec-Fetch-Site: cross-site`, or an `Origin` naming
/// another host than the one the request reached.
pub struct Spec<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Spec<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = body_of(&parts.headers, body).await?;
        if !is_json(&parts.headers) {
            return Err(GatewayError::bad_request(
                "This endpoint takes a JSON body: send content-type: application/json.",
            )
            .with_code("json_required")
            .into());
        }
        if !from_this_site(&parts.headers) {
            return Err(GatewayError::forbidden(
                "Cross-site requests cannot sign in: sign in from the gateway's own pages.",
            )
            .with_code("cross_site_refused")
            .into());
        }
        parse(&bytes).map(Self)
    }
}

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `content-type: application/json` (parameters such as `charset` allowed).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    header(headers, "content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether a request is not a browser's cross-site one. Clients that are not browsers send
/// neither header and pass.
fn from_this_site(headers: &axum::http::HeaderMap) -> bool {
    if header(headers, "sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return false;
    }
    let Some(origin) = header(headers, "origin") else {
        return true;
    };
    // `scheme://host[:port]`; `null` (a sandboxed or local page) names no host.
    let Some((_, origin_host)) = origin.split_once("://") else {
        return false;
    };
    [header(headers, "x-forwarded-host"), header(headers, "host")]
        .into_iter()
        .flatten()
        .any(|host| host.eq_ignore_ascii_case(origin_host))
}

/// Parses an admin body; an empty body is an empty object (`POST /api/keys` with no body
/// mints a key with the defaults). Nesting deeper than the model API allows is refused
/// first, as there: serde_json would skip an unknown field however deep it nests.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let json: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    modelgate_gateway::body::check_depth(json)?;
    serde_json::from_slice(json).map_err(|e| {
        ApiError::from(GatewayError::bad_request(format!(
            "invalid request body: {e}"
        )))
    })
}

/// A model call (`/v1/*` POST): the caller (an AI key with the `inference` scope, or a
/// session that passes the CSRF check and names the allocation to charge), the body as
/// sent (within the gateway's body limit; the proxy only peeks at it), the request id and
/// the request's headers (the Anthropic front door reads its beta header).
pub struct ModelCall {
    pub who: Arc<Principal>,
    pub body: Bytes,
    pub rid: RequestId,
    pub headers: axum::http::HeaderMap,
}

impl FromRequest<AppState> for ModelCall {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let rid = RequestId::from_request_parts(&mut parts, st).await?;
        let body = read_body(&parts.headers, body, st.gateway.settings.max_body_bytes).await?;
        let who = caller(st, &parts.headers, true, Surface::Models).await?;
        Ok(Self {
            who,
            body,
            rid,
            headers: parts.headers,
        })
    }
}

/// A [`ModelCall`] on the Anthropic front door: refusals in Anthropic's error shape.
pub struct AnthropicCall(pub ModelCall);

impl FromRequest<AppState> for AnthropicCall {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        ModelCall::from_request(req, st)
            .await
            .map(Self)
            .map_err(ApiError::anthropic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Spec {
        #[serde(default)]
        meta: Option<serde_json::Value>,
    }

    fn status(r: &Result<Spec, ApiError>) -> Option<u16> {
        r.as_ref().err().map(|e| e.0.kind.status())
    }

    /// `{"<field>": [[...]]}`, `depth` levels deep counting the object.
    fn nested(field: &str, depth: usize) -> String {
        let inner = depth - 1;
        format!(
            r#"{{"{field}":{}{}}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    }

    #[test]
    fn admin_bodies_have_the_depth_limit_of_the_model_api() {
        // serde_json's own recursion limit: a value it builds may nest 127 levels, not 128.
        let v127 = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let v128 = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(serde_json::from_str::<serde_json::Value>(&v127).is_ok());
        let e = serde_json::from_str::<serde_json::Value>(&v128).unwrap_err();
        assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
        // ... but a field the spec does not have is skipped without counting levels.
        let skipped: Spec = serde_json::from_str(&nested("other", 100_000)).unwrap();
        assert!(skipped.meta.is_none());
        // (body, status): with the scan in front, past 127 levels is refused wherever the
        // levels are, as serde_json refuses them in a field it builds.
        let cases = [
            (nested("meta", 127), None),
            (nested("meta", 128), Some(400)),
            (nested("other", 127), None),
            (nested("other", 128), Some(400)),
            (nested("other", 100_000), Some(400)),
            (nested("meta", 100_000), Some(400)),
            (format!(r#"{{"meta":"{}"}}"#, "[".repeat(100_000)), None),
            (String::new(), None),
        ];
        for (body, expected) in cases {
            let parsed = parse::<Spec>(body.as_bytes());
            assert_eq!(status(&parsed), expected, "{}", &body[..body.len().min(30)]);
        }
    }
}
