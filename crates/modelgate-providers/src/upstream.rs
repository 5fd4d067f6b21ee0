//! [`Upstream`]: the closed set of upstream adapters, chosen by provider kind. Callers
//! match on [`Schema`] to decide between pass-through and translation.

use crate::UpstreamError;
use crate::anthropic::AnthropicUpstream;
use crate::azure::AzureUpstream;
use crate::bedrock::BedrockUpstream;
use crate::openai::OpenAiUpstream;
use modelgate_core::{ProviderKind, Secret};
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
    /// The adapter of a kind authenticated by a plain key. Azure OpenAI, whose settings
    /// are richer (deployments, api-version, Entra ID), is usually built with
    /// [`AzureUpstream::new`]; here it gets `api-key` auth and no deployment map.
    pub fn for_kind(kind: ProviderKind, base_url: String, api_key: Option<Secret>) -> Self {
        match kind {
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                Upstream::OpenAi(OpenAiUpstream::new(base_url, api_key))
            }
            ProviderKind::Anthropic => {
                Upstream::Anthropic(AnthropicUpstream::new(base_url, api_key))
            }
            // Bedrock needs a region and AWS credentials; without them it cannot sign.
            ProviderKind::AwsBedrock => Upstream::Bedrock(BedrockUpstream::new(
                &base_url,
                String::new(),
                crate::aws_sigv4::AwsCredentials {
                    access_key_id: String::new(),
                    secret_access_key: api_key.unwrap_or_default(),
                    session_token: None,
                },
            )),
            ProviderKind::AzureOpenai => Upstream::Azure(AzureUpstream::new(
                &base_url,
                None,
                Default::default(),
                crate::azure::AzureAuth::ApiKey(api_key.unwrap_or_default()),
            )),
        }
    }

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
