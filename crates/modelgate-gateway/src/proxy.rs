//! The proxy: peek → resolve → policy → plan → send → relay, metering every request that
//! reaches an upstream. Same-schema traffic passes through: the body goes upstream byte for
//! byte except `model` (and `stream_options.include_usage`, which the gateway forces on for
//! OpenAI streams and hides again from the client). Cross-schema traffic (an OpenAI client
//! on an Anthropic upstream, or the reverse) goes through the pure translators of
//! `modelgate-translate`; parameters the target cannot take are named in
//! `x-modelgate-dropped-params`.

use crate::admission::Ask;
use crate::bedrock_stream::BedrockStream;
use crate::gateway::Gateway;
use crate::mappers::SseMapper;
use crate::response_store::{Keeping, OWN_PREFIX, Turn};
use crate::stream::{
    AnthropicUsage, FrontSchema, MeteredStream, StreamDialect, StreamPlan, UsagePeek,
};
use crate::{body, estimate};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use modelgate_core::GatewayError;
use modelgate_core::usage::Outcome;
use modelgate_core::{ErrorKind, ProviderKind, now_millis};
use modelgate_metering::budget::Demand;
use modelgate_metering::meter::{MeterContext, UsageGuard};
use modelgate_org::auth::Principal;
use modelgate_providers::UpstreamError;
pub use modelgate_providers::operation::Operation;
use modelgate_providers::upstream::{Schema, Upstream};
use modelgate_registry::resolve::{Resolution, resolve};
use modelgate_registry::runtime::RuntimeProvider;
use modelgate_registry::transport::Transport;
use modelgate_translate::anthropic_to_openai as a2o;
use modelgate_translate::pairs::{self, Back, Exchange, Front};
use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PROVIDER_HEADER: &str = "x-modelgate-provider";
pub const MODEL_HEADER: &str = "x-modelgate-model";
/// The target of a provider with several (endpoints or keys) that served.
pub const TARGET_HEADER: &str = "x-modelgate-target";
pub const DROPPED_HEADER: &str = "x-modelgate-dropped-params";
/// Parameters a translation sent with another value than the client's, because the target
/// refuses it (a temperature above the target's range, stop sequences it cannot take).
pub const ADJUSTED_HEADER: &str = "x-modelgate-adjusted-params";

/// Largest upstream error body relayed to the client.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The API the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontApi {
    /// An OpenAI operation (chat, completions, embeddings, responses).
    OpenAi(Operation),
    /// Anthropic `POST /v1/messages`.
    Anthropic,
}

impl FrontApi {
    pub fn schema(self) -> FrontSchema {
        match self {
            FrontApi::OpenAi(Operation::Responses) => FrontSchema::Responses,
            FrontApi::OpenAi(_) => FrontSchema::OpenAi,
            FrontApi::Anthropic => FrontSchema::Anthropic,
        }
    }

    /// The front of the translation table, for the APIs that translate.
    fn translated(self) -> Option<Front> {
        match self {
            FrontApi::OpenAi(Operation::ChatCompletions) => Some(Front::Chat),
            FrontApi::OpenAi(Operation::Responses) => Some(Front::Responses),
            FrontApi::Anthropic => Some(Front::Messages),
            FrontApi::OpenAi(_) => None,
        }
    }
}

/// The back of the translation table for an upstream schema, and the operation a
/// translated request is sent as.
fn back_of(schema: Schema) -> (Back, Operation) {
    match schema {
        Schema::OpenAi => (Back::Chat, Operation::ChatCompletions),
        Schema::Anthropic => (Back::Messages, Operation::Messages),
        Schema::Bedrock => (Back::Converse, Operation::ChatCompletions),
    }
}

/// Request headers that same-schema Anthropic traffic carries through.
#[derive(Debug, Clone, Default)]
pub struct ClientHints {
    pub anthropic_version: Option<String>,
    pub anthropic_beta: Option<String>,
}

/// A streamed response body: SSE bytes for the client, produced as upstream data arrives.
pub type BodyStream = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Infallible>> + Send>>;

pub enum ProxyBody {
    Full(Bytes),
    Stream(BodyStream),
}

pub struct ProxyResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ProxyBody,
}

/// How a request reaches its upstream.
enum Plan {
    /// Same schema: the body as sent, `model` spliced.
    PassThrough { hide_usage_chunk: bool },
    /// Another schema: a pair of the translation table maps the answer back.
    Translate(Box<dyn Exchange>),
}

/// A planned request: what is sent upstream, and how its answer comes back.
struct Planned {
    op: Operation,
    body: Bytes,
    plan: Plan,
    dropped: Vec<String>,
    /// Parameters sent with a changed value (for `x-modelgate-adjusted-params`).
    adjusted: Vec<String>,
    /// A translated Responses turn to keep for `previous_response_id`.
    keep: Option<Turn>,
    /// The output limit the translated body sends (a thinking budget can raise it).
    limit: Option<u64>,
}

/// The context window Anthropic's 1M-context beta (`anthropic-beta: context-1m-...`) opens.
const ONE_MILLION_CONTEXT: u64 = 1_000_000;

/// The error code of a native Responses attempt (mode `auto`) that found no Responses
/// route: routing prepares the same candidate again, translated.
pub(crate) const RESPONSES_MISSING: &str = "responses_route_missing";

/// What was chosen for one request before it is sent.
pub(crate) struct Prepared {
    pub(crate) provider: Arc<RuntimeProvider>,
    pub(crate) upstream_model: String,
    /// Which of the provider's targets to send to (routing chooses).
    pub(crate) target: usize,
    op: Operation,
    body: Bytes,
    plan: Plan,
    stream: bool,
    dropped: Vec<String>,
    adjusted: Vec<String>,
    max_tokens: Option<u64>,
    /// Answers asked for (`n`, `best_of`).
    choices: u64,
    /// A native Responses request to a provider in mode `auto`: a 404/405 means it has
    /// no Responses route.
    probes_responses: bool,
    /// A translated Responses turn to keep for `previous_response_id`.
    keep: Option<Turn>,
    /// What the model costs (`None`: unpriced, allowed only on unbudgeted keys, tunnels,
    /// or when the org allows unpriced models).
    price: Option<modelgate_catalog::Price>,
}

impl Prepared {
    /// The adapter of the chosen target.
    fn upstream(&self) -> &Upstream {
        // Every provider has at least one target (the implicit one).
        let targets = &self.provider.targets;
        &targets.get(self.target).unwrap_or(&targets[0]).upstream
    }
}

impl Gateway {
    /// Resolves the model and checks the caller may use it.
    fn choose(
        &self,
        principal: &Principal,
        model: &str,
    ) -> Result<(Arc<RuntimeProvider>, String), GatewayError> {
        let snapshot = self.providers.snapshot();
        let visible = snapshot.visible_to(principal);
        let target = match resolve(model, &visible) {
            Resolution::Found(t) => t,
            Resolution::NotFound => return Err(GatewayError::model_not_found(model)),
            Resolution::Ambiguous(candidates) => {
                return Err(GatewayError::bad_request(format!(
                    "The model '{model}' is ambiguous; name one of: {}",
                    candidates.join(", ")
                ))
                .with_code("model_ambiguous")
                .with_param("model"));
            }
        };
        if !principal.allows_model(model, &target.provider, &target.model) {
            return Err(GatewayError::forbidden(format!(
                "This key may not use the model '{model}'."
            ))
            .with_code("model_not_allowed")
            .with_param("model"));
        }
        let provider = visible
            .get(&target.provider)
            .cloned()
            .ok_or_else(|| GatewayError::model_not_found(model))?;
        if provider.policy_blocked {
            return Err(GatewayError::forbidden(format!(
                "provider '{}' points at a private network address, which this organization does not allow for providers created by members",
                target.provider
            ))
            .with_code("upstream_not_allowed"));
        }
        if provider.credential_error {
            return Err(GatewayError::new(
                ErrorKind::Unavailable,
                format!(
                    "provider '{}' needs to be reconfigured by an administrator",
                    target.provider
                ),
            ));
        }
        Ok((provider, target.model))
    }

    /// Plans the request for one model reference (the body's `model`, or a fallback).
    pub(crate) fn prepare(
        &self,
        principal: &Principal,
        front: FrontApi,
        request: &Bytes,
        peeked: &body::Peeked,
        reference: &str,
    ) -> Result<Prepared, GatewayError> {
        let (provider, upstream_model) = self.choose(principal, reference)?;
        let price = provider.price(&upstream_model);
        if price.is_none()
            && principal.allocation_id.is_some()
            && !provider.free_unless_priced()
            && !self.directory().settings.allow_unpriced
        {
            return Err(unpriced(provider.name(), &upstream_model));
        }
        let stream = peeked.stream && front != FrontApi::OpenAi(Operation::Embeddings);
        let schema = provider.primary().schema();
        let native = match (front, schema) {
            (FrontApi::OpenAi(Operation::Responses), Schema::OpenAi) => provider.responses_native(),
            (FrontApi::OpenAi(_), Schema::OpenAi) | (FrontApi::Anthropic, Schema::Anthropic) => {
                true
            }
            _ => false,
        };
        let probes_responses = native
            && front == FrontApi::OpenAi(Operation::Responses)
            && provider.responses_api() == modelgate_catalog::ResponsesApi::Auto;
        let planned = if native {
            let (op, force_usage) = match front {
                FrontApi::OpenAi(op) => (op, stream && op != Operation::Responses),
                FrontApi::Anthropic => (Operation::Messages, false),
            };
            // Azure's Responses API names the deployment in the body.
            let model = match provider.primary() {
                Upstream::Azure(a) if op == Operation::Responses => a.deployment(&upstream_model),
                _ => upstream_model.as_str(),
            };
            let mut body = body::rewrite(request, peeked, model, force_usage);
            if op == Operation::Responses
                && memchr::memmem::find(&body, OWN_PREFIX.as_bytes()).is_some()
            {
                body = self
                    .responses
                    .inline_own_previous(&principal.user_id, &body)?;
            }
            let hide_usage_chunk = force_usage && !peeked.include_usage;
            Planned {
                op,
                body,
                plan: Plan::PassThrough { hide_usage_chunk },
                dropped: Vec::new(),
                adjusted: Vec::new(),
                keep: None,
                limit: None,
            }
        } else {
            self.translate(principal, front, &provider, request, &upstream_model)?
        };
        Ok(Prepared {
            provider,
            upstream_model,
            target: 0,
            op: planned.op,
            body: planned.body,
            plan: planned.plan,
            stream,
            dropped: planned.dropped,
            adjusted: planned.adjusted,
            // The worst case takes the larger output limit: the client's, or the one the
            // translation sends (a thinking budget raises it); `None` is the smallest.
            max_tokens: peeked.max_tokens.max(planned.limit),
            choices: peeked.choices,
            probes_responses,
            keep: planned.keep,
            price,
        })
    }

    /// Plans a cross-schema request through the translation table.
    fn translate(
        &self,
        principal: &Principal,
        front: FrontApi,
        provider: &RuntimeProvider,
        request: &Bytes,
        upstream_model: &str,
    ) -> Result<Planned, GatewayError> {
        let (back, op) = back_of(provider.primary().schema());
        let Some(pair) = front.translated().and_then(|f| pairs::find(f, back)) else {
            let api = match front {
                FrontApi::OpenAi(op) => op.label(),
                FrontApi::Anthropic => Operation::Messages.label(),
            };
            return Err(GatewayError::bad_request(format!(
                "The {api} API is not available for provider '{}' (kind {}); use chat completions, responses or messages.",
                provider.name(),
                provider.kind.as_str()
            ))
            .with_code("unsupported_for_provider"));
        };
        let mut value: serde_json::Value = serde_json::from_slice(request)
            .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
        let keep = match front {
            FrontApi::OpenAi(Operation::Responses) => self
                .responses
                .continue_conversation(&principal.user_id, &mut value)?,
            _ => None,
        };
        let flavor = match provider.kind {
            ProviderKind::Openai | ProviderKind::AzureOpenai => a2o::Flavor::OpenAi,
            _ => a2o::Flavor::Compatible,
        };
        let id = modelgate_core::ids::new_id("mg");
        let target = pairs::Target {
            model: upstream_model,
            flavor,
            now: unix_now(),
            id: &id,
        };
        let t = pair.request(&value, &target).map_err(|e| {
            let mut err = GatewayError::bad_request(e.message);
            err.code = Some("unsupported_for_provider");
            err
        })?;
        Ok(Planned {
            op,
            limit: output_limit(&t.body),
            body: Bytes::from(t.body.to_string()),
            plan: Plan::Translate(t.context),
            dropped: t.dropped,
            adjusted: t.adjusted,
            keep,
        })
    }

    async fn upstream_request(
        &self,
        p: &Prepared,
        front: FrontApi,
        hints: &ClientHints,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let body = p.body.clone();
        let client = self.providers.client_for(&p.provider);
        Ok(match p.upstream() {
            Upstream::OpenAi(u) => u.request(client, p.op).body(body),
            Upstream::Azure(u) => u
                .request(client, p.op, &p.upstream_model, p.provider.name())
                .await?
                .body(body),
            // The body is part of the SigV4 signature, so the adapter attaches it.
            Upstream::Bedrock(u) => {
                u.request(client, &p.upstream_model, p.stream, body, p.provider.name())?
            }
            Upstream::Anthropic(u) => {
                // Version and beta headers belong to Anthropic clients; a translated OpenAI
                // client gets the default version.
                let (version, beta) = match front {
                    FrontApi::Anthropic => (
                        hints.anthropic_version.as_deref(),
                        hints.anthropic_beta.as_deref(),
                    ),
                    FrontApi::OpenAi(_) => (None, None),
                };
                u.request(client, p.op, version, beta).body(body)
            }
        })
    }

    /// One attempt at one candidate: reserve its budget, send, relay. An upstream's
    /// error answer comes back as `Ok` with its status (the caller decides whether to try
    /// another candidate); `Err` is a failure of our own or of the transport.
    pub(crate) async fn attempt(
        self: &Arc<Self>,
        principal: &Principal,
        front: FrontApi,
        request: &Bytes,
        p: Prepared,
        request_id: &str,
        hints: &ClientHints,
    ) -> Result<ProxyResponse, GatewayError> {
        let started = Instant::now();
        if !self.providers.reachable(&p.provider) {
            return Err(modelgate_registry::tunnel::stopped(p.provider.name()));
        }
        let request = request.clone();
        let provider_name = p.provider.name().to_owned();
        let price = p.price;
        let now = now_millis();
        let ask = Ask {
            price,
            demand: Demand {
                // The upstream body can be larger than the client's (a replayed
                // conversation) and its output limit higher (thinking turned on by a
                // reasoning effort).
                body_bytes: request.len().max(p.body.len()),
                max_tokens: p.max_tokens,
                choices: p.choices,
                // Only worth a scan when there is a budget to protect.
                referenced: principal.allocation_id.is_some()
                    && price.is_some()
                    && body::refers_to_content(&p.body),
                context: hints
                    .anthropic_beta
                    .as_deref()
                    .is_some_and(|b| b.contains("context-1m"))
                    .then_some(ONE_MILLION_CONTEXT),
                embeddings: p.op == Operation::Embeddings,
            },
        };
        let settlement = self.reserve(principal, &ask, now).await?;
        let mut guard = UsageGuard::new(
            self.usage.clone(),
            MeterContext {
                request_id: request_id.to_owned(),
                key_id: principal.key_id.clone(),
                user_id: principal.user_id.clone(),
                allocation_id: principal.allocation_id.clone(),
                provider: provider_name.clone(),
                model: p.upstream_model.clone(),
                api: match front {
                    FrontApi::OpenAi(op) => op.label(),
                    FrontApi::Anthropic => Operation::Messages.label(),
                },
                stream: p.stream,
                price,
            },
            settlement,
            started,
            now,
        );
        let mut req = match self.upstream_request(&p, front, hints).await {
            Ok(builder) => builder,
            Err(e) => return Err(fail(&mut guard, e)),
        };
        let config = &p.provider.config;
        if !p.stream {
            req = req.timeout(
                config
                    .timeout_secs
                    .map_or(self.settings.request_timeout, Duration::from_secs),
            );
        }
        let first_byte = config
            .first_byte_timeout_secs
            .map_or(self.settings.first_byte_timeout, Duration::from_secs);
        let resp =
            match tokio::time::timeout(first_byte, self.providers.send_upstream(&p.provider, req))
                .await
            {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => return Err(fail(&mut guard, e)),
                Err(_) => {
                    let e = UpstreamError::new(
                        ErrorKind::UpstreamTimeout,
                        format!("provider '{provider_name}' did not answer in time"),
                    );
                    return Err(fail(&mut guard, e));
                }
            };
        guard.mark_first_byte();
        let status = resp.status();
        guard.status = status.as_u16();
        let mut headers = relay_headers(resp.headers());
        insert_header(&mut headers, PROVIDER_HEADER, &provider_name);
        insert_header(&mut headers, MODEL_HEADER, &p.upstream_model);
        if !p.dropped.is_empty() {
            insert_header(&mut headers, DROPPED_HEADER, &p.dropped.join(","));
        }
        if !p.adjusted.is_empty() {
            insert_header(&mut headers, ADJUSTED_HEADER, &p.adjusted.join(","));
        }
        if p.provider.targets.len() > 1
            && let Some(t) = p.provider.targets.get(p.target)
        {
            insert_header(&mut headers, TARGET_HEADER, &t.name);
        }

        if !status.is_success() {
            let raw = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
            if p.probes_responses && route_missing(status, &raw) {
                // No Responses route here: remembered, and the caller translates instead.
                p.provider
                    .responses_missing
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(provider = %provider_name, "no Responses API route; translating Responses requests to chat completions from now on");
                guard.finish(Outcome::UpstreamError);
                return Err(
                    GatewayError::bad_request("the provider has no Responses API route")
                        .with_code(RESPONSES_MISSING),
                );
            }
            let raw = scrub_secret(raw, p.upstream().api_key_text());
            let body = error_body(front, &p.plan, status.as_u16(), &provider_name, raw);
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            modelgate_metering::telemetry::upstream_failure(
                &provider_name,
                ErrorKind::UpstreamInvalid,
            );
            guard.finish(Outcome::UpstreamError);
            return Ok(ProxyResponse {
                status,
                headers,
                body: ProxyBody::Full(body),
            });
        }

        // Bedrock streams arrive as AWS event-stream frames, the others as SSE.
        let streams = p.stream
            && match p.provider.primary().schema() {
                Schema::Bedrock => true,
                Schema::OpenAi | Schema::Anthropic => resp
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|ct| ct.starts_with("text/event-stream")),
            };
        if streams {
            for (name, value) in [
                (http::header::CONTENT_TYPE, "text/event-stream"),
                (http::header::CACHE_CONTROL, "no-cache"),
                (HeaderName::from_static("x-accel-buffering"), "no"),
            ] {
                headers.insert(name, HeaderValue::from_static(value));
            }
            let upstream = Box::pin(resp.bytes_stream());
            let body = stream_body(
                p,
                front,
                upstream,
                guard,
                request,
                provider_name,
                &self.responses,
            );
            return Ok(ProxyResponse {
                status,
                headers,
                body: ProxyBody::Stream(body),
            });
        }

        let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
        let read = read_limited(resp, self.settings.max_response_bytes);
        let read = if let Transport::Tunnel = p.provider.transport {
            // The link bounds the wait for the head only; the body gets the rest here.
            let total = config
                .timeout_secs
                .map_or(self.settings.request_timeout, Duration::from_secs);
            match tokio::time::timeout(total.saturating_sub(started.elapsed()), read).await {
                Ok(read) => read,
                Err(_) => {
                    let e = UpstreamError::new(
                        ErrorKind::UpstreamTimeout,
                        format!("provider '{provider_name}' did not answer in time"),
                    );
                    return Err(fail(&mut guard, e));
                }
            }
        } else {
            read.await
        };
        let bytes = match read {
            Ok(b) => b,
            Err(ReadError::TooLarge) => {
                let e = UpstreamError::new(
                    ErrorKind::UpstreamInvalid,
                    format!("provider '{provider_name}' sent a response larger than the limit"),
                );
                return Err(fail(&mut guard, e));
            }
            Err(ReadError::Transport(e)) => {
                return Err(fail(
                    &mut guard,
                    UpstreamError::from_transport(&provider_name, &e),
                ));
            }
        };
        // The usage parse reads the whole body: a body that is not a JSON object is the
        // upstream's failure (502, and another candidate may serve the request).
        let Some(reported_model) =
            meter_full_body(&mut guard, p.provider.primary().schema(), &request, &bytes)
        else {
            return Err(invalid_body(&mut guard, &provider_name));
        };
        if p.provider.kind == ProviderKind::AzureOpenai
            && let Some(reported) = reported_model
        {
            p.provider
                .learn_reported_model(&p.upstream_model, &reported);
            if p.price.is_none() {
                guard.set_price(p.provider.price(&p.upstream_model));
            }
        }
        let (body, content_type) = match &p.plan {
            Plan::PassThrough { .. } => (
                bytes,
                content_type.unwrap_or(HeaderValue::from_static("application/json")),
            ),
            Plan::Translate(exchange) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|_| invalid_body(&mut guard, &provider_name))?;
                let out = exchange.response(&v);
                let body = Bytes::from(out.to_string());
                if let Some(turn) = p.keep {
                    self.responses.keep(turn, out, now_millis());
                }
                (body, HeaderValue::from_static("application/json"))
            }
        };
        guard.finish(Outcome::Ok);
        headers.insert(http::header::CONTENT_TYPE, content_type);
        Ok(ProxyResponse {
            status,
            headers,
            body: ProxyBody::Full(body),
        })
    }

    /// `POST /v1/messages/count_tokens`: the upstream's count for Anthropic providers, an
    /// estimate for OpenAI-schema ones (which have no such endpoint). Not metered.
    pub async fn count_tokens(
        self: &Arc<Self>,
        principal: &Principal,
        request: Bytes,
        hints: &ClientHints,
    ) -> Result<ProxyResponse, GatewayError> {
        let peeked = body::peek(&request)?;
        let (provider, upstream_model) = self.choose(principal, &peeked.model)?;
        let mut headers = HeaderMap::new();
        insert_header(&mut headers, PROVIDER_HEADER, provider.name());
        insert_header(&mut headers, MODEL_HEADER, &upstream_model);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match provider.primary() {
            Upstream::Anthropic(u) => {
                let body = body::rewrite(&request, &peeked, &upstream_model, false);
                let req = u
                    .request(
                        self.providers.client_for(&provider),
                        Operation::CountTokens,
                        hints.anthropic_version.as_deref(),
                        hints.anthropic_beta.as_deref(),
                    )
                    .timeout(self.settings.request_timeout)
                    .body(body);
                let resp = req.send().await.map_err(|e| {
                    GatewayError::from(UpstreamError::from_transport(provider.name(), &e))
                })?;
                let status = resp.status();
                let raw = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
                let raw = scrub_secret(raw, u.api_key_text());
                Ok(ProxyResponse {
                    status,
                    headers,
                    body: ProxyBody::Full(raw),
                })
            }
            Upstream::OpenAi(_) | Upstream::Azure(_) | Upstream::Bedrock(_) => {
                let value: serde_json::Value = serde_json::from_slice(&request)
                    .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
                let t = a2o::request::translate(&value, &upstream_model, a2o::Flavor::Compatible)
                    .map_err(|e| GatewayError::bad_request(e.message))?;
                let n = estimate::prompt_tokens(t.body.to_string().as_bytes());
                headers.insert("x-modelgate-estimated", HeaderValue::from_static("true"));
                Ok(ProxyResponse {
                    status: StatusCode::OK,
                    headers,
                    body: ProxyBody::Full(Bytes::from(
                        serde_json::json!({"input_tokens": n}).to_string(),
                    )),
                })
            }
        }
    }
}

/// The client's stream for an upstream stream, by plan: pass-through or translated SSE,
/// or decoded and translated Bedrock frames.
fn stream_body(
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

fn unix_now() -> i64 {
    modelgate_core::now_millis() / 1000
}

fn invalid_body(guard: &mut UsageGuard, provider: &str) -> GatewayError {
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
fn route_missing(status: StatusCode, body: &[u8]) -> bool {
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

/// The output limit a translated request body sends upstream (chat, Messages or Converse).
fn output_limit(body: &serde_json::Value) -> Option<u64> {
    [
        "/max_tokens",
        "/max_completion_tokens",
        "/inferenceConfig/maxTokens",
    ]
    .iter()
    .filter_map(|p| body.pointer(p).and_then(serde_json::Value::as_u64))
    .max()
}

/// The refusal of a model without a price on a budgeted key.
fn unpriced(provider: &str, model: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::BudgetExceeded,
        format!(
            "The model '{model}' on provider '{provider}' has no known price, so a budget cannot bound it. An administrator can price it (PATCH /api/providers/{provider} with {{\"prices\": {{\"{model}\": {{\"input\": USD_PER_M, \"output\": USD_PER_M}}}}}}, or \"*\" for every model of the provider; zero makes it free), or allow unpriced models for the organization (PATCH /api/settings {{\"allow_unpriced\": true}})."
        ),
    )
    .with_code("model_unpriced")
    .with_param("model")
}

/// An upstream error body in the client's schema.
fn error_body(front: FrontApi, plan: &Plan, status: u16, provider: &str, raw: Bytes) -> Bytes {
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
fn fail(guard: &mut UsageGuard, err: UpstreamError) -> GatewayError {
    if let Some(ctx) = guard.context() {
        modelgate_metering::telemetry::upstream_failure(&ctx.provider, err.kind);
    }
    guard.status = err.kind.status();
    guard.finish(Outcome::UpstreamFailed);
    err.into()
}

#[derive(serde::Deserialize)]
struct BodyUsage<'a> {
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
fn meter_full_body<'a>(
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

fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
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
