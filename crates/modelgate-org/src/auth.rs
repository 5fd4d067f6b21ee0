//! Authentication of AI keys: the presented key is hashed, looked up by hash (O(1), in
//! memory after the first use), compared in constant time, and checked for revocation,
//! expiry (on the gateway's clock, cached keys too) and a deactivated owner; a key that
//! matched but is unusable gets a 401 that says which. The cached [`Principal`] carries what policy needs on the request path without
//! a database round trip: role, groups, the key's allocation, allow-list, rate limits and
//! scopes ([`Principal::require`] is the one check of what a key may be used for).
//! Revocation drops the key's entry; any change to users or groups drops them all.

use modelgate_core::GatewayError;
use modelgate_core::keys::{self, KeyHash};
use modelgate_core::{Clock, Role, Scope, Scopes};
use modelgate_store::{KeyAuth, Store, StoreResult};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Ids of the user's groups (sorted).
    pub groups: Vec<String>,
    /// The allocation the key draws from.
    pub allocation_id: Option<String>,
    pub limits: Limits,
    /// What the key may be used for; a session may do everything its user may.
    pub scopes: Scopes,
    /// Set for a browser session (cookie): the token unsafe requests must echo.
    pub csrf_token: Option<String>,
    key_hash: KeyHash,
}

pub use modelgate_metering::limits::Limits;

/// Why a key that matched cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    Revoked,
    Expired,
    Deactivated,
}

impl Denial {
    fn error(self) -> GatewayError {
        match self {
            Denial::Revoked => {
                GatewayError::key_unusable("This API key has been revoked.", "api_key_revoked")
            }
            Denial::Expired => {
                GatewayError::key_unusable("This API key has expired.", "api_key_expired")
            }
            Denial::Deactivated => GatewayError::key_unusable(
                "The user this API key belongs to has been deactivated.",
                "user_deactivated",
            ),
        }
    }
}

#[derive(Clone)]
enum Entry {
    Live(Arc<Principal>),
    Denied(Denial),
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn in_group(&self, group_id: &str) -> bool {
        self.groups
            .binary_search_by(|g| g.as_str().cmp(group_id))
            .is_ok()
    }

    /// The principal of a signed-in browser session: no key, so no allocation of its own
    /// and no key limits; the user's own limits apply.
    pub fn for_session(user: &modelgate_store::User, groups: Vec<String>, csrf: String) -> Self {
        Principal {
            key_id: String::new(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            role: user.role(),
            allowed_models: None,
            expires_at_ms: None,
            groups: sorted(groups),
            allocation_id: None,
            limits: Limits {
                user_rpm: limit(user.rpm),
                user_tpm: limit(user.tpm),
                ..Limits::default()
            },
            scopes: Scopes::ALL,
            csrf_token: Some(csrf),
            key_hash: keys::hash(""),
        }
    }

    /// Whether this is a signed-in browser session rather than an AI key.
    pub fn is_session(&self) -> bool {
        self.csrf_token.is_some()
    }

    /// Refuses a key without `scope` with 403 `insufficient_scope`, naming the scope
    /// needed and how to get a key that has it. Sessions have every scope.
    pub fn require(&self, scope: Scope) -> Result<(), GatewayError> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let has = self
            .scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let what = match scope {
            Scope::Inference => "the model API (/v1/*)",
            Scope::Management => {
                "managing keys, providers, tunnels, conversations or the organization"
            }
        };
        Err(GatewayError::forbidden(format!(
            "This key has the scopes [{has}]; {what} needs the '{scope}' scope. Use a key \
             created with \"scopes\": [\"{scope}\"] (by a session or a key that has it), \
             or sign in."
        ))
        .with_code("insufficient_scope"))
    }

    /// The same caller with no more than a member's rights: what a key without the
    /// management scope sees of the self-service routes (its owner's own usage).
    pub fn without_admin_rights(&self) -> Principal {
        Principal {
            role: Role::Member,
            ..self.clone()
        }
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

/// Where the authenticator reads a key by its hash: the store (a counting or pausing fake
/// in tests).
pub trait KeyLookup: Send + Sync {
    fn key_by_hash<'a>(
        &'a self,
        key_hash: &'a str,
    ) -> Pin<Box<dyn Future<Output = StoreResult<Option<KeyAuth>>> + Send + 'a>>;
}

impl KeyLookup for Arc<dyn Store> {
    fn key_by_hash<'a>(
        &'a self,
        key_hash: &'a str,
    ) -> Pin<Box<dyn Future<Output = StoreResult<Option<KeyAuth>>> + Send + 'a>> {
        Store::key_by_hash(&**self, key_hash)
    }
}

/// How long a key the store does not know is answered without asking it again: a flood of
/// random keys costs one lookup per key per this, not one per request. A key minted here
/// is dropped from it at once (and cannot collide with a random guess anyway).
const UNKNOWN_TTL: Duration = Duration::from_secs(30);

pub struct Authenticator {
    lookup: Box<dyn KeyLookup>,
    cache: moka::sync::Cache<KeyHash, Entry>,
    /// Hashes the store did not know, for [`UNKNOWN_TTL`].
    unknown: moka::sync::Cache<KeyHash, ()>,
    /// Bumped by every invalidation: a lookup that began before one does not cache what it
    /// read (a key revoked while its row was being read is not cached as live).
    generation: AtomicU64,
    /// What key expiry is checked against.
    clock: Clock,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, ttl: Duration, clock: Clock) -> Self {
        Self::with_lookup(Box::new(store), ttl, clock)
    }

    /// An authenticator reading keys from `lookup`.
    pub fn with_lookup(lookup: Box<dyn KeyLookup>, ttl: Duration, clock: Clock) -> Self {
        Self {
            lookup,
            clock,
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            unknown: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(UNKNOWN_TTL.min(ttl.max(Duration::from_secs(1))))
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    /// Authenticates a presented key. Unknown keys all get the same error; a key that
    /// matched but is revoked, expired or whose owner is deactivated gets one that says so.
    /// `groups_of` gives a user's groups (from the in-memory org directory: a cache miss
    /// costs one store lookup, not two).
    pub async fn authenticate(
        &self,
        presented: &str,
        groups_of: impl FnOnce(&str) -> Vec<String>,
    ) -> Result<Arc<Principal>, GatewayError> {
        if !keys::is_plausible(presented) {
            return Err(GatewayError::unauthorized());
        }
        let hash = keys::hash(presented);
        let entry = match self.cache.get(&hash) {
            Some(e) => e,
            None => self.look_up(hash, groups_of).await?,
        };
        match entry {
            Entry::Denied(d) => Err(d.error()),
            Entry::Live(p)
                if p.expires_at_ms
                    .is_some_and(|t| t <= self.clock.now_millis()) =>
            {
                Err(Denial::Expired.error())
            }
            Entry::Live(p) => Ok(p),
        }
    }

    /// A cache miss: one store lookup, cached unless an invalidation ran meanwhile.
    async fn look_up(
        &self,
        hash: KeyHash,
        groups_of: impl FnOnce(&str) -> Vec<String>,
    ) -> Result<Entry, GatewayError> {
        if self.unknown.contains_key(&hash) {
            return Err(GatewayError::unauthorized());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(row) = self.lookup.key_by_hash(hash.as_str()).await? else {
            self.remember(&self.unknown, hash, (), generation);
            return Err(GatewayError::unauthorized());
        };
        let stored = KeyHash::from_stored(row.key.key_hash.clone());
        if !stored.ct_matches(&hash) {
            return Err(GatewayError::unauthorized());
        }
        let entry = match denial(&row, self.clock.now_millis()) {
            Some(d) => Entry::Denied(d),
            None => {
                let groups = groups_of(&row.key.user_id);
                Entry::Live(Arc::new(principal_of(row, groups, hash.clone())))
            }
        };
        self.remember(&self.cache, hash, entry.clone(), generation);
        Ok(entry)
    }

    /// Caches what a lookup that began at `generation` read, unless an invalidation ran
    /// since. Checked again after the insert: an invalidation between the check and the
    /// insert bumped the generation first, so the entry is taken back out.
    fn remember<V: Clone + Send + Sync + 'static>(
        &self,
        cache: &moka::sync::Cache<KeyHash, V>,
        hash: KeyHash,
        value: V,
        generation: u64,
    ) {
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        cache.insert(hash.clone(), value);
        if self.generation.load(Ordering::Acquire) != generation {
            cache.invalidate(&hash);
        }
    }

    /// Forgets every cached key (after a change to users, groups or memberships).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
        self.unknown.invalidate_all();
    }

    /// Drops a key from the cache (after revocation, or when it is minted).
    pub fn invalidate(&self, key_hash: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let hash = KeyHash::from_stored(key_hash.to_owned());
        self.cache.invalidate(&hash);
        self.unknown.invalidate(&hash);
    }
}

fn denial(row: &KeyAuth, now_ms: i64) -> Option<Denial> {
    if row.key.revoked_at.is_some() {
        Some(Denial::Revoked)
    } else if row.user_deactivated_at.is_some() {
        Some(Denial::Deactivated)
    } else if row.key.expires_at.is_some_and(|t| t <= now_ms) {
        Some(Denial::Expired)
    } else {
        None
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn limit(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn principal_of(row: KeyAuth, groups: Vec<String>, key_hash: KeyHash) -> Principal {
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
        groups: sorted(groups),
        allocation_id: row.key.allocation_id,
        limits: Limits {
            key_rpm: limit(row.key.rpm),
            key_tpm: limit(row.key.tpm),
            user_rpm: limit(row.user_rpm),
            user_tpm: limit(row.user_tpm),
        },
        scopes: Scopes::from_stored(&row.key.scopes),
        csrf_token: None,
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
            groups: Vec::new(),
            allocation_id: None,
            limits: Limits::default(),
            scopes: Scopes::INFERENCE,
            csrf_token: None,
            key_hash: keys::hash("x"),
        }
    }

    #[test]
    fn scopes_are_required_of_keys_not_of_sessions() {
        let key = principal(None);
        assert!(key.require(Scope::Inference).is_ok());
        let err = key.require(Scope::Management).unwrap_err();
        assert_eq!(err.code, Some("insufficient_scope"));
        assert_eq!(err.kind, modelgate_core::ErrorKind::Forbidden);
        assert!(err.message.contains("'management'"), "{}", err.message);
        let manager = Principal {
            scopes: Scopes::from_stored("management"),
            ..principal(None)
        };
        assert!(manager.require(Scope::Management).is_ok());
        assert!(manager.require(Scope::Inference).is_err());
        let user = modelgate_store::User {
            id: "u".into(),
            name: "alice".into(),
            role: "admin".into(),
            password_hash: None,
            created_at: 0,
            deactivated_at: None,
            rpm: None,
            tpm: None,
        };
        let session = Principal::for_session(&user, Vec::new(), "csrf".into());
        assert!(session.is_session());
        assert!(session.require(Scope::Management).is_ok());
        assert!(session.require(Scope::Inference).is_ok());
        assert!(!session.without_admin_rights().is_admin());
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

    /// A store of one key that counts its lookups, answers `row` (None: unknown), and
    /// can be held at the lookup until released.
    struct FakeLookup {
        row: std::sync::Mutex<Option<KeyAuth>>,
        lookups: std::sync::atomic::AtomicUsize,
        hold: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
        started: tokio::sync::Notify,
    }

    impl KeyLookup for Arc<FakeLookup> {
        fn key_by_hash<'a>(
            &'a self,
            _: &'a str,
        ) -> Pin<Box<dyn Future<Output = StoreResult<Option<KeyAuth>>> + Send + 'a>> {
            Box::pin(async move {
                self.lookups.fetch_add(1, Ordering::SeqCst);
                let row = self.row.lock().unwrap().clone();
                let hold = self.hold.lock().unwrap().take();
                if let Some(hold) = hold {
                    self.started.notify_one();
                    let _ = hold.await;
                }
                Ok(row)
            })
        }
    }

    const KEY: &str = "mg_fake_key_for_the_cache_tests_0000000000";

    fn row(revoked: bool) -> KeyAuth {
        KeyAuth {
            key: modelgate_store::ApiKeyRow {
                id: "k".into(),
                user_id: "u".into(),
                name: "k".into(),
                key_hash: keys::hash(KEY).as_str().to_owned(),
                display_prefix: "mg_fake".into(),
                created_at: 0,
                expires_at: None,
                revoked_at: revoked.then_some(1),
                last_used_at: None,
                allocation_id: None,
                models_json: None,
                rpm: None,
                tpm: None,
                scopes: "inference".into(),
            },
            user_name: "alice".into(),
            user_role: "member".into(),
            user_deactivated_at: None,
            user_rpm: None,
            user_tpm: None,
        }
    }

    fn authenticator(row: Option<KeyAuth>) -> (Arc<FakeLookup>, Authenticator) {
        let fake = Arc::new(FakeLookup {
            row: std::sync::Mutex::new(row),
            lookups: Default::default(),
            hold: Default::default(),
            started: Default::default(),
        });
        let auth = Authenticator::with_lookup(
            Box::new(fake.clone()),
            Duration::from_secs(60),
            Clock::system(),
        );
        (fake, auth)
    }

    #[tokio::test]
    async fn a_flood_of_one_unknown_key_costs_one_lookup() {
        let (fake, auth) = authenticator(None);
        for _ in 0..100 {
            let err = auth.authenticate(KEY, |_| Vec::new()).await.unwrap_err();
            assert_eq!(err.code, Some("invalid_api_key"));
        }
        assert_eq!(fake.lookups.load(Ordering::SeqCst), 1);
        // Minted (or revoked) meanwhile: the next try asks the store again.
        *fake.row.lock().unwrap() = Some(row(false));
        auth.invalidate(keys::hash(KEY).as_str());
        assert!(auth.authenticate(KEY, |_| Vec::new()).await.is_ok());
        assert_eq!(fake.lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_key_revoked_while_its_row_is_read_is_not_cached_as_live() {
        let (fake, auth) = authenticator(Some(row(false)));
        let (release, hold) = tokio::sync::oneshot::channel();
        *fake.hold.lock().unwrap() = Some(hold);
        let revoke = async {
            // The row (still live) is read; the key is revoked before the lookup returns.
            fake.started.notified().await;
            *fake.row.lock().unwrap() = Some(row(true));
            auth.invalidate(keys::hash(KEY).as_str());
            release.send(()).unwrap();
        };
        let (read, ()) = tokio::join!(auth.authenticate(KEY, |_| Vec::new()), revoke);
        // That one request raced the revocation and may pass; the next one must not.
        assert!(read.is_ok());
        let err = auth.authenticate(KEY, |_| Vec::new()).await.unwrap_err();
        assert_eq!(err.code, Some("api_key_revoked"));
        assert_eq!(fake.lookups.load(Ordering::SeqCst), 2);
    }
}
