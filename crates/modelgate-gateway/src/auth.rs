//! Authentication of AI keys: the presented key is hashed, looked up by hash (O(1), in
//! memory after the first use), compared in constant time, and checked for revocation,
//! expiry and a deactivated owner. Revocation invalidates the cache entry at once.

use crate::GatewayError;
use modelgate_core::keys::{self, KeyHash};
use modelgate_core::{Role, now_millis};
use modelgate_store::{KeyAuth, Store};
use std::sync::Arc;
use std::time::Duration;

/// Who is calling: the key and its owner, as far as policy needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub user_id: String,
    pub user_name: String,
    pub role: Role,
    /// The key's model allow-list; `None` allows every model the user may use.
    pub allowed_models: Option<Vec<String>>,
    pub expires_at_ms: Option<i64>,
    key_hash: KeyHash,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the key's allow-list admits a request for `requested` that resolved to
    /// `provider` / `model`. An entry may name the model in any form that resolves to it.
    pub fn allows_model(&self, requested: &str, provider: &str, model: &str) -> bool {
        let Some(list) = &self.allowed_models else {
            return true;
        };
        list.iter().any(|entry| {
            entry == requested
                || entry == model
                || entry.strip_prefix(provider).is_some_and(|rest| {
                    rest.strip_prefix('/').or_else(|| rest.strip_prefix(':')) == Some(model)
                })
        })
    }
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    cache: moka::sync::Cache<KeyHash, Arc<Principal>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Authenticates a presented key. Every failure gives the same error.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<Principal>, GatewayError> {
        if !keys::is_plausible(presented) {
            return Err(GatewayError::unauthorized());
        }
        let hash = keys::hash(presented);
        let principal = match self.cache.get(&hash) {
            Some(p) => p,
            None => {
                let row = self
                    .store
                    .key_by_hash(hash.as_str())
                    .await?
                    .ok_or_else(GatewayError::unauthorized)?;
                let stored = KeyHash::from_stored(row.key.key_hash.clone());
                if !stored.ct_matches(&hash) || !is_live(&row) {
                    return Err(GatewayError::unauthorized());
                }
                let p = Arc::new(principal_of(row, hash.clone()));
                self.cache.insert(hash, p.clone());
                p
            }
        };
        if principal.expires_at_ms.is_some_and(|t| t <= now_millis()) {
            self.cache.invalidate(&principal.key_hash);
            return Err(GatewayError::unauthorized());
        }
        Ok(principal)
    }

    /// Drops a key from the cache (after revocation).
    pub fn invalidate(&self, key_hash: &str) {
        self.cache
            .invalidate(&KeyHash::from_stored(key_hash.to_owned()));
    }
}

fn is_live(row: &KeyAuth) -> bool {
    row.key.revoked_at.is_none()
        && row.user_deactivated_at.is_none()
        && row.key.expires_at.is_none_or(|t| t > now_millis())
}

fn principal_of(row: KeyAuth, key_hash: KeyHash) -> Principal {
    let allowed_models = row
        .key
        .models_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok());
    Principal {
        key_id: row.key.id,
        user_id: row.key.user_id,
        user_name: row.user_name,
        role: Role::parse(&row.user_role).unwrap_or(Role::Member),
        allowed_models,
        expires_at_ms: row.key.expires_at,
        key_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(models: Option<Vec<&str>>) -> Principal {
        Principal {
            key_id: "k".into(),
            user_id: "u".into(),
            user_name: "alice".into(),
            role: Role::Member,
            allowed_models: models.map(|m| m.into_iter().map(String::from).collect()),
            expires_at_ms: None,
            key_hash: keys::hash("x"),
        }
    }

    #[test]
    fn allow_list_matches_any_form() {
        assert!(principal(None).allows_model("anything", "p", "m"));
        let p = principal(Some(vec!["vllm/llama3:8b", "gpt-4o"]));
        assert!(p.allows_model("vllm:llama3:8b", "vllm", "llama3:8b"));
        assert!(p.allows_model("llama3:8b", "vllm", "llama3:8b"));
        assert!(p.allows_model("openai:gpt-4o", "openai", "gpt-4o"));
        assert!(!p.allows_model("other:llama3:8b", "other", "llama3:8b"));
        assert!(!p.allows_model("gpt-4o-mini", "openai", "gpt-4o-mini"));
        let p = principal(Some(vec!["vllm:llama3:8b"]));
        assert!(p.allows_model("vllm/llama3:8b", "vllm", "llama3:8b"));
        assert!(!p.allows_model("vllm2/llama3:8b", "vllm2", "llama3:8b"));
    }
}
