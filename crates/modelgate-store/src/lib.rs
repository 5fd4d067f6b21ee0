//! The store: one [`Store`] contract with two backends, SQLite (the embedded default, in
//! the data dir) and PostgreSQL (for replicas). Both run the same SQL, written once in
//! [`sql_impl`], over twin migrations (`migrations/sqlite`, `migrations/postgres`), and
//! the same conformance suite (`tests/conformance.rs`) runs against both.
//!
//! The store never sees plaintext secrets: provider credentials arrive sealed by the
//! gateway, AI keys arrive as hashes.

mod chat;
mod org;
mod postgres;
mod records;
mod sql_chat;
mod sql_impl;
mod sql_org;
mod sqlite;

pub use chat::{ChatStore, Conversation, ConversationMessage};
pub use org::OrgStore;
pub use postgres::PgStore;
pub use records::{
    AllocationRow, ApiKeyRow, Grant, Group, KeyAuth, ProviderRow, SessionRow, ShareRow,
    UsageDimension, UsageFilter, UsageScope, UsageTotals, User,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use modelgate_core::usage::UsageRecord;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string names what.
    #[error("{0} already exists")]
    Conflict(String),
    /// A row cannot be deleted while others refer to it; the string names what.
    #[error("still in use by {0}")]
    InUse(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

/// A store failure as the API answers it: a conflict says what exists or uses the row;
/// anything else is logged and reported as the store being unavailable.
impl From<StoreError> for modelgate_core::GatewayError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::new(
                modelgate_core::ErrorKind::Conflict,
                format!("{what} already exists"),
            ),
            StoreError::InUse(what) => Self::new(
                modelgate_core::ErrorKind::Conflict,
                format!("still in use by {what}"),
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                Self::new(
                    modelgate_core::ErrorKind::Unavailable,
                    "the gateway's store is unavailable",
                )
            }
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything modelgate keeps durably. Implementations are cheap to clone behind `Arc`.
#[async_trait]
pub trait Store: OrgStore + ChatStore + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// A trivial query, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    async fn count_users(&self) -> StoreResult<i64>;
    /// Every user, by name.
    async fn list_users(&self) -> StoreResult<Vec<User>>;

    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()>;
    /// The key with this hash together with its owner, whatever its state.
    async fn key_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyAuth>>;
    /// Keys of one user, or of everyone when `user_id` is `None`; newest first.
    async fn list_keys(&self, user_id: Option<&str>) -> StoreResult<Vec<ApiKeyRow>>;
    /// Marks a key revoked. With `user_id`, only that user's key. Returns the revoked
    /// key's hash (for cache invalidation), `None` if no such live key.
    async fn revoke_key(
        &self,
        id: &str,
        user_id: Option<&str>,
        at_ms: i64,
    ) -> StoreResult<Option<String>>;
    /// Records when keys were last used (batched by the metering writer).
    async fn touch_keys(&self, used: &[(String, i64)]) -> StoreResult<()>;

    async fn insert_provider(&self, provider: &ProviderRow) -> StoreResult<()>;
    /// Replaces the row with the same id; false if it is gone.
    async fn update_provider(&self, provider: &ProviderRow) -> StoreResult<bool>;
    async fn delete_provider(&self, name: &str) -> StoreResult<bool>;
    async fn list_providers(&self) -> StoreResult<Vec<ProviderRow>>;

    /// Inserts records in one transaction; a record whose id exists is skipped, so a
    /// retried batch never double-counts.
    async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()>;
    async fn list_usage(&self, filter: &UsageFilter) -> StoreResult<Vec<UsageRecord>>;
    /// Totals of the records in `scope`, one row per bucket of `by` (most costly first), or
    /// one row (bucket `""`) when `by` is `None`.
    async fn usage_report(
        &self,
        scope: &UsageScope,
        by: Option<UsageDimension>,
    ) -> StoreResult<Vec<UsageTotals>>;
}

/// Opens the store a `--database` URL names, running migrations.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

fn conflict_or(err: sqlx::Error, what: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::Database(err),
    }
}
