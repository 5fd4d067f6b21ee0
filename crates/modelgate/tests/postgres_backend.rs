//! The gateway end to end on PostgreSQL (`--database postgres://...`): keys, providers with
//! sealed secrets, requests and usage survive a restart exactly as on SQLite. Each run uses
//! a private schema of the database named by `MODELGATE_TEST_POSTGRES_URL`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use serde_json::json;

#[tokio::test]
async fn serve_on_postgres_end_to_end() {
    let url = private_schema_url().await;
    let mock = MockUpstream::start(&["m"]).await;
    let u = url.clone();
    let mut gw = start_gateway_with(move |o| o.database = Some(u)).await;
    let ready: serde_json::Value = gw
        .http
        .get(gw.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], "postgres");
    gw.add_mock("up", &mock).await;
    let key = gw.new_key(json!({"name": "pg"})).await;
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            json!({"model": "up:m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(sse_data(r).await.last().unwrap(), "[DONE]");
    gw.stop().await;

    let mut again = start_in(gw.dir, move |o| o.database = Some(url)).await;
    assert_eq!(again.chat(&key, "m").await.status(), 200);
    assert_eq!(
        mock.last("/v1/chat/completions").unwrap().headers["authorization"],
        "Bearer sk-upstream-up"
    );
    let usage = again.usage(&key).await;
    assert_eq!(usage["totals"]["requests"], 3);
    again.stop().await;
}

#[tokio::test]
async fn organization_and_budgets_on_postgres() {
    let url = private_schema_url().await;
    let mock = MockUpstream::start(&["m"]).await;
    let u = url.clone();
    let mut gw = start_gateway_with(move |o| o.database = Some(u)).await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
                   "models": ["m"], "prices": {"m": {"input": 0.0, "output": 100.0}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        gw.post("/api/groups", ADMIN_KEY, json!({"name": "g"}))
            .await
            .status(),
        201
    );
    let key_of_member = gw.member_key("pat", None).await;
    // Private until shared with the member's group.
    expect_error(gw.chat(&key_of_member, "p/m").await, 404).await;
    let r = gw
        .put("/api/groups/g/members/pat", ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = gw
        .put("/api/providers/p/shares", ADMIN_KEY, json!({"group": "g"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.chat(&key_of_member, "p/m").await.status(), 200);
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "g-budget", "group": "g", "limit_usd": 0.01, "period": "daily"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = gw.member_key("pat", Some("g-budget")).await;
    let body =
        json!({"model": "p/m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    let mut ok = 0;
    loop {
        let r = gw.post("/v1/chat/completions", &key, body.clone()).await;
        if r.status() == 402 {
            break;
        }
        assert_eq!(r.status(), 200);
        ok += 1;
        assert!(ok < 100);
    }
    let used = |v: &serde_json::Value| v["used_usd"].as_f64().unwrap();
    let before: serde_json::Value = gw
        .get("/api/allocations/g-budget", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(used(&before) <= 0.01 + 1e-9);
    gw.stop().await;

    let again = start_in(gw.dir, move |o| o.database = Some(url)).await;
    let after: serde_json::Value = again
        .get("/api/allocations/g-budget", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(used(&after), used(&before));
    assert_eq!(after["reserved_usd"], 0.0);
    expect_error(again.post("/v1/chat/completions", &key, body).await, 402).await;
}
