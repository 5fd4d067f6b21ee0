//! Session tunnels end to end on loopback: the gateway, the real agent
//! (`modelgate_tunnel::run`, as `modelgate tunnel` runs it) and a mock model server.
//! Tokens shown once; `stopped` → `running` within seconds of the agent dialing in, models
//! discovered through the tunnel; private to the creator (others get "no such model",
//! sharing is refused); chat and streams through the tunnel, metered; 64 concurrent
//! requests; a slow reader does not stall the others; the agent killed mid-stream ends the
//! client's stream with an error event and a record saying so; a restarted agent is
//! `running` again by itself; a deleted tunnel drops its agent and refuses its token.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Gw, expect_error, fixture, sse_data, start_gateway, start_gateway_with};
use futures_util::StreamExt;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";

/// A running agent: stop it cleanly, or kill it (its task dropped mid-flight).
struct Agent {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), modelgate_tunnel::AgentError>>,
}

impl Agent {
    fn start(gw: &Gw, token: &str, target: &MockUpstream) -> Agent {
        Self::start_with_ca(gw, token, target, None)
    }

    fn start_with_ca(
        gw: &Gw,
        token: &str,
        target: &MockUpstream,
        ca_file: Option<std::path::PathBuf>,
    ) -> Agent {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = modelgate_tunnel::AgentConfig {
            gateway: gw.base.parse().unwrap(),
            token: token.to_owned(),
            target: target.origin().parse().unwrap(),
            target_api_key: Some("sk-behind-the-tunnel".into()),
            ca_file,
            name: Some("gpu-node-7".into()),
        };
        let task = tokio::spawn(modelgate_tunnel::run(config, async move {
            let _ = stopped.await;
        }));
        Agent {
            stop: Some(stop),
            task,
        }
    }

    fn kill(self) {
        self.task.abort();
    }
}

async fn create_tunnel(gw: &Gw, key: &str, name: &str) -> String {
    let r = gw.post("/api/tunnels", key, json!({"name": name})).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mgt_"));
    assert!(v["command"].as_str().unwrap().contains(&token));
    assert_eq!(v["status"], "stopped");
    token
}

/// Waits until the tunnel reports `status` (and, when running, some models).
async fn wait_for(gw: &Gw, key: &str, name: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Value = gw
            .get(&format!("/api/tunnels/{name}"), key)
            .await
            .json()
            .await
            .unwrap();
        let models_ok = status != "running" || !v["models"].as_array().unwrap().is_empty();
        if v["status"] == status && models_ok {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "tunnel never became {status}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 20,
           "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_tunnel_serves_its_creator_alone_and_is_revoked_by_deleting_it() {
    let model_server = MockUpstream::start(&["llama3"]).await;
    let gw = start_gateway().await;
    let researcher = gw.member_manager_key("researcher", None).await;
    let other = gw.member_manager_key("other", None).await;
    let token = create_tunnel(&gw, &researcher, "lab").await;
    // The list never shows the token; stopped tunnels answer 503 in the caller's schema.
    let list = gw
        .get("/api/tunnels", &researcher)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !list.contains(&token) && list.contains("\"stopped\""),
        "{list}"
    );
    let e = expect_error(
        gw.post(CHAT, &researcher, chat("lab/llama3", false)).await,
        503,
    )
    .await;
    assert_eq!(e["code"], "tunnel_stopped", "{e}");

    let agent = Agent::start(&gw, &token, &model_server);
    let v = wait_for(&gw, &researcher, "lab", "running").await;
    assert_eq!(v["models"], json!(["llama3"]));
    assert_eq!(v["agent_name"], "gpu-node-7");
    assert!(v["agent_version"].is_string() && v["connected_since"].is_string());
    let providers: Value = gw
        .get("/api/providers/lab", &researcher)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(providers["kind"], "openai-tunnel");
    assert_eq!(providers["status"], "running");
    let models = gw
        .get("/v1/models", &researcher)
        .await
        .text()
        .await
        .unwrap();
    assert!(models.contains("llama3"), "{models}");

    // Chat and a stream through the tunnel; the agent adds the target's key.
    let r = gw.post(CHAT, &researcher, chat("llama3", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-provider"], "lab");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let sent = model_server.last("/v1/chat/completions").unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer sk-behind-the-tunnel");
    let events = sse_data(gw.post(CHAT, &researcher, chat("lab/llama3", true)).await).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert!(events.iter().any(|e| e.contains("Hel")));
    let usage = gw.usage(&researcher).await;
    assert_eq!(usage["totals"]["requests"], 2, "{usage}");

    // Nobody else sees it: the same answer as for a model that does not exist.
    for model in ["lab/llama3", "llama3"] {
        let e = expect_error(gw.post(CHAT, &other, chat(model, false)).await, 404).await;
        assert_eq!(e["code"], "model_not_found");
    }
    let theirs = gw
        .get("/api/tunnels", &other)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]));
    assert_eq!(gw.get("/api/providers/lab", &other).await.status(), 404);
    // It cannot be shared, nor made by hand.
    let r = gw
        .put(
            "/api/providers/lab/shares",
            &researcher,
            json!({"org": true}),
        )
        .await;
    let e = expect_error(r, 400).await;
    assert_eq!(e["code"], "tunnel_not_shareable");
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "fake", "kind": "openai-tunnel", "endpoint": "http://127.0.0.1:9"}),
        )
        .await;
    expect_error(r, 400).await;
    // Another user's token never attaches here: tokens name their tunnel.
    let other_token = create_tunnel(&gw, &other, "their-lab").await;
    let intruder = Agent::start(&gw, &other_token, &model_server);
    wait_for(&gw, &other, "their-lab", "running").await;
    assert_eq!(
        gw.get("/api/tunnels/lab", &researcher)
            .await
            .json::<Value>()
            .await
            .unwrap()["agent_name"],
        "gpu-node-7"
    );
    intruder.kill();

    // Deleting revokes the token and drops the agent, which then stops for good.
    let r = gw.delete("/api/tunnels/lab", &researcher, None).await;
    assert_eq!(r.status(), 204);
    let ended = tokio::time::timeout(Duration::from_secs(15), agent.task)
        .await
        .expect("the agent noticed the revocation")
        .unwrap();
    let err = ended.unwrap_err().to_string();
    assert!(err.contains("token"), "{err}");
    let e = expect_error(
        gw.post(CHAT, &researcher, chat("lab/llama3", false)).await,
        404,
    )
    .await;
    assert_eq!(e["code"], "model_not_found");
}

#[tokio::test]
async fn sixty_four_concurrent_requests_and_a_slow_reader_share_one_tunnel() {
    // Streams of 60,000 chunks (about 9 MB): far more than the tunnel's stream window.
    let model_server = MockUpstream::start_with_chunks(&["m"], 60_000).await;
    let gw = start_gateway().await;
    let token = create_tunnel(&gw, ADMIN_KEY, "shared-gpu").await;
    let _agent = Agent::start(&gw, &token, &model_server);
    wait_for(&gw, ADMIN_KEY, "shared-gpu", "running").await;

    // A client that opens a huge stream and does not read it.
    let slow = gw.post(CHAT, ADMIN_KEY, chat("shared-gpu/m", true)).await;
    assert_eq!(slow.status(), 200);

    let started = Instant::now();
    let requests = (0..64).map(|i| {
        let gw = &gw;
        async move {
            // Half of them are streams of their own.
            if i % 2 == 0 {
                let r = gw.post(CHAT, ADMIN_KEY, chat("shared-gpu/m", false)).await;
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["object"], "chat.completion");
            } else {
                let mut body = chat("shared-gpu/m", true);
                body["max_tokens"] = json!(5);
                let r = gw.post(CHAT, ADMIN_KEY, body).await;
                assert_eq!(r.status(), 200);
                // Their first bytes arrive; then they hang up (a cancelled stream).
                let first = r.bytes_stream().next().await;
                assert!(first.is_some_and(|c| c.is_ok()));
            }
        }
    });
    tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(requests),
    )
    .await
    .expect("requests behind a slow reader in the same tunnel must not stall");
    eprintln!(
        "64 requests beside a stalled stream took {:?}",
        started.elapsed()
    );
    // The slow reader still gets its whole answer when it reads.
    let events = sse_data(slow).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert!(events.len() > 60_000);
}

#[tokio::test]
async fn an_agent_killed_mid_stream_ends_the_stream_and_a_restart_needs_no_one() {
    let model_server = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let token = create_tunnel(&gw, ADMIN_KEY, "flaky").await;
    let agent = Agent::start(&gw, &token, &model_server);
    wait_for(&gw, ADMIN_KEY, "flaky", "running").await;

    // A stream that drips until the client or the tunnel goes away.
    let r = gw.post(CHAT, ADMIN_KEY, chat("flaky/m-drip", true)).await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("Hel"));
    agent.kill();
    let mut rest = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        rest.extend_from_slice(&chunk);
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.contains("\"error\""),
        "the stream ends with an error event: {rest}"
    );
    wait_for(&gw, ADMIN_KEY, "flaky", "stopped").await;
    let records = gw.org_records().await;
    assert_eq!(records[0]["outcome"], "stream_broken", "{records:?}");

    // The agent comes back (a new process with the same token): running again, serving.
    let mut again = Agent::start(&gw, &token, &model_server);
    wait_for(&gw, ADMIN_KEY, "flaky", "running").await;
    let r = gw.post(CHAT, ADMIN_KEY, chat("flaky/m", false)).await;
    assert_eq!(r.status(), 200);
    // A clean shutdown ends the agent without error and the tunnel shows stopped.
    again.stop.take().unwrap().send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(15), again.task)
        .await
        .unwrap()
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
    wait_for(&gw, ADMIN_KEY, "flaky", "stopped").await;
}

#[tokio::test]
async fn the_gateway_serves_tls_itself_and_the_agent_checks_its_certificate() {
    let model_server = MockUpstream::start(&["m"]).await;
    let gw = start_gateway_with(|o| {
        o.tls = Some(modelgate::run::TlsFiles {
            cert: fixture("server.pem"),
            key: fixture("server.key"),
        });
    })
    .await;
    assert!(gw.base.starts_with("https://"));
    let r = gw
        .post("/api/tunnels", ADMIN_KEY, json!({"name": "secure"}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert!(
        v["command"]
            .as_str()
            .unwrap()
            .contains("--gateway https://"),
        "{v}"
    );
    let token = v["token"].as_str().unwrap().to_owned();
    // Without the CA the agent refuses the certificate, says so, and stops.
    let refused = Agent::start(&gw, &token, &model_server);
    let err = tokio::time::timeout(Duration::from_secs(15), refused.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("certificate") && err.contains("--ca-file"),
        "{err}"
    );
    // With it, the tunnel runs over TLS end to end.
    let _agent = Agent::start_with_ca(&gw, &token, &model_server, Some(fixture("ca.pem")));
    wait_for(&gw, ADMIN_KEY, "secure", "running").await;
    let events = sse_data(gw.post(CHAT, ADMIN_KEY, chat("secure/m", true)).await).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn a_tunnel_is_metered_and_budgeted_like_any_provider() {
    let model_server = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let key = gw.budgeted_member("budgeted", "tiny", 0.5, "none").await;
    // The tunnel is managed with a management key, and called with the inference key.
    let manage = gw.member_manager_key("budgeted", Some("tiny")).await;
    let token = create_tunnel(&gw, &manage, "priced").await;
    let _agent = Agent::start(&gw, &token, &model_server);
    wait_for(&gw, &manage, "priced", "running").await;
    // The owner prices the model behind the tunnel: $0.05 per output token.
    let r = gw
        .patch(
            "/api/providers/priced",
            &manage,
            json!({"prices": {"m": {"input": 0.0, "output": 50000.0}}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // 20 output tokens could cost $1: more than the allocation holds, refused up front.
    let e = expect_error(gw.post(CHAT, &key, chat("priced/m", false)).await, 402).await;
    assert_eq!(e["code"], "budget_exceeded");
    assert_eq!(model_server.hits("/v1/chat/completions"), 0);
    // 5 could cost $0.25: served through the tunnel and charged.
    let mut small = chat("priced/m", false);
    small["max_tokens"] = json!(5);
    let r = gw.post(CHAT, &key, small).await;
    assert_eq!(r.status(), 200);
    let records = gw.org_records().await;
    assert_eq!(records[0]["provider"], "priced");
    assert!(
        records[0]["cost_micros"].as_i64().unwrap() > 0,
        "{records:?}"
    );
}

#[tokio::test]
async fn the_agent_command_says_why_it_stops() {
    let gw = start_gateway().await;
    let run = |token: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_modelgate"))
            .args([
                "tunnel",
                "--gateway",
                &gw.base,
                "--target",
                "http://127.0.0.1:9",
            ])
            .env("MODELGATE_TUNNEL_TOKEN", token)
            .kill_on_drop(true)
            .output()
    };
    let out = tokio::time::timeout(Duration::from_secs(20), run("mgt_not-a-real-token"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused the token"), "{stderr}");
    assert!(
        !stderr.contains("mgt_not-a-real-token"),
        "the token was printed"
    );
}

#[tokio::test]
async fn the_responses_api_reaches_a_chat_only_server_behind_a_tunnel() {
    let model_server = MockUpstream::start_chat_only(&["llama3"]).await;
    let gw = start_gateway().await;
    let researcher = gw.member_manager_key("researcher", None).await;
    let token = create_tunnel(&gw, &researcher, "lab").await;
    let _agent = Agent::start(&gw, &token, &model_server);
    wait_for(&gw, &researcher, "lab", "running").await;
    let body = json!({"model": "lab/llama3", "input": "hi", "stream": true});
    let r = gw.post("/v1/responses", &researcher, body).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    // The server's missing Responses route was found once; chat completions served it.
    assert_eq!(model_server.hits("/v1/responses"), 1);
    assert_eq!(model_server.hits("/v1/chat/completions"), 1);
    // Two records: the native attempt that found no route, and the translated answer.
    let usage = gw.usage(&researcher).await;
    assert_eq!(usage["totals"]["requests"], 2, "{usage}");
}
