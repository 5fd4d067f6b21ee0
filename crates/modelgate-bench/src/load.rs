//! The load generator: a hyper 1 client (pooled keep-alive HTTP/1.1, `TCP_NODELAY`) on its
//! own multi-thread runtime, driving one [`Target`] at a time (one address, or several
//! taken in turn: the replicas, balanced by the client, no load balancer in between).
//!
//! * [`open_loop`] sends on a fixed timetable, independent of answers: the calling thread
//!   sleeps until each scheduled instant and hands the request to the runtime. Latency is
//!   measured from the *scheduled* instant, so a slow answer cannot hide the requests that
//!   queue behind it (no coordinated omission). In-flight requests are capped (and so is
//!   the connection count); a request waiting for a slot is still timed from its schedule.
//! * [`closed_loop`] keeps `concurrency` requests in flight back to back.
//!
//! Both stop by themselves: sends end at the phase deadline and every request has a
//! [`REQUEST_TIMEOUT`].

use crate::stats::nanos;
use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Longest any single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One kind of request: where it goes and what it carries. With several addresses
/// (replicas), requests go to them in turn (client-side round robin).
pub struct Target {
    uris: Vec<Uri>,
    next: AtomicUsize,
    auth: Option<HeaderValue>,
    body: Bytes,
    pub stream: bool,
}

impl Target {
    /// `POST http://addr/v1/chat/completions` for `model`, with an optional bearer key.
    pub fn chat(addr: SocketAddr, key: Option<&str>, model: &str, stream: bool) -> Result<Self> {
        Self::chat_many(&[addr], key, model, stream)
    }

    /// [`Target::chat`] spread round robin over `addrs`.
    pub fn chat_many(
        addrs: &[SocketAddr],
        key: Option<&str>,
        model: &str,
        stream: bool,
    ) -> Result<Self> {
        if addrs.is_empty() {
            bail!("a target needs at least one address");
        }
        let stream_field = if stream { r#","stream":true"# } else { "" };
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]{stream_field}}}"#
        );
        Self::post(addrs, "/v1/chat/completions", key, body, stream)
    }

    /// `POST http://addr/v1/responses` for `model` with `"stream":true` and a one-word
    /// `input` (the translated Responses scenario, `responses`).
    pub fn responses_stream(addr: SocketAddr, key: Option<&str>, model: &str) -> Result<Self> {
        let body = format!(r#"{{"model":"{model}","input":"hi","stream":true}}"#);
        Self::post(&[addr], "/v1/responses", key, body, true)
    }

    fn post(
        addrs: &[SocketAddr],
        path: &str,
        key: Option<&str>,
        body: String,
        stream: bool,
    ) -> Result<Self> {
        Ok(Self {
            uris: addrs
                .iter()
                .map(|a| format!("http://{a}{path}").parse())
                .collect::<Result<_, _>>()?,
            next: AtomicUsize::new(0),
            auth: key
                .map(|k| HeaderValue::from_str(&format!("Bearer {k}")))
                .transpose()?,
            body: Bytes::from(body),
            stream,
        })
    }

    pub(crate) fn request(&self) -> Result<Request<Full<Bytes>>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.uris.len();
        let mut req = Request::post(self.uris[i].clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(self.body.clone()))?;
        if let Some(auth) = &self.auth {
            req.headers_mut()
                .insert(header::AUTHORIZATION, auth.clone());
        }
        Ok(req)
    }
}

/// Timings of one successful request, from its start (scheduled or actual).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub total: Duration,
    /// Streams: until the first body frame holding a `"content"` event.
    pub ttft: Option<Duration>,
    /// Longest pause between two body frames.
    pub max_gap: Duration,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sends one request and reads the whole answer; times are measured from `start`.
pub async fn send(client: &HttpClient, target: &Target, start: Instant) -> Result<Timing> {
    let resp = client.request(target.request()?).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let text = body.collect().await?.to_bytes();
        bail!("status {status}: {}", String::from_utf8_lossy(&text));
    }
    let mut ttft = None;
    let mut last: Option<Instant> = None;
    let mut max_gap = Duration::ZERO;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref() {
            let now = Instant::now();
            if let Some(prev) = last {
                max_gap = max_gap.max(now.saturating_duration_since(prev));
            }
            last = Some(now);
            if target.stream && ttft.is_none() && contains(data, b"\"content\"") {
                ttft = Some(now.saturating_duration_since(start));
            }
        }
    }
    if target.stream && ttft.is_none() {
        bail!("the stream ended without a content event");
    }
    Ok(Timing {
        total: start.elapsed(),
        ttft,
        max_gap,
    })
}

/// Everything one phase measured.
#[derive(Debug, Default)]
pub struct Outcome {
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Nanoseconds, one per successful request.
    pub totals: Vec<u64>,
    pub ttfts: Vec<u64>,
    pub max_gap: Duration,
    /// Open loop: how late the dispatcher handed each request over, in nanoseconds.
    pub lateness: Vec<u64>,
    /// Requests whose TTFT or longest frame gap exceeded [`STALL`].
    pub stalls: u64,
}

/// A pause this long smells of a Nagle/delayed-ACK stall (~40 ms).
pub const STALL: Duration = Duration::from_millis(30);

impl Outcome {
    fn push(&mut self, result: Result<Timing>) {
        match result {
            Ok(t) => {
                self.completed += 1;
                self.totals.push(nanos(t.total));
                if let Some(ttft) = t.ttft {
                    self.ttfts.push(nanos(ttft));
                }
                self.max_gap = self.max_gap.max(t.max_gap);
                if t.max_gap > STALL || t.ttft.is_some_and(|d| d > STALL) {
                    self.stalls += 1;
                }
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{e:#}"));
                }
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.completed += other.completed;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.totals.extend(other.totals);
        self.ttfts.extend(other.ttfts);
        self.max_gap = self.max_gap.max(other.max_gap);
        self.stalls += other.stalls;
    }

    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

async fn send_bounded(client: &HttpClient, target: &Target, start: Instant) -> Result<Timing> {
    tokio::time::timeout(REQUEST_TIMEOUT, send(client, target, start))
        .await
        .unwrap_or_else(|_| Err(anyhow!("timed out after {REQUEST_TIMEOUT:?}")))
}

/// Sends `rate` requests per second for `duration` on a fixed timetable. Blocks the
/// calling thread (the dispatcher), which must not be one of `rt`'s workers.
pub fn open_loop(
    rt: &Runtime,
    client: &HttpClient,
    target: &Arc<Target>,
    rate: u32,
    duration: Duration,
    max_in_flight: usize,
) -> Outcome {
    let n = (f64::from(rate.max(1)) * duration.as_secs_f64()).round() as u64;
    let interval_ns = 1e9 / f64::from(rate.max(1));
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut handles = Vec::with_capacity(n as usize);
    let mut lateness = Vec::with_capacity(n as usize);
    let t0 = Instant::now() + Duration::from_millis(2);
    for i in 0..n {
        let at = t0 + Duration::from_nanos((i as f64 * interval_ns) as u64);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        lateness.push(nanos(Instant::now().saturating_duration_since(at)));
        let (client, target, slots) = (client.clone(), target.clone(), slots.clone());
        handles.push(rt.spawn(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, async {
                let _slot = slots.acquire_owned().await?;
                send(&client, &target, at).await
            })
            .await
            .unwrap_or_else(|_| Err(anyhow!("timed out after {REQUEST_TIMEOUT:?}")))
        }));
    }
    let mut out = Outcome::default();
    rt.block_on(async {
        for handle in handles {
            out.push(handle.await.unwrap_or_else(|e| Err(e.into())));
        }
    });
    out.elapsed = t0.elapsed();
    out.lateness = lateness;
    out
}

/// Keeps `concurrency` requests in flight, back to back, for `duration`.
pub fn closed_loop(
    rt: &Runtime,
    client: &HttpClient,
    target: &Arc<Target>,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let mut out = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (client, target) = (client.clone(), target.clone());
            set.spawn(async move {
                let mut part = Outcome::default();
                while Instant::now() < deadline {
                    let result = send_bounded(&client, &target, Instant::now()).await;
                    let failed = result.is_err();
                    part.push(result);
                    if failed {
                        // Don't spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                part
            });
        }
        let mut all = Outcome::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(part) => all.merge(part),
                Err(e) => all.push(Err(e.into())),
            }
        }
        all
    });
    out.elapsed = started.elapsed();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_addresses_are_taken_in_turn() {
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        ];
        let t = Target::chat_many(&addrs, Some("k"), "m", false).unwrap();
        let ports: Vec<u16> = (0..4)
            .map(|_| t.request().unwrap().uri().port_u16().unwrap())
            .collect();
        assert_eq!(ports, [1, 2, 1, 2]);
        assert!(Target::chat_many(&[], None, "m", false).is_err());
    }
}
