//! [`Providers`]: the provider registry and what keeps it current — the store it is
//! loaded from, the master key that opens credentials, the HTTP clients requests go out
//! on, the snapshot the request path reads without locks, model discovery (on start,
//! after changes, every TTL), the connected session tunnels, and change notices to the
//! other replicas. The organization is read for who owns what and the upstream policy;
//! nothing here knows requests, budgets or routes.

use crate::config::Discovery;
use crate::runtime::{RuntimeProvider, Shares};
use crate::snapshot::Registry;
use crate::transport::Transport;
use crate::tunnel::TunnelHub;
use modelgate_cluster::{Notice, Shared};
use modelgate_core::sealing::MasterKey;
use modelgate_core::{Clock, ErrorKind, GatewayError, now_millis};
use modelgate_org::Organization;
use modelgate_providers::client::ClientSettings;
use modelgate_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The tunables the registry works with.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub client: ClientSettings,
    /// How long discovered model lists stay fresh.
    pub models_ttl: Duration,
    /// Time allowed for one model discovery call.
    pub discovery_timeout: Duration,
    /// Where circuit-breaker cooldowns read the time.
    pub clock: Clock,
}

/// The providers of the organization, and what keeps their snapshot current.
pub struct Providers {
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
    /// The shared client (connections pooled per host).
    pub client: reqwest::Client,
    /// The client of providers restricted to public addresses by the org's policy.
    pub public_client: reqwest::Client,
    pub registry: Registry,
    /// Session tunnels with an agent connected to this process.
    pub tunnels: TunnelHub,
    pub settings: RegistrySettings,
    /// State shared with other replicas (`--redis`): change notices, tunnel relay.
    pub shared: Option<Arc<Shared>>,
    pub org: Arc<Organization>,
}

impl Providers {
    /// Builds the registry (empty until [`Providers::load_providers`]); the clients are
    /// built here from the settings.
    pub fn new(
        store: Arc<dyn Store>,
        master_key: MasterKey,
        settings: RegistrySettings,
        shared: Option<Arc<Shared>>,
        org: Arc<Organization>,
    ) -> Result<Self, GatewayError> {
        let build = |allow_private| {
            modelgate_providers::client::build(&settings.client, allow_private).map_err(|e| {
                GatewayError::internal(format!("could not build the upstream HTTP client: {e}"))
            })
        };
        Ok(Self {
            store,
            master_key,
            client: build(true)?,
            public_client: build(false)?,
            registry: Registry::default(),
            tunnels: TunnelHub::default(),
            settings,
            shared,
            org,
        })
    }

    /// The current snapshot of every provider.
    pub fn snapshot(&self) -> Arc<crate::snapshot::Snapshot> {
        self.registry.snapshot()
    }
}

impl Providers {
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
        modelgate_cluster::notify(self.shared.as_deref(), Notice::Providers).await;
        Ok(())
    }

    /// Reloads this process's providers (see [`Providers::reload_providers`], which also
    /// tells the other replicas).
    pub async fn load_providers(self: &Arc<Self>) -> Result<(), GatewayError> {
        self.install_providers().await?;
        self.discover_stale(false).await;
        Ok(())
    }

    /// As [`Providers::load_providers`], with discovery in the background (for change
    /// notices: a slow upstream must not hold up the notices behind it).
    #[expect(
        clippy::disallowed_methods,
        reason = "model discovery is one of the registry's owned background tasks"
    )]
    pub async fn load_providers_in_background(self: &Arc<Self>) -> Result<(), GatewayError> {
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
        let restrict = self.org.directory().settings.restrict_private_upstreams;
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
        reason = "the periodic re-discovery is one of the registry's owned background tasks"
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
impl modelgate_org::ProviderRegistry for Providers {
    fn org_changed(
        self: Arc<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GatewayError>> + Send>> {
        Box::pin(async move { self.reload_providers().await })
    }
}
