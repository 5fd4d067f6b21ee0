//! The SQL of the store, written once and instantiated for each backend by
//! [`impl_store!`]. Every query uses `$n` placeholders in ascending order (both SQLite and
//! PostgreSQL accept them) and binds every value; nothing is formatted into SQL.

use modelgate_core::usage::{Outcome, TokenUsage, UsageRecord};

/// A usage row as stored (integers for booleans, text for the outcome).
#[derive(sqlx::FromRow)]
pub(crate) struct UsageRow {
    id: String,
    request_id: String,
    created_at: i64,
    key_id: String,
    user_id: String,
    allocation_id: Option<String>,
    provider: String,
    model: String,
    api: String,
    stream: i64,
    input_tokens: i64,
    output_tokens: i64,
    cached_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    usage_estimated: i64,
    cost_micros: i64,
    status: i64,
    outcome: String,
    latency_ms: i64,
    ttft_ms: Option<i64>,
}

impl From<UsageRow> for UsageRecord {
    fn from(r: UsageRow) -> Self {
        UsageRecord {
            id: r.id,
            request_id: r.request_id,
            created_at_ms: r.created_at,
            key_id: r.key_id,
            user_id: r.user_id,
            allocation_id: r.allocation_id,
            provider: r.provider,
            model: r.model,
            api: r.api,
            stream: r.stream != 0,
            usage: TokenUsage {
                input_tokens: r.input_tokens.max(0) as u64,
                output_tokens: r.output_tokens.max(0) as u64,
                cached_tokens: r.cached_tokens.max(0) as u64,
                cache_write_tokens: r.cache_write_tokens.max(0) as u64,
                reasoning_tokens: r.reasoning_tokens.max(0) as u64,
            },
            usage_estimated: r.usage_estimated != 0,
            cost_micros: r.cost_micros,
            status: u16::try_from(r.status).unwrap_or(0),
            outcome: Outcome::parse(&r.outcome).unwrap_or(Outcome::UpstreamError),
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
        }
    }
}

pub(crate) const KEY_AUTH_SELECT: &str = "SELECT k.*, u.name AS user_name, u.role AS user_role, \
     u.deactivated_at AS user_deactivated_at, u.rpm AS user_rpm, u.tpm AS user_tpm \
     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1";

pub(crate) const INSERT_USAGE_HEAD: &str = "INSERT INTO usage_records (id, request_id, created_at, \
     key_id, user_id, provider, model, api, stream, input_tokens, output_tokens, cached_tokens, \
     usage_estimated, cost_micros, status, outcome, latency_ms, ttft_ms, allocation_id, \
     cache_write_tokens, reasoning_tokens) ";

/// The aggregate columns of a usage report (sums cast so both backends return BIGINT).
pub(crate) const USAGE_AGGREGATES: &str = "COUNT(*) AS requests, \
     CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
     CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
     CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS cached_tokens, \
     CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT) AS cache_write_tokens, \
     CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT) AS reasoning_tokens, \
     CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros \
     FROM usage_records WHERE ($1 IS NULL OR user_id = $1) AND created_at >= $2 \
     AND created_at < $3";

/// The SQL of a usage report. The grouping column is one of the constant fragments of
/// [`crate::UsageDimension::column`]; values are bound.
pub(crate) fn usage_report_sql(by: Option<crate::UsageDimension>) -> String {
    match by {
        None => format!("SELECT '' AS bucket, {USAGE_AGGREGATES}"),
        Some(d) => {
            let col = d.column();
            format!(
                "SELECT {col} AS bucket, {USAGE_AGGREGATES} GROUP BY {col} \
                 ORDER BY cost_micros DESC, bucket"
            )
        }
    }
}

/// Rows per INSERT statement (21 parameters each; SQLite allows 32766 per statement).
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// Saturating conversion for token counts stored in signed 64-bit columns.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Implements [`crate::Store`] for a backend type with a `pool` field and a
/// `BACKEND` constant.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                <$store>::BACKEND
            }

            async fn ping(&self) -> $crate::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_user(&self, u: &$crate::User) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (id, name, role, password_hash, created_at, deactivated_at, \
                     rpm, tpm) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&u.id)
                .bind(&u.name)
                .bind(&u.role)
                .bind(&u.password_hash)
                .bind(u.created_at)
                .bind(u.deactivated_at)
                .bind(u.rpm)
                .bind(u.tpm)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::conflict_or(e, "user"))?;
                Ok(())
            }

            async fn user_by_name(&self, name: &str) -> $crate::StoreResult<Option<$crate::User>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn count_users(&self) -> $crate::StoreResult<i64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            async fn list_users(&self) -> $crate::StoreResult<Vec<$crate::User>> {
                Ok(sqlx::query_as("SELECT * FROM users ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_key(&self, k: &$crate::ApiKeyRow) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, user_id, name, key_hash, display_prefix, created_at, \
                     expires_at, revoked_at, last_used_at, allocation_id, models_json, rpm, tpm, scopes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&k.id)
                .bind(&k.user_id)
                .bind(&k.name)
                .bind(&k.key_hash)
                .bind(&k.display_prefix)
                .bind(k.created_at)
                .bind(k.expires_at)
                .bind(k.revoked_at)
                .bind(k.last_used_at)
                .bind(&k.allocation_id)
                .bind(&k.models_json)
                .bind(k.rpm)
                .bind(k.tpm)
                .bind(&k.scopes)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::conflict_or(e, "key"))?;
                Ok(())
            }

            async fn key_by_hash(&self, key_hash: &str) -> $crate::StoreResult<Option<$crate::KeyAuth>> {
                Ok(sqlx::query_as($crate::sql_impl::KEY_AUTH_SELECT)
                    .bind(key_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_keys(&self, user_id: Option<&str>) -> $crate::StoreResult<Vec<$crate::ApiKeyRow>> {
                let rows = match user_id {
                    Some(uid) => {
                        sqlx::query_as(
                            "SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id",
                        )
                        .bind(uid)
                        .fetch_all(&self.pool)
                        .await?
                    }
                    None => {
                        sqlx::query_as("SELECT * FROM api_keys ORDER BY created_at DESC, id")
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                Ok(rows)
            }

            async fn revoke_key(
                &self,
                id: &str,
                user_id: Option<&str>,
                at_ms: i64,
            ) -> $crate::StoreResult<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                     AND ($3 IS NULL OR user_id = $3) RETURNING key_hash",
                )
                .bind(at_ms)
                .bind(id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(h,)| h))
            }

            async fn touch_keys(&self, used: &[(String, i64)]) -> $crate::StoreResult<()> {
                if used.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                for (id, at) in used {
                    sqlx::query(
                        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                         AND (last_used_at IS NULL OR last_used_at < $1)",
                    )
                    .bind(*at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn insert_provider(&self, p: &$crate::ProviderRow) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO providers (id, name, kind, endpoint, owner_id, config_json, \
                     secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.kind)
                .bind(&p.endpoint)
                .bind(&p.owner_id)
                .bind(&p.config_json)
                .bind(&p.secret_sealed)
                .bind(p.created_at)
                .bind(p.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::conflict_or(e, "provider"))?;
                Ok(())
            }

            async fn update_provider(&self, p: &$crate::ProviderRow) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE providers SET name = $1, kind = $2, endpoint = $3, owner_id = $4, \
                     config_json = $5, secret_sealed = $6, updated_at = $7 WHERE id = $8",
                )
                .bind(&p.name)
                .bind(&p.kind)
                .bind(&p.endpoint)
                .bind(&p.owner_id)
                .bind(&p.config_json)
                .bind(&p.secret_sealed)
                .bind(p.updated_at)
                .bind(&p.id)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::conflict_or(e, "provider"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_provider(&self, name: &str) -> $crate::StoreResult<bool> {
                let done = sqlx::query("DELETE FROM providers WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_providers(&self) -> $crate::StoreResult<Vec<$crate::ProviderRow>> {
                Ok(sqlx::query_as("SELECT * FROM providers ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_usage(
                &self,
                records: &[modelgate_core::usage::UsageRecord],
            ) -> $crate::StoreResult<()> {
                use $crate::sql_impl::to_i64;
                if records.is_empty() {
                    return Ok(());
                }
                // One multi-row INSERT per chunk: a batch costs one round trip to the
                // database, not one per record.
                let mut tx = self.pool.begin().await?;
                for chunk in records.chunks($crate::sql_impl::ROWS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new($crate::sql_impl::INSERT_USAGE_HEAD);
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.id)
                            .push_bind(&r.request_id)
                            .push_bind(r.created_at_ms)
                            .push_bind(&r.key_id)
                            .push_bind(&r.user_id)
                            .push_bind(&r.provider)
                            .push_bind(&r.model)
                            .push_bind(&r.api)
                            .push_bind(i64::from(r.stream))
                            .push_bind(to_i64(r.usage.input_tokens))
                            .push_bind(to_i64(r.usage.output_tokens))
                            .push_bind(to_i64(r.usage.cached_tokens))
                            .push_bind(i64::from(r.usage_estimated))
                            .push_bind(r.cost_micros)
                            .push_bind(i64::from(r.status))
                            .push_bind(r.outcome.as_str())
                            .push_bind(r.latency_ms)
                            .push_bind(r.ttft_ms)
                            .push_bind(&r.allocation_id)
                            .push_bind(to_i64(r.usage.cache_write_tokens))
                            .push_bind(to_i64(r.usage.reasoning_tokens));
                    });
                    q.push(" ON CONFLICT (id) DO NOTHING");
                    // Each batch size is its own SQL text: do not fill the per-connection
                    // statement cache with them.
                    q.build().persistent(false).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_usage(
                &self,
                f: &$crate::UsageFilter,
            ) -> $crate::StoreResult<Vec<modelgate_core::usage::UsageRecord>> {
                let rows: Vec<$crate::sql_impl::UsageRow> = sqlx::query_as(
                    "SELECT * FROM usage_records WHERE ($1 IS NULL OR user_id = $1) \
                     AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) \
                     ORDER BY created_at DESC, id LIMIT $4",
                )
                .bind(&f.user_id)
                .bind(f.since_ms)
                .bind(f.until_ms)
                .bind(if f.limit > 0 { f.limit } else { 1000 })
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn usage_report(
                &self,
                scope: &$crate::UsageScope,
                by: Option<$crate::UsageDimension>,
            ) -> $crate::StoreResult<Vec<$crate::UsageTotals>> {
                let sql = $crate::sql_impl::usage_report_sql(by);
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&scope.user_id)
                    .bind(scope.since_ms)
                    .bind(scope.until_ms)
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }

        $crate::sql_org::impl_org_store!($store);
        $crate::sql_chat::impl_chat_store!($store);
    };
}

pub(crate) use impl_store;
