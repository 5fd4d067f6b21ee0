//! Anthropic messages client (SDKs, Claude-style coding agents) → OpenAI-schema upstream.
//!
//! - [`request`]: messages request → chat request (system, images, tool use and results).
//! - [`response`]: chat completion → message.
//! - [`stream`]: chat completion chunks → Anthropic stream events, with `message_start`
//!   before any block and tool inputs delivered whole.

pub mod exchange;
pub mod request;
pub mod response;
pub mod stream;

/// How the OpenAI-schema upstream takes its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// OpenAI itself: `max_completion_tokens`, no `top_k`.
    OpenAi,
    /// vLLM, Ollama, TGI…: `max_tokens`, `top_k` accepted.
    #[default]
    Compatible,
    /// An intermediate step towards another translator (Bedrock): like `Compatible`, and
    /// thinking blocks and the `thinking` parameter are kept (as `thinking_blocks` and
    /// `thinking`) so the next translator can carry them on.
    Intermediate,
}

/// What the response side must know about the translated request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The model name the client asked for, echoed in responses.
    pub model: String,
}
