//! Row types exchanged with the store. Timestamps are Unix milliseconds (`i64`), the
//! portable integer type of both backends; JSON columns are plain `TEXT`.

use modelgate_core::Role;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
}

impl User {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub key_hash: String,
    pub display_prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub allocation_id: Option<String>,
    pub models_json: Option<String>,
}

/// A key joined with its owner: everything authentication needs in one row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyAuth {
    #[sqlx(flatten)]
    pub key: ApiKeyRow,
    pub user_name: String,
    pub user_role: String,
    pub user_deactivated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProviderRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub endpoint: String,
    pub owner_id: String,
    /// Kind-specific settings, models, description, tags: JSON owned by the gateway.
    pub config_json: String,
    /// The upstream credential sealed with the master key (row id as associated data).
    pub secret_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which usage records to list.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    pub user_id: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: i64,
}
