//! The provider registry: an immutable snapshot of every provider, with decrypted
//! credentials and an index from model id to the providers that advertise it, swapped
//! atomically ([`arc_swap`]) so the request path reads it without locks. Model lists come
//! from the provider's configuration, or are discovered through the upstream's
//! `GET /models`, kept for a TTL and refreshed in the background.

use crate::resolve::ModelView;
use crate::{Gateway, GatewayError};
use arc_swap::ArcSwap;
use modelgate_catalog::{Catalog, Price, Vendor};
use modelgate_core::{ErrorKind, ProviderKind, now_millis};
use modelgate_org::auth::Principal;
use modelgate_providers::upstream::Upstream;
use modelgate_store::ProviderRow;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use targets::Target;
pub use targets::TargetConfig;

mod build;
pub mod targets;
pub mod transport;
pub use transport::Transport;

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

/// The shares of a provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shares {
    /// Shared with the whole organization.
    pub org: bool,
    /// Ids of the groups it is shared with.
    pub groups: Vec<String>,
}

/// A provider as the request path uses it.
#[derive(Debug)]
pub struct RuntimeProvider {
    pub row: ProviderRow,
    pub kind: ProviderKind,
    /// The catalog vendor this provider was created from (prices, fallback model list).
    pub vendor: Option<&'static Vendor>,
    pub config: ProviderConfig,
    pub owner_name: String,
    /// Who besides the owner and admins may use it (`aiprovider:use`).
    pub shares: Shares,
    /// Created by a non-admin while the org refuses private upstreams: connects only to
    /// public addresses.
    pub restricted: bool,
    /// Where requests go: one target, or several shared by weight ([`targets`]).
    pub targets: Vec<Target>,
    /// How its requests travel (chosen once, when it is built).
    pub transport: Transport,
    /// Set when the stored credential cannot be opened with this master key: the
    /// provider fails closed until it is reconfigured.
    pub credential_error: bool,
    /// A restricted provider whose endpoint is a literal private address: refused.
    pub policy_blocked: bool,
    pub discovery: ArcSwap<Discovery>,
    /// Set once a native Responses request (mode `auto`) was answered 404/405: the
    /// provider has no Responses route, later requests are translated.
    pub responses_missing: std::sync::atomic::AtomicBool,
    /// Azure: the model each deployment reported serving (an answer's `model`), for
    /// deployments the `deployments` map does not name a model for.
    pub reported_models: std::sync::RwLock<HashMap<String, String>>,
}

/// The most deployments whose reported model a provider remembers.
const MAX_REPORTED_MODELS: usize = 256;

impl RuntimeProvider {
    /// How this provider serves the Responses API (the setting, else the default).
    pub fn responses_api(&self) -> ResponsesApi {
        if let Some(mode) = self.config.responses_api {
            return mode;
        }
        if let Some(mode) = self.vendor.and_then(|v| v.responses_api) {
            return mode;
        }
        match self.kind {
            ProviderKind::Openai => ResponsesApi::Native,
            ProviderKind::OpenaiCompatible => ResponsesApi::Auto,
            _ => ResponsesApi::Translate,
        }
    }

    /// Whether a Responses request goes to the provider's own Responses API now.
    pub fn responses_native(&self) -> bool {
        match self.responses_api() {
            ResponsesApi::Native => true,
            ResponsesApi::Translate => false,
            ResponsesApi::Auto => !self
                .responses_missing
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    pub fn name(&self) -> &str {
        &self.row.name
    }

    /// The first target's adapter: what discovery and token counting use (every target
    /// of a provider speaks the same schema).
    pub fn primary(&self) -> &Upstream {
        &self.targets[0].upstream
    }

    /// A target for `model` not in `tried` (see [`targets::pick`]).
    pub fn pick_target(&self, model: &str, tried: u32, ignore_breakers: bool) -> Option<usize> {
        targets::pick(&self.targets, model, tried, ignore_breakers)
    }

    /// The health of every target's models.
    pub fn health(&self) -> Vec<crate::breaker::ModelHealth> {
        self.targets
            .iter()
            .flat_map(|t| t.breakers.health())
            .collect()
    }

    /// The models this provider offers: the configured list, else the discovered one,
    /// else (discovery failed or found nothing) the catalog's models of its vendor.
    pub fn models(&self) -> Vec<String> {
        if let Some(listed) = &self.config.models {
            return listed.clone();
        }
        let discovered = self.discovery.load();
        if !discovered.models.is_empty() {
            return discovered.models.clone();
        }
        match self.vendor {
            Some(v) => Catalog::builtin()
                .models_of(&v.id)
                .map(|m| m.id.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The price of `model`: the provider's override for it, else the catalog's — at the
    /// provider's vendor, for Azure the OpenAI model the deployment serves (the
    /// `deployments` map's key, which is the model name requests use), for Bedrock the
    /// model id (inference profiles priced as their base model) — else the provider's
    /// default price (`prices["*"]`).
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.config.prices.get(model) {
            return Some(*p);
        }
        self.catalog_entry(model)
            .and_then(|m| m.price())
            .or_else(|| self.reported_price(model))
            .or_else(|| self.config.prices.get(DEFAULT_PRICE).copied())
    }

    /// Azure: the catalog price of the model the deployment `requested` reported serving.
    fn reported_price(&self, requested: &str) -> Option<Price> {
        if self.kind != ProviderKind::AzureOpenai {
            return None;
        }
        let reported = self.reported_models.read().ok()?;
        let model = reported.get(requested)?;
        Catalog::builtin().model("openai", model)?.price()
    }

    /// Azure: remembers the model an answer from the deployment `requested` reported (a
    /// dated id such as `gpt-4o-2024-11-20`), when the catalog prices it and nothing
    /// else does — so a deployment missing from the `deployments` map is priced from its
    /// next request on (until the provider is reloaded).
    pub fn learn_reported_model(&self, requested: &str, reported: &str) {
        // Every later answer names the same model: a read, and nothing else, in the
        // steady state.
        let known =
            |map: &HashMap<String, String>| map.get(requested).is_some_and(|m| m == reported);
        if self.kind != ProviderKind::AzureOpenai
            || self.reported_models.read().is_ok_and(|m| known(&m))
            || self.config.prices.contains_key(requested)
            || self.catalog_entry(requested).is_some()
            || Catalog::builtin().model("openai", reported).is_none()
        {
            return;
        }
        if let Ok(mut known) = self.reported_models.write()
            && (known.len() < MAX_REPORTED_MODELS || known.contains_key(requested))
        {
            known.insert(requested.to_owned(), reported.to_owned());
        }
    }

    /// The catalog's entry for `model` on this provider.
    fn catalog_entry(&self, model: &str) -> Option<&'static modelgate_catalog::ModelInfo> {
        let catalog = Catalog::builtin();
        match self.kind {
            ProviderKind::AzureOpenai => catalog.model("openai", model),
            ProviderKind::AwsBedrock => catalog.model("aws-bedrock", model),
            _ => catalog.model(&self.vendor?.id, model),
        }
    }

    /// The context window and output limit of `model`, where the catalog (at this
    /// provider's vendor) or the provider's own price entry knows them.
    pub fn model_limits(&self, model: &str) -> (Option<u64>, Option<u64>) {
        let info = self.catalog_entry(model);
        let max_output = self
            .config
            .prices
            .get(model)
            .and_then(|p| p.max_output)
            .or_else(|| info.and_then(|m| m.max_output));
        (info.and_then(|m| m.context), max_output)
    }

    /// Whether `who` may use this provider: its owner, admins, and those it is shared with.
    pub fn usable_by(&self, who: &Principal) -> bool {
        if self.is_private() {
            return self.row.owner_id == who.user_id;
        }
        who.is_admin()
            || self.row.owner_id == who.user_id
            || self.shares.org
            || self.shares.groups.iter().any(|g| who.in_group(g))
    }

    /// Only its owner may use it, admins included: a session tunnel serves its creator's
    /// own model server. Such a provider cannot be shared.
    pub fn is_private(&self) -> bool {
        self.transport.is_tunnel()
    }

    /// Used without a price, it costs nothing even on a budgeted key (a tunnel serves the
    /// owner's own hardware); every other unpriced model is refused on such keys.
    pub fn free_unless_priced(&self) -> bool {
        self.transport.is_tunnel()
    }

    /// A discovered list that is older than `ttl` (callers check the list is not pinned).
    fn needs_discovery(&self, ttl: Duration) -> bool {
        !self.credential_error
            && !self.policy_blocked
            && now_millis() - self.discovery.load().at_ms >= ttl.as_millis() as i64
    }
}

/// An immutable view of all providers.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub providers: HashMap<String, Arc<RuntimeProvider>>,
    /// Model id → names of providers advertising it, sorted.
    pub model_index: HashMap<String, Vec<String>>,
}

impl Snapshot {
    fn build(providers: HashMap<String, Arc<RuntimeProvider>>) -> Self {
        let mut model_index: HashMap<String, Vec<String>> = HashMap::new();
        for p in providers.values() {
            for m in p.models() {
                model_index.entry(m).or_default().push(p.name().to_owned());
            }
        }
        for names in model_index.values_mut() {
            names.sort();
            names.dedup();
        }
        Self {
            providers,
            model_index,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<RuntimeProvider>> {
        self.providers.get(name)
    }

    /// The tunnel provider with this row id.
    pub fn tunnel(&self, provider_id: &str) -> Option<&Arc<RuntimeProvider>> {
        self.providers
            .values()
            .find(|p| p.transport.is_tunnel() && p.row.id == provider_id)
    }

    /// Providers sorted by name.
    pub fn sorted(&self) -> Vec<&Arc<RuntimeProvider>> {
        let mut v: Vec<_> = self.providers.values().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }
}

impl Snapshot {
    /// The providers `who` may use.
    pub fn visible_to<'a>(&'a self, who: &'a Principal) -> Visible<'a> {
        Visible {
            snapshot: self,
            who,
        }
    }
}

/// The providers one caller may use: what model resolution, `/v1/models` and provider
/// lists see. A provider the caller may not use does not exist for them.
pub struct Visible<'a> {
    snapshot: &'a Snapshot,
    who: &'a Principal,
}

impl Visible<'_> {
    pub fn get(&self, name: &str) -> Option<&Arc<RuntimeProvider>> {
        self.snapshot
            .providers
            .get(name)
            .filter(|p| p.usable_by(self.who))
    }

    /// Visible providers sorted by name.
    pub fn sorted(&self) -> Vec<&Arc<RuntimeProvider>> {
        let mut v: Vec<_> = self
            .snapshot
            .providers
            .values()
            .filter(|p| p.usable_by(self.who))
            .collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }
}

impl ModelView for Visible<'_> {
    fn has_provider(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn provider_owned_by(&self, name: &str, owner: &str) -> bool {
        self.get(name).is_some_and(|p| p.owner_name == owner)
    }

    fn providers_serving(&self, model: &str) -> Vec<String> {
        self.snapshot
            .model_index
            .get(model)
            .map(|names| {
                names
                    .iter()
                    .filter(|n| self.get(n).is_some())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
pub struct Registry {
    snapshot: ArcSwap<Snapshot>,
    /// Serialises snapshot rebuilds (readers never take it).
    rebuild: Mutex<()>,
}

impl Registry {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    fn install(&self, providers: HashMap<String, Arc<RuntimeProvider>>) {
        self.snapshot.store(Arc::new(Snapshot::build(providers)));
    }

    /// Rebuilds the model index after a discovery changed a provider's models.
    fn reindex(&self) {
        let _guard = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot.load_full();
        self.install(current.providers.clone());
    }
}

impl Gateway {
    /// The HTTP client a provider's requests use: the public-only one for restricted
    /// providers.
    /// The client `p`'s requests are built with (a tunnel's are built with the shared
    /// one and sent through the link, never dialed).
    pub fn client_for<'a>(&'a self, p: &'a RuntimeProvider) -> &'a reqwest::Client {
        match &p.transport {
            Transport::Direct(client) => client,
            Transport::Tunnel => &self.client,
        }
    }

    /// Reloads every provider from the store, keeping discoveries of unchanged rows, and
    /// starts discovery where a model list is missing or stale.
    pub async fn reload_providers(self: &Arc<Self>) -> Result<(), GatewayError> {
        self.load_providers().await?;
        self.notify(modelgate_cluster::Notice::Providers).await;
        Ok(())
    }

    /// Reloads this process's providers (see [`Gateway::reload_providers`], which also
    /// tells the other replicas).
    pub async fn load_providers(self: &Arc<Self>) -> Result<(), GatewayError> {
        self.install_providers().await?;
        self.discover_stale(false).await;
        Ok(())
    }

    /// As [`Gateway::load_providers`], with discovery in the background (for change
    /// notices: a slow upstream must not hold up the notices behind it).
    #[expect(
        clippy::disallowed_methods,
        reason = "model discovery is one of the gateway's owned background tasks"
    )]
    pub(crate) async fn load_providers_in_background(self: &Arc<Self>) -> Result<(), GatewayError> {
        self.install_providers().await?;
        let gw = self.clone();
        tokio::spawn(async move { gw.discover_stale(false).await });
        Ok(())
    }

    /// Rebuilds the provider snapshot from the store.
    async fn install_providers(self: &Arc<Self>) -> Result<(), GatewayError> {
        let rows = self.store.list_providers().await?;
        let mut shares: HashMap<String, Shares> = HashMap::new();
        for share in self.store.list_shares().await? {
            let entry = shares.entry(share.provider_id).or_default();
            match share.group_id {
                Some(g) => entry.groups.push(g),
                None => entry.org = true,
            }
        }
        let users = self.store.list_users().await?;
        let restrict = self.directory().settings.restrict_private_upstreams;
        let restricted_owners: std::collections::HashSet<String> = users
            .iter()
            .filter(|u| restrict && u.role() != modelgate_core::Role::Admin)
            .map(|u| u.id.clone())
            .collect();
        let owners: HashMap<String, String> = users.into_iter().map(|u| (u.id, u.name)).collect();
        {
            let _guard = self
                .registry
                .rebuild
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let previous = self.registry.snapshot();
            let mut providers = HashMap::new();
            for row in rows {
                let kept = previous
                    .get(&row.name)
                    .filter(|p| p.row == row)
                    .map(|p| p.discovery.load_full());
                // Breakers and the connection pool belong to the endpoints: kept while
                // the provider's settings are unchanged.
                let kept_runtime = previous
                    .get(&row.name)
                    .filter(|p| {
                        p.row.endpoint == row.endpoint && p.row.config_json == row.config_json
                    })
                    .cloned();
                let owner_name = owners.get(&row.owner_id).cloned().unwrap_or_default();
                let provider_shares = shares.remove(&row.id).unwrap_or_default();
                let restricted = restricted_owners.contains(&row.owner_id);
                let mut runtime =
                    self.runtime_provider(row, owner_name, provider_shares, restricted, kept);
                if let Some(old) = kept_runtime {
                    runtime.keep_state_of(&old);
                }
                providers.insert(runtime.name().to_owned(), Arc::new(runtime));
            }
            self.registry.install(providers);
        }
        // A tunnel deleted (here or on another replica) loses its agent's connection too.
        let snapshot = self.registry.snapshot();
        self.tunnels
            .disconnect_unless(|id| snapshot.tunnel(id).is_some());
        Ok(())
    }

    /// Discovers models of every provider whose list is stale (all of them when `force`).
    /// Waits for the discoveries; callers that must not wait spawn this.
    #[expect(
        clippy::disallowed_methods,
        reason = "providers are discovered concurrently, one task each, joined below"
    )]
    pub async fn discover_stale(self: &Arc<Self>, force: bool) {
        let snapshot = self.registry.snapshot();
        let stale: Vec<_> = snapshot
            .providers
            .values()
            .filter(|p| {
                p.config.models.is_none()
                    && (force || p.needs_discovery(self.settings.models_ttl))
                    && self.reachable(p)
            })
            .cloned()
            .collect();
        let tasks: Vec<_> = stale
            .into_iter()
            .map(|p| {
                let gw = self.clone();
                tokio::spawn(async move { gw.discover(&p).await })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        self.registry.reindex();
    }

    /// Discovers one provider's models and records the result (or the error).
    async fn discover(&self, p: &RuntimeProvider) {
        let result = if p.policy_blocked {
            Err(modelgate_providers::UpstreamError::new(
                ErrorKind::Forbidden,
                "the endpoint is a private address, which the org's upstream policy refuses",
            ))
        } else if p.credential_error {
            Err(modelgate_providers::UpstreamError::new(
                ErrorKind::Unavailable,
                "the stored credential cannot be opened; reconfigure the provider",
            ))
        } else {
            match &p.transport {
                Transport::Direct(client) => {
                    p.primary()
                        .discover_models(p.name(), client, self.settings.discovery_timeout)
                        .await
                }
                Transport::Tunnel => self.discover_through_tunnel(p).await,
            }
        };
        let previous = p.discovery.load_full();
        let next = match result {
            Ok(models) => Discovery {
                models,
                at_ms: now_millis(),
                error: None,
            },
            Err(e) => {
                tracing::warn!(provider = %p.name(), error = %e, "model discovery failed");
                Discovery {
                    // Keep the last good list; a flapping upstream should not hide models.
                    models: previous.models.clone(),
                    at_ms: now_millis(),
                    error: Some(e.message),
                }
            }
        };
        p.discovery.store(Arc::new(next));
    }

    /// Re-discovers one provider's models now (the admin `refresh` action).
    pub async fn refresh_provider_models(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<RuntimeProvider>, GatewayError> {
        let p = self
            .registry
            .snapshot()
            .get(name)
            .cloned()
            .ok_or_else(|| GatewayError::not_found(format!("no provider named '{name}'")))?;
        self.discover(&p).await;
        self.registry.reindex();
        Ok(p)
    }

    /// Keeps discovered model lists fresh until the process ends.
    #[expect(
        clippy::disallowed_methods,
        reason = "the periodic re-discovery is one of the gateway's owned background tasks"
    )]
    pub fn spawn_model_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let gw = Arc::downgrade(self);
        let period = (self.settings.models_ttl / 4).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(gw) = gw.upgrade() else { return };
                gw.discover_stale(false).await;
            }
        })
    }
}

/// A change to users, groups or org settings can change who may use which provider.
impl modelgate_org::ProviderRegistry for Gateway {
    fn org_changed(
        self: Arc<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GatewayError>> + Send>> {
        Box::pin(async move { self.reload_providers().await })
    }
}
