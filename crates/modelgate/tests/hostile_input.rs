//! Hostile input: what a client, or an upstream anyone may run (a tunnel, a server of
//! their own), can send to hurt the gateway or the upstreams behind it. A body nested
//! deeper than 127 levels (serde_json's own limit) is refused with a 400 in the caller's
//! schema before any upstream call or budget reservation (on the model API and the admin
//! API); a model list too large or too long is refused at discovery, shows on the
//! provider, and the last good list stays; an Entra ID token answer too large is refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `fields` with `"x"` nested so that the whole body is `depth` levels deep.
fn nested(fields: &str, depth: usize) -> String {
    let inner = depth - 1;
    format!(
        r#"{{{fields},"x":{}{}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

async fn post_raw(gw: &Gw, path: &str, body: String) -> reqwest::Response {
    gw.http
        .post(gw.url(path))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bodies_nested_too_deep_are_400_before_any_upstream_call() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "claude", "kind": "anthropic", "endpoint": mock.origin(), "api_key": "sk-ant-x", "models": ["claude-x"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let chat = r#""model":"up:m","messages":[{"role":"user","content":"hi"}]"#;
    let messages =
        r#""model":"claude:claude-x","max_tokens":8,"messages":[{"role":"user","content":"hi"}]"#;
    // (path, fields, the caller's schema is Anthropic's, the upstream path)
    let routes = [
        ("/v1/chat/completions", chat, false, "/v1/chat/completions"),
        (
            "/v1/responses",
            r#""model":"up:m","input":"hi""#,
            false,
            "/v1/responses",
        ),
        (
            "/v1/embeddings",
            r#""model":"up:m","input":"hi""#,
            false,
            "/v1/embeddings",
        ),
        ("/v1/messages", messages, true, "/v1/messages"),
        (
            "/v1/messages/count_tokens",
            messages,
            true,
            "/v1/messages/count_tokens",
        ),
    ];
    for (path, fields, anthropic, _) in routes {
        for depth in [128, 100_000] {
            let r = post_raw(&gw, path, nested(fields, depth)).await;
            assert_eq!(r.status(), 400, "{path} at depth {depth}");
            assert!(r.headers().contains_key("x-request-id"));
            let v: Value = r.json().await.unwrap();
            let err = if anthropic {
                assert_eq!(v["type"], "error", "{path}: Anthropic's error shape");
                &v["error"]
            } else {
                &v["error"]
            };
            assert_eq!(err["type"], "invalid_request_error", "{path}: {v}");
            let message = err["message"].as_str().unwrap();
            assert!(message.contains("deeper than 127 levels"), "{message}");
        }
    }
    for (_, _, _, upstream) in routes {
        assert_eq!(mock.hits(upstream), 0, "{upstream} saw a request");
    }
    // 127 levels pass, on pass-through in both schemas.
    post_raw(&gw, "/v1/chat/completions", nested(chat, 127)).await;
    post_raw(&gw, "/v1/messages", nested(messages, 127)).await;
    assert_eq!(mock.hits("/v1/chat/completions"), 1);
    assert_eq!(mock.hits("/v1/messages"), 1);
    // No attempt, no reservation and no usage record for any refused body: once the
    // record of a last good request is stored, the two forwarded ones are all there is.
    assert_eq!(gw.chat(ADMIN_KEY, "up:m").await.status(), 200);
    let mut records = Vec::new();
    for _ in 0..100 {
        records = gw.org_records().await;
        if records.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(records.len(), 3, "{records:?}");
}

#[tokio::test]
async fn admin_bodies_nested_too_deep_are_400() {
    let gw = start_gateway().await;
    for depth in [128, 100_000] {
        let r = post_raw(
            &gw,
            "/api/providers",
            nested(
                r#""name":"deep","kind":"openai-compatible","endpoint":"http://127.0.0.1:9""#,
                depth,
            ),
        )
        .await;
        let err = expect_error(r, 400).await;
        assert_eq!(err["type"], "invalid_request_error");
        assert!(
            err["message"].as_str().unwrap().contains("deeper than 127"),
            "{err}"
        );
    }
    assert_eq!(gw.get("/api/providers/deep", ADMIN_KEY).await.status(), 404);
}

/// A server of one's own that answers any request with `body` (HTTP/1.1, no declared
/// length, the connection closed at the end), written in 64 KiB pieces; stops writing when
/// the gateway hangs up. Returns its origin.
async fn own_server(body: Arc<Mutex<Vec<u8>>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let body = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                if tcp.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                for piece in body.chunks(64 * 1024) {
                    if tcp.write_all(piece).await.is_err() {
                        return;
                    }
                }
                let _ = tcp.shutdown().await;
            });
        }
    });
    origin
}

fn list_of(n: usize) -> Vec<u8> {
    let items: Vec<String> = (0..n).map(|i| format!(r#"{{"id":"m{i}"}}"#)).collect();
    format!(r#"{{"object":"list","data":[{}]}}"#, items.join(",")).into_bytes()
}

#[tokio::test]
async fn model_lists_too_large_or_too_long_are_refused_and_the_last_good_one_stays() {
    let body = Arc::new(Mutex::new(list_of(3)));
    let origin = own_server(body.clone()).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "own", "kind": "openai-compatible", "endpoint": origin}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let refresh = || async {
        let r = gw
            .post("/api/providers/own/refresh", ADMIN_KEY, json!({}))
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let v = refresh().await;
    assert_eq!(v["models"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["models_error"].is_null());

    // (case, the list, what the provider shows)
    let mut huge = list_of(3);
    huge.splice(1..1, std::iter::repeat_n(b' ', 6 * 1024 * 1024));
    let cases = [
        ("6 MiB, no declared length", huge, "larger than 4 MiB"),
        (
            "10,001 models",
            list_of(10_001),
            "more than the 10000 models",
        ),
    ];
    for (case, list, error) in cases {
        *body.lock().unwrap() = list;
        let v = refresh().await;
        let shown = v["models_error"].as_str().unwrap_or_default();
        assert!(shown.contains(error), "{case}: {v}");
        assert_eq!(v["status"], "error", "{case}");
        assert_eq!(
            v["models"].as_array().unwrap().len(),
            3,
            "{case}: the last good list stays"
        );
    }
    *body.lock().unwrap() = list_of(10_000);
    let v = refresh().await;
    assert_eq!(v["models"].as_array().unwrap().len(), 10_000);
    assert!(v["models_error"].is_null(), "{v}");
}

#[tokio::test]
async fn an_entra_token_answer_too_large_is_refused() {
    let mock = MockUpstream::start(&[]).await;
    let token = br#"{"access_token":"t-own","token_type":"Bearer","expires_in":3600}"#.to_vec();
    let body = Arc::new(Mutex::new(token.clone()));
    let token_url = own_server(body.clone()).await;
    let gw = start_gateway().await;
    let provider = |name: &str| {
        json!({"name": name, "kind": "azure-openai", "endpoint": mock.origin(),
            "auth": {"type": "azure-entra", "tenant_id": "t1", "client_id": "app-1", "client_secret": "s",
                "token_url": token_url},
            "deployments": {"gpt-4o": "d1"}})
    };
    // The same answer padded to 1 MiB (still valid JSON) is refused; as sent, it is used.
    let mut padded = token.clone();
    padded.resize(1024 * 1024, b' ');
    *body.lock().unwrap() = padded;
    assert_eq!(
        gw.post("/api/providers", ADMIN_KEY, provider("big"))
            .await
            .status(),
        201
    );
    let err = expect_error(gw.chat(ADMIN_KEY, "big:gpt-4o").await, 502).await;
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("Entra") && message.contains("larger than 64 KiB"),
        "{message}"
    );
    *body.lock().unwrap() = token;
    assert_eq!(
        gw.post("/api/providers", ADMIN_KEY, provider("small"))
            .await
            .status(),
        201
    );
    assert_eq!(gw.chat(ADMIN_KEY, "small:gpt-4o").await.status(), 200);
    let rec = mock.last("/azure/d1/chat/completions").unwrap();
    assert_eq!(rec.headers["authorization"], "Bearer t-own");
}
