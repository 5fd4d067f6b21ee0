//! Start, restart and stop: first-start bootstrap, persistence across restarts, client
//! disconnects cancelling the upstream, graceful shutdown draining streams and flushing
//! usage, SIGTERM on the real binary, and the operations endpoints.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::Duration;

/// Polls `cond` until it holds or `limit` passes (waiting on an outside effect, such as a
/// socket closing, that has no event to await).
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[tokio::test]
async fn first_start_mints_a_random_admin_key_and_restarts_keep_state() {
    let mock = MockUpstream::start(&["m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let mut gw = start_in(dir, |o| o.bootstrap_admin_key = None).await;
    let key = gw
        .running
        .as_ref()
        .unwrap()
        .generated_admin_key
        .clone()
        .unwrap();
    assert!(key.starts_with("mg_"));
    gw.add_mock_with_key(&key, "up", &mock).await;
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    gw.stop().await;

    let mut again = start_in(gw.dir, |o| o.bootstrap_admin_key = None).await;
    assert!(
        again
            .running
            .as_ref()
            .unwrap()
            .generated_admin_key
            .is_none()
    );
    assert_eq!(again.dir.path(), path);
    // Key, provider (its sealed secret opened with the kept master key) and usage survive.
    assert_eq!(again.chat(&key, "m").await.status(), 200);
    assert_eq!(
        mock.last("/v1/chat/completions").unwrap().headers["authorization"],
        "Bearer sk-upstream-up"
    );
    let usage = again.usage(&key).await;
    assert_eq!(usage["totals"]["requests"], 2);
    again.stop().await;
}

#[tokio::test]
async fn weak_bootstrap_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = modelgate::run::ServeOptions::new(dir.path().to_path_buf());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.bootstrap_admin_key = Some("short".into());
    let err = modelgate::run::start(opts).await.err().unwrap();
    assert!(err.to_string().contains("at least 24"), "{err}");
}

#[tokio::test]
async fn a_client_disconnect_cancels_the_upstream_and_is_metered() {
    let mock = MockUpstream::start(&["drip"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let mut resp = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "drip", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(resp.chunk().await.unwrap().unwrap());
    }
    assert_eq!(mock.open_streams(), 1);
    drop(resp);
    assert!(
        eventually(Duration::from_secs(5), || mock.open_streams() == 0).await,
        "upstream stream still open"
    );
    let usage = gw.usage(ADMIN_KEY).await;
    let r = &usage["data"][0];
    assert_eq!(r["outcome"], "client_disconnected");
    assert!(r["usage"]["output_tokens"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn graceful_shutdown_drains_then_flushes_usage() {
    let mock = MockUpstream::start(&["drip", "m"]).await;
    let mut gw = start_gateway_with(|o| o.shutdown_grace = Duration::from_millis(400)).await;
    gw.add_mock("up", &mock).await;
    let mut endless = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "drip", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    endless.chunk().await.unwrap().unwrap();
    let started = std::time::Instant::now();
    gw.stop().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350),
        "streams get the grace period ({took:?})"
    );
    // The endless stream was closed when the grace period ran out.
    while let Ok(Some(_)) = endless.chunk().await {}
    assert!(eventually(Duration::from_secs(5), || mock.open_streams() == 0).await);

    // Its usage record was flushed before exit: a restart reads it back.
    let again = start_in(gw.dir, |_| {}).await;
    let usage = again.usage(ADMIN_KEY).await;
    assert_eq!(usage["totals"]["requests"], 1);
    assert_eq!(usage["data"][0]["outcome"], "client_disconnected");
}

#[tokio::test]
async fn operations_endpoints() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let r = gw.http.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let r: Value = gw
        .http
        .get(gw.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ready");
    let backend = match std::env::var("MODELGATE_TEST_BACKEND").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    };
    assert_eq!(r["store"], backend);
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);
    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    sse_data(r).await;
    let text = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "modelgate_requests_total{",
        "modelgate_request_duration_seconds_bucket{",
        "modelgate_time_to_first_token_seconds_bucket{",
        "modelgate_tokens_total{",
        "provider=\"up\"",
        "model=\"m\"",
        "status=\"200\"",
    ] {
        assert!(text.contains(needle), "missing {needle} in metrics");
    }
}

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = common::spawn_serve(dir.path(), &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(dir.path().join("master.key").exists());
    assert!(dir.path().join("modelgate.db").exists());
}
