//! [`Upstream`]: the closed set of upstream adapters, chosen by provider kind. Callers
//! match on [`Schema`] to decide between pass-through and translation.

use crate::UpstreamError;
use crate::anthropic::AnthropicUpstream;
use crate::openai::OpenAiUpstream;
use modelgate_core::{ProviderKind, Secret};
use std::time::Duration;

/// The API schema an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    OpenAi,
    Anthropic,
}

#[derive(Debug, Clone)]
pub enum Upstream {
    OpenAi(OpenAiUpstream),
    Anthropic(AnthropicUpstream),
}

impl Upstream {
    pub fn for_kind(kind: ProviderKind, base_url: String, api_key: Option<Secret>) -> Self {
        match kind {
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                Upstream::OpenAi(OpenAiUpstream::new(base_url, api_key))
            }
            ProviderKind::Anthropic => {
                Upstream::Anthropic(AnthropicUpstream::new(base_url, api_key))
            }
        }
    }

    pub fn schema(&self) -> Schema {
        match self {
            Upstream::OpenAi(_) => Schema::OpenAi,
            Upstream::Anthropic(_) => Schema::Anthropic,
        }
    }

    pub fn api_key_text(&self) -> Option<&str> {
        match self {
            Upstream::OpenAi(u) => u.api_key_text(),
            Upstream::Anthropic(u) => u.api_key_text(),
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
        }
    }
}
