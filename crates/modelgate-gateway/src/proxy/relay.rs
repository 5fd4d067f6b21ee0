//! Relaying an upstream's answer: the client's stream by plan (pass-through SSE,
//! translated SSE, or decoded Bedrock frames), a whole body read within its limit and
//! metered, the upstream's error in the client's schema with the credential scrubbed, and
//! the headers that are relayed.

use super::*;
pub(super) use modelgate_providers::client::{ReadError, read_limited};

/// Largest upstream error body relayed to the client.
pub(super) const MAX_ERROR_BODY: usize = 64 * 1024;

/// The client's stream for an upstream stream, by plan: pass-through or translated SSE,
/// or decoded and translated Bedrock frames.
pub(super) fn stream_body(
    p: Prepared,
    front: FrontApi,
    upstream: Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    guard: UsageGuard,
    request: Bytes,
    provider: String,
    store: &Arc<crate::response_store::ResponseStore>,
) -> BodyStream {
    let (hide_usage_chunk, mapper) = match &p.plan {
        Plan::PassThrough { hide_usage_chunk } => (*hide_usage_chunk, None),
        Plan::Translate(exchange) => (false, Some(exchange.stream())),
    };
    // A translated Responses turn is kept when its final event goes out.
    let mapper = match (mapper, p.keep) {
        (Some(inner), Some(turn)) => Some(Box::new(Keeping {
            inner,
            store: store.clone(),
            turn: Some(turn),
        }) as Box<dyn pairs::EventMapper>),
        (mapper, _) => mapper,
    };
    let idle = p.provider.config.idle_timeout_secs.map(Duration::from_secs);
    let schema = p.provider.primary().schema();
    match (schema, mapper) {
        (Schema::Bedrock, Some(mapper)) => Box::pin(
            BedrockStream::new(upstream, mapper, front.schema(), guard, request, provider)
                .with_idle_timeout(idle),
        ),
        (_, mapper) => {
            let dialect = match schema {
                Schema::Anthropic => StreamDialect::Anthropic,
                _ if p.op == Operation::Responses => StreamDialect::Responses,
                _ => StreamDialect::Completions,
            };
            let plan = StreamPlan {
                dialect,
                front: front.schema(),
                hide_usage_chunk,
                mapper: mapper
                    .map(|m| Box::new(SseMapper(m)) as Box<dyn crate::stream::StreamMapper>),
            };
            Box::pin(
                MeteredStream::new(upstream, guard, request, plan, provider)
                    .with_idle_timeout(idle),
            )
        }
    }
}

pub(super) fn invalid_body(guard: &mut UsageGuard, provider: &str) -> GatewayError {
    fail(
        guard,
        UpstreamError::new(
            ErrorKind::UpstreamInvalid,
            format!("provider '{provider}' sent a response that is not valid JSON"),
        ),
    )
}

/// Whether an upstream's answer to a native Responses request says the route itself is
/// missing — 405, or a 404 from the router (a plain-text page, FastAPI's
/// `{"detail": "Not Found"}`, Azure's "Resource not found") — rather than that something
/// the request named (a model, a previous response) is unknown, which must not switch a
/// shared provider to translation.
pub(super) fn route_missing(status: StatusCode, body: &[u8]) -> bool {
    match status.as_u16() {
        405 => true,
        404 => match serde_json::from_slice::<serde_json::Value>(body) {
            Err(_) => true,
            Ok(v) => {
                let text = |p: &str| v.pointer(p).and_then(serde_json::Value::as_str);
                text("/detail") == Some("Not Found")
                    || text("/error/message") == Some("Resource not found")
                    || text("/message") == Some("Not Found")
            }
        },
        _ => false,
    }
}

/// An upstream error body in the client's schema.
pub(super) fn error_body(
    front: FrontApi,
    plan: &Plan,
    status: u16,
    provider: &str,
    raw: Bytes,
) -> Bytes {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&raw).ok();
    match (plan, parsed) {
        (Plan::PassThrough { .. }, Some(_)) => raw,
        (_, parsed) => {
            let value = parsed.unwrap_or_else(|| {
                serde_json::json!({"error": {"message": format!("provider '{provider}' answered with status {status}")}})
            });
            let front = front.translated().unwrap_or(Front::Chat);
            Bytes::from(pairs::error_body(front, status, &value).to_string())
        }
    }
}

/// Records a failure before any answer, and turns it into the client's error.
pub(super) fn fail(guard: &mut UsageGuard, err: UpstreamError) -> GatewayError {
    if let Some(ctx) = guard.context() {
        modelgate_metering::telemetry::upstream_failure(&ctx.provider, err.kind);
    }
    guard.status = err.kind.status();
    guard.finish(Outcome::UpstreamFailed);
    err.into()
}

#[derive(serde::Deserialize)]
pub(super) struct BodyUsage<'a> {
    #[serde(default)]
    usage: Option<serde_json::Value>,
    /// The model the upstream says answered (Azure reports the deployment's model);
    /// borrowed, so reading it costs no allocation.
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
}

/// Usage of a non-streamed response: the upstream's, else an estimate.
/// Reads usage from a whole response body (estimating it when absent) and returns the
/// model the body names; `None` when the body is not a JSON object.
pub(super) fn meter_full_body<'a>(
    guard: &mut UsageGuard,
    schema: Schema,
    request: &[u8],
    response: &'a [u8],
) -> Option<Option<Cow<'a, str>>> {
    let Ok(parsed) = serde_json::from_slice::<BodyUsage>(response) else {
        return None;
    };
    let usage = parsed.usage;
    let applied = match (schema, usage) {
        (Schema::OpenAi, Some(u)) => serde_json::from_value::<UsagePeek>(u)
            .map(|u| guard.usage = (&u).into())
            .is_ok(),
        (Schema::Bedrock, Some(u)) => crate::bedrock_stream::bedrock_usage(&u)
            .map(|u| guard.usage = u)
            .is_some(),
        (Schema::Anthropic, Some(u)) => serde_json::from_value::<AnthropicUsage>(u)
            .map(|u| u.apply(&mut guard.usage))
            .is_ok(),
        (_, None) => false,
    };
    if !applied {
        guard.usage.input_tokens = estimate::prompt_tokens(request);
        guard.usage.output_tokens = estimate::completion_tokens(response);
        guard.usage_estimated = true;
    }
    Some(parsed.model)
}

/// Upstream headers worth passing on: rate-limit information and `retry-after`.
pub(super) fn relay_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if n == "retry-after"
            || n == "retry-after-ms"
            || n.starts_with("x-ratelimit-")
            || n.starts_with("anthropic-ratelimit-")
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

pub(super) fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Replaces every occurrence of the provider's own key in an upstream error body, for
/// upstreams that echo credentials ("Incorrect API key provided: sk-…").
pub(super) fn scrub_secret(body: Bytes, secret: Option<&str>) -> Bytes {
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
    fn only_a_missing_route_switches_a_provider_to_translation() {
        let cases: [(u16, &[u8], bool); 8] = [
            (405, b"", true),
            (404, b"404 page not found", true),
            (404, br#"{"detail":"Not Found"}"#, true),
            (404, br#"{"error":{"code":"404","message":"Resource not found"}}"#, true),
            (404, br#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","code":404}"#, false),
            (404, br#"{"error":{"message":"Response with id 'resp_1' not found.","type":"invalid_request_error"}}"#, false),
            (404, br#"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}"#, false),
            (400, b"", false),
        ];
        for (status, body, missing) in cases {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            assert_eq!(
                route_missing(status, body),
                missing,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

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

    fn chat_on_messages() -> Plan {
        let pair = pairs::find(Front::Chat, Back::Messages).expect("a pair");
        let body =
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let target = pairs::Target {
            model: "m",
            flavor: a2o::Flavor::Compatible,
            now: 0,
            id: "t",
        };
        Plan::Translate(pair.request(&body, &target).expect("translates").context)
    }

    #[test]
    fn upstream_errors_take_the_clients_shape() {
        let raw = Bytes::from_static(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
        );
        let out = error_body(
            FrontApi::OpenAi(Operation::ChatCompletions),
            &chat_on_messages(),
            529,
            "p",
            raw,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["message"], "busy");
        let html = Bytes::from_static(b"<html>oops</html>");
        let out = error_body(
            FrontApi::Anthropic,
            &Plan::PassThrough {
                hide_usage_chunk: false,
            },
            502,
            "p",
            html,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "api_error");
    }
}
