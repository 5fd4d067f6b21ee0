//! A provider as the API shows it ([`ProviderView`]): its settings, status, models and
//! targets — never a secret.

use super::provider_targets::TargetView;
use super::rfc3339;
use crate::config::{AwsSettings, AzureSettings};
use crate::runtime::RuntimeProvider;
use modelgate_catalog::{Price, ResponsesApi};
use serde::Serialize;
use std::collections::BTreeMap;

/// A provider as the API shows it. No secret, ever.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub endpoint: String,
    pub auth: AuthView,
    pub models: Vec<String>,
    pub models_source: &'static str,
    pub models_refreshed_at: Option<String>,
    pub models_error: Option<String>,
    pub status: &'static str,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
    /// Azure OpenAI settings (api-version, deployments, Entra tenant and client ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureSettings>,
    /// AWS Bedrock settings (region, access key id; never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSettings>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_failures: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_cooldown_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u64>,
    /// How `POST /v1/responses` reaches it (the setting, or the default in force).
    pub responses_api: ResponsesApi,
    /// Its endpoints/keys with weights and health, when it has several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetView>,
    /// Models whose circuit breaker is not closed or that failed last: state,
    /// consecutive failures, last error, since when (empty when all is well).
    pub health: Vec<crate::breaker::ModelHealth>,
    /// Who it is shared with; shown to its owner and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<Vec<super::shares::ShareView>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthView {
    #[serde(rename = "type")]
    pub kind: String,
    pub configured: bool,
}

impl ProviderView {
    pub fn of(p: &RuntimeProvider) -> Self {
        let discovery = p.discovery.load();
        let listed = p.config.models.is_some();
        let status = if p.policy_blocked {
            "blocked_by_policy"
        } else if p.credential_error {
            "needs_reconfiguration"
        } else if !listed && discovery.error.is_some() {
            "error"
        } else {
            "ok"
        };
        Self {
            id: p.row.id.clone(),
            name: p.row.name.clone(),
            kind: p.row.kind.clone(),
            endpoint: p.row.endpoint.clone(),
            auth: AuthView {
                kind: p.config.auth_type.clone(),
                configured: p.row.secret_sealed.is_some(),
            },
            models: p.models(),
            models_source: if listed { "listed" } else { "discovered" },
            models_refreshed_at: (!listed && discovery.at_ms > 0).then(|| rfc3339(discovery.at_ms)),
            models_error: if listed {
                None
            } else {
                discovery.error.clone()
            },
            status,
            description: p.config.description.clone(),
            tags: p.config.tags.clone(),
            owner: p.owner_name.clone(),
            created_at: rfc3339(p.row.created_at),
            updated_at: rfc3339(p.row.updated_at),
            azure: p.config.azure.clone(),
            aws: p.config.aws.clone(),
            prices: p.config.prices.clone(),
            retries: p.config.retries,
            first_byte_timeout_secs: p.config.first_byte_timeout_secs,
            timeout_secs: p.config.timeout_secs,
            idle_timeout_secs: p.config.idle_timeout_secs,
            breaker_failures: p.config.breaker_failures,
            breaker_cooldown_secs: p.config.breaker_cooldown_secs,
            connect_timeout_secs: p.config.connect_timeout_secs,
            responses_api: p.responses_api(),
            targets: TargetView::of(p),
            health: p.health(),
            shares: None,
        }
    }
}
