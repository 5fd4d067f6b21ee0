//! The request pipeline of modelgate as plain Rust (no HTTP framework), and the
//! [`Gateway`] that wires it to the organization (`modelgate-org`), budgets and usage
//! (`modelgate-metering`), the providers (`modelgate-registry`) and the shared state
//! (`modelgate-cluster`): request body peeking and rewriting ([`body`]), routing and
//! failover ([`routing`]), admission ([`admission`]), the proxy itself ([`proxy`]: plan,
//! send, relay), stream metering ([`stream`], [`bedrock_stream`]), kept responses
//! ([`response_store`]) and change notices from other replicas ([`notices`]). The server
//! crate turns [`GatewayError`] into HTTP.

pub mod admission;
pub mod bedrock_stream;
pub mod body;
pub mod bootstrap;
pub mod error;
pub mod error_events;
pub mod estimate;
pub mod gateway;
pub mod mappers;
pub mod notices;
pub mod proxy;
pub mod response_store;
pub mod routing;
pub mod settings;
pub mod stream;
pub mod stream_meter;

pub use error::GatewayError;
pub use gateway::Gateway;
pub use modelgate_translate as translate;

/// The built-in vendor and model catalog.
pub fn catalog() -> &'static modelgate_catalog::Catalog {
    modelgate_catalog::Catalog::builtin()
}
pub use settings::Settings;
