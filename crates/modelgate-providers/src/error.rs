//! Errors of one upstream call, classified by [`ErrorKind`] so routing and the front door
//! can decide status and failover without inspecting transport details.

use modelgate_core::ErrorKind;

/// Why an upstream call failed before a usable response arrived. The message is safe to
/// show to clients: it never contains credentials or upstream bodies.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    pub kind: ErrorKind,
    pub message: String,
}

/// An upstream failure as the API answers it (the message is already client-safe).
impl From<UpstreamError> for modelgate_core::GatewayError {
    fn from(err: UpstreamError) -> Self {
        Self::new(err.kind, err.message)
    }
}

impl UpstreamError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Classifies a transport error from the HTTP client. The text names the provider,
    /// not its URL, so internal addresses are not revealed.
    pub fn from_transport(provider: &str, err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::new(
                ErrorKind::UpstreamTimeout,
                format!("provider '{provider}' did not answer in time"),
            )
        } else if err.is_connect() {
            Self::new(
                ErrorKind::UpstreamUnreachable,
                format!("provider '{provider}' is unreachable"),
            )
        } else {
            Self::new(
                ErrorKind::UpstreamUnreachable,
                format!("the connection to provider '{provider}' failed"),
            )
        }
    }
}
