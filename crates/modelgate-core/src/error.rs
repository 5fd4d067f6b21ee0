//! The closed set of error kinds every layer reports. A kind says who is at fault
//! (client, upstream, us), which HTTP status the front door answers with, the metric
//! label, and whether a later routing issue may fail over to another candidate.

/// What went wrong, independent of any API schema. The server turns it into an
/// OpenAI- or Anthropic-shaped body; nothing else decides statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or asks for something impossible (400).
    BadRequest,
    /// Missing, malformed, unknown, expired or revoked credential (401).
    Unauthorized,
    /// The request's budget allocation cannot cover it (402).
    BudgetExceeded,
    /// The caller is known but may not do this (403).
    Forbidden,
    /// Unknown model, route or object (404).
    NotFound,
    /// The method is not allowed on this route (405).
    MethodNotAllowed,
    /// A uniqueness rule was broken, e.g. a provider name already taken (409).
    Conflict,
    /// The body is larger than the configured limit (413).
    PayloadTooLarge,
    /// A requests- or tokens-per-minute limit is reached (429).
    RateLimited,
    /// The upstream could not be reached (502).
    UpstreamUnreachable,
    /// The upstream answered with something we could not use (502).
    UpstreamInvalid,
    /// The upstream did not answer in time (504).
    UpstreamTimeout,
    /// We are shutting down or a dependency is down (503).
    Unavailable,
    /// A bug or an unexpected failure inside the gateway (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status this kind maps to.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::BudgetExceeded => 402,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamInvalid => 502,
            ErrorKind::Unavailable => 503,
            ErrorKind::UpstreamTimeout => 504,
            ErrorKind::Internal => 500,
        }
    }

    /// The OpenAI `error.type` for this kind.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::Conflict
            | ErrorKind::PayloadTooLarge => "invalid_request_error",
            ErrorKind::Unauthorized => "authentication_error",
            ErrorKind::BudgetExceeded => "insufficient_quota",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Forbidden => "permission_error",
            ErrorKind::UpstreamUnreachable
            | ErrorKind::UpstreamInvalid
            | ErrorKind::UpstreamTimeout => "upstream_error",
            ErrorKind::Unavailable | ErrorKind::Internal => "api_error",
        }
    }

    /// A stable, low-cardinality label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UpstreamUnreachable => "upstream_unreachable",
            ErrorKind::UpstreamInvalid => "upstream_invalid",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether trying another candidate could help (the request itself was fine).
    pub fn may_fail_over(self) -> bool {
        matches!(
            self,
            ErrorKind::UpstreamUnreachable
                | ErrorKind::UpstreamInvalid
                | ErrorKind::UpstreamTimeout
                | ErrorKind::Unavailable
        )
    }
}
