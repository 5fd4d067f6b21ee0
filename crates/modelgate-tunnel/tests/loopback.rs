//! End to end on loopback: a fake gateway (hyper, upgrade + `link::open`), the real agent
//! (`agent::run`) and a mock OpenAI-style target (axum), all on 127.0.0.1 port 0.
#![allow(
    clippy::disallowed_methods,
    reason = "tests run servers and clients on their own tasks"
)]
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::stream;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use modelgate_tunnel::agent::{self, AgentConfig};
use modelgate_tunnel::link::{self, TunnelLink};
use modelgate_tunnel::protocol::{
    AGENT_NAME_HEADER, AGENT_VERSION_HEADER, CONNECT_PATH, TARGET_UNREACHABLE_CODE,
    UPGRADE_PROTOCOL,
};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::timeout;

const TOKEN: &str = "tun-test-token";
const TARGET_KEY: &str = "target-secret";
const BIG_BODY: usize = 8 * 1024 * 1024;
const STREAM_CHUNKS: usize = 5;

// ---------------------------------------------------------------- mock target

#[derive(Clone, Default)]
struct TargetState {
    gate: Arc<Notify>,
}

async fn start_target() -> (SocketAddr, TargetState) {
    let state = TargetState::default();
    let app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/gated", get(gated))
        .route("/v1/big", get(big))
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

async fn models() -> impl IntoResponse {
    axum::Json(json!({"object": "list", "data": [{"id": "mock-model", "object": "model"}]}))
}

fn header(headers: &HeaderMap, name: &str) -> Value {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map_or(Value::Null, |v| Value::String(v.to_owned()))
}

fn sse_chunk(tag: &str, i: usize) -> String {
    format!("data: {{\"tag\":\"{tag}\",\"i\":{i}}}\n\n")
}

fn expected_stream(tag: &str) -> String {
    let mut s: String = (0..STREAM_CHUNKS).map(|i| sse_chunk(tag, i)).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

/// Non-stream: echoes the body and the headers that matter. Stream: SSE chunks 10 ms apart.
async fn chat(headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request["stream"] == json!(true) {
        let tag = request["tag"].as_str().unwrap_or("").to_owned();
        let chunks = stream::unfold(0usize, move |i| {
            let tag = tag.clone();
            async move {
                if i > STREAM_CHUNKS {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                let text = if i == STREAM_CHUNKS {
                    "data: [DONE]\n\n".to_owned()
                } else {
                    sse_chunk(&tag, i)
                };
                Some((Ok::<_, Infallible>(Bytes::from(text)), i + 1))
            }
        });
        return (
            [("content-type", "text/event-stream")],
            axum::body::Body::from_stream(chunks),
        )
            .into_response();
    }
    axum::Json(json!({
        "echo": request,
        "body_len": body.len(),
        "authorization": header(&headers, "authorization"),
        "content_length": header(&headers, "content-length"),
        "transfer_encoding": header(&headers, "transfer-encoding"),
    }))
    .into_response()
}

/// Sends one event, then waits for the test to open the gate before finishing.
async fn gated(State(state): State<TargetState>) -> Response {
    let chunks = stream::unfold(0usize, move |i| {
        let gate = state.gate.clone();
        async move {
            match i {
                0 => Some((Ok::<_, Infallible>(Bytes::from("data: first\n\n")), 1)),
                1 => {
                    gate.notified().await;
                    Some((Ok(Bytes::from("data: second\n\n")), 2))
                }
                _ => None,
            }
        }
    });
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

async fn big() -> Response {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks =
        stream::iter((0..BIG_BODY / chunk.len()).map(move |_| Ok::<_, Infallible>(chunk.clone())));
    axum::body::Body::from_stream(chunks).into_response()
}

// ---------------------------------------------------------------- fake gateway

struct FakeGateway {
    addr: SocketAddr,
    links: mpsc::UnboundedReceiver<(TunnelLink, AbortHandle)>,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl FakeGateway {
    async fn next_link(&mut self) -> (TunnelLink, AbortHandle) {
        timeout(Duration::from_secs(5), self.links.recv())
            .await
            .expect("the agent did not connect in time")
            .expect("gateway stopped")
    }
}

/// Accepts the upgrade with `TOKEN`; answers 409 to the first `conflicts` attempts.
async fn start_gateway(conflicts: usize) -> FakeGateway {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, links) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let conflicts = Arc::new(AtomicUsize::new(conflicts));
    let seen_by_server = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            let seen = seen_by_server.clone();
            let conflicts = conflicts.clone();
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                let seen = seen.clone();
                let conflicts = conflicts.clone();
                async move {
                    seen.lock().unwrap().push(req.headers().clone());
                    let error = |status: u16, message: &str, code: &str| {
                        let body = json!({"error": {"message": message, "type": "invalid_request_error", "code": code}});
                        hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body.to_string())))
                            .unwrap()
                    };
                    if req.uri().path() != CONNECT_PATH {
                        return Ok::<_, Infallible>(error(404, "no such route", "not_found"));
                    }
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok());
                    if auth != Some(&format!("Bearer {TOKEN}")) {
                        return Ok(error(
                            401,
                            "this tunnel token is revoked",
                            "invalid_api_key",
                        ));
                    }
                    let upgrade = req.headers().get("upgrade").and_then(|v| v.to_str().ok());
                    if upgrade != Some(UPGRADE_PROTOCOL) {
                        return Ok(error(400, "expected an upgrade", "bad_upgrade"));
                    }
                    if conflicts
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        return Ok(error(
                            409,
                            "this tunnel already has a connected agent",
                            "tunnel_busy",
                        ));
                    }
                    tokio::spawn(async move {
                        let upgraded = hyper::upgrade::on(&mut req).await.unwrap();
                        let (link, driver) = link::open(TokioIo::new(upgraded)).await.unwrap();
                        let driver = tokio::spawn(driver);
                        let _ = tx.send((link, driver.abort_handle()));
                    });
                    Ok(hyper::Response::builder()
                        .status(101)
                        .header("connection", "upgrade")
                        .header("upgrade", UPGRADE_PROTOCOL)
                        .body(Full::new(Bytes::new()))
                        .unwrap())
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    FakeGateway { addr, links, seen }
}

// ---------------------------------------------------------------- agent

struct Agent {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), agent::AgentError>>,
}

fn config(gateway: SocketAddr, target: &str, token: &str) -> AgentConfig {
    AgentConfig {
        gateway: url::Url::parse(&format!("http://{gateway}")).unwrap(),
        token: token.to_owned(),
        target: url::Url::parse(target).unwrap(),
        target_api_key: Some(TARGET_KEY.to_owned()),
        ca_file: None,
        name: Some("test-agent".to_owned()),
    }
}

fn start_agent(config: AgentConfig) -> Agent {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(agent::run(config, async move {
        let _ = stopped.await;
    }));
    Agent {
        stop: Some(stop),
        task,
    }
}

impl Agent {
    async fn shutdown(mut self) -> Result<(), agent::AgentError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(Duration::from_secs(12), self.task)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
    }
}

/// Gateway + target + agent, connected.
async fn setup(target_suffix: &str) -> (FakeGateway, TargetState, Agent, TunnelLink) {
    let (target, state) = start_target().await;
    let mut gateway = start_gateway(0).await;
    let agent = start_agent(config(
        gateway.addr,
        &format!("http://{target}{target_suffix}"),
        TOKEN,
    ));
    let (link, _) = gateway.next_link().await;
    (gateway, state, agent, link)
}

fn request(method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Request {
    let url = url::Url::parse(&format!("http://ignored.example{path}")).unwrap();
    let mut req = reqwest::Request::new(method, url);
    if let Some(body) = body {
        req.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        *req.body_mut() = Some(body.to_string().into());
    }
    req
}

async fn send(link: &TunnelLink, req: reqwest::Request) -> reqwest::Response {
    timeout(Duration::from_secs(5), link.send(req))
        .await
        .expect("no answer in time")
        .expect("send failed")
}

async fn read_all(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Some(chunk) = timeout(Duration::from_secs(5), response.chunk())
        .await
        .expect("body stalled")
        .unwrap()
    {
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).unwrap()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn requests_and_streams_arrive_intact() {
    let (gateway, _, agent, link) = setup("").await;

    let seen = gateway.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen[AGENT_NAME_HEADER], "test-agent");
    assert_eq!(seen[AGENT_VERSION_HEADER], env!("CARGO_PKG_VERSION"));

    let models = send(&link, request(reqwest::Method::GET, "/v1/models?x=1", None)).await;
    assert_eq!(models.status(), 200);
    assert_eq!(
        models.url().as_str(),
        "http://ignored.example/v1/models?x=1"
    );
    let models: Value = models.json().await.unwrap();
    assert_eq!(models["data"][0]["id"], "mock-model");

    let body = json!({"model": "m", "messages": [{"role": "user", "content": "héllo"}]});
    let response = send(
        &link,
        request(
            reqwest::Method::POST,
            "/v1/chat/completions",
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.unwrap();
    assert_eq!(echo["echo"], body);
    assert_eq!(echo["authorization"], format!("Bearer {TARGET_KEY}"));
    // The length crossed the tunnel as the body's size: no chunked re-encoding.
    assert_eq!(echo["content_length"], echo["body_len"].to_string());
    assert_eq!(echo["transfer_encoding"], Value::Null);

    let stream = json!({"model": "m", "stream": true, "tag": "solo"});
    let response = send(
        &link,
        request(reqwest::Method::POST, "/v1/chat/completions", Some(stream)),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(read_all(response).await, expected_stream("solo"));

    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn stream_chunks_arrive_before_the_target_finishes() {
    let (_gateway, target, agent, link) = setup("").await;
    let mut response = send(&link, request(reqwest::Method::GET, "/v1/gated", None)).await;
    let mut first = Vec::new();
    while first.len() < b"data: first\n\n".len() {
        let chunk = timeout(Duration::from_secs(3), response.chunk())
            .await
            .expect("the first event was held back: the tunnel buffers")
            .unwrap()
            .expect("body ended early");
        first.extend_from_slice(&chunk);
    }
    assert_eq!(first, b"data: first\n\n");
    // Only now may the target finish.
    target.gate.notify_one();
    assert_eq!(read_all(response).await, "data: second\n\n");
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn sixty_four_concurrent_requests_half_streams() {
    // A target given with `/v1` must not get `/v1/v1/...`.
    let (_gateway, _, agent, link) = setup("/v1").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let link = link.clone();
        tasks.push(tokio::spawn(async move {
            let tag = format!("req-{i}");
            let stream = i % 2 == 0;
            let body = json!({"model": "m", "stream": stream, "tag": tag});
            let response = send(
                &link,
                request(
                    reqwest::Method::POST,
                    "/v1/chat/completions",
                    Some(body.clone()),
                ),
            )
            .await;
            assert_eq!(response.status(), 200);
            if stream {
                assert_eq!(read_all(response).await, expected_stream(&tag));
            } else {
                let echo: Value = response.json().await.unwrap();
                assert_eq!(echo["echo"], body);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refused_token_is_fatal_and_says_so() {
    let (target, _) = start_target().await;
    let gateway = start_gateway(0).await;
    let agent = start_agent(config(
        gateway.addr,
        &format!("http://{target}"),
        "wrong-token",
    ));
    let err = timeout(Duration::from_secs(5), agent.task)
        .await
        .expect("a refused token must stop the agent")
        .unwrap()
        .expect_err("a refused token is an error");
    let message = err.to_string();
    assert!(message.contains("token"), "{message}");
    assert!(
        message.contains("this tunnel token is revoked"),
        "{message}"
    );
    assert!(
        !message.contains("wrong-token"),
        "the token leaked: {message}"
    );
}

#[tokio::test]
async fn an_unreachable_target_answers_502() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let mut gateway = start_gateway(0).await;
    let agent = start_agent(config(gateway.addr, &format!("http://{dead}"), TOKEN));
    let (link, _) = gateway.next_link().await;
    let response = send(&link, request(reqwest::Method::GET, "/v1/models", None)).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], TARGET_UNREACHABLE_CODE);
    assert_eq!(body["error"]["type"], "api_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&dead.to_string()), "{message}");
    assert!(!message.contains(TARGET_KEY), "{message}");
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_agent_reconnects_after_the_gateway_drops_it() {
    let (target, _) = start_target().await;
    let mut gateway = start_gateway(0).await;
    let agent = start_agent(config(gateway.addr, &format!("http://{target}"), TOKEN));
    let (first, driver) = gateway.next_link().await;
    assert_eq!(
        send(&first, request(reqwest::Method::GET, "/v1/models", None))
            .await
            .status(),
        200
    );

    driver.abort(); // the gateway drops the connection
    let (second, _) = gateway.next_link().await;
    assert!(first.is_closed());
    assert!(matches!(
        first
            .send(request(reqwest::Method::GET, "/v1/models", None))
            .await,
        Err(link::TunnelError::Closed)
    ));
    assert_eq!(
        send(&second, request(reqwest::Method::GET, "/v1/models", None))
            .await
            .status(),
        200
    );
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_agent_retries_while_the_tunnel_is_taken() {
    let (target, _) = start_target().await;
    let mut gateway = start_gateway(2).await; // 409 twice, then accept
    let agent = start_agent(config(gateway.addr, &format!("http://{target}"), TOKEN));
    let (link, _) = gateway.next_link().await;
    assert_eq!(
        send(&link, request(reqwest::Method::GET, "/v1/models", None))
            .await
            .status(),
        200
    );
    assert_eq!(gateway.seen.lock().unwrap().len(), 3);
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_streams_finish_then_returns_ok() {
    let (_gateway, target, agent, link) = setup("").await;
    let mut response = send(&link, request(reqwest::Method::GET, "/v1/gated", None)).await;
    let first = timeout(Duration::from_secs(3), response.chunk())
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_some());

    let stopping = tokio::spawn(agent.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown must wait for the in-flight stream"
    );
    target.gate.notify_one();
    assert_eq!(read_all(response).await, "data: second\n\n");
    timeout(Duration::from_secs(5), stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_while_disconnected_returns_ok() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = closed.local_addr().unwrap();
    drop(closed);
    let agent = start_agent(config(nowhere, "http://127.0.0.1:9", TOKEN));
    tokio::time::sleep(Duration::from_millis(200)).await;
    agent.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stalled_stream_does_not_stall_the_others() {
    let (_gateway, _, agent, link) = setup("").await;
    // Nobody reads this 8 MiB body for now: its stream window fills up and stays full.
    let stalled = send(&link, request(reqwest::Method::GET, "/v1/big", None)).await;
    assert_eq!(stalled.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;

    for i in 0..4 {
        let tag = format!("live-{i}");
        let body = json!({"model": "m", "stream": true, "tag": tag});
        let response = send(
            &link,
            request(reqwest::Method::POST, "/v1/chat/completions", Some(body)),
        )
        .await;
        assert_eq!(read_all(response).await, expected_stream(&tag));
    }

    let mut stalled = stalled;
    let mut total = 0;
    while let Some(chunk) = timeout(Duration::from_secs(5), stalled.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        assert!(chunk.iter().all(|b| *b == b'x'));
        total += chunk.len();
    }
    assert_eq!(total, BIG_BODY);
    agent.shutdown().await.unwrap();
}
