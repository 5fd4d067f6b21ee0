//! What creating or changing a provider takes: [`ProviderSpec`] (POST, and the config
//! file's providers), [`ProviderPatch`] (PATCH) and [`AuthSpec`], and their validation into
//! the stored settings — endpoint normalised per kind, prices, timeouts, Azure and AWS
//! settings, targets, and the credential to seal.

use super::provider_targets::{TargetSpec, ValidTarget, validate_targets};
use super::{double_option, valid_slug};
use crate::config::{
    AwsSecret, AwsSettings, AzureSettings, EntraSettings, ProviderConfig, resolve_kind,
};
use modelgate_catalog::{Price, ResponsesApi};
use modelgate_core::GatewayError;
use modelgate_core::ProviderKind;
use serde::Deserialize;
use std::collections::BTreeMap;

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

pub(super) fn validate_retries(retries: Option<u32>) -> Result<Option<u32>, GatewayError> {
    match retries {
        Some(r) if r > 10 => {
            Err(GatewayError::bad_request("retries must be 0-10").with_param("retries"))
        }
        other => Ok(other),
    }
}

pub(super) fn validate_prices(
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
    pub(super) kind: String,
    pub(super) endpoint: String,
    pub(super) secret: Option<String>,
    pub(super) config: ProviderConfig,
    pub(super) targets: Vec<ValidTarget>,
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

pub(super) fn validate_connect_timeout(secs: Option<u64>) -> Result<Option<u64>, GatewayError> {
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
pub(super) fn azure_settings(
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
pub(super) fn aws_settings(
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
pub(super) struct Auth {
    pub(super) auth_type: String,
    pub(super) secret: Option<String>,
    pub(super) entra: Option<EntraSettings>,
    pub(super) aws_key_id: Option<String>,
}

/// `api_key` and `auth` are two spellings of the same thing; giving both differently is
/// an error.
pub(super) fn auth_of(
    api_key: Option<String>,
    auth: Option<AuthSpec>,
) -> Result<Auth, GatewayError> {
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

pub(super) fn validate_models(
    models: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, GatewayError> {
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
