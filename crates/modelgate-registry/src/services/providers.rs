//! Provider management: create, list, read, update, delete, refresh models, test a
//! connection (the specs are in `provider_spec.rs`, the view in `provider_view.rs`). Secrets are sealed with the master key
//! before they reach the store and never appear in any answer.

use super::no_provider;
use super::provider_targets::validate_targets;
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::{ProviderKind, now_millis};
use modelgate_org::auth::Principal;
use modelgate_store::ProviderRow;
use serde::Serialize;
use std::sync::Arc;

pub use super::provider_spec::{AuthSpec, ProviderPatch, ProviderSpec};
use super::provider_spec::{
    Validated, auth_of, aws_settings, azure_settings, validate, validate_connect_timeout,
    validate_models, validate_prices, validate_retries,
};
pub use super::provider_view::{AuthView, ProviderView};

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
