//! The registry's snapshot: every provider by name with an index from model id to the
//! providers that advertise it, swapped atomically ([`arc_swap`]) so the request path reads
//! it without locks; [`Visible`], the part of it one caller may use.

use crate::resolve::ModelView;
use crate::runtime::RuntimeProvider;
use arc_swap::ArcSwap;
use modelgate_org::Principal;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    pub(crate) rebuild: Mutex<()>,
}

impl Registry {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub(crate) fn install(&self, providers: HashMap<String, Arc<RuntimeProvider>>) {
        self.snapshot.store(Arc::new(Snapshot::build(providers)));
    }

    /// Rebuilds the model index after a discovery changed a provider's models.
    pub(crate) fn reindex(&self) {
        let _guard = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot.load_full();
        self.install(current.providers.clone());
    }
}
