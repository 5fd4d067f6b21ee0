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
    /// Requests per minute across all of the user's keys (`None`: unlimited).
    pub rpm: Option<i64>,
    /// Tokens per minute across all of the user's keys.
    pub tpm: Option<i64>,
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
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    /// Scope names separated by spaces (`modelgate_core::Scopes`' stored form).
    pub scopes: String,
}

/// A key joined with its owner: everything authentication needs in one row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyAuth {
    #[sqlx(flatten)]
    pub key: ApiKeyRow,
    pub user_name: String,
    pub user_role: String,
    pub user_deactivated_at: Option<i64>,
    pub user_rpm: Option<i64>,
    pub user_tpm: Option<i64>,
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

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A permission granted to a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Grant {
    pub permission: String,
    /// `user` or `group`.
    pub subject_kind: String,
    pub subject_id: String,
}

/// `aiprovider:use` on one provider: for the org (`group_id` `None`) or one group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ShareRow {
    pub provider_id: String,
    /// `org` or `group:<group id>` (the row's key).
    pub grantee: String,
    pub group_id: Option<String>,
    pub created_at: i64,
}

impl ShareRow {
    pub const ORG: &'static str = "org";

    pub fn grantee_for(group_id: Option<&str>) -> String {
        match group_id {
            Some(g) => format!("group:{g}"),
            None => Self::ORG.to_owned(),
        }
    }
}

/// A budget: a limit in micro-dollars per period, owned by a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AllocationRow {
    pub id: String,
    pub name: String,
    pub owner_user_id: Option<String>,
    pub owner_group_id: Option<String>,
    pub limit_micros: i64,
    /// `none`, `daily` or `monthly`.
    pub period: String,
    pub created_at: i64,
    /// At most this many requests in flight at once (none: unbounded).
    pub max_in_flight: Option<i64>,
}

/// A sign-in session; the cookie value is stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Which usage records a report aggregates.
#[derive(Debug, Clone, Default)]
pub struct UsageScope {
    pub user_id: Option<String>,
    pub since_ms: i64,
    pub until_ms: i64,
}

/// What a usage report groups by. Each maps to a fixed column of `usage_records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageDimension {
    /// UTC day (days since the Unix epoch).
    Day,
    Model,
    Provider,
    Key,
    User,
    Allocation,
}

impl UsageDimension {
    pub(crate) fn column(self) -> &'static str {
        match self {
            // Integer division in both SQLite and PostgreSQL.
            UsageDimension::Day => "CAST(created_at / 86400000 AS TEXT)",
            UsageDimension::Model => "model",
            UsageDimension::Provider => "provider",
            UsageDimension::Key => "key_id",
            UsageDimension::User => "user_id",
            UsageDimension::Allocation => "COALESCE(allocation_id, '')",
        }
    }
}

/// One aggregated row of a usage report.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageTotals {
    /// The group's value (model, key id, user id, allocation id or day); empty for a total.
    pub bucket: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_micros: i64,
}
