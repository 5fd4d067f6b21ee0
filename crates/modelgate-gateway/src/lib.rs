//! The request pipeline of modelgate as plain Rust (no HTTP framework), and the
//! [`Gateway`] that wires it to the organization (`modelgate-org`), budgets and usage
//! (`modelgate-metering`) and the shared state (`modelgate-cluster`): the provider
//! registry and model discovery ([`registry`]), model resolution ([`resolve`]), request
//! body peeking and rewriting ([`body`]), routing and failover ([`routing`]), admission
//! ([`admission`]), the proxy itself ([`proxy`]), sending by transport ([`send`]), stream
//! metering ([`stream`]), session tunnels ([`tunnel`]) and the admin services of providers
//! ([`admin`]). The server crate turns [`GatewayError`] into HTTP.

pub mod admin;
pub mod admission;
pub mod bedrock_stream;
pub mod body;
pub mod bootstrap;
pub mod breaker;
pub mod error;
pub mod error_events;
pub mod estimate;
pub mod mappers;
pub mod notices;
pub mod proxy;
pub mod registry;
pub mod resolve;
pub mod response_store;
pub mod routing;
pub mod send;
pub mod settings;
pub mod stream;
pub mod stream_meter;
pub mod tunnel;

pub use error::GatewayError;
pub use modelgate_translate as translate;

/// The built-in vendor and model catalog.
pub fn catalog() -> &'static modelgate_catalog::Catalog {
    modelgate_catalog::Catalog::builtin()
}
pub use settings::Settings;

use modelgate_core::sealing::MasterKey;
use modelgate_store::Store;
use std::sync::Arc;

/// Everything a request needs, built once at start and shared.
pub struct Gateway {
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
    pub client: reqwest::Client,
    /// The client of providers restricted to public addresses by the org's policy.
    pub public_client: reqwest::Client,
    pub registry: registry::Registry,
    /// The organization: its directory, key cache and services.
    pub org: Arc<modelgate_org::Organization>,
    pub ledger: Arc<modelgate_metering::budget::Ledger>,
    pub limiter: Arc<modelgate_metering::limits::RateLimiter>,
    pub usage: modelgate_metering::meter::UsageSink,
    pub settings: Settings,
    /// Session tunnels with an agent connected to this process.
    pub tunnels: tunnel::TunnelHub,
    /// State shared with other replicas (`--redis`).
    pub shared: Option<Arc<modelgate_cluster::Shared>>,
    /// Responses made by translation, kept for `previous_response_id`.
    pub responses: Arc<response_store::ResponseStore>,
}

impl Gateway {
    /// The organization's directory as it is now.
    pub fn directory(&self) -> Arc<modelgate_org::Directory> {
        self.org.directory()
    }

    /// Opens the usage journal and stores what a crashed run left in it (idempotently:
    /// records already stored are skipped), before anything is served.
    async fn recover_journal(
        store: &dyn Store,
        dir: &std::path::Path,
    ) -> Result<modelgate_metering::journal::Journal, GatewayError> {
        let (journal, recovered) =
            modelgate_metering::journal::Journal::open(dir).map_err(|e| {
                GatewayError::internal(format!(
                    "cannot open the usage journal in {}: {e}",
                    dir.display()
                ))
            })?;
        if !recovered.records.is_empty() {
            tracing::info!(
                records = recovered.records.len(),
                "storing usage records from the journal"
            );
            for chunk in recovered.records.chunks(2048) {
                store.insert_usage(chunk).await?;
            }
        }
        modelgate_metering::journal::discard(&recovered.segments);
        Ok(journal)
    }

    /// Builds the gateway over an opened store: loads providers, starts the usage writer.
    /// Returns the gateway and the writer's handle (await it after [`modelgate_metering::meter::UsageSink::close`]).
    pub async fn start(
        store: Arc<dyn Store>,
        master_key: MasterKey,
        settings: Settings,
    ) -> Result<(Arc<Self>, tokio::task::JoinHandle<()>), GatewayError> {
        let build = |allow_private| {
            modelgate_providers::client::build(&settings.client, allow_private).map_err(|e| {
                GatewayError::internal(format!("could not build the upstream HTTP client: {e}"))
            })
        };
        let client = build(true)?;
        let public_client = build(false)?;
        let journal = match &settings.journal_dir {
            Some(dir) => Some(Arc::new(Self::recover_journal(&*store, dir).await?)),
            None => None,
        };
        let shared = match &settings.redis_url {
            Some(url) => Some(Arc::new(
                modelgate_cluster::Shared::connect(url, &settings.redis_prefix, master_key.clone())
                    .await?,
            )),
            None => None,
        };
        let (usage, writer) = modelgate_metering::meter::spawn_writer(store.clone(), journal);
        let auth = modelgate_org::auth::Authenticator::new(
            store.clone(),
            settings.key_cache_ttl,
            settings.clock.clone(),
        );
        // A reservation a dead replica left behind is released after this.
        let hold = settings.request_timeout.saturating_mul(2);
        let ledger = Arc::new(modelgate_metering::budget::Ledger::new(
            store.clone(),
            shared.clone(),
            hold,
        ));
        let org = Arc::new(modelgate_org::Organization::new(
            store.clone(),
            auth,
            ledger.clone(),
            usage.clone(),
            shared.clone(),
            settings.clock.clone(),
        ));
        let gateway = Arc::new(Self {
            store,
            master_key,
            client,
            public_client,
            registry: registry::Registry::default(),
            org,
            ledger,
            limiter: Arc::new(modelgate_metering::limits::RateLimiter::new(
                shared.clone(),
                settings.clock.clone(),
            )),
            usage,
            settings,
            tunnels: Default::default(),
            responses: Default::default(),
            shared,
        });
        gateway.org.attach_registry(Arc::downgrade(
            &(gateway.clone() as Arc<dyn modelgate_org::ProviderRegistry>),
        ));
        gateway.org.load().await?;
        gateway.load_providers().await?;
        if let Some(shared) = &gateway.shared {
            shared.spawn_listener(Arc::downgrade(&gateway));
        }
        Ok((gateway, writer))
    }
}
