//! Balancing inside one provider, through real HTTP: traffic spread over several targets
//! (endpoints and keys) by weight, a dead target skipped (tried-then-moved-on at once,
//! then paused by its own circuit), standbys, per-target keys that never show, and the
//! per-provider connect timeout setting.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, expect_error, start_gateway};
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";

fn chat(model: &str) -> Value {
    json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn spreads_traffic_by_weight_and_names_the_target() {
    let east = MockUpstream::start(&["m"]).await;
    let west = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "az", "kind": "openai-compatible", "models": ["m"],
                   "endpoint": east.origin(),
                   "targets": [{"name": "east", "weight": 3},
                               {"name": "west", "endpoint": west.origin(), "weight": 1}]}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["targets"].as_array().unwrap().len(), 2);
    assert_eq!(
        view["targets"][1]["endpoint"],
        format!("{}/v1", west.origin())
    );
    let mut by_target = std::collections::HashMap::<String, u32>::new();
    for _ in 0..200 {
        let r = gw.post(CHAT, ADMIN_KEY, chat("az/m")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-modelgate-attempts"), "1");
        *by_target
            .entry(header(&r, "x-modelgate-target"))
            .or_default() += 1;
    }
    let (e, w) = (
        east.hits("/v1/chat/completions"),
        west.hits("/v1/chat/completions"),
    );
    assert_eq!(e + w, 200);
    assert_eq!(u64::from(by_target["east"]), e);
    // 3:1 — 150 expected; the bound is loose enough never to flake.
    assert!((115..=185).contains(&e), "east {e}, west {w}");
}

#[tokio::test]
async fn a_dead_target_is_skipped_then_paused_and_keys_stay_per_target() {
    let alive = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "keys", "kind": "openai-compatible", "models": ["m"],
                   "endpoint": alive.origin(), "api_key": "sk-provider-key",
                   "breaker_failures": 2, "breaker_cooldown_secs": 600,
                   "targets": [{"name": "dead", "endpoint": "http://127.0.0.1:9",
                                "api_key": "sk-dead-target-key", "weight": 1},
                               {"name": "spare", "api_key": "sk-spare-target-key", "weight": 0}]}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // The weighted target refuses connections: the standby serves at once, same request.
    for _ in 0..2 {
        let r = gw.post(CHAT, ADMIN_KEY, chat("keys/m")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-modelgate-attempts"), "2");
        assert_eq!(header(&r, "x-modelgate-target"), "spare");
    }
    let sent = alive.last("/v1/chat/completions").unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer sk-spare-target-key");
    // Two failures opened the dead target's circuit: it is no longer tried.
    let r = gw.post(CHAT, ADMIN_KEY, chat("keys/m")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    let text = gw
        .get("/api/providers/keys", ADMIN_KEY)
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("sk-"), "a key leaked: {text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    let dead = &view["targets"][0];
    assert_eq!(dead["name"], "dead");
    assert_eq!(dead["own_key"], true);
    assert_eq!(dead["health"][0]["model"], "m");
    assert_eq!(dead["health"][0]["circuit"], "open");
    assert!(view["targets"][1]["health"].as_array().unwrap().is_empty());

    // Replacing the targets: one without a key of its own uses the provider's.
    let r = gw
        .patch(
            "/api/providers/keys",
            ADMIN_KEY,
            json!({"targets": [{"name": "main", "weight": 1}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = gw.post(CHAT, ADMIN_KEY, chat("keys/m")).await;
    assert_eq!(r.status(), 200);
    let sent = alive.last("/v1/chat/completions").unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer sk-provider-key");
    // Back to a single endpoint: no target header, no targets in the view.
    let r = gw
        .patch("/api/providers/keys", ADMIN_KEY, json!({"targets": null}))
        .await;
    let view: Value = r.json().await.unwrap();
    assert!(view.get("targets").is_none(), "{view}");
    let r = gw.post(CHAT, ADMIN_KEY, chat("keys/m")).await;
    assert!(r.headers().get("x-modelgate-target").is_none());
}

#[tokio::test]
async fn every_target_failing_reaches_the_client_after_all_were_tried() {
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "down", "kind": "openai-compatible", "models": ["m"],
                   "endpoint": "http://127.0.0.1:9",
                   "targets": [{"name": "a"}, {"name": "b", "endpoint": "http://127.0.0.1:7"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = gw.post(CHAT, ADMIN_KEY, chat("down/m")).await;
    // Both targets were tried; the transport failure reaches the client as it is.
    let e = expect_error(r, 502).await;
    assert_eq!(e["code"], "upstream_unreachable", "{e}");
    assert_eq!(gw.org_records().await.len(), 2);
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect
/// hangs until the client gives up.
async fn black_hole() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..16 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(std::time::Duration::from_millis(300), connect).await {
            Ok(Ok(s)) => held.push(s),
            _ => break,
        }
    }
    (listener, held, addr.port())
}

#[tokio::test]
async fn the_connect_timeout_is_the_providers_own() {
    let (_listener, _held, port) = black_hole().await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "hole", "kind": "openai-compatible", "models": ["m"],
                   "endpoint": format!("http://127.0.0.1:{port}"),
                   "connect_timeout_secs": 1, "first_byte_timeout_secs": 20}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let started = std::time::Instant::now();
    let r = gw.post(CHAT, ADMIN_KEY, chat("hole/m")).await;
    let waited = started.elapsed();
    let e = expect_error(r, 504).await;
    assert_eq!(e["type"], "upstream_error", "{e}");
    // The gateway-wide connect timeout is 10 s; the provider's own 1 s applied.
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn targets_and_connect_timeouts_are_validated() {
    let gw = start_gateway().await;
    let base = json!({"name": "v", "kind": "openai-compatible", "endpoint": "http://127.0.0.1:9", "models": ["m"]});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (bad, param) in [
        (json!({"targets": [{"weight": 0}]}), "targets"),
        (
            json!({"targets": [{"name": "a"}, {"name": "a"}]}),
            "targets",
        ),
        (json!({"targets": [{"weight": 5000}]}), "targets"),
        (json!({"targets": [{"endpoint": "ftp://x"}]}), "targets"),
        (json!({"targets": [{"api_key": ""}]}), "targets"),
        (json!({"targets": [{"region": "x"}]}), ""),
        (json!({"connect_timeout_secs": 0}), "connect_timeout_secs"),
    ] {
        let r = gw
            .post("/api/providers", ADMIN_KEY, with(bad.clone()))
            .await;
        let e = expect_error(r, 400).await;
        if !param.is_empty() {
            assert_eq!(e["param"], param, "{bad}: {e}");
        }
    }
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "aws", "kind": "aws-bedrock", "region": "us-east-1",
                   "auth": {"type": "aws-sigv4", "access_key_id": "AKIA", "secret_access_key": "s"},
                   "targets": [{"name": "a"}, {"name": "b"}]}),
        )
        .await;
    let e = expect_error(r, 400).await;
    assert!(
        e["message"].as_str().unwrap().contains("aws-bedrock"),
        "{e}"
    );
    // A connect timeout of its own: kept, shown, and the provider still serves.
    let mock = MockUpstream::start(&["m"]).await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "ct", "kind": "openai-compatible", "endpoint": mock.origin(),
                   "models": ["m"], "connect_timeout_secs": 2}),
        )
        .await;
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["connect_timeout_secs"], 2);
    let r = gw.post(CHAT, ADMIN_KEY, chat("ct/m")).await;
    assert_eq!(r.status(), 200);
}
