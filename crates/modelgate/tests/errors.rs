//! Bad input and upstream trouble: every case gets an OpenAI-shaped error with the right
//! status, a request id, and never reaches the upstream when the request itself is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn authentication_failures_are_401_and_never_reach_upstream() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let url = gw.url("/v1/chat/completions");
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no header", vec![]),
        ("empty bearer", vec![("authorization", "Bearer ".into())]),
        (
            "wrong scheme",
            vec![("authorization", format!("Basic {ADMIN_KEY}"))],
        ),
        (
            "unknown key",
            vec![(
                "authorization",
                "Bearer mg_unknownunknownunknownunknownunknown1234567".into(),
            )],
        ),
        (
            "huge key",
            vec![("authorization", format!("Bearer {}", "k".repeat(10_000)))],
        ),
        (
            "sql-shaped",
            vec![("authorization", "Bearer ' OR '1'='1' --------".into())],
        ),
        (
            "disagreeing headers",
            vec![
                ("authorization", format!("Bearer {ADMIN_KEY}")),
                ("x-api-key", "mg_other_key_000000000000000000".into()),
            ],
        ),
    ];
    let mut bodies = std::collections::HashSet::new();
    for (name, headers) in cases {
        let mut req = gw.http.post(&url).json(&body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key", "{name}");
        bodies.insert(v.to_string());
    }
    assert_eq!(bodies.len(), 1, "every auth failure looks the same");
    // The stored hash of a key is not a key (pass-the-hash).
    let hash = modelgate_core::keys::hash(ADMIN_KEY);
    expect_error(gw.chat(hash.as_str(), "m").await, 401).await;
    // x-api-key alone is accepted.
    let r = gw
        .http
        .post(&url)
        .header("x-api-key", ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mock.hits("/v1/chat/completions"), 1);
}

#[tokio::test]
async fn malformed_requests_are_400_before_any_upstream_call() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("not json", "{nope", None),
        ("empty", "", None),
        ("array", "[1]", None),
        ("missing model", r#"{"messages":[]}"#, Some("model")),
        ("numeric model", r#"{"model":42}"#, Some("model")),
        ("null model", r#"{"model":null}"#, Some("model")),
        ("trailing garbage", r#"{"model":"m"} x"#, None),
        ("duplicate model", r#"{"model":"m","model":"m"}"#, None),
        ("bad stream", r#"{"model":"m","stream":"yes"}"#, None),
        (
            "invalid utf-8",
            "{\"model\":\"m\u{FFFD}\",\"x\":\"\\ud800\"}",
            None,
        ),
    ];
    for (name, body, param) in cases {
        let resp = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        if name == "invalid utf-8" {
            // A lone surrogate escape is legal JSON text; the gateway forwards it as-is.
            assert_eq!(resp.status(), 404, "{name}");
            continue;
        }
        let err = expect_error(resp, 400).await;
        assert_eq!(err["type"], "invalid_request_error", "{name}");
        if let Some(p) = param {
            assert_eq!(err["param"], p, "{name}");
        }
    }
    let raw = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_KEY)
        .body(b"{\"model\":\"m\xff\"}".to_vec())
        .send()
        .await
        .unwrap();
    expect_error(raw, 400).await;
    assert_eq!(mock.hits("/v1/chat/completions"), 0);
}

#[tokio::test]
async fn routes_methods_and_body_limits() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway_with(|o| o.settings.max_body_bytes = 1024).await;
    gw.add_mock("up", &mock).await;
    let err = expect_error(gw.get("/v1/nothing-here", ADMIN_KEY).await, 404).await;
    assert_eq!(err["code"], "unknown_route");
    expect_error(gw.get("/v1/chat/completions", ADMIN_KEY).await, 405).await;

    let big = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    let err = expect_error(
        gw.post("/v1/chat/completions", ADMIN_KEY, big.clone())
            .await,
        413,
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("1024"));
    // Chunked, with no content-length.
    let bytes = serde_json::to_vec(&big).unwrap();
    let stream = futures_util::stream::iter(
        bytes
            .chunks(100)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_KEY)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    expect_error(resp, 413).await;
    assert_eq!(mock.hits("/v1/chat/completions"), 0);
}

#[tokio::test]
async fn upstream_errors_are_relayed_with_their_status() {
    let mock = MockUpstream::start(&["error-500", "error-429", "html-502", "echo-key"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;

    let r = gw.chat(ADMIN_KEY, "error-500").await;
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "mock exploded");

    let r = gw.chat(ADMIN_KEY, "error-429").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    let err = expect_error(gw.chat(ADMIN_KEY, "html-502").await, 502).await;
    assert!(!err["message"].as_str().unwrap().contains("<html>"));

    // An upstream that echoes its credential does not leak it to the client.
    let r = gw.chat(ADMIN_KEY, "echo-key").await;
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains("sk-upstream-up"), "{text}");
    assert!(text.contains("***"));

    let usage = gw.usage(ADMIN_KEY).await;
    let outcomes: Vec<(&str, i64)> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert!(outcomes.iter().all(|(o, _)| *o == "upstream_error"));
    assert!(outcomes.contains(&("upstream_error", 429)));
}

#[tokio::test]
async fn unreachable_and_slow_upstreams_are_502_and_504() {
    let mock = MockUpstream::start(&["slow-model"]).await;
    let gw =
        start_gateway_with(|o| o.settings.first_byte_timeout = Duration::from_millis(300)).await;
    gw.add_mock("up", &mock).await;
    let err = expect_error(gw.chat(ADMIN_KEY, "slow-model").await, 504).await;
    assert_eq!(err["type"], "upstream_error");

    // A provider whose port has nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = gw
        .post("/api/providers", ADMIN_KEY, json!({"name": "dead", "kind": "openai-compatible", "endpoint": format!("http://127.0.0.1:{port}"), "models": ["x"]}))
        .await;
    assert_eq!(r.status(), 201);
    let err = expect_error(gw.chat(ADMIN_KEY, "dead:x").await, 502).await;
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("dead") && !msg.contains("127.0.0.1"), "{msg}");

    let usage = gw.usage(ADMIN_KEY).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["outcome"] == "upstream_failed"));
    let statuses: Vec<i64> = rows.iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert!(statuses.contains(&502) && statuses.contains(&504));
}

#[tokio::test]
async fn broken_and_truncated_streams_end_with_an_error_event() {
    let mock = MockUpstream::start(&["break-model", "truncate-model"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    for model in ["break-model", "truncate-model"] {
        let r = gw
            .post(
                "/v1/chat/completions",
                ADMIN_KEY,
                json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let events = sse_data(r).await;
        assert!(events.iter().all(|e| e != "[DONE]"), "{model}: {events:?}");
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert_eq!(last["error"]["type"], "upstream_error", "{model}");
        assert_eq!(events.len(), 3, "{model}: two chunks then the error");
    }
    let usage = gw.usage(ADMIN_KEY).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["outcome"], "stream_broken");
        assert_eq!(r["usage_estimated"], true);
        assert_eq!(
            r["usage"]["output_tokens"], 2,
            "counted from the two chunks seen"
        );
    }
}
