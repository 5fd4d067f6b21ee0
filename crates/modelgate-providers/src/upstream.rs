//! [`Upstream`]: the closed set of upstream adapters (the gateway's registry builds one per
//! provider from its kind and settings). Callers match on [`Schema`] to decide between
//! pass-through and translation.

use crate::UpstreamError;
use crate::anthropic::AnthropicUpstream;
use crate::azure::AzureUpstream;
use crate::bedrock::BedrockUpstream;
use crate::openai::OpenAiUpstream;
use std::time::Duration;

/// The API schema an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    OpenAi,
    Anthropic,
    /// Bedrock Converse (JSON requests, AWS event-stream responses).
    Bedrock,
}

#[derive(Debug, Clone)]
pub enum Upstream {
    OpenAi(OpenAiUpstream),
    Anthropic(AnthropicUpstream),
    Azure(AzureUpstream),
    Bedrock(BedrockUpstream),
}

impl Upstream {
    pub fn schema(&self) -> Schema {
        match self {
            Upstream::OpenAi(_) | Upstream::Azure(_) => Schema::OpenAi,
            Upstream::Anthropic(_) => Schema::Anthropic,
            Upstream::Bedrock(_) => Schema::Bedrock,
        }
    }

    pub fn api_key_text(&self) -> Option<&str> {
        match self {
            Upstream::OpenAi(u) => u.api_key_text(),
            Upstream::Anthropic(u) => u.api_key_text(),
            Upstream::Azure(u) => u.api_key_text(),
            Upstream::Bedrock(u) => u.secret_text(),
        }
    }

    pub async fn discover_models(
        &self,
        provider: &str,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Vec<String>, UpstreamError> {
        match self {
            Upstream::OpenAi(u) => u.discover_models(provider, client, timeout).await,
            Upstream::Anthropic(u) => u.discover_models(provider, client, timeout).await,
            // Azure lists deployments, not models: the deployment map is the list.
            Upstream::Azure(u) => Ok(u.mapped_models()),
            // Bedrock lists models on another service (bedrock, not bedrock-runtime); the
            // provider's `models` or the catalog are used instead.
            Upstream::Bedrock(_) => Ok(Vec::new()),
        }
    }
}
