//! OpenAI Responses client (Codex CLI, the OpenAI Agents SDK, `client.responses.create`) →
//! OpenAI chat completions upstream. Anthropic and Bedrock upstreams are reached by
//! chaining this pair with the chat pairs (see [`crate::pairs`]).
//!
//! - [`request`]: `instructions` and `input` items (messages, function calls and their
//!   outputs, reasoning, tool searches) → chat messages; [`tools`]: function, custom,
//!   namespace and client tool-search tools → chat functions and back; built-in tools the
//!   upstream cannot run are refused, naming the tool.
//! - [`response`]: chat completion → response object (reasoning, message and function call
//!   output items, usage with cached and reasoning details).
//! - [`stream`]: chat chunks → the Responses event sequence, event by event.
//!
//! Thinking blocks of Anthropic models (with their signatures) travel inside the reasoning
//! item's `encrypted_content` (see [`reasoning`]), so a client that sends reasoning items
//! back (Codex does) keeps multi-turn extended thinking working.

pub mod exchange;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
pub mod tools;

use serde_json::Value;

/// What the response side must know about the translated request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The response id (`resp_…`); item ids are derived from it.
    pub id: String,
    /// The model name the client asked for, echoed in responses.
    pub model: String,
    pub created_at: i64,
    /// How the request's tools map to chat functions (for the calls coming back).
    pub tools: tools::ToolNames,
    /// Request fields a response object repeats (instructions, tools, sampling, …).
    pub echo: serde_json::Map<String, Value>,
}

/// The single string parameter a custom tool's free-form input travels in.
pub const CUSTOM_INPUT: &str = "input";
