//! The mock upstream: a deliberately cheap OpenAI-compatible server on raw hyper 1
//! (HTTP/1.1, `TCP_NODELAY`), running on its own one-worker tokio runtime so that it does
//! not compete with the load generator's scheduler.
//!
//! * `GET /v1/models` lists `bench-model`.
//! * `POST /v1/chat/completions` answers a fixed `chat.completion` with usage, or, when the
//!   body contains `"stream":true`, an SSE stream: N content chunks, a final chunk with
//!   `finish_reason`, a usage-only chunk if `"include_usage":true`, then `[DONE]` — each
//!   as its own body frame, all ready at once (no timers).
//!
//! Every answer is pre-rendered once; serving one costs a body read, a substring search
//! and a few `Bytes` clones.

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

/// The model the mock serves.
pub const MODEL: &str = "bench-model";

const MODELS: &str = r#"{"object":"list","data":[{"id":"bench-model","object":"model","created":1,"owned_by":"bench"}]}"#;
const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench mock."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#;
const CHUNK_HEAD: &str = r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":["#;

/// Pre-rendered answers, shared by every connection.
struct Answers {
    models: Bytes,
    completion: Bytes,
    /// The stream without, and with, the usage-only chunk.
    stream: Arc<[Bytes]>,
    stream_with_usage: Arc<[Bytes]>,
}

impl Answers {
    fn new(chunks: usize) -> Self {
        let mut frames: Vec<Bytes> = (0..chunks)
            .map(|i| {
                Bytes::from(format!(
                    "{CHUNK_HEAD}{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
                ))
            })
            .collect();
        frames.push(Bytes::from(format!(
            "{CHUNK_HEAD}{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
        )));
        let done = Bytes::from_static(b"data: [DONE]\n\n");
        let mut with_usage = frames.clone();
        with_usage.push(Bytes::from(format!(
            "{CHUNK_HEAD}],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":{chunks},\"total_tokens\":{}}}}}\n\n",
            chunks + 9
        )));
        with_usage.push(done.clone());
        frames.push(done);
        Self {
            models: Bytes::from_static(MODELS.as_bytes()),
            completion: Bytes::from_static(COMPLETION.as_bytes()),
            stream: frames.into(),
            stream_with_usage: with_usage.into(),
        }
    }
}

/// A response body: one buffer, or a list of SSE frames yielded one by one.
pub enum MockBody {
    Full(Option<Bytes>),
    Frames { frames: Arc<[Bytes]>, next: usize },
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            MockBody::Full(data) => data.take(),
            MockBody::Frames { frames, next } => {
                let frame = frames.get(*next).cloned();
                *next += 1;
                frame
            }
        };
        Poll::Ready(frame.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(data) => data.is_none(),
            MockBody::Frames { frames, next } => *next >= frames.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            MockBody::Frames { .. } => SizeHint::default(),
        }
    }
}

/// A running mock. Dropping it stops its runtime.
pub struct Mock {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Mock {
    /// Starts the mock on 127.0.0.1, port 0, streaming `chunks` content chunks per answer.
    pub fn start(chunks: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-mock")
            .enable_all()
            .build()
            .context("building the mock's runtime")?;
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the mock upstream")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let answers = Arc::new(Answers::new(chunks));
        runtime.spawn(accept_loop(listener, answers));
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, answers: Arc<Answers>) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                eprintln!("mock: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let answers = answers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, answers.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn respond(status: StatusCode, content_type: &'static str, body: MockBody) -> Response<MockBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

async fn handle(
    req: Request<Incoming>,
    answers: Arc<Answers>,
) -> Result<Response<MockBody>, Infallible> {
    let json = "application/json";
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, "/v1/models") => respond(
            StatusCode::OK,
            json,
            MockBody::Full(Some(answers.models.clone())),
        ),
        (&Method::POST, "/v1/chat/completions") => {
            let body = match req.into_body().collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return Ok(respond(StatusCode::BAD_REQUEST, json, MockBody::Full(None)));
                }
            };
            if contains(&body, b"\"stream\":true") || contains(&body, b"\"stream\": true") {
                let frames = if contains(&body, b"\"include_usage\":true") {
                    answers.stream_with_usage.clone()
                } else {
                    answers.stream.clone()
                };
                respond(
                    StatusCode::OK,
                    "text/event-stream",
                    MockBody::Frames { frames, next: 0 },
                )
            } else {
                respond(
                    StatusCode::OK,
                    json,
                    MockBody::Full(Some(answers.completion.clone())),
                )
            }
        }
        _ => respond(StatusCode::NOT_FOUND, json, MockBody::Full(None)),
    };
    Ok(resp)
}
