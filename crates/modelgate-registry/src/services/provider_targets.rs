//! The `targets` of a provider: several endpoints and/or API keys sharing its traffic by
//! weight (`targets.rs`). Validated here; each target's own key is sealed
//! into the provider's settings, bound to the provider's id and the target's name, and
//! never shown again. Replacing the list replaces the keys: a target given without
//! `api_key` uses the provider's.

use super::valid_slug;
use crate::breaker::ModelHealth;
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use crate::targets::MAX_TARGETS;
use crate::targets::TargetConfig;
use modelgate_core::GatewayError;
use modelgate_core::ProviderKind;
use serde::{Deserialize, Serialize};

/// Most weight one target may have.
const MAX_WEIGHT: u32 = 1000;

/// One target in `POST`/`PATCH /api/providers` and the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Default `t1`, `t2`, … by position.
    #[serde(default)]
    pub name: Option<String>,
    /// Default: the provider's endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Default: the provider's key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Share of the traffic, 0-1000 (default 1; 0 = standby, used when no other can be).
    #[serde(default)]
    pub weight: Option<u32>,
}

/// A validated target, its key still in the clear.
pub(super) struct ValidTarget {
    name: String,
    endpoint: Option<String>,
    api_key: Option<String>,
    weight: u32,
}

impl ValidTarget {
    pub(super) fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }
}

/// A target as the API shows it: never its key.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub name: String,
    pub endpoint: String,
    pub weight: u32,
    /// Whether it has a key of its own (else the provider's is used).
    pub own_key: bool,
    pub health: Vec<ModelHealth>,
}

impl TargetView {
    /// The targets of a provider that has several; empty for a single one.
    pub fn of(p: &RuntimeProvider) -> Vec<TargetView> {
        if p.config.targets.is_empty() {
            return Vec::new();
        }
        p.targets
            .iter()
            .map(|t| TargetView {
                name: t.name.clone(),
                endpoint: t.endpoint.clone(),
                weight: t.weight,
                own_key: t.own_key,
                health: t.breakers.health(),
            })
            .collect()
    }
}

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::bad_request(message).with_param("targets")
}

pub(super) fn validate_targets(
    kind: ProviderKind,
    auth_type: &str,
    specs: Option<Vec<TargetSpec>>,
) -> Result<Vec<ValidTarget>, GatewayError> {
    let Some(specs) = specs.filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    if kind == ProviderKind::AwsBedrock {
        return Err(bad(
            "targets are not available for aws-bedrock (a signature is bound to one region and key); create one provider per region and list them as fallbacks",
        ));
    }
    if specs.len() > MAX_TARGETS {
        return Err(bad(format!("a provider has at most {MAX_TARGETS} targets")));
    }
    let mut out: Vec<ValidTarget> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let name = spec.name.unwrap_or_else(|| format!("t{}", i + 1));
        if !valid_slug(&name) || out.iter().any(|t| t.name == name) {
            return Err(bad(format!(
                "target names must be unique, 1-64 letters, digits, '-' or '_' ('{name}')"
            )));
        }
        let weight = spec.weight.unwrap_or(1);
        if weight > MAX_WEIGHT {
            return Err(bad(format!(
                "target '{name}': weight must be 0-{MAX_WEIGHT}"
            )));
        }
        let endpoint = match spec.endpoint {
            Some(e) => Some(
                modelgate_providers::endpoint::normalize(kind, Some(&e))
                    .map_err(|e| bad(format!("target '{name}': {e}")))?,
            ),
            None => None,
        };
        if let Some(key) = &spec.api_key {
            if auth_type == "azure-entra" {
                return Err(bad(format!(
                    "target '{name}': api_key cannot be combined with the provider's azure-entra auth"
                )));
            }
            if key.is_empty() || key.chars().any(char::is_control) {
                return Err(bad(format!(
                    "target '{name}': api_key must be non-empty printable text"
                )));
            }
        }
        out.push(ValidTarget {
            name,
            endpoint,
            api_key: spec.api_key,
            weight,
        });
    }
    if out.iter().all(|t| t.weight == 0) {
        return Err(bad("at least one target needs a weight above 0"));
    }
    Ok(out)
}

impl Providers {
    /// The stored form of validated targets, their keys sealed for `provider_id`.
    pub(super) fn seal_targets(
        &self,
        provider_id: &str,
        targets: &[ValidTarget],
    ) -> Vec<TargetConfig> {
        targets
            .iter()
            .map(|t| TargetConfig {
                name: t.name.clone(),
                endpoint: t.endpoint.clone(),
                weight: t.weight,
                key_sealed: t
                    .api_key
                    .as_ref()
                    .map(|k| self.seal_target_key(provider_id, &t.name, k)),
            })
            .collect()
    }
}
