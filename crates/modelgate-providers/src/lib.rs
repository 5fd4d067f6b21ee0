//! Upstream adapters: how modelgate reaches a model backend. Endpoint shapes and
//! normalisation ([`endpoint`]), the pooled HTTP client ([`client`]), the OpenAI-schema
//! adapter ([`openai`]), SSE framing ([`sse`]) and the errors of an upstream call
//! ([`error`]). This crate knows providers and bytes, never users or budgets.

pub mod client;
pub mod endpoint;
pub mod error;
pub mod openai;
pub mod sse;

pub use error::UpstreamError;
