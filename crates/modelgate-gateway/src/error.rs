//! The gateway's error is [`modelgate_core::GatewayError`] (re-exported here): the API
//! error every service answers with, mapped to HTTP in one place (`modelgate-server`'s
//! `error.rs`).

pub use modelgate_core::GatewayError;
