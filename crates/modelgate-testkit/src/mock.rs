//! The mock OpenAI-compatible upstream.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the mock received last on a path.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The query string, if any (Azure's `api-version`).
    pub query: Option<String>,
}

#[derive(Default)]
struct Shared {
    models: Vec<String>,
    hits: Mutex<HashMap<String, u64>>,
    last: Mutex<HashMap<String, Recorded>>,
    open_streams: AtomicU64,
    stream_chunks: usize,
}

#[derive(Clone)]
pub struct MockUpstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Prompt tokens the mock always reports.
pub const PROMPT_TOKENS: u64 = 7;
/// Cached prompt tokens the mock always reports.
pub const CACHED_TOKENS: u64 = 2;
/// The text of a non-streamed answer.
pub const ANSWER: &str = "Hello from the mock upstream.";

impl MockUpstream {
    /// Starts a mock that advertises `models` at `GET /v1/models`.
    pub async fn start(models: &[&str]) -> Self {
        Self::start_with_chunks(models, 3).await
    }

    /// As [`start`](Self::start), streaming `chunks` content chunks per answer.
    pub async fn start_with_chunks(models: &[&str], chunks: usize) -> Self {
        Self::start_inner(models, chunks, true).await
    }

    /// As [`start`](Self::start), but a "chat-only" OpenAI-compatible server, like older
    /// vLLM or Ollama: there is no Responses API, and `POST /v1/responses` answers 404
    /// `{"detail":"Not Found"}` (still counted by [`hits`](Self::hits) and recorded by
    /// [`last`](Self::last), so a test can tell whether the gateway tried it). Every other
    /// route behaves as on [`start`](Self::start).
    pub async fn start_chat_only(models: &[&str]) -> Self {
        Self::start_inner(models, 3, false).await
    }

    async fn start_inner(models: &[&str], chunks: usize, with_responses: bool) -> Self {
        let shared = Arc::new(Shared {
            models: models.iter().map(|m| m.to_string()).collect(),
            stream_chunks: chunks,
            ..Default::default()
        });
        let app = Router::new()
            .route("/v1/models", get(list_models))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .route(
                "/v1/responses",
                if with_responses {
                    post(responses)
                } else {
                    post(responses_not_found)
                },
            )
            .route("/v1/messages", post(messages))
            .route("/openai/deployments/{deployment}/{*operation}", post(azure))
            .route("/openai/responses", post(azure_responses))
            .route("/entra/{tenant}/oauth2/v2.0/token", post(entra_token))
            .route("/model/{model}/{operation}", post(bedrock))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .with_state(shared.clone());
        #[allow(clippy::expect_used)]
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock upstream");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("mock address");
        tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:PORT` (no version prefix).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// How many requests reached `path` (e.g. `/v1/chat/completions`).
    pub fn hits(&self, path: &str) -> u64 {
        lock(&self.shared.hits).get(path).copied().unwrap_or(0)
    }

    /// What `path` received last.
    pub fn last(&self, path: &str) -> Option<Recorded> {
        lock(&self.shared.last).get(path).cloned()
    }

    /// The JSON body `path` received last.
    pub fn last_json(&self, path: &str) -> Option<Value> {
        self.last(path)
            .and_then(|r| serde_json::from_slice(&r.body).ok())
    }

    /// Streams currently being sent (a cancelled client request brings this back down).
    pub fn open_streams(&self) -> u64 {
        self.shared.open_streams.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: &Bytes) {
    *lock(&shared.hits).entry(path.to_owned()).or_default() += 1;
    lock(&shared.last).insert(
        path.to_owned(),
        Recorded {
            headers: headers.clone(),
            body: body.clone(),
            query: None,
        },
    );
}

async fn list_models(State(s): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    record(&s, "/v1/models", &headers, &Bytes::new());
    let data: Vec<Value> = s
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 1, "owned_by": "mock"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data}))
}

/// How many times each `flaky-…` model name has been asked for (process-wide: tests give
/// each flaky model a unique name).
static FLAKY_CALLS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

/// The first call of a `flaky-…` model fails (429 with `retry-after: 1` for `flaky-429…`,
/// else 503); later calls behave.
fn flaky_failure(model: &str) -> Option<Response> {
    if !model.contains("flaky-") {
        return None;
    }
    let mut calls = FLAKY_CALLS.lock().unwrap_or_else(|e| e.into_inner());
    let n = calls
        .get_or_insert_with(HashMap::new)
        .entry(model.to_owned())
        .or_insert(0);
    *n += 1;
    if *n > 1 {
        return None;
    }
    let (status, retry_after) = if model.contains("flaky-429") {
        (StatusCode::TOO_MANY_REQUESTS, "1")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "0")
    };
    Some(
        (
            status,
            [("retry-after", retry_after)],
            axum::Json(
                json!({"error": {"message": "try again", "type": "server_error", "code": null}}),
            ),
        )
            .into_response(),
    )
}

/// The canned misbehaviours shared by every endpoint; `None` means behave.
async fn misbehave(model: &str, headers: &HeaderMap) -> Option<Response> {
    if model.contains("slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if let Some(r) = flaky_failure(model) {
        return Some(r);
    }
    if model.contains("error-503") {
        return Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": {"message": "overloaded", "type": "server_error", "code": null}})),
            )
                .into_response(),
        );
    }
    if model.contains("error-400") {
        return Some(
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {"message": "your request is wrong", "type": "invalid_request_error", "code": null}})),
            )
                .into_response(),
        );
    }
    if model.contains("malformed") {
        return Some(
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"id\": \"cmpl-broken\", \"choices\": [",
            )
                .into_response(),
        );
    }
    if model.contains("reset-body") {
        // Headers and half a body, then the connection breaks.
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"id\": \"cmpl-half\", ")),
            Err(std::io::Error::other("reset")),
        ];
        return Some(
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap_or_default(),
        );
    }
    if model.contains("error-500") {
        return Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"message": "mock exploded", "type": "server_error", "code": null}})),
            )
                .into_response(),
        );
    }
    if model.contains("error-429") {
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                axum::Json(json!({"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}})),
            )
                .into_response(),
        );
    }
    if model.contains("html-502") {
        return Some(
            (
                StatusCode::BAD_GATEWAY,
                [("content-type", "text/html")],
                "<html>bad gateway</html>",
            )
                .into_response(),
        );
    }
    if model.contains("echo-key") {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"message": format!("Incorrect API key provided: {auth}"), "type": "invalid_request_error", "code": "invalid_api_key"}})),
            )
                .into_response(),
        );
    }
    None
}

/// The OpenAI routes' common start: the JSON body and its model, or the answer to give
/// instead (400 for a bad body, or the misbehaviour the model name asks for).
async fn openai_request(headers: &HeaderMap, body: &Bytes) -> Result<(Value, String), Response> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Err((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "bad json"}})),
        )
            .into_response());
    };
    let model = req["model"].as_str().unwrap_or("").to_owned();
    match misbehave(&model, headers).await {
        Some(resp) => Err(resp),
        None => Ok((req, model)),
    }
}

fn usage_json(completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS}
    })
}

/// OpenAI's 400 for a body the real API refuses (see [`crate::strict::openai`]).
fn openai_refusal(refusal: crate::strict::openai::Refusal) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(
            json!({"error": {"message": refusal.message, "type": "invalid_request_error",
            "param": refusal.param, "code": null}}),
        ),
    )
        .into_response()
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    generate(&s, "/v1/chat/completions", headers, body, true).await
}

async fn completions(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    generate(&s, "/v1/completions", headers, body, false).await
}

async fn generate(
    s: &Arc<Shared>,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
    chat: bool,
) -> Response {
    record(s, path, &headers, &body);
    let (req, model) = match openai_request(&headers, &body).await {
        Ok(parsed) => parsed,
        Err(resp) => return resp,
    };
    if chat && let Err(refusal) = crate::strict::openai::validate(&req) {
        return openai_refusal(refusal);
    }
    let with_usage = !model.contains("no-usage");
    let tool = requested_tool(&req, &model, chat);
    if req["stream"].as_bool() == Some(true) {
        let include_usage = req["stream_options"]["include_usage"].as_bool() == Some(true);
        return stream_answer(s.clone(), model, chat, with_usage && include_usage, tool);
    }
    let tokens = ANSWER.split(' ').count() as u64;
    let choice = if let Some(name) = &tool {
        let call = json!({"id": TOOL_CALL_ID, "type": "function",
            "function": {"name": name, "arguments": TOOL_ARGUMENTS.concat()}});
        json!({"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [call]},
            "finish_reason": "tool_calls", "logprobs": null})
    } else if chat {
        json!({"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop", "logprobs": null})
    } else {
        json!({"index": 0, "text": ANSWER, "finish_reason": "stop", "logprobs": null})
    };
    let mut out = json!({
        "id": "cmpl-mock", "object": if chat {"chat.completion"} else {"text_completion"},
        "created": 1, "model": model, "choices": [choice], "system_fingerprint": "mock"
    });
    if with_usage {
        out["usage"] = usage_json(tokens);
    }
    axum::Json(out).into_response()
}

/// The id of the mock's chat tool calls.
const TOOL_CALL_ID: &str = "call_mock";
/// The arguments of the mock's chat tool calls, as streamed (two pieces).
const TOOL_ARGUMENTS: [&str; 2] = ["{\"city\": ", "\"Paris\"}"];

/// The tool a chat request's answer calls: its first function tool, when the model name
/// contains `tool` (otherwise, or without tools, the answer is text).
fn requested_tool(req: &Value, model: &str, chat: bool) -> Option<String> {
    if !chat || !model.contains("tool") {
        return None;
    }
    req["tools"][0]["function"]["name"]
        .as_str()
        .map(str::to_owned)
}

struct OpenStream(Arc<Shared>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

fn chunk(model: &str, chat: bool, text: &str) -> Bytes {
    if chat {
        return chat_chunk(model, json!({"content": text}), None);
    }
    let choice = json!({"index": 0, "text": text, "finish_reason": null});
    let obj = json!({"id": "cmpl-mock", "object": "text_completion",
        "created": 1, "model": model, "choices": [choice]});
    Bytes::from(format!("data: {obj}\n\n"))
}

/// One `chat.completion.chunk` SSE event with this delta and finish reason.
fn chat_chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Bytes {
    let obj = json!({"id": "cmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]});
    Bytes::from(format!("data: {obj}\n\n"))
}

/// The deltas of a streamed call of `name`: id and name first, then the arguments in two
/// pieces.
fn tool_call_deltas(name: &str) -> Vec<Value> {
    let mut deltas = vec![
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
        "id": TOOL_CALL_ID, "type": "function", "function": {"name": name, "arguments": ""}}]}),
    ];
    for piece in TOOL_ARGUMENTS {
        deltas.push(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}));
    }
    deltas
}

fn stream_answer(
    s: Arc<Shared>,
    model: String,
    chat: bool,
    send_usage: bool,
    tool: Option<String>,
) -> Response {
    s.open_streams.fetch_add(1, Ordering::SeqCst);
    let guard = OpenStream(s.clone());
    let n = s.stream_chunks;
    let drip = model.contains("drip");
    let cut = model.contains("break");
    let truncate = model.contains("truncate");
    let stall = model.contains("stall");
    let stream = async_stream(move |tx| async move {
        let _guard = guard;
        let mut i = 0usize;
        if let Some(name) = &tool {
            for delta in tool_call_deltas(name) {
                if tx.send(Ok(chat_chunk(&model, delta, None))).await.is_err() {
                    return;
                }
            }
        }
        while tool.is_none() {
            if !drip && i >= n {
                break;
            }
            if stall && i == 2 {
                // Goes quiet mid-answer (the connection stays open).
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            if (cut || truncate) && i == 2 {
                if cut {
                    // Let the chunks already sent reach the wire before the cut, as when
                    // a real server dies mid-answer.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = tx.send(Err(std::io::Error::other("cut"))).await;
                }
                return;
            }
            let text = if i == 0 {
                "Hel".to_string()
            } else {
                format!("lo{i}")
            };
            if tx.send(Ok(chunk(&model, chat, &text))).await.is_err() {
                return;
            }
            i += 1;
            if drip {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // (Completions streams end with this chat-shaped chunk too.)
        let finish = if tool.is_some() { "tool_calls" } else { "stop" };
        let _ = tx
            .send(Ok(chat_chunk(&model, json!({}), Some(finish))))
            .await;
        if send_usage {
            let u = json!({"id": "cmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [], "usage": usage_json(n as u64)});
            let _ = tx.send(Ok(Bytes::from(format!("data: {u}\n\n")))).await;
        }
        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// A stream fed by a task through a small channel; the task ends when the receiver is
/// dropped (the client went away).
fn async_stream<F, Fut>(f: F) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

async fn embeddings(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&s, "/v1/embeddings", &headers, &body);
    let (req, model) = match openai_request(&headers, &body).await {
        Ok(parsed) => parsed,
        Err(resp) => return resp,
    };
    let inputs = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}}))
    .into_response()
}

/// The Responses API: a message answer, or its typed event stream ending in
/// `response.completed` (which carries the usage; there is no `[DONE]`).
async fn responses(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&s, "/v1/responses", &headers, &body);
    let (req, model) = match openai_request(&headers, &body).await {
        Ok(parsed) => parsed,
        Err(resp) => return resp,
    };
    let usage = json!({"input_tokens": PROMPT_TOKENS, "output_tokens": 5, "total_tokens": PROMPT_TOKENS + 5,
        "input_tokens_details": {"cached_tokens": CACHED_TOKENS}});
    let response = |status: &str, text: &str, usage: Value| {
        json!({"id": "resp_mock", "object": "response", "status": status, "model": model,
            "output": [{"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": text}]}], "usage": usage})
    };
    if req["stream"].as_bool() != Some(true) {
        return axum::Json(response("completed", ANSWER, usage)).into_response();
    }
    let mut events = vec![(
        "response.created",
        json!({"type": "response.created", "response": response("in_progress", "", Value::Null)}),
    )];
    for piece in ["Hel", "lo"] {
        events.push((
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "delta": piece}),
        ));
    }
    events.push((
        "response.completed",
        json!({"type": "response.completed", "response": response("completed", "Hello", usage)}),
    ));
    let body: String = events
        .into_iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// `POST /v1/responses` on a chat-only mock: the 404 a server without the Responses API
/// gives (FastAPI's body, as vLLM's).
async fn responses_not_found(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, "/v1/responses", &headers, &body);
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not Found"})),
    )
        .into_response()
}

/// An Anthropic-style error response.
fn anthropic_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
    )
        .into_response()
}

/// Anthropic requires both headers; the mock refuses requests without them.
fn check_anthropic_headers(headers: &HeaderMap) -> Option<Response> {
    if headers.get("x-api-key").is_none() {
        return Some(anthropic_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        ));
    }
    if headers.get("anthropic-version").is_none() {
        return Some(anthropic_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version header is required",
        ));
    }
    None
}

/// The Anthropic Messages API: a text answer, or a `tool_use` of the first tool when the
/// model name contains `tool`; streamed as Anthropic events when `stream` is true.
async fn messages(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&s, "/v1/messages", &headers, &body);
    if let Some(resp) = check_anthropic_headers(&headers) {
        return resp;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return anthropic_error(StatusCode::BAD_REQUEST, "invalid_request_error", "bad json");
    };
    if req.get("max_tokens").and_then(Value::as_u64).is_none() {
        return anthropic_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "max_tokens: Field required",
        );
    }
    let model = req["model"].as_str().unwrap_or("").to_owned();
    if model.contains("error-500") {
        return anthropic_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "mock exploded",
        );
    }
    if let Err(message) = crate::strict::anthropic::validate(&req) {
        return anthropic_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
    }
    let tool = req["tools"][0]["name"]
        .as_str()
        .filter(|_| model.contains("tool"))
        .map(str::to_owned);
    let usage = json!({"input_tokens": PROMPT_TOKENS, "output_tokens": 5, "cache_read_input_tokens": CACHED_TOKENS, "cache_creation_input_tokens": 0});
    if req["stream"].as_bool() != Some(true) {
        let (content, stop) = match &tool {
            Some(name) => (
                json!([{"type": "text", "text": "Let me check."}, {"type": "tool_use", "id": "toolu_mock", "name": name, "input": {"city": "Paris"}}]),
                "tool_use",
            ),
            None => (json!([{"type": "text", "text": ANSWER}]), "end_turn"),
        };
        return axum::Json(
            json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage}),
        )
        .into_response();
    }
    let mut events: Vec<(&str, Value)> = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1, "cache_read_input_tokens": CACHED_TOKENS}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    for piece in ["Hel", "lo"] {
        events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
    }
    // A long answer cut before the upstream reported its output: only `message_start`'s
    // count (1 token) is known when the connection ends.
    if model.contains("cut-long") {
        for _ in 0..CUT_LONG_DELTAS {
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lorem ipsum dolor sit amet "}})));
        }
        return sse_events(events);
    }
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    let stop = match &tool {
        Some(name) => {
            events.push(("content_block_start", json!({"type": "content_block_start", "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_mock", "name": name, "input": {}}})));
            for piece in ["{\"city\": ", "\"Paris\"}"] {
                events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}})));
            }
            events.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ));
            "tool_use"
        }
        None => "end_turn",
    };
    events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}})));
    if !model.contains("truncate") {
        events.push(("message_stop", json!({"type": "message_stop"})));
    }
    sse_events(events)
}

/// Text deltas of the `cut-long` Anthropic stream (27 bytes each).
pub const CUT_LONG_DELTAS: usize = 40;

/// Named SSE events as one response body.
fn sse_events(events: Vec<(&str, Value)>) -> Response {
    let body: String = events
        .into_iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .unwrap_or_default()
}

async fn count_tokens(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&s, "/v1/messages/count_tokens", &headers, &body);
    if let Some(resp) = check_anthropic_headers(&headers) {
        return resp;
    }
    axum::Json(json!({"input_tokens": 11})).into_response()
}

/// Azure OpenAI: `/openai/deployments/{deployment}/{operation}?api-version=…`, answered
/// like the OpenAI routes once `api-version` and an `api-key` or bearer token are present.
/// Recorded under `/azure/{deployment}/{operation}` with its query.
async fn azure(
    State(s): State<Arc<Shared>>,
    axum::extract::Path((deployment, operation)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/azure/{deployment}/{operation}");
    *lock(&s.hits).entry(path.clone()).or_default() += 1;
    lock(&s.last).insert(
        path,
        Recorded {
            headers: headers.clone(),
            body: body.clone(),
            query: uri.query().map(str::to_owned),
        },
    );
    if !uri.query().unwrap_or("").contains("api-version=") {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"code": "404", "message": "Resource not found"}})),
        )
            .into_response();
    }
    let authed = headers.contains_key("api-key")
        || headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer "));
    if !authed {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}))).into_response();
    }
    // Like Azure, answers name the model a deployment serves: deployments named
    // `unmapped-*` serve `gpt-4o-2024-11-20` (others echo the request's model).
    let body = if deployment.starts_with("unmapped-") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(mut v) => {
                v["model"] = json!("gpt-4o-2024-11-20");
                Bytes::from(v.to_string())
            }
            Err(_) => body,
        }
    } else {
        body
    };
    match operation.as_str() {
        "chat/completions" => generate(&s, "/v1/chat/completions", headers, body, true).await,
        "completions" => generate(&s, "/v1/completions", headers, body, false).await,
        "embeddings" => embeddings(State(s), headers, body).await,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Azure's Responses API (`/openai/responses?api-version=…`, the deployment as `model`),
/// recorded under `/azure/responses`; older api-versions answer 404 like Azure does.
async fn azure_responses(
    State(s): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or("").to_owned();
    *lock(&s.hits).entry("/azure/responses".into()).or_default() += 1;
    lock(&s.last).insert(
        "/azure/responses".into(),
        Recorded {
            headers: headers.clone(),
            body: body.clone(),
            query: Some(query.clone()),
        },
    );
    let version = query
        .split('&')
        .find_map(|p| p.strip_prefix("api-version="))
        .unwrap_or("");
    if version < "2025-03-01-preview" || !headers.contains_key("api-key") {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"code": "404", "message": "Resource not found"}})),
        )
            .into_response();
    }
    responses(State(s), headers, body).await
}

/// A mock Entra ID token endpoint: client-credentials grant, tokens `entra-token-N`.
async fn entra_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&s, "/entra/token", &headers, &body);
    let form = String::from_utf8_lossy(&body).to_string();
    let has = |pair: &str| form.split('&').any(|p| p == pair || p.starts_with(pair));
    if !has("grant_type=client_credentials")
        || !has("client_id=")
        || !has("client_secret=")
        || !has("scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default")
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    let n = lock(&s.hits).get("/entra/token").copied().unwrap_or(0);
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": format!("entra-token-{n}")})).into_response()
}

/// The AWS credentials and region the Bedrock mock accepts.
pub const BEDROCK_ACCESS_KEY: &str = "AKIAMOCKACCESSKEY01";
pub const BEDROCK_SECRET_KEY: &str = "mock/secret+access+key+canary0123456789";
pub const BEDROCK_REGION: &str = "us-west-2";

/// `20231114T221320Z` → time.
fn parse_amz_date(s: &str) -> Option<std::time::SystemTime> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Recomputes the SigV4 signature of a request with the mock's credentials; `None` if it
/// matches, else why not.
fn verify_sigv4(headers: &HeaderMap, uri: &axum::http::Uri, body: &[u8]) -> Option<String> {
    let text = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let auth = text("authorization")?;
    let signed = auth.split("SignedHeaders=").nth(1)?.split(',').next()?;
    let time = parse_amz_date(text("x-amz-date")?)?;
    let host = text("host")?;
    let url = format!("http://{host}{}", uri.path());
    let signed_headers: Vec<(&str, &str)> = signed
        .split(';')
        .filter(|n| !n.starts_with("x-amz-"))
        .filter_map(|n| Some((n, text(n)?)))
        .collect();
    let creds = modelgate_providers::aws_sigv4::AwsCredentials {
        access_key_id: BEDROCK_ACCESS_KEY.into(),
        secret_access_key: modelgate_core::Secret::new(BEDROCK_SECRET_KEY),
        session_token: text("x-amz-security-token").map(modelgate_core::Secret::new),
    };
    let expected = modelgate_providers::aws_sigv4::sign_headers(
        "POST",
        &url,
        &signed_headers,
        body,
        &creds,
        modelgate_providers::aws_sigv4::SigningScope {
            region: BEDROCK_REGION,
            service: "bedrock",
            time,
        },
    )
    .ok()?;
    let want = expected
        .iter()
        .find(|(n, _)| n == "authorization")?
        .1
        .clone();
    if want == auth {
        None
    } else {
        Some(format!("signature mismatch: expected {want}"))
    }
}

/// Bedrock Converse / ConverseStream. Requests must carry a valid SigV4 signature for the
/// mock's credentials and region (403 otherwise, as AWS answers).
async fn bedrock(
    State(s): State<Arc<Shared>>,
    axum::extract::Path((model, operation)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, &format!("/bedrock/{operation}"), &headers, &body);
    let bad_sig = match headers.get("authorization") {
        None => Some("missing authorization".to_owned()),
        Some(_) => verify_sigv4(&headers, &uri, &body)
            .map(|why| why.to_owned())
            .or(None),
    };
    if let Some(why) = bad_sig {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"message": format!("The request signature we calculated does not match the signature you provided. {why}")}))).into_response();
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "Malformed input request"})),
        )
            .into_response();
    };
    if model.contains("error-500") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"message": "mock exploded"})),
        )
            .into_response();
    }
    if let Err(message) = crate::strict::bedrock::validate(&model, &req) {
        return (
            StatusCode::BAD_REQUEST,
            [("x-amzn-errortype", "ValidationException")],
            axum::Json(json!({"message": message})),
        )
            .into_response();
    }
    let tool = req
        .pointer("/toolConfig/tools/0/toolSpec/name")
        .and_then(Value::as_str)
        .filter(|_| model.contains("tool"))
        .map(str::to_owned);
    let usage = json!({"inputTokens": PROMPT_TOKENS, "outputTokens": 5, "totalTokens": PROMPT_TOKENS + 5 + CACHED_TOKENS, "cacheReadInputTokens": CACHED_TOKENS});
    if operation == "converse" {
        let mut content = vec![json!({"text": ANSWER})];
        if let Some(name) = &tool {
            content.push(json!({"toolUse": {"toolUseId": "tooluse_mock", "name": name, "input": {"city": "Paris"}}}));
        }
        let stop = if tool.is_some() {
            "tool_use"
        } else {
            "end_turn"
        };
        return axum::Json(
            json!({"output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 1}}),
        )
        .into_response();
    }
    let frame = |kind: &str, payload: Value| {
        modelgate_providers::aws_eventstream::encode(kind, false, payload.to_string().as_bytes())
    };
    let mut wire = frame("messageStart", json!({"role": "assistant"}));
    for piece in ["Hel", "lo"] {
        wire.extend(frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": piece}}),
        ));
        if model.contains("exception") {
            wire.extend(modelgate_providers::aws_eventstream::encode(
                "throttlingException",
                true,
                br#"{"message":"Too many requests"}"#,
            ));
            break;
        }
    }
    wire.extend(frame("contentBlockStop", json!({"contentBlockIndex": 0})));
    if let Some(name) = &tool {
        wire.extend(frame("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_mock", "name": name}}})));
        for piece in ["{\"city\":", "\"Paris\"}"] {
            wire.extend(frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}}),
            ));
        }
        wire.extend(frame("contentBlockStop", json!({"contentBlockIndex": 1})));
    }
    wire.extend(frame(
        "messageStop",
        json!({"stopReason": if tool.is_some() { "tool_use" } else { "end_turn" }}),
    ));
    if !model.contains("truncate") {
        wire.extend(frame(
            "metadata",
            json!({"usage": usage, "metrics": {"latencyMs": 1}}),
        ));
    }
    Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .body(Body::from(wire))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The status line and body of one `POST path` with a JSON body (HTTP/1.1, closed after).
    async fn post(mock: &MockUpstream, path: &str, body: &str) -> (String, String) {
        let mut tcp = tokio::net::TcpStream::connect(mock.addr).await.unwrap();
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            mock.addr,
            body.len()
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        (
            head.lines().next().unwrap_or("").to_owned(),
            body.to_owned(),
        )
    }

    #[tokio::test]
    async fn chat_only_has_no_responses_api() {
        let body = r#"{"model": "m1", "input": "hi"}"#;
        let chat_only = MockUpstream::start_chat_only(&["m1"]).await;
        let (status, text) = post(&chat_only, "/v1/responses", body).await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert_eq!(text, r#"{"detail":"Not Found"}"#);
        assert_eq!(chat_only.hits("/v1/responses"), 1);
        assert_eq!(chat_only.last_json("/v1/responses").unwrap()["input"], "hi");
        let chat = r#"{"model": "m1", "messages": [{"role": "user", "content": "hi"}]}"#;
        let (status, text) = post(&chat_only, "/v1/chat/completions", chat).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(text.contains(ANSWER), "{text}");

        let full = MockUpstream::start(&["m1"]).await;
        let (status, text) = post(&full, "/v1/responses", body).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(text.contains(ANSWER), "{text}");
    }
}
