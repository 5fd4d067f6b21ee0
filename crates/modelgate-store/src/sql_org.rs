//! The SQL of [`crate::OrgStore`], written once for both backends (see [`crate::sql_impl`]
//! for the conventions).

/// Implements [`crate::OrgStore`] for a backend type with a `pool` field.
macro_rules! impl_org_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::OrgStore for $store {
            async fn user_by_id(&self, id: &str) -> $crate::StoreResult<Option<$crate::User>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_user(&self, u: &$crate::User) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE users SET role = $1, password_hash = $2, deactivated_at = $3, \
                     rpm = $4, tpm = $5 WHERE id = $6",
                )
                .bind(&u.role)
                .bind(&u.password_hash)
                .bind(u.deactivated_at)
                .bind(u.rpm)
                .bind(u.tpm)
                .bind(&u.id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_group(&self, g: &$crate::Group) -> $crate::StoreResult<()> {
                sqlx::query("INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&g.id)
                    .bind(&g.name)
                    .bind(g.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::conflict_or(e, "group"))?;
                Ok(())
            }

            async fn list_groups(&self) -> $crate::StoreResult<Vec<$crate::Group>> {
                Ok(sqlx::query_as("SELECT * FROM groups ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn delete_group(&self, id: &str) -> $crate::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let (owned,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM allocations WHERE owner_group_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                if owned > 0 {
                    return Err($crate::StoreError::InUse(
                        "an allocation owned by this group".into(),
                    ));
                }
                sqlx::query("DELETE FROM grants WHERE subject_kind = 'group' AND subject_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM groups WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn add_member(&self, group_id: &str, user_id: &str) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(group_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn remove_member(
                &self,
                group_id: &str,
                user_id: &str,
            ) -> $crate::StoreResult<bool> {
                let done =
                    sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                        .bind(group_id)
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_memberships(&self) -> $crate::StoreResult<Vec<(String, String)>> {
                Ok(
                    sqlx::query_as("SELECT group_id, user_id FROM group_members")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn put_grant(&self, g: &$crate::Grant) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO grants (permission, subject_kind, subject_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&g.permission)
                .bind(&g.subject_kind)
                .bind(&g.subject_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_grant(&self, g: &$crate::Grant) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM grants WHERE permission = $1 AND subject_kind = $2 \
                     AND subject_id = $3",
                )
                .bind(&g.permission)
                .bind(&g.subject_kind)
                .bind(&g.subject_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_grants(&self) -> $crate::StoreResult<Vec<$crate::Grant>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM grants ORDER BY permission, subject_kind, subject_id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn put_share(&self, s: &$crate::ShareRow) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO provider_shares (provider_id, grantee, group_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&s.provider_id)
                .bind(&s.grantee)
                .bind(&s.group_id)
                .bind(s.created_at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_share(
                &self,
                provider_id: &str,
                grantee: &str,
            ) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM provider_shares WHERE provider_id = $1 AND grantee = $2",
                )
                .bind(provider_id)
                .bind(grantee)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_shares(&self) -> $crate::StoreResult<Vec<$crate::ShareRow>> {
                Ok(
                    sqlx::query_as("SELECT * FROM provider_shares ORDER BY provider_id, grantee")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn insert_allocation(
                &self,
                a: &$crate::AllocationRow,
            ) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO allocations (id, name, owner_user_id, owner_group_id, \
                     limit_micros, period, created_at, max_in_flight) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&a.id)
                .bind(&a.name)
                .bind(&a.owner_user_id)
                .bind(&a.owner_group_id)
                .bind(a.limit_micros)
                .bind(&a.period)
                .bind(a.created_at)
                .bind(a.max_in_flight)
                .execute(&self.pool)
                .await
                .map_err(|e| $crate::conflict_or(e, "allocation"))?;
                Ok(())
            }

            async fn update_allocation(
                &self,
                a: &$crate::AllocationRow,
            ) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE allocations SET limit_micros = $1, period = $2, max_in_flight = $3 \
                     WHERE id = $4",
                )
                .bind(a.limit_micros)
                .bind(&a.period)
                .bind(a.max_in_flight)
                .bind(&a.id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_allocation(&self, id: &str) -> $crate::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let (bound,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM api_keys WHERE allocation_id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if bound > 0 {
                    return Err($crate::StoreError::InUse(
                        "a live key bound to this allocation".into(),
                    ));
                }
                let done = sqlx::query("DELETE FROM allocations WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_allocations(&self) -> $crate::StoreResult<Vec<$crate::AllocationRow>> {
                Ok(sqlx::query_as("SELECT * FROM allocations ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn allocation_spent(
                &self,
                allocation_id: &str,
                since_ms: i64,
            ) -> $crate::StoreResult<i64> {
                let (spent,): (Option<i64>,) = sqlx::query_as(
                    "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_records \
                     WHERE allocation_id = $1 AND created_at >= $2",
                )
                .bind(allocation_id)
                .bind(since_ms)
                .fetch_one(&self.pool)
                .await?;
                Ok(spent.unwrap_or(0))
            }

            async fn insert_session(&self, s: &$crate::SessionRow) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&s.id_hash)
                .bind(&s.user_id)
                .bind(&s.csrf_token)
                .bind(s.created_at)
                .bind(s.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_by_hash(
                &self,
                id_hash: &str,
            ) -> $crate::StoreResult<Option<$crate::SessionRow>> {
                Ok(sqlx::query_as("SELECT * FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::StoreResult<bool> {
                let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_sessions_of(&self, user_id: &str) -> $crate::StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn purge_sessions(&self, now_ms: i64) -> $crate::StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn list_settings(&self) -> $crate::StoreResult<Vec<(String, String)>> {
                Ok(
                    sqlx::query_as("SELECT name, value FROM org_settings ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn put_virtual_model(
                &self,
                name: &str,
                models_json: &str,
                at_ms: i64,
            ) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO virtual_models (name, models_json, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET models_json = excluded.models_json",
                )
                .bind(name)
                .bind(models_json)
                .bind(at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_virtual_model(&self, name: &str) -> $crate::StoreResult<bool> {
                let done = sqlx::query("DELETE FROM virtual_models WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_virtual_models(&self) -> $crate::StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as("SELECT name, models_json FROM virtual_models ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn put_setting(&self, name: &str, value: &str) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO org_settings (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(value)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_org_store;
