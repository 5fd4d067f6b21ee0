//! OpenAI chat completions client → Anthropic Messages upstream.
//!
//! - [`request`]: chat request → messages request (system prompts, images, tools, tool
//!   results, JSON mode as a tool (see `json_mode`), thinking blocks kept for multi-turn).
//! - [`response`]: message → chat completion.
//! - [`stream`]: Anthropic stream events → chat completion chunks.

pub mod exchange;
pub mod request;
pub mod response;
pub mod stream;

/// What the response side must know about the translated request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// JSON mode was implemented as this forced tool; its input becomes the content.
    pub json_tool: Option<String>,
    /// The client asked for a usage chunk at the end of the stream.
    pub include_usage: bool,
}

pub use crate::json_mode::JSON_TOOL;

/// Default `max_tokens` when the client gives none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
