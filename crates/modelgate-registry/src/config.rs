//! A provider's stored settings: the non-secret `config_json` of its row
//! ([`ProviderConfig`], with Azure, AWS and Entra ID parts), what its stored `kind` means
//! ([`resolve_kind`]), and its latest model [`Discovery`].

use crate::targets::TargetConfig;
use modelgate_catalog::{Catalog, Price, Vendor};
use modelgate_core::ProviderKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The non-secret settings of a provider, stored as the row's `config_json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Models given by the admin; when set, no discovery happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `api-key`, `azure-entra` or `none`.
    pub auth_type: String,
    /// Azure OpenAI settings (kind `azure-openai` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureSettings>,
    /// AWS settings (kind `aws-bedrock` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSettings>,
    /// Prices per model that replace the catalog's (a private model priced at zero is
    /// free and never refused for budget).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
    /// Extra tries of this provider after a connect error, timeout, 429 or 5xx (default 0;
    /// other candidates are tried either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Time allowed for the response headers (overrides the gateway's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<u64>,
    /// Time allowed for a whole non-streamed response (overrides the gateway's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Longest silence between two reads of a stream before it is ended with an error
    /// event (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
    /// Consecutive failures that open the circuit (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_failures: Option<u32>,
    /// Seconds an open circuit waits before a probe (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_cooldown_secs: Option<u64>,
    /// Time allowed to open a connection (overrides the gateway's; the provider then has
    /// its own connection pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u64>,
    /// Several endpoints and/or keys sharing the traffic by weight (empty: the provider's
    /// own endpoint and key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetConfig>,
    /// How `POST /v1/responses` reaches this provider: `native` (its own Responses API),
    /// `translate` (to chat completions) or `auto` (native until it answers 404/405, then
    /// translated). Default: the catalog vendor's, else `auto` for OpenAI-compatible
    /// servers and tunnels, `native` for OpenAI, `translate` for the rest (Azure included: its Responses API needs api-version 2025-03-01-preview or later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_api: Option<ResponsesApi>,
    /// Tunnel providers: the SHA-256 (hex) of the agent's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_token_sha256: Option<String>,
}

pub use modelgate_catalog::ResponsesApi;

/// The key of `prices` that prices every model of a provider the catalog does not know.
pub const DEFAULT_PRICE: &str = "*";

/// The non-secret settings of an AWS Bedrock provider; the secret access key and the
/// session token are the sealed secret (as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsSettings {
    pub region: String,
    pub access_key_id: String,
}

/// The sealed part of AWS credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AwsSecret {
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

/// The non-secret settings of an Azure OpenAI provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Model name → deployment name.
    #[serde(default)]
    pub deployments: BTreeMap<String, String>,
    /// Entra ID client credentials (the client secret is the sealed secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra: Option<EntraSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraSettings {
    pub tenant_id: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
}

/// The latest model discovery of a provider.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub models: Vec<String>,
    pub at_ms: i64,
    pub error: Option<String>,
}

/// What a provider's stored `kind` means: an adapter kind (`openai`, `anthropic`, …) or
/// a catalog vendor id (`groq`, `gemini`, …) that names one, with the vendor's entry.
pub fn resolve_kind(kind: &str) -> Option<(ProviderKind, Option<&'static Vendor>)> {
    let catalog = Catalog::builtin();
    let vendor = catalog.vendor(kind);
    let adapter =
        ProviderKind::parse(kind).or_else(|| vendor.and_then(|v| ProviderKind::parse(&v.kind)))?;
    Some((adapter, vendor))
}
