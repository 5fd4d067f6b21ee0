//! Pure translators between API schemas, one module per direction and pair, each split
//! into `request`, `response` and `stream` (a state machine fed one upstream event at a
//! time). They work on `serde_json::Value`s and return the translated value plus the names
//! of parameters the target cannot take ([`Dropped`]) — the gateway reports those in a
//! response header instead of silently changing the request. No I/O, no async: every
//! function here is unit-tested, golden-file-tested and fuzzed on its own.
//!
//! - [`openai_to_anthropic`]: an OpenAI chat client talking to an Anthropic upstream.
//! - [`anthropic_to_openai`]: an Anthropic messages client talking to an OpenAI-schema
//!   upstream.
//! - [`openai_to_bedrock`]: an OpenAI chat client talking to Bedrock Converse (Anthropic
//!   clients are chained through `anthropic_to_openai`).
//! - [`responses_to_openai`]: an OpenAI Responses client (Codex CLI, the Agents SDK)
//!   talking to an OpenAI chat upstream; chained with the chat pairs for Anthropic and
//!   Bedrock.
//!
//! [`pairs`] is the table the gateway looks pairs up in: each is one value with its
//! request, response and stream mappings behind the same traits.

pub mod anthropic_to_openai;
pub mod errors;
pub mod exchange;
mod json_mode;
pub mod openai_to_anthropic;
pub mod openai_to_bedrock;
pub mod pairs;
pub mod responses_to_openai;
mod sampling;
mod util;

pub use sampling::claude_version;

/// Why a request cannot be translated (answered with 400 in the caller's schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    pub message: String,
    /// The request field at fault.
    pub param: Option<String>,
}

impl TranslateError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: None,
        }
    }

    pub fn at(param: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: Some(param.to_owned()),
        }
    }
}

/// Names of request parameters that were dropped because the target cannot take them.
pub type Dropped = Vec<String>;

/// A translated request body and what had to be left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated<C> {
    pub body: serde_json::Value,
    pub dropped: Dropped,
    /// Parameters sent with a changed value because the target refuses the client's (a
    /// temperature clamped into the target's range, stop sequences it cannot take).
    pub adjusted: Dropped,
    /// What the response translation must know about this request.
    pub context: C,
}

impl<C> Translated<C> {
    /// The same translation with its context turned into another type (a boxed
    /// [`pairs::Exchange`], for the pair table).
    pub fn boxed<D>(self, f: impl FnOnce(C) -> D) -> Translated<D> {
        Translated {
            body: self.body,
            dropped: self.dropped,
            adjusted: self.adjusted,
            context: f(self.context),
        }
    }
}
