//! The OpenAI-schema proxy: peek → resolve → policy → rewrite → send → relay, metering
//! every request that reaches an upstream. Same-schema traffic passes through: the body
//! goes upstream byte for byte except `model` (and `stream_options.include_usage`, which
//! the gateway forces on for streams and hides again from the client).

use crate::auth::Principal;
use crate::meter::{MeterContext, UsageGuard};
use crate::resolve::{Resolution, resolve};
use crate::stream::{MeteredStream, StreamDialect, UsagePeek};
use crate::{Gateway, GatewayError, body, estimate};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use modelgate_core::ErrorKind;
use modelgate_core::usage::Outcome;
use modelgate_providers::UpstreamError;
pub use modelgate_providers::openai::Operation;
use std::sync::Arc;
use std::time::Instant;

pub const PROVIDER_HEADER: &str = "x-modelgate-provider";
pub const MODEL_HEADER: &str = "x-modelgate-model";

/// Largest upstream error body relayed to the client.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub enum ProxyBody {
    Full(Bytes),
    Stream(Box<MeteredStream>),
}

pub struct ProxyResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ProxyBody,
}

impl Gateway {
    /// Forwards one OpenAI-schema request (`op` is never `Models`).
    pub async fn proxy_openai(
        self: &Arc<Self>,
        principal: &Principal,
        op: Operation,
        request: Bytes,
        request_id: &str,
    ) -> Result<ProxyResponse, GatewayError> {
        let started = Instant::now();
        let peeked = body::peek(&request)?;
        let snapshot = self.registry.snapshot();
        let target = match resolve(&peeked.model, &*snapshot) {
            Resolution::Found(t) => t,
            Resolution::NotFound => return Err(GatewayError::model_not_found(&peeked.model)),
            Resolution::Ambiguous(candidates) => {
                return Err(GatewayError::bad_request(format!(
                    "The model '{}' is ambiguous; name one of: {}",
                    peeked.model,
                    candidates.join(", ")
                ))
                .with_code("model_ambiguous")
                .with_param("model"));
            }
        };
        if !principal.allows_model(&peeked.model, &target.provider, &target.model) {
            return Err(GatewayError::forbidden(format!(
                "This key may not use the model '{}'.",
                peeked.model
            ))
            .with_code("model_not_allowed")
            .with_param("model"));
        }
        let provider = snapshot
            .get(&target.provider)
            .cloned()
            .ok_or_else(|| GatewayError::model_not_found(&peeked.model))?;
        if provider.credential_error {
            return Err(GatewayError::new(
                ErrorKind::Unavailable,
                format!(
                    "provider '{}' needs to be reconfigured by an administrator",
                    target.provider
                ),
            ));
        }
        let stream = peeked.stream && op != Operation::Embeddings;
        let force_usage = stream && op != Operation::Responses;
        let upstream_body = body::rewrite(&request, &peeked, &target.model, force_usage);

        let mut guard = UsageGuard::new(
            self.usage.clone(),
            MeterContext {
                request_id: request_id.to_owned(),
                key_id: principal.key_id.clone(),
                user_id: principal.user_id.clone(),
                provider: target.provider.clone(),
                model: target.model.clone(),
                api: op.label(),
                stream,
            },
            started,
        );
        let mut req = provider
            .upstream
            .request(&self.client, op)
            .body(upstream_body);
        if !stream {
            req = req.timeout(self.settings.request_timeout);
        }
        let sent = tokio::time::timeout(self.settings.first_byte_timeout, req.send()).await;
        let resp = match sent {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                return Err(fail(
                    &mut guard,
                    UpstreamError::from_transport(&target.provider, &e),
                ));
            }
            Err(_) => {
                let e = UpstreamError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("provider '{}' did not answer in time", target.provider),
                );
                return Err(fail(&mut guard, e));
            }
        };
        guard.mark_first_byte();
        let status = resp.status();
        let mut headers = relay_headers(resp.headers());
        insert_header(&mut headers, PROVIDER_HEADER, &target.provider);
        insert_header(&mut headers, MODEL_HEADER, &target.model);
        guard.status = status.as_u16();

        if !status.is_success() {
            let bytes = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
            let body = scrub_secret(bytes, provider.upstream.api_key_text());
            let body = if looks_like_json(&body) {
                body
            } else {
                Bytes::from(
                    serde_json::json!({"error": {
                        "message": format!("provider '{}' answered with status {}", target.provider, status.as_u16()),
                        "type": "upstream_error", "param": null, "code": "upstream_error"}})
                    .to_string(),
                )
            };
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            crate::telemetry::upstream_failure(&target.provider, ErrorKind::UpstreamInvalid);
            guard.finish(Outcome::UpstreamError);
            return Ok(ProxyResponse {
                status,
                headers,
                body: ProxyBody::Full(body),
            });
        }

        let is_sse = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if stream && is_sse {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            headers.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            let hide_usage_chunk = force_usage && !peeked.include_usage;
            let body = MeteredStream::new(
                Box::pin(resp.bytes_stream()),
                guard,
                request,
                hide_usage_chunk,
                if op == Operation::Responses {
                    StreamDialect::Responses
                } else {
                    StreamDialect::Completions
                },
                target.provider.clone(),
            );
            return Ok(ProxyResponse {
                status,
                headers,
                body: ProxyBody::Stream(Box::new(body)),
            });
        }

        let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
        let bytes = match read_limited(resp, self.settings.max_response_bytes).await {
            Ok(b) => b,
            Err(ReadError::TooLarge) => {
                let e = UpstreamError::new(
                    ErrorKind::UpstreamInvalid,
                    format!(
                        "provider '{}' sent a response larger than the limit",
                        target.provider
                    ),
                );
                return Err(fail(&mut guard, e));
            }
            Err(ReadError::Transport(e)) => {
                return Err(fail(
                    &mut guard,
                    UpstreamError::from_transport(&target.provider, &e),
                ));
            }
        };
        meter_full_body(&mut guard, &request, &bytes);
        guard.finish(Outcome::Ok);
        headers.insert(
            http::header::CONTENT_TYPE,
            content_type.unwrap_or(HeaderValue::from_static("application/json")),
        );
        Ok(ProxyResponse {
            status,
            headers,
            body: ProxyBody::Full(bytes),
        })
    }
}

/// Records a failure before any answer, and turns it into the client's error.
fn fail(guard: &mut UsageGuard, err: UpstreamError) -> GatewayError {
    if let Some(ctx) = guard.context() {
        crate::telemetry::upstream_failure(&ctx.provider, err.kind);
    }
    guard.status = err.kind.status();
    guard.finish(Outcome::UpstreamFailed);
    err.into()
}

#[derive(serde::Deserialize)]
struct BodyUsage {
    #[serde(default)]
    usage: Option<UsagePeek>,
}

/// Usage of a non-streamed response: the upstream's, else an estimate.
fn meter_full_body(guard: &mut UsageGuard, request: &[u8], response: &[u8]) {
    match serde_json::from_slice::<BodyUsage>(response)
        .ok()
        .and_then(|b| b.usage)
    {
        Some(u) => guard.usage = (&u).into(),
        None => {
            guard.usage.input_tokens = estimate::prompt_tokens(request);
            guard.usage.output_tokens = estimate::completion_tokens(response);
            guard.usage_estimated = true;
        }
    }
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Transport)? {
        if buf.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        if buf.is_empty() && resp.content_length() == Some(chunk.len() as u64) {
            return Ok(chunk);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Upstream headers worth passing on: rate-limit information and `retry-after`.
fn relay_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if n == "retry-after" || n == "retry-after-ms" || n.starts_with("x-ratelimit-") {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// Replaces every occurrence of the provider's own key in an upstream error body, for
/// upstreams that echo credentials ("Incorrect API key provided: sk-…").
fn scrub_secret(body: Bytes, secret: Option<&str>) -> Bytes {
    let Some(secret) = secret.filter(|s| s.len() >= 8) else {
        return body;
    };
    let finder = memchr::memmem::Finder::new(secret.as_bytes());
    if finder.find(&body).is_none() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0;
    for i in finder.find_iter(&body) {
        out.extend_from_slice(&body[pos..i]);
        out.extend_from_slice(b"***");
        pos = i + secret.len();
    }
    out.extend_from_slice(&body[pos..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_from_error_bodies() {
        let body = Bytes::from_static(b"{\"error\":\"bad key sk-canary-123 (sk-canary-123)\"}");
        let out = scrub_secret(body, Some("sk-canary-123"));
        assert_eq!(&out[..], b"{\"error\":\"bad key *** (***)\"}");
    }

    #[test]
    fn only_rate_limit_headers_are_relayed() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("1"),
        );
        h.insert("set-cookie", HeaderValue::from_static("a=b"));
        h.insert("server", HeaderValue::from_static("x"));
        let out = relay_headers(&h);
        assert_eq!(out.len(), 2);
    }
}
