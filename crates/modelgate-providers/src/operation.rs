//! The operations the gateway forwards and their paths under a provider's base URL.

/// An API operation the gateway forwards, in either upstream schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
    Models,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
}

impl Operation {
    /// Path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Operation::ChatCompletions => "/chat/completions",
            Operation::Completions => "/completions",
            Operation::Embeddings => "/embeddings",
            Operation::Responses => "/responses",
            Operation::Models => "/models",
            Operation::Messages => "/messages",
            Operation::CountTokens => "/messages/count_tokens",
        }
    }

    /// Name used in usage records and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Operation::ChatCompletions => "chat.completions",
            Operation::Completions => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
            Operation::Models => "models",
            Operation::Messages => "messages",
            Operation::CountTokens => "messages.count_tokens",
        }
    }
}
