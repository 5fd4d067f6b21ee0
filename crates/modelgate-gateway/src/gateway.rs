//! The [`Gateway`]: everything a request needs, built once at start ([`Gateway::start`])
//! and shared — the providers, the organization, the ledger and windows, the usage sink,
//! kept responses, the Redis connection. The request path's modules (`routing.rs`,
//! `admission.rs`, `proxy.rs`) are its methods.

use crate::response_store;
use crate::settings::Settings;
use modelgate_core::GatewayError;
use modelgate_core::sealing::MasterKey;
use modelgate_registry::{Providers, RegistrySettings};
use modelgate_store::Store;
use std::sync::Arc;

/// Everything a request needs, built once at start and shared.
pub struct Gateway {
    pub store: Arc<dyn Store>,
    /// The providers: their snapshot, discovery, transports and tunnels, and their services.
    pub providers: Arc<Providers>,
    /// The organization: its directory, key cache and services.
    pub org: Arc<modelgate_org::Organization>,
    pub ledger: Arc<modelgate_metering::budget::Ledger>,
    pub limiter: Arc<modelgate_metering::limits::RateLimiter>,
    pub usage: modelgate_metering::meter::UsageSink,
    pub settings: Settings,
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
        let providers = Arc::new(Providers::new(
            store.clone(),
            master_key,
            RegistrySettings {
                client: settings.client.clone(),
                models_ttl: settings.models_ttl,
                discovery_timeout: settings.discovery_timeout,
                clock: settings.clock.clone(),
            },
            shared.clone(),
            org.clone(),
        )?);
        let gateway = Arc::new(Self {
            store,
            providers,
            org,
            ledger,
            limiter: Arc::new(modelgate_metering::limits::RateLimiter::new(
                shared.clone(),
                settings.clock.clone(),
            )),
            usage,
            settings,
            responses: Default::default(),
            shared,
        });
        gateway.org.attach_registry(Arc::downgrade(
            &(gateway.providers.clone() as Arc<dyn modelgate_org::ProviderRegistry>),
        ));
        gateway.org.load().await?;
        gateway.providers.load_providers().await?;
        if let Some(shared) = &gateway.shared {
            shared.spawn_listener(Arc::downgrade(&gateway));
        }
        Ok((gateway, writer))
    }
}
