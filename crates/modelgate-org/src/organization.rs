//! [`Organization`]: what the organization's services work on — the store, the
//! [`Directory`] snapshot behind `ArcSwap` (swapped after every change, so requests never
//! wait for the database to learn who may draw from what), the key authenticator and its
//! cache, the budget ledger, the usage sink and the clock — and nothing of providers,
//! routes or upstreams. A change that can change who may use which provider (users,
//! groups, org settings) tells the provider registry through [`ProviderRegistry`]; every
//! change is announced to the other replicas with `--redis`.

use crate::auth::{Authenticator, Principal};
use crate::directory::{Directory, Rows};
use arc_swap::ArcSwap;
use modelgate_cluster::{Notice, Shared};
use modelgate_core::{Clock, GatewayError};
use modelgate_metering::budget::Ledger;
use modelgate_metering::meter::UsageSink;
use modelgate_store::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

/// The provider registry, as the organization sees it: it rebuilds who may use which
/// provider after a change to users, groups or org settings.
pub trait ProviderRegistry: Send + Sync {
    /// Reloads the providers (here and, with `--redis`, on the other replicas).
    fn org_changed(
        self: Arc<Self>,
    ) -> Pin<Box<dyn Future<Output = Result<(), GatewayError>> + Send>>;
}

/// The organization's state and the services over it (users, groups and grants, keys,
/// allocations, sessions, settings, usage reports, virtual models).
pub struct Organization {
    pub(crate) store: Arc<dyn Store>,
    directory: ArcSwap<Directory>,
    /// AI keys → principals, cached.
    pub auth: Authenticator,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) usage: UsageSink,
    /// State shared with other replicas (`--redis`): change notices.
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) clock: Clock,
    registry: OnceLock<Weak<dyn ProviderRegistry>>,
}

impl Organization {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Authenticator,
        ledger: Arc<Ledger>,
        usage: UsageSink,
        shared: Option<Arc<Shared>>,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            directory: ArcSwap::default(),
            auth,
            ledger,
            usage,
            shared,
            clock,
            registry: OnceLock::new(),
        }
    }

    /// Connects the provider registry, once, at start.
    pub fn attach_registry(&self, registry: Weak<dyn ProviderRegistry>) {
        let _ = self.registry.set(registry);
    }

    /// The current directory.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory.load_full()
    }

    /// Authenticates an AI key, the caller's groups taken from the directory.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<Principal>, GatewayError> {
        self.auth
            .authenticate(presented, |user_id| self.directory().groups_of(user_id))
            .await
    }

    /// Reloads the directory after an org change, here and (with `--redis`) on every
    /// other replica.
    pub async fn reload_org(&self) -> Result<(), GatewayError> {
        self.load().await?;
        modelgate_cluster::notify(self.shared.as_deref(), Notice::Org).await;
        Ok(())
    }

    /// After a change that can change who may use which provider: the registry reloads.
    pub(crate) async fn providers_changed(&self) -> Result<(), GatewayError> {
        match self.registry.get().and_then(Weak::upgrade) {
            Some(registry) => registry.org_changed().await,
            None => Ok(()),
        }
    }

    /// Reloads this process's directory from the store and forgets cached keys (their
    /// groups, roles or owners may have changed).
    pub async fn load(&self) -> Result<(), GatewayError> {
        let virtual_models = self
            .store
            .list_virtual_models()
            .await?
            .into_iter()
            .map(|(name, json)| (name, serde_json::from_str(&json).unwrap_or_default()))
            .collect();
        let directory = Directory::from_rows(Rows {
            users: self.store.list_users().await?,
            groups: self.store.list_groups().await?,
            memberships: self.store.list_memberships().await?,
            grants: self.store.list_grants().await?,
            allocations: self.store.list_allocations().await?,
            settings: self.store.list_settings().await?,
            virtual_models,
        });
        self.directory.store(Arc::new(directory));
        self.auth.invalidate_all();
        Ok(())
    }
}
