//! Budgets, limits and usage through real HTTP: allocations and keys bound to them,
//! exact enforcement under concurrency (200 requests against an allocation that covers
//! 10 — zero overspend, streams too), reservations released when requests fail or clients
//! leave, free models never blocked, rate limits in both schemas, usage reports, and
//! durability across a graceful restart and a SIGKILL.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Gw, expect_error, start_gateway, start_gateway_with, start_in};
use modelgate_core::ManualClock;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::Duration;

/// USD per million tokens of the mock's priced models: 1 token = 100 micro-dollars.
const PRICE: f64 = 100.0;

/// A provider `p` over the mock, with `m` priced and `free` at zero.
async fn priced(gw: &Gw, mock: &MockUpstream) {
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({
                "name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
                "models": ["m", "m-out", "free", "m-error-500", "m-slow"],
                "prices": {
                    "m": {"input": PRICE, "output": PRICE},
                    "m-out": {"input": 0.0, "output": PRICE},
                    "m-error-500": {"input": PRICE, "output": PRICE},
                    "m-slow": {"input": PRICE, "output": PRICE},
                    "free": {"input": 0.0, "output": 0.0}
                }
            }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    gw.share_with_org("p").await;
}

async fn allocation(gw: &Gw, name: &str, owner: Value, limit_usd: f64, period: &str) -> Value {
    let mut body = json!({"name": name, "limit_usd": limit_usd, "period": period});
    for (k, v) in owner.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = gw.post("/api/allocations", ADMIN_KEY, body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn standing(gw: &Gw, name: &str) -> Value {
    let r = gw.get(&format!("/api/allocations/{name}"), ADMIN_KEY).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn chat_body(model: &str, stream: bool) -> Value {
    chat_body_max(model, stream, 16)
}

fn chat_body_max(model: &str, stream: bool, max_tokens: u64) -> Value {
    json!({"model": model, "max_tokens": max_tokens, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

/// The cost in USD of one request of `body` (measured on an unbudgeted admin key).
async fn cost_of(gw: &Gw, body: Value) -> f64 {
    let before = gw.usage(ADMIN_KEY).await["totals"]["cost_usd"]
        .as_f64()
        .unwrap();
    let r = gw.post("/v1/chat/completions", ADMIN_KEY, body).await;
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    let after = gw.usage(ADMIN_KEY).await["totals"]["cost_usd"]
        .as_f64()
        .unwrap();
    after - before
}

/// 200 concurrent requests against an allocation that covers exactly 10. The model is
/// priced for output only and each request's `max_tokens` is what the mock generates, so
/// the worst case equals the actual cost: exactly 10 succeed, 190 get 402, and the spend
/// ends exactly at the limit.
async fn zero_overspend(stream: bool) {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    priced(&gw, &mock).await;
    let one = cost_of(&gw, chat_body("p/m-out", stream)).await;
    let tokens = (one * 1e6 / PRICE).round() as u64;
    assert!(tokens > 0);
    let body = chat_body_max("p/m-out", stream, tokens);
    let limit = one * 10.0;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "alice", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    allocation(
        &gw,
        "alice-budget",
        json!({"user": "alice"}),
        limit,
        "monthly",
    )
    .await;
    let key = gw.member_key("alice", Some("alice-budget")).await;

    let statuses = gw.burst(&key, "/v1/chat/completions", &body, 200).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 402).count();
    assert_eq!(ok + refused, 200, "only 200 and 402: {statuses:?}");
    assert_eq!(ok, 10, "exactly the ten the allocation covers succeed");

    let r = gw.post("/v1/chat/completions", &key, body).await;
    expect_error(r, 402).await;
    let s = standing(&gw, "alice-budget").await;
    let used = s["used_usd"].as_f64().unwrap();
    assert!(used <= limit + 1e-9, "overspent: {used} > {limit}");
    assert!((used - limit).abs() < 1e-9, "spent exactly the limit");
    assert_eq!(s["reserved_usd"], 0.0, "no reservation left behind");
    assert_eq!(s["remaining_usd"], 0.0);
    let usage = gw.usage(&key).await;
    assert_eq!(usage["totals"]["requests"], 10);

    // With a conservative worst case (input priced, counted as bytes) fewer fit at once,
    // and the allocation still never goes over.
    let r = gw
        .patch(
            "/api/allocations/alice-budget",
            ADMIN_KEY,
            json!({"limit_usd": limit * 3.0}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let statuses = gw
        .burst(&key, "/v1/chat/completions", &chat_body("p/m", stream), 200)
        .await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 402));
    let s = standing(&gw, "alice-budget").await;
    assert!(s["used_usd"].as_f64().unwrap() <= limit * 3.0 + 1e-9);
    assert_eq!(s["reserved_usd"], 0.0);
}

#[tokio::test]
async fn two_hundred_concurrent_requests_never_overspend() {
    zero_overspend(false).await;
}

#[tokio::test]
async fn two_hundred_concurrent_streams_never_overspend() {
    zero_overspend(true).await;
}

#[tokio::test]
async fn refusals_come_before_the_upstream_in_each_schema() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    priced(&gw, &mock).await;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "bob", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    allocation(&gw, "empty", json!({"user": "bob"}), 0.0, "none").await;
    let key = gw.member_key("bob", Some("empty")).await;
    let hits = mock.hits("/v1/chat/completions");
    let err = expect_error(
        gw.post("/v1/chat/completions", &key, chat_body("p/m", false))
            .await,
        402,
    )
    .await;
    assert_eq!(err["code"], "budget_exceeded");
    assert_eq!(err["type"], "insufficient_quota");
    assert!(err["message"].as_str().unwrap().contains("empty"));
    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "p/m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "billing_error");
    assert_eq!(mock.hits("/v1/chat/completions"), hits, "no upstream call");
    // A free model is never blocked by a spent allocation.
    let r = gw
        .post("/v1/chat/completions", &key, chat_body("p/free", false))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn failed_and_abandoned_requests_release_their_reservations() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    priced(&gw, &mock).await;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "cy", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    allocation(&gw, "cy-budget", json!({"user": "cy"}), 1.0, "daily").await;
    let key = gw.member_key("cy", Some("cy-budget")).await;
    // The upstream fails: nothing is spent, nothing stays reserved.
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            chat_body("p/m-error-500", false),
        )
        .await;
    assert_eq!(r.status(), 500);
    let s = standing(&gw, "cy-budget").await;
    assert_eq!(s["used_usd"], 0.0);
    assert_eq!(s["reserved_usd"], 0.0);
    // The client leaves while the upstream is still thinking.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let left = quick
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&chat_body("p/m-slow", true))
        .send()
        .await;
    assert!(left.is_err(), "the client timed out");
    let mut released = false;
    for _ in 0..50 {
        if standing(&gw, "cy-budget").await["reserved_usd"] == 0.0 {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "the abandoned request's reservation was released");
    let v = standing(&gw, "cy-budget").await;
    assert_eq!(v["period"], "daily");
    assert!(v["period_end"].is_string());
    assert_eq!(v["remaining_usd"], 1.0);
}

#[tokio::test]
async fn rate_limits_per_key_and_per_user_in_both_schemas() {
    // Rate-limit windows are UTC minutes of the gateway's clock: stopped, no window turns
    // during the test unless it says so.
    let clock = ManualClock::new();
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway_with(|o| o.clock = Some(clock.clock())).await;
    gw.add_mock("up", &mock).await;
    gw.share_with_org("up").await;
    // Per key: 2 requests per minute.
    let r = gw
        .post("/api/keys", ADMIN_KEY, json!({"name": "limited", "rpm": 2}))
        .await;
    let limited = r.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(gw.chat(&limited, "m").await.status(), 200);
    }
    let r = gw.chat(&limited, "m").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let err = expect_error(r, 429).await;
    assert_eq!(err["code"], "rate_limit_exceeded");
    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &limited)
        .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    // Other keys are not affected.
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);

    // Tokens per minute: the first request uses more than 10 tokens.
    let r = gw
        .post("/api/keys", ADMIN_KEY, json!({"name": "tpm", "tpm": 10}))
        .await;
    let key = r.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    let err = expect_error(gw.chat(&key, "m").await, 429).await;
    assert!(err["message"].as_str().unwrap().contains("tokens"));

    // Per user: 3 requests per minute across all of the user's keys.
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "dee", "role": "member", "rpm": 3}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let a = gw.member_key("dee", None).await;
    let b = gw.member_key("dee", None).await;
    assert_eq!(gw.chat(&a, "m").await.status(), 200);
    assert_eq!(gw.chat(&b, "m").await.status(), 200);
    assert_eq!(gw.chat(&a, "m").await.status(), 200);
    let err = expect_error(gw.chat(&b, "m").await, 429).await;
    assert!(err["message"].as_str().unwrap().contains("user"));

    // When `retry-after` says, every window has turned.
    clock.advance(Duration::from_secs(retry));
    for k in [&limited, &key, &b] {
        assert_eq!(gw.chat(k, "m").await.status(), 200);
    }
}

#[tokio::test]
async fn usage_reports_for_users_and_the_org() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    priced(&gw, &mock).await;
    let r = gw
        .post("/api/groups", ADMIN_KEY, json!({"name": "team"}))
        .await;
    assert_eq!(r.status(), 201);
    for u in ["eve", "fay"] {
        let r = gw
            .post(
                "/api/users",
                ADMIN_KEY,
                json!({"name": u, "role": "member"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = gw
            .put(
                &format!("/api/groups/team/members/{u}"),
                ADMIN_KEY,
                json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    allocation(
        &gw,
        "team-budget",
        json!({"group": "team"}),
        100.0,
        "monthly",
    )
    .await;
    let eve = gw.member_manager_key("eve", Some("team-budget")).await;
    let fay = gw.member_key("fay", Some("team-budget")).await;
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &eve, chat_body("p/m", false))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        gw.post("/v1/chat/completions", &fay, chat_body("p/free", false))
            .await
            .status(),
        200
    );

    let r = gw.get("/api/usage?days=7&group_by=model", &eve).await;
    assert_eq!(r.status(), 200);
    let mine: Value = r.json().await.unwrap();
    assert_eq!(mine["scope"], "user");
    assert_eq!(mine["totals"]["requests"], 3);
    assert_eq!(mine["daily"].as_array().unwrap().len(), 7);
    let today = mine["daily"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["requests"], 3);
    assert_eq!(mine["breakdown"][0]["name"], "m");
    assert_eq!(mine["breakdown"][0]["share"], 1.0);
    let alloc = &mine["allocations"][0];
    assert_eq!(alloc["name"], "team-budget");
    assert!(alloc["used_usd"].as_f64().unwrap() > 0.0);
    let used = alloc["used_usd"].as_f64().unwrap();
    assert!((alloc["remaining_usd"].as_f64().unwrap() - (100.0 - used)).abs() < 1e-9);
    let by_key: Value = gw
        .get("/api/usage?days=30&group_by=key", &eve)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_key["breakdown"][0]["name"], "eve-key");
    let r = gw.get("/api/usage?days=30&group_by=shoe-size", &eve).await;
    expect_error(r, 400).await;
    let ranged: Value = gw
        .get(
            "/api/usage?since=2001-01-01T00:00:00Z&until=2001-01-03T00:00:00Z",
            &eve,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ranged["totals"]["requests"], 0);
    assert_eq!(ranged["daily"].as_array().unwrap().len(), 3);

    // The organization view (admins only).
    expect_error(gw.get("/api/usage?scope=org", &eve).await, 403).await;
    let org: Value = gw
        .get("/api/usage?scope=org&group_by=user", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(org["scope"], "org");
    assert_eq!(
        org["totals"]["requests"],
        4 + org["breakdown"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["name"] == "admin")
            .map(|b| b["requests"].as_i64().unwrap())
            .sum::<i64>()
    );
    assert!(org["active_users"].as_i64().unwrap() >= 2);
    let team = org["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "team")
        .unwrap();
    assert_eq!(team["requests"], 4);
    assert_eq!(team["members"], 2);
    assert!(team["share"].as_f64().unwrap() > 0.0);
    let by_alloc: Value = gw
        .get("/api/usage?scope=org&group_by=allocation", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = by_alloc["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"team-budget"), "{names:?}");
    // Groups show their allocation's used and total.
    let g: Value = gw.get("/api/groups/team", &eve).await.json().await.unwrap();
    assert_eq!(g["allocations"][0]["limit_usd"], 100.0);
    assert!((g["allocations"][0]["used_usd"].as_f64().unwrap() - used).abs() < 1e-9);
}

#[tokio::test]
async fn spend_survives_a_restart_and_no_reservation_sticks() {
    let mock = MockUpstream::start(&["m"]).await;
    let mut gw = start_gateway().await;
    priced(&gw, &mock).await;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "gus", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    allocation(&gw, "gus-budget", json!({"user": "gus"}), 1.0, "none").await;
    let key = gw.member_key("gus", Some("gus-budget")).await;
    for _ in 0..4 {
        assert_eq!(
            gw.post("/v1/chat/completions", &key, chat_body("p/m", false))
                .await
                .status(),
            200
        );
    }
    let before = standing(&gw, "gus-budget").await;
    gw.stop().await;
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap());
    let gw = start_in(dir, |_| {}).await;
    let after = standing(&gw, "gus-budget").await;
    assert_eq!(after["used_usd"], before["used_usd"]);
    assert_eq!(after["reserved_usd"], 0.0);
    assert_eq!(gw.usage(&key).await["totals"]["requests"], 4);
    // The key still draws from the same allocation.
    assert_eq!(
        gw.post("/v1/chat/completions", &key, chat_body("p/m", false))
            .await
            .status(),
        200
    );
}

/// A gateway binary on a data dir, and its address.
fn spawn_binary(dir: &std::path::Path) -> (std::process::Child, String) {
    common::spawn_serve(dir, &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_loses_no_answered_request() {
    let mock = MockUpstream::start(&["m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_binary(dir.path());
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let r = http
        .post(format!("{base}/api/providers"))
        .bearer_auth(ADMIN_KEY)
        .json(
            &json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
                      "models": ["m"], "prices": {"m": {"input": PRICE, "output": PRICE}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{base}/api/allocations"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"name": "admin-budget", "user": "admin", "limit_usd": 5.0, "period": "monthly"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{base}/api/keys"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"name": "budgeted", "allocation": "admin-budget"}))
        .send()
        .await
        .unwrap();
    let key = r.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut answered = 0;
    for i in 0..20 {
        let r = http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&chat_body("p/m", i % 2 == 0))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        answered += 1;
    }
    // No graceful shutdown: SIGKILL right after the last answer.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, addr) = spawn_binary(dir.path());
    let base = format!("http://{addr}");
    let usage: Value = http
        .get(format!("{base}/api/usage"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["totals"]["requests"], answered);
    let a: Value = http
        .get(format!("{base}/api/allocations/admin-budget"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        (a["used_usd"].as_f64().unwrap() - usage["totals"]["cost_usd"].as_f64().unwrap()).abs()
            < 1e-9
    );
    assert_eq!(a["reserved_usd"], 0.0);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn members_keys_must_draw_from_an_allocation() {
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "hal", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // A member's own key: with no allocation at all there is no budget to step around.
    let hal = gw.member_manager_key("hal", None).await; // minted by an admin: may be unbudgeted
    let r = gw.post("/api/keys", &hal, json!({"name": "mine"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["allocation"], Value::Null);
    // One allocation: taken by default.
    allocation(&gw, "hal-1", json!({"user": "hal"}), 1.0, "monthly").await;
    let r = gw.post("/api/keys", &hal, json!({"name": "mine"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["allocation"], "hal-1");
    // Several: the member chooses.
    let r = gw
        .post("/api/groups", ADMIN_KEY, json!({"name": "ops"}))
        .await;
    assert_eq!(r.status(), 201);
    let r = gw
        .put("/api/groups/ops/members/hal", ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status(), 200);
    allocation(&gw, "ops-budget", json!({"group": "ops"}), 1.0, "monthly").await;
    let err = expect_error(gw.post("/api/keys", &hal, json!({"name": "x"})).await, 400).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("hal-1, ops-budget")
    );
    let r = gw
        .post(
            "/api/keys",
            &hal,
            json!({"name": "x", "allocation": "ops-budget"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // An org that does not budget can turn the rule off.
    let r = gw
        .patch(
            "/api/settings",
            ADMIN_KEY,
            json!({"require_allocation": false}),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["require_allocation"],
        false
    );
    let r = gw
        .post("/api/keys", &hal, json!({"name": "free-range"}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["allocation"], Value::Null);
}

#[tokio::test]
async fn leaving_the_group_stops_drawing_from_its_allocation() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    priced(&gw, &mock).await;
    assert_eq!(
        gw.post("/api/groups", ADMIN_KEY, json!({"name": "lab"}))
            .await
            .status(),
        201
    );
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "ida", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = gw
        .put("/api/groups/lab/members/ida", ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status(), 200);
    allocation(&gw, "lab-budget", json!({"group": "lab"}), 10.0, "monthly").await;
    let key = gw.member_key("ida", Some("lab-budget")).await;
    let body = chat_body("p/m", false);
    assert_eq!(
        gw.post("/v1/chat/completions", &key, body.clone())
            .await
            .status(),
        200
    );
    let r = gw
        .delete("/api/groups/lab/members/ida", ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 200);
    let err = expect_error(gw.post("/v1/chat/completions", &key, body).await, 403).await;
    assert_eq!(err["code"], "allocation_unavailable");
    // An allocation with live keys cannot be deleted; a group owning one neither.
    expect_error(
        gw.delete("/api/allocations/lab-budget", ADMIN_KEY, None)
            .await,
        409,
    )
    .await;
    expect_error(gw.delete("/api/groups/lab", ADMIN_KEY, None).await, 409).await;
}
