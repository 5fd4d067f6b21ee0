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
use bytes::Bytes;
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

mod attempt;
mod count_tokens;
mod plan;
mod relay;
