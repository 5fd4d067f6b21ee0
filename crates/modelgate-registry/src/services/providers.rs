//! Provider management: create, list, read, update, delete, refresh models; and the
//! declarative form used by the config file. Secrets are sealed with the master key
//! before they reach the store and never appear in any answer.

use super::provider_targets::{TargetSpec, TargetView, ValidTarget, validate_targets};
use super::{double_option, no_provider, rfc3339, valid_slug};
use crate::config::{
    AwsSecret, AwsSettings, AzureSettings, EntraSettings, ProviderConfig, resolve_kind,
};
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use modelgate_catalog::{Price, ResponsesApi};
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::{ProviderKind, now_millis};
use modelgate_org::auth::Principal;
use modelgate_store::ProviderRow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How the gateway authenticates to the upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthSpec {
    ApiKey {
        api_key: String,
    },
    /// AWS SigV4 credentials (kind `aws-bedrock`).
    AwsSigv4 {
        access_key_id: String,
        secret_access_key: String,
        #[serde(default)]
        session_token: Option<String>,
    },
    /// Azure Entra ID client credentials (kind `azure-openai`).
    AzureEntra {
        tenant_id: String,
        client_id: String,
        client_secret: String,
        #[serde(default)]
        token_url: Option<String>,
    },
    None,
}

/// `POST /api/providers` and a provider in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Azure OpenAI: the `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Azure OpenAI: model name → deployment name.
    #[serde(default)]
    pub deployments: Option<BTreeMap<String, String>>,
    /// AWS Bedrock: the region (`us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Prices per model (USD per million tokens) replacing the catalog's.
    #[serde(default)]
    pub prices: Option<BTreeMap<String, Price>>,
    /// Config file only: who the provider is shared with (`org`, or group names).
    #[serde(default)]
    pub shared_with: Option<Vec<String>>,
    /// Extra tries after a connect error, timeout, 429 or 5xx (default 0).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Seconds allowed for the response headers.
    #[serde(default)]
    pub first_byte_timeout_secs: Option<u64>,
    /// Seconds allowed for a whole non-streamed response.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Seconds of silence between two reads of a stream before it is ended.
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
    /// Consecutive failures that open the circuit (default 5).
    #[serde(default)]
    pub breaker_failures: Option<u32>,
    /// Seconds an open circuit waits before a probe (default 30).
    #[serde(default)]
    pub breaker_cooldown_secs: Option<u64>,
    /// Seconds allowed to open a connection to the upstream.
    #[serde(default)]
    pub connect_timeout_secs: Option<u64>,
    /// How `POST /v1/responses` reaches it: `native`, `translate` or `auto`.
    #[serde(default)]
    pub responses_api: Option<ResponsesApi>,
    /// Several endpoints and/or keys sharing the traffic by weight.
    #[serde(default)]
    pub targets: Option<Vec<TargetSpec>>,
}

/// `PATCH /api/providers/{name}`: absent fields stay; `null` clears where that means
/// something (`models: null` returns to discovery).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    #[serde(default, deserialize_with = "double_option")]
    pub models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub deployments: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub prices: Option<BTreeMap<String, Price>>,
    #[serde(default, deserialize_with = "double_option")]
    pub retries: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    pub first_byte_timeout_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub timeout_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub idle_timeout_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub breaker_failures: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    pub breaker_cooldown_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub connect_timeout_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub responses_api: Option<Option<ResponsesApi>>,
    /// Replaces the whole list (keys included); `null` or `[]` returns to one target.
    #[serde(default, deserialize_with = "double_option")]
    pub targets: Option<Option<Vec<TargetSpec>>>,
}

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

fn validate_retries(retries: Option<u32>) -> Result<Option<u32>, GatewayError> {
    match retries {
        Some(r) if r > 10 => {
            Err(GatewayError::bad_request("retries must be 0-10").with_param("retries"))
        }
        other => Ok(other),
    }
}

fn validate_prices(
    prices: Option<BTreeMap<String, Price>>,
) -> Result<BTreeMap<String, Price>, GatewayError> {
    let prices = prices.unwrap_or_default();
    for (model, p) in &prices {
        let ok = [Some(p.input), Some(p.output), p.cached]
            .into_iter()
            .flatten()
            .all(|v| v.is_finite() && v >= 0.0);
        if !ok || model.trim().is_empty() {
            return Err(GatewayError::bad_request(format!(
                "prices of '{model}' must be non-negative USD per million tokens"
            ))
            .with_param("prices"));
        }
    }
    Ok(prices)
}

/// The validated, storable form of a spec.
pub(super) struct Validated {
    /// The stored kind: an adapter kind or a catalog vendor id.
    kind: String,
    endpoint: String,
    secret: Option<String>,
    config: ProviderConfig,
    targets: Vec<ValidTarget>,
}

impl Validated {
    /// Every endpoint it would connect to.
    pub(super) fn endpoints(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.endpoint.as_str())
            .chain(self.targets.iter().filter_map(|t| t.endpoint()))
    }
}

pub(super) fn validate(spec: &ProviderSpec) -> Result<Validated, GatewayError> {
    if !valid_slug(&spec.name) {
        return Err(GatewayError::bad_request(
            "name must be 1-64 characters of letters, digits, '-' and '_'",
        )
        .with_param("name"));
    }
    if spec.kind == crate::tunnel::TUNNEL_KIND {
        return Err(GatewayError::bad_request(
            "openai-tunnel providers are made by creating a tunnel: POST /api/tunnels {\"name\": ...}",
        )
        .with_param("kind"));
    }
    let catalog = modelgate_catalog::Catalog::builtin();
    let (kind, vendor) = resolve_kind(&spec.kind).ok_or_else(|| {
        let mut known: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
        known.extend(
            catalog
                .vendors
                .iter()
                .filter(|v| resolve_kind(&v.id).is_some())
                .map(|v| v.id.as_str()),
        );
        known.sort_unstable();
        known.dedup();
        let pending = match catalog.vendor(&spec.kind) {
            Some(v) => format!(
                " ({} is in the catalog but its adapter is not available in this version)",
                v.name
            ),
            None => String::new(),
        };
        GatewayError::bad_request(format!(
            "unknown provider kind '{}'{pending}; this gateway supports: {}",
            spec.kind,
            known.join(", ")
        ))
        .with_param("kind")
    })?;
    let auth = auth_of(spec.api_key.clone(), spec.auth.clone())?;
    let aws = aws_settings(kind, spec.region.clone(), auth.aws_key_id.clone())?;
    let default_endpoint = match (&aws, vendor) {
        (Some(aws), _) => Some(modelgate_providers::bedrock::default_endpoint(&aws.region)),
        (None, Some(v)) if kind != ProviderKind::AzureOpenai => Some(v.base_url.clone()),
        _ => None,
    };
    let endpoint = modelgate_providers::endpoint::normalize(
        kind,
        spec.endpoint.as_deref().or(default_endpoint.as_deref()),
    )
    .map_err(|e| GatewayError::bad_request(e.to_string()).with_param("endpoint"))?;
    let azure = azure_settings(
        kind,
        spec.endpoint.is_some(),
        spec.api_version.clone(),
        spec.deployments.clone(),
        auth.entra.clone(),
    )?;
    let config = ProviderConfig {
        models: validate_models(spec.models.clone())?,
        description: spec.description.clone(),
        tags: spec.tags.clone().unwrap_or_default(),
        auth_type: auth.auth_type,
        azure,
        aws,
        prices: validate_prices(spec.prices.clone())?,
        retries: validate_retries(spec.retries)?,
        first_byte_timeout_secs: spec.first_byte_timeout_secs,
        timeout_secs: spec.timeout_secs,
        idle_timeout_secs: spec.idle_timeout_secs,
        breaker_failures: spec.breaker_failures,
        breaker_cooldown_secs: spec.breaker_cooldown_secs,
        connect_timeout_secs: validate_connect_timeout(spec.connect_timeout_secs)?,
        responses_api: spec.responses_api,
        targets: Vec::new(),
        tunnel_token_sha256: None,
    };
    let targets = validate_targets(kind, &config.auth_type, spec.targets.clone())?;
    let secret = auth.secret;
    Ok(Validated {
        kind: spec.kind.clone(),
        endpoint,
        secret,
        config,
        targets,
    })
}

fn validate_connect_timeout(secs: Option<u64>) -> Result<Option<u64>, GatewayError> {
    match secs {
        Some(0) | Some(301..) => Err(GatewayError::bad_request(
            "connect_timeout_secs must be 1-300",
        )
        .with_param("connect_timeout_secs")),
        other => Ok(other),
    }
}

/// Azure settings for kind `azure-openai` (an endpoint is required: the resource is
/// yours); for any other kind, Azure-only fields are refused.
fn azure_settings(
    kind: ProviderKind,
    has_endpoint: bool,
    api_version: Option<String>,
    deployments: Option<BTreeMap<String, String>>,
    entra: Option<EntraSettings>,
) -> Result<Option<AzureSettings>, GatewayError> {
    if kind != ProviderKind::AzureOpenai {
        if api_version.is_some() || deployments.is_some() || entra.is_some() {
            return Err(GatewayError::bad_request(
                "api_version, deployments and azure-entra auth apply to kind azure-openai only",
            ));
        }
        return Ok(None);
    }
    if !has_endpoint {
        return Err(GatewayError::bad_request(
            "an azure-openai provider needs its resource endpoint, e.g. https://NAME.openai.azure.com",
        )
        .with_param("endpoint"));
    }
    let bad = |s: &str| {
        s.is_empty() || s.len() > 128 || s.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    if api_version.as_deref().is_some_and(bad) {
        return Err(GatewayError::bad_request(
            "api_version must be a version string such as 2025-01-01-preview",
        )
        .with_param("api_version"));
    }
    let deployments = deployments.unwrap_or_default();
    if deployments.iter().any(|(m, d)| bad(m) || bad(d)) {
        return Err(GatewayError::bad_request(
            "deployments maps model names to deployment names (no spaces)",
        )
        .with_param("deployments"));
    }
    Ok(Some(AzureSettings {
        api_version,
        deployments,
        entra,
    }))
}

/// AWS settings for kind `aws-bedrock` (a region and SigV4 credentials are required);
/// for any other kind, AWS-only fields are refused.
fn aws_settings(
    kind: ProviderKind,
    region: Option<String>,
    access_key_id: Option<String>,
) -> Result<Option<AwsSettings>, GatewayError> {
    if kind != ProviderKind::AwsBedrock {
        if region.is_some() || access_key_id.is_some() {
            return Err(GatewayError::bad_request(
                "region and aws-sigv4 auth apply to kind aws-bedrock only",
            ));
        }
        return Ok(None);
    }
    let region = region
        .filter(|r| {
            !r.is_empty()
                && r.len() < 32
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .ok_or_else(|| {
            GatewayError::bad_request("an aws-bedrock provider needs a region such as us-east-1")
                .with_param("region")
        })?;
    let access_key_id = access_key_id.ok_or_else(|| {
        GatewayError::bad_request(
            "an aws-bedrock provider needs auth {type: \"aws-sigv4\", access_key_id, secret_access_key, session_token?}",
        )
        .with_param("auth")
    })?;
    Ok(Some(AwsSettings {
        region,
        access_key_id,
    }))
}

/// Parsed upstream credentials.
struct Auth {
    auth_type: String,
    secret: Option<String>,
    entra: Option<EntraSettings>,
    aws_key_id: Option<String>,
}

/// `api_key` and `auth` are two spellings of the same thing; giving both differently is
/// an error.
fn auth_of(api_key: Option<String>, auth: Option<AuthSpec>) -> Result<Auth, GatewayError> {
    if let Some(AuthSpec::AwsSigv4 {
        access_key_id,
        secret_access_key,
        session_token,
    }) = &auth
    {
        if api_key.is_some() {
            return Err(GatewayError::bad_request(
                "api_key was given together with auth type 'aws-sigv4'",
            ));
        }
        if access_key_id.is_empty() || secret_access_key.is_empty() {
            return Err(GatewayError::bad_request(
                "aws-sigv4 auth needs access_key_id and secret_access_key",
            )
            .with_param("auth"));
        }
        let secret = serde_json::to_string(&AwsSecret {
            secret_access_key: secret_access_key.clone(),
            session_token: session_token.clone(),
        })
        .map_err(|e| GatewayError::internal(e.to_string()))?;
        return Ok(Auth {
            auth_type: "aws-sigv4".into(),
            secret: Some(secret),
            entra: None,
            aws_key_id: Some(access_key_id.clone()),
        });
    }
    if let Some(AuthSpec::AzureEntra {
        tenant_id,
        client_id,
        client_secret,
        token_url,
    }) = &auth
    {
        if api_key.is_some() {
            return Err(GatewayError::bad_request(
                "api_key was given together with auth type 'azure-entra'",
            ));
        }
        if tenant_id.is_empty() || client_id.is_empty() || client_secret.is_empty() {
            return Err(GatewayError::bad_request(
                "azure-entra auth needs tenant_id, client_id and client_secret",
            )
            .with_param("auth"));
        }
        if let Some(url) = token_url
            && modelgate_providers::endpoint::normalize(ProviderKind::OpenaiCompatible, Some(url))
                .is_err()
        {
            return Err(
                GatewayError::bad_request("auth.token_url must be an http(s) URL")
                    .with_param("auth"),
            );
        }
        return Ok(Auth {
            auth_type: "azure-entra".into(),
            secret: Some(client_secret.clone()),
            entra: Some(EntraSettings {
                tenant_id: tenant_id.clone(),
                client_id: client_id.clone(),
                token_url: token_url.clone(),
            }),
            aws_key_id: None,
        });
    }
    let from_auth = match auth {
        Some(AuthSpec::ApiKey { api_key }) => Some(Some(api_key)),
        Some(AuthSpec::None) => Some(None),
        Some(AuthSpec::AzureEntra { .. } | AuthSpec::AwsSigv4 { .. }) | None => None,
    };
    let secret = match (api_key, from_auth) {
        (Some(a), Some(Some(b))) if a != b => {
            return Err(GatewayError::bad_request(
                "api_key and auth.api_key disagree; give one of them",
            ));
        }
        (Some(_), Some(None)) => {
            return Err(GatewayError::bad_request(
                "api_key was given together with auth type 'none'",
            ));
        }
        (Some(a), _) => Some(a),
        (None, Some(from_auth)) => from_auth,
        (None, None) => None,
    };
    if secret
        .as_deref()
        .is_some_and(|s| s.is_empty() || s.chars().any(char::is_control))
    {
        return Err(
            GatewayError::bad_request("api_key must be non-empty printable text")
                .with_param("api_key"),
        );
    }
    let auth_type = if secret.is_some() { "api-key" } else { "none" };
    Ok(Auth {
        auth_type: auth_type.to_owned(),
        secret,
        entra: None,
        aws_key_id: None,
    })
}

fn validate_models(models: Option<Vec<String>>) -> Result<Option<Vec<String>>, GatewayError> {
    if let Some(list) = &models
        && list.iter().any(|m| m.trim().is_empty() || m.len() > 256)
    {
        return Err(
            GatewayError::bad_request("model ids must be non-empty and at most 256 bytes")
                .with_param("models"),
        );
    }
    Ok(models)
}

impl Providers {
    pub(super) fn provider_row(
        &self,
        id: String,
        name: String,
        owner_id: String,
        v: &Validated,
        created_at: i64,
    ) -> Result<ProviderRow, GatewayError> {
        let sealed = v
            .secret
            .as_ref()
            .map(|s| self.master_key.seal(s.as_bytes(), &id));
        let mut config = v.config.clone();
        config.targets = self.seal_targets(&id, &v.targets);
        Ok(ProviderRow {
            name,
            kind: v.kind.clone(),
            endpoint: v.endpoint.clone(),
            owner_id,
            config_json: serde_json::to_string(&config)
                .map_err(|e| GatewayError::internal(e.to_string()))?,
            secret_sealed: sealed,
            created_at,
            updated_at: now_millis(),
            id,
        })
    }

    /// The provider `name` if `who` may use it (404 otherwise, existing or not).
    pub(crate) fn visible_provider(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Arc<RuntimeProvider>, GatewayError> {
        self.registry
            .snapshot()
            .visible_to(who)
            .get(name)
            .cloned()
            .ok_or_else(|| no_provider(name))
    }

    fn provider_view(&self, who: &Principal, name: &str) -> Result<ProviderView, GatewayError> {
        let p = self.visible_provider(who, name)?;
        Ok(self.view_for(who, &p))
    }

    /// The view of a provider for `who`: with its shares for the owner and admins.
    fn view_for(&self, who: &Principal, p: &RuntimeProvider) -> ProviderView {
        let mut view = ProviderView::of(p);
        if p.transport.is_tunnel() {
            view.status = if self.reachable(p) {
                "running"
            } else {
                "stopped"
            };
        }
        if who.is_admin() || p.row.owner_id == who.user_id {
            view.shares = Some(self.share_views(p));
        }
        view
    }

    pub async fn create_provider(
        self: &Arc<Self>,
        who: &Principal,
        spec: ProviderSpec,
    ) -> Result<ProviderView, GatewayError> {
        if !self.org.directory().may_create_providers(who) {
            return Err(GatewayError::forbidden(
                "Creating providers needs an administrator or the aiprovider:create permission.",
            ));
        }
        if spec.shared_with.is_some() {
            return Err(GatewayError::bad_request(
                "shared_with is for the config file; share with PUT /api/providers/{name}/shares",
            )
            .with_param("shared_with"));
        }
        let v = validate(&spec)?;
        for endpoint in v.endpoints() {
            self.check_upstream_policy(who, endpoint).await?;
        }
        let now = now_millis();
        let row = self.provider_row(
            new_id("prv"),
            spec.name.clone(),
            who.user_id.clone(),
            &v,
            now,
        )?;
        self.store.insert_provider(&row).await?;
        self.reload_providers().await?;
        self.provider_view(who, &spec.name)
    }

    /// The providers the caller may use.
    pub fn list_providers(&self, who: &Principal) -> Vec<ProviderView> {
        let snapshot = self.registry.snapshot();
        snapshot
            .visible_to(who)
            .sorted()
            .into_iter()
            .map(|p| self.view_for(who, p))
            .collect()
    }

    pub fn get_provider(&self, who: &Principal, name: &str) -> Result<ProviderView, GatewayError> {
        self.provider_view(who, name)
    }

    pub async fn update_provider(
        self: &Arc<Self>,
        who: &Principal,
        name: &str,
        patch: ProviderPatch,
    ) -> Result<ProviderView, GatewayError> {
        let current = self.managed_provider(who, name)?;
        if current.transport.is_tunnel()
            && (patch.endpoint.is_some()
                || patch.api_key.is_some()
                || patch.auth.is_some()
                || patch.targets.is_some())
        {
            return Err(GatewayError::bad_request(
                "a tunnel's endpoint and credentials belong to its agent; create a new tunnel to change them",
            ));
        }
        let mut config = current.config.clone();
        let mut entra = config.azure.as_ref().and_then(|a| a.entra.clone());
        let secret_change = if patch.api_key.is_some() || patch.auth.is_some() {
            let auth = auth_of(patch.api_key.clone(), patch.auth.clone())?;
            if current.kind == ProviderKind::AwsBedrock {
                let region = config.aws.as_ref().map(|a| a.region.clone());
                config.aws = aws_settings(current.kind, region, auth.aws_key_id.clone())?;
            }
            config.auth_type = auth.auth_type;
            entra = auth.entra;
            Some(auth.secret)
        } else {
            None
        };
        if current.kind == ProviderKind::AzureOpenai
            || patch.api_version.is_some()
            || patch.deployments.is_some()
        {
            let old = config.azure.clone().unwrap_or_default();
            config.azure = azure_settings(
                current.kind,
                true,
                patch.api_version.clone().or(old.api_version),
                patch.deployments.clone().or(Some(old.deployments)),
                entra,
            )?;
        }
        let endpoint = match &patch.endpoint {
            Some(e) => {
                let e = modelgate_providers::endpoint::normalize(current.kind, Some(e))
                    .map_err(|e| GatewayError::bad_request(e.to_string()).with_param("endpoint"))?;
                self.check_upstream_policy(who, &e).await?;
                e
            }
            None => current.row.endpoint.clone(),
        };
        if let Some(models) = patch.models.clone() {
            config.models = validate_models(models)?;
        }
        if let Some(description) = patch.description.clone() {
            config.description = description;
        }
        if let Some(tags) = patch.tags.clone() {
            config.tags = tags;
        }
        if patch.prices.is_some() {
            config.prices = validate_prices(patch.prices.clone())?;
        }
        if let Some(r) = patch.retries {
            config.retries = validate_retries(r)?;
        }
        if let Some(t) = patch.first_byte_timeout_secs {
            config.first_byte_timeout_secs = t;
        }
        if let Some(t) = patch.timeout_secs {
            config.timeout_secs = t;
        }
        if let Some(t) = patch.idle_timeout_secs {
            config.idle_timeout_secs = t;
        }
        if let Some(b) = patch.breaker_failures {
            config.breaker_failures = b;
        }
        if let Some(b) = patch.breaker_cooldown_secs {
            config.breaker_cooldown_secs = b;
        }
        if let Some(t) = patch.connect_timeout_secs {
            config.connect_timeout_secs = validate_connect_timeout(t)?;
        }
        if let Some(mode) = patch.responses_api {
            config.responses_api = mode;
        }
        if let Some(targets) = patch.targets.clone() {
            let targets = validate_targets(current.kind, &config.auth_type, targets)?;
            for endpoint in targets.iter().filter_map(|t| t.endpoint()) {
                self.check_upstream_policy(who, endpoint).await?;
            }
            config.targets = self.seal_targets(&current.row.id, &targets);
        }
        let mut row = current.row.clone();
        row.endpoint = endpoint;
        row.config_json =
            serde_json::to_string(&config).map_err(|e| GatewayError::internal(e.to_string()))?;
        if let Some(secret) = secret_change {
            row.secret_sealed = secret.map(|s| self.master_key.seal(s.as_bytes(), &row.id));
        }
        row.updated_at = now_millis();
        if !self.store.update_provider(&row).await? {
            return Err(GatewayError::not_found(format!(
                "no provider named '{name}'"
            )));
        }
        self.reload_providers().await?;
        self.provider_view(who, name)
    }

    pub async fn delete_provider(
        self: &Arc<Self>,
        who: &Principal,
        name: &str,
    ) -> Result<(), GatewayError> {
        self.managed_provider(who, name)?;
        if !self.store.delete_provider(name).await? {
            return Err(GatewayError::not_found(format!(
                "no provider named '{name}'"
            )));
        }
        self.reload_providers().await
    }

    pub async fn refresh_provider(
        self: &Arc<Self>,
        who: &Principal,
        name: &str,
    ) -> Result<ProviderView, GatewayError> {
        self.managed_provider(who, name)?;
        let p = self.refresh_provider_models(name).await?;
        Ok(self.view_for(who, &p))
    }
}

/// The answer of `POST /api/providers/test`.
#[derive(Debug, Serialize)]
pub struct ConnectionTest {
    pub ok: bool,
    pub models: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Providers {
    /// `POST /api/providers/test`: the body of a provider to create (name optional);
    /// lists the models its endpoint offers with these credentials. Nothing is saved. The
    /// same permission and upstream policy apply as for creating it.
    pub async fn test_provider(
        &self,
        who: &Principal,
        mut value: serde_json::Value,
    ) -> Result<ConnectionTest, GatewayError> {
        if !self.org.directory().may_create_providers(who) {
            return Err(GatewayError::forbidden(
                "Testing a provider needs an administrator or the aiprovider:create permission.",
            ));
        }
        if let Some(obj) = value.as_object_mut() {
            obj.entry("name")
                .or_insert_with(|| "connection-test".into());
            obj.remove("shared_with");
        }
        let spec: ProviderSpec = serde_json::from_value(value)
            .map_err(|e| GatewayError::bad_request(format!("invalid request body: {e}")))?;
        let v = validate(&spec)?;
        for endpoint in v.endpoints() {
            self.check_upstream_policy(who, endpoint).await?;
        }
        let row = self.provider_row(
            new_id("prv"),
            spec.name,
            who.user_id.clone(),
            &v,
            now_millis(),
        )?;
        let restricted =
            self.org.directory().settings.restrict_private_upstreams && !who.is_admin();
        let p = self.runtime_provider(
            row,
            who.user_name.clone(),
            Default::default(),
            restricted,
            None,
        );
        if p.policy_blocked {
            return Err(GatewayError::forbidden(
                "the endpoint is a private address, which this organization does not allow for providers created by members",
            )
            .with_code("upstream_not_allowed"));
        }
        let listed = p
            .primary()
            .discover_models(
                p.name(),
                self.client_for(&p),
                self.settings.discovery_timeout,
            )
            .await;
        Ok(match listed {
            Ok(models) => ConnectionTest {
                ok: true,
                models,
                error: None,
            },
            Err(e) => ConnectionTest {
                ok: false,
                models: Vec::new(),
                error: Some(e.message),
            },
        })
    }
}
