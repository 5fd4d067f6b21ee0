//! A provider as the request path uses it ([`RuntimeProvider`]): its row, adapter kind and
//! catalog vendor, settings, owner and [`Shares`], targets with their adapters and
//! circuit breakers, its [`Transport`], and what it learned at run time (discovered
//! models, a missing Responses route, the models Azure deployments reported).

use crate::breaker::ModelHealth;
use crate::config::{DEFAULT_PRICE, Discovery, ProviderConfig, ResponsesApi};
use crate::targets::{self, Target};
use crate::transport::Transport;
use arc_swap::ArcSwap;
use modelgate_catalog::{Catalog, Price, Vendor};
use modelgate_core::{ProviderKind, now_millis};
use modelgate_org::Principal;
use modelgate_providers::upstream::Upstream;
use modelgate_store::ProviderRow;
use std::collections::HashMap;
use std::time::Duration;

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
    pub fn health(&self) -> Vec<ModelHealth> {
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
    pub(crate) fn needs_discovery(&self, ttl: Duration) -> bool {
        !self.credential_error
            && !self.policy_blocked
            && now_millis() - self.discovery.load().at_ms >= ttl.as_millis() as i64
    }
}
