//! Upstream adapters: how modelgate reaches a model backend. Endpoint shapes and
//! normalisation ([`endpoint`]), the pooled HTTP client ([`client`]), the OpenAI-schema
//! and Anthropic adapters ([`openai`], [`anthropic`], behind [`upstream::Upstream`]), SSE framing ([`sse`]) and the errors of an upstream call
//! ([`error`]). This crate knows providers and bytes, never users or budgets.

pub mod address_guard;
pub mod anthropic;
pub mod aws_eventstream;
pub mod aws_sigv4;
pub mod azure;
pub mod azure_entra;
pub mod bedrock;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod openai;
pub mod operation;
pub mod sse;
pub mod upstream;

pub use error::UpstreamError;
