//! [`GatewayError`]: an [`ErrorKind`] plus a client-safe message and the OpenAI `code` and
//! `param` fields — what every service answers with. It does not know HTTP; the server
//! maps it in one place. Libraries turn their own errors into it (`From` impls beside
//! their error types: the store's, the upstreams', the shared state's, the rate limits').

use crate::ErrorKind;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub message: String,
    /// Machine-readable code (`invalid_api_key`, `model_not_found`, …).
    pub code: Option<&'static str>,
    /// The request field at fault, if any.
    pub param: Option<&'static str>,
    /// For rate limits: seconds until a retry can succeed (`retry-after`).
    pub retry_after_secs: Option<u64>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            param: None,
            retry_after_secs: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The answer to a missing, malformed or unknown credential. A key that matched but is
    /// no longer usable gets [`Self::key_unusable`], which says why.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            "Incorrect or missing API key. Pass a modelgate AI key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        )
        .with_code("invalid_api_key")
    }

    /// A key that exists but is expired, revoked, or whose owner was deactivated. Only a
    /// caller holding the key's secret can see this.
    pub fn key_unusable(message: &str, code: &'static str) -> Self {
        Self::new(ErrorKind::Unauthorized, message).with_code(code)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::not_found(format!(
            "The model '{model}' does not exist or you do not have access to it."
        ))
        .with_code("model_not_found")
        .with_param("model")
    }
}
