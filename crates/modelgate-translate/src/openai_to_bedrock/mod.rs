//! OpenAI chat completions client → AWS Bedrock Converse / ConverseStream.
//!
//! - [`request`]: chat request → Converse request (system, images as bytes, tools,
//!   tool results, JSON mode as a forced tool, reasoning blocks kept for multi-turn).
//! - [`response`]: Converse response → chat completion.
//! - [`stream`]: ConverseStream events → chat completion chunks.
//!
//! Anthropic clients reach Bedrock through [`crate::anthropic_to_openai`] composed with
//! this module (the gateway chains them).

pub mod exchange;
pub mod request;
pub mod response;
pub mod stream;

pub use crate::openai_to_anthropic::Context;
