//! Closed enums of the domain: provider kinds and user roles. Matches over them are
//! exhaustive, so adding a kind shows every place that must learn about it.

use serde::{Deserialize, Serialize};

/// The kind of a model backend. Each kind knows its schema and default endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI itself (`https://api.openai.com/v1` unless overridden).
    Openai,
    /// Any server speaking the OpenAI API: vLLM, Ollama, LM Studio, TGI, llama.cpp.
    OpenaiCompatible,
    /// Anthropic's Messages API (`https://api.anthropic.com/v1` unless overridden).
    Anthropic,
    /// Azure OpenAI: deployment paths, `api-version`, `api-key` or Entra ID auth.
    AzureOpenai,
    /// AWS Bedrock Converse / ConverseStream, SigV4-signed.
    AwsBedrock,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::OpenaiCompatible => "openai-compatible",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::AzureOpenai => "azure-openai",
            ProviderKind::AwsBedrock => "aws-bedrock",
        }
    }

    /// Parses the wire name; `None` for a kind this build does not know.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(ProviderKind::Openai),
            "openai-compatible" => Some(ProviderKind::OpenaiCompatible),
            "anthropic" => Some(ProviderKind::Anthropic),
            "azure-openai" => Some(ProviderKind::AzureOpenai),
            "aws-bedrock" => Some(ProviderKind::AwsBedrock),
            _ => None,
        }
    }

    /// The base URL used when a provider of this kind names no endpoint.
    pub fn default_endpoint(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com/v1"),
            ProviderKind::OpenaiCompatible => None,
            ProviderKind::Anthropic => Some("https://api.anthropic.com/v1"),
            ProviderKind::AzureOpenai | ProviderKind::AwsBedrock => None,
        }
    }

    /// Every kind this build supports, for error messages.
    pub const ALL: &'static [ProviderKind] = &[
        ProviderKind::Openai,
        ProviderKind::OpenaiCompatible,
        ProviderKind::Anthropic,
        ProviderKind::AzureOpenai,
        ProviderKind::AwsBedrock,
    ];
}

/// A user's role in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(ProviderKind::parse("bogus"), None);
    }
}
