//! Routing that survives failure, through real HTTP with misbehaving mock upstreams:
//! fallback lists and virtual models, failover on 500, 503, 429, connection refused, a
//! stall before the first byte, a malformed body and a reset mid-body; no failover on
//! other 4xx or after a stream's first byte; retries honouring `retry-after`; and usage
//! records and budget reservations that stay right across attempts.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Gw, expect_error, sse_data, start_gateway_with};
use modelgate_core::{Clock, ManualClock};
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Two {
    gw: Gw,
    /// Kept alive for the test's duration.
    _one: MockUpstream,
    two: MockUpstream,
}

/// Providers `p1` and `p2` over two mocks (both priced, shared with the org).
async fn two_providers(extra: Value) -> Two {
    two_providers_on(extra, None).await
}

/// As [`two_providers`], the gateway reading time from `clock` (`None`: the system's).
async fn two_providers_on(extra: Value, clock: Option<Clock>) -> Two {
    let one = MockUpstream::start(&["m"]).await;
    let two = MockUpstream::start(&["m"]).await;
    let gw = start_gateway_with(|o| o.clock = clock).await;
    for (name, mock) in [("p1", &one), ("p2", &two)] {
        let mut body = json!({"name": name, "kind": "openai-compatible", "endpoint": mock.origin(),
                              "models": ["m"], "prices": {"m": {"input": 0.0, "output": 100.0}, "*": {"input": 0.0, "output": 100.0}}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = gw.post("/api/providers", ADMIN_KEY, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        gw.share_with_org(name).await;
    }
    Two { gw, _one: one, two }
}

fn chat(model: &str, fallbacks: &[&str]) -> Value {
    json!({"model": model, "models": fallbacks, "max_tokens": 50,
           "messages": [{"role": "user", "content": "hi"}]})
}

const CHAT: &str = "/v1/chat/completions";

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()[name].to_str().unwrap().to_owned()
}

async fn records(gw: &Gw) -> Vec<Value> {
    gw.org_records().await
}

#[tokio::test]
async fn fails_over_on_server_errors_and_rate_limits() {
    let t = two_providers(json!({})).await;
    for failing in ["m-error-500", "m-error-503", "m-error-429", "m-html-502"] {
        let r =
            t.gw.post(CHAT, ADMIN_KEY, chat(&format!("p1:{failing}"), &["p2/m"]))
                .await;
        assert_eq!(r.status(), 200, "{failing}");
        assert_eq!(header(&r, "x-modelgate-provider"), "p2");
        assert_eq!(header(&r, "x-modelgate-model"), "m");
        assert_eq!(header(&r, "x-modelgate-attempts"), "2");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion");
    }
    // The upstreams never saw the fallback list.
    let sent = t.two.last_json("/v1/chat/completions").unwrap();
    assert!(sent.get("models").is_none(), "{sent}");
    assert_eq!(sent["model"], "m");
    // One record per attempt: the failures cost nothing.
    let recs = records(&t.gw).await;
    assert_eq!(recs.len(), 8);
    assert_eq!(recs.iter().filter(|r| r["provider"] == "p1").count(), 4);
    assert!(
        recs.iter()
            .filter(|r| r["provider"] == "p1")
            .all(|r| r["cost_micros"] == 0)
    );
}

#[tokio::test]
async fn fails_over_when_the_upstream_is_unreachable_stalls_or_breaks() {
    let t = two_providers(json!({"first_byte_timeout_secs": 1})).await;
    let r = t
        .gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "gone", "kind": "openai-compatible", "endpoint": "http://127.0.0.1:9", "models": ["m"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Connection refused.
    let r = t.gw.post(CHAT, ADMIN_KEY, chat("gone/m", &["p2/m"])).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    // A stall before the first byte (the mock sleeps 3 s; p1 allows 1 s).
    let started = Instant::now();
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-slow", &["p2/m"]))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert!(started.elapsed() < Duration::from_millis(2900));
    // A malformed body, and a connection reset in the middle of the body.
    for broken in ["p1:m-malformed", "p1:m-reset-body"] {
        let r = t.gw.post(CHAT, ADMIN_KEY, chat(broken, &["p2/m"])).await;
        assert_eq!(r.status(), 200, "{broken}");
        assert_eq!(header(&r, "x-modelgate-attempts"), "2");
    }
    // Alone, each failure reaches the client in the OpenAI shape.
    expect_error(t.gw.post(CHAT, ADMIN_KEY, chat("gone/m", &[])).await, 502).await;
    expect_error(
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-malformed", &[]))
            .await,
        502,
    )
    .await;
}

#[tokio::test]
async fn other_client_errors_do_not_fail_over() {
    let t = two_providers(json!({})).await;
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-error-400", &["p2/m"]))
            .await;
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    assert_eq!(t.two.hits("/v1/chat/completions"), 0);
    // When every candidate fails, the last failure is relayed with the attempt count.
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-error-500", &["p2:m-error-503"]))
            .await;
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "x-modelgate-attempts"), "2");
    // A bad fallback list is the client's error.
    let r =
        t.gw.post(
            CHAT,
            ADMIN_KEY,
            json!({"model": "p1/m", "models": "p2/m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let err = expect_error(r, 400).await;
    assert_eq!(err["param"], "models");
}

#[tokio::test]
async fn retries_honour_retry_after_then_succeed_on_the_same_provider() {
    let t = two_providers(json!({"retries": 2})).await;
    let started = Instant::now();
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-flaky-429-retry", &["p2/m"]))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p1");
    assert_eq!(header(&r, "x-modelgate-attempts"), "2");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for retry-after"
    );
    assert_eq!(t.two.hits("/v1/chat/completions"), 0);
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-flaky-503-retry", &[]))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-attempts"), "2");
}

#[tokio::test]
async fn streams_fail_over_before_the_first_byte_and_never_after() {
    let t = two_providers(json!({})).await;
    let mut body = chat("p1:m-error-500", &["p2/m"]);
    body["stream"] = json!(true);
    let r = t.gw.post(CHAT, ADMIN_KEY, body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(sse_data(r).await.last().unwrap(), "[DONE]");
    // Cut after the first chunks: the client gets an error event, nobody else is asked.
    let mut body = chat("p1:m-break", &["p2/m"]);
    body["stream"] = json!(true);
    let before = t.two.hits("/v1/chat/completions");
    let r = t.gw.post(CHAT, ADMIN_KEY, body).await;
    assert_eq!(r.status(), 200);
    let events = sse_data(r).await;
    assert!(events.last().unwrap().contains("error"), "{events:?}");
    assert_eq!(t.two.hits("/v1/chat/completions"), before);
}

#[tokio::test]
async fn virtual_models_are_listed_and_checked_per_candidate() {
    let t = two_providers(json!({})).await;
    let r =
        t.gw.post(
            "/api/virtual-models",
            ADMIN_KEY,
            json!({"name": "team-default", "models": ["p1:m-error-500", "p2/m"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = t.gw.post(CHAT, ADMIN_KEY, chat("team-default", &[])).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(header(&r, "x-modelgate-attempts"), "2");
    let models: Value =
        t.gw.get("/v1/models", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "team-default")
    );
    let list: Value =
        t.gw.get("/api/virtual-models", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(list["data"][0]["models"], json!(["p1:m-error-500", "p2/m"]));
    // A key allowed only p1's models skips p2 (forbidden), so p1's failure is the answer.
    let key =
        t.gw.new_key(json!({"name": "p1-only", "models": ["p1:m-error-500"]}))
            .await;
    let r = t.gw.post(CHAT, &key, chat("team-default", &[])).await;
    assert_eq!(r.status(), 500);
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    // Members cannot define them; bad definitions are refused.
    let member = t.gw.member_key("vic", None).await;
    expect_error(
        t.gw.post(
            "/api/virtual-models",
            &member,
            json!({"name": "x", "models": ["p2/m"]}),
        )
        .await,
        403,
    )
    .await;
    for bad in [
        json!({"name": "x", "models": []}),
        json!({"name": "bad name", "models": ["p2/m"]}),
        json!({"name": "x", "models": ["team-default"]}),
    ] {
        expect_error(t.gw.post("/api/virtual-models", ADMIN_KEY, bad).await, 400).await;
    }
    let r =
        t.gw.delete("/api/virtual-models/team-default", ADMIN_KEY, None)
            .await;
    assert_eq!(r.status(), 204);
    expect_error(
        t.gw.post(CHAT, ADMIN_KEY, chat("team-default", &[])).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn budgets_stay_exact_across_attempts() {
    let t = two_providers(json!({})).await;
    let r =
        t.gw.post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "wes", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r =
        t.gw.post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "wes-budget", "user": "wes", "limit_usd": 1.0, "period": "none"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = t.gw.member_key("wes", Some("wes-budget")).await;
    let r =
        t.gw.post(CHAT, &key, chat("p1:m-error-500", &["p2/m"]))
            .await;
    assert_eq!(r.status(), 200);
    let a: Value =
        t.gw.get("/api/allocations/wes-budget", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(a["reserved_usd"], 0.0);
    let usage: Value = t.gw.get("/api/usage", &key).await.json().await.unwrap();
    assert_eq!(usage["totals"]["requests"], 2);
    assert!(
        (a["used_usd"].as_f64().unwrap() - usage["totals"]["cost_usd"].as_f64().unwrap()).abs()
            < 1e-12
    );
    let ok: Vec<&Value> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["provider"] == "p2")
        .collect();
    assert_eq!(ok.len(), 1);
    assert!(a["used_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_failing_model_trips_its_circuit_and_recovers_after_a_probe() {
    // Time stands still unless the test advances it: an open circuit stays open.
    let breaker =
        |failures: u32| json!({"breaker_failures": failures, "breaker_cooldown_secs": 30});
    let clock = ManualClock::new();
    let t = two_providers_on(breaker(2), Some(clock.clock())).await;
    for _ in 0..2 {
        let r =
            t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-error-500", &[]))
                .await;
        assert_eq!(r.status(), 500);
    }
    let p1: Value =
        t.gw.get("/api/providers/p1", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
    let health = &p1["health"][0];
    assert_eq!(health["model"], "m-error-500");
    assert_eq!(health["circuit"], "open");
    assert_eq!(health["consecutive_failures"], 2);
    assert!(health["last_error"].as_str().unwrap().contains("500"));
    assert!(health["since"].is_string());
    // Open: with a fallback, p1 is not asked at all.
    let before = t._one.hits("/v1/chat/completions");
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-error-500", &["p2/m"]))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    assert_eq!(t._one.hits("/v1/chat/completions"), before);
    // The provider's other models are not paused.
    assert_eq!(
        t.gw.post(CHAT, ADMIN_KEY, chat("p1/m", &[])).await.status(),
        200
    );
    // Alone, a paused candidate is tried anyway (panic mode): its answer is relayed.
    let r =
        t.gw.post(CHAT, ADMIN_KEY, chat("p1:m-error-500", &[]))
            .await;
    assert_eq!(r.status(), 500);

    // Recovery: a model that fails once opens its circuit (1 failure here)...
    let clock = ManualClock::new();
    let t = two_providers_on(breaker(1), Some(clock.clock())).await;
    let flaky = "p1:m-flaky-503-circuit";
    let r = t.gw.post(CHAT, ADMIN_KEY, chat(flaky, &["p2/m"])).await;
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(header(&r, "x-modelgate-attempts"), "2");
    let r = t.gw.post(CHAT, ADMIN_KEY, chat(flaky, &["p2/m"])).await;
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    // ...still open a moment before the cooldown ends...
    clock.advance(Duration::from_millis(29_900));
    let r = t.gw.post(CHAT, ADMIN_KEY, chat(flaky, &["p2/m"])).await;
    assert_eq!(header(&r, "x-modelgate-provider"), "p2");
    assert_eq!(header(&r, "x-modelgate-attempts"), "1");
    // ...and after the cooldown one probe goes through; its success closes the circuit.
    clock.advance(Duration::from_millis(100));
    let r = t.gw.post(CHAT, ADMIN_KEY, chat(flaky, &["p2/m"])).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p1");
    let p1: Value =
        t.gw.get("/api/providers/p1", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(p1["health"], json!([]));
    let metrics = t.gw.get("/metrics", ADMIN_KEY).await.text().await.unwrap();
    assert!(metrics.contains("modelgate_circuit_transitions_total"));
}

#[tokio::test]
async fn a_stream_that_stalls_mid_answer_is_ended_not_failed_over() {
    let t = two_providers(json!({"idle_timeout_secs": 1})).await;
    let mut body = chat("p1:m-stall", &["p2/m"]);
    body["stream"] = json!(true);
    let started = Instant::now();
    let r = t.gw.post(CHAT, ADMIN_KEY, body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-modelgate-provider"), "p1");
    let events = sse_data(r).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(4500),
        "ended by the idle timeout: {elapsed:?}"
    );
    assert!(events.iter().any(|e| e.contains("Hel")), "{events:?}");
    let last = events.last().unwrap();
    assert!(last.contains("stream_idle_timeout"), "{last}");
    // After the first byte there is no failover.
    assert_eq!(t.two.hits("/v1/chat/completions"), 0);
    let recs = records(&t.gw).await;
    assert_eq!(recs[0]["outcome"], "stream_broken");
}
