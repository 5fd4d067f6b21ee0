//! The SQL of [`crate::ChatStore`], written once for both backends (see [`crate::sql_impl`]
//! for the conventions).

/// Implements [`crate::ChatStore`] for a backend type with a `pool` field.
macro_rules! impl_chat_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::ChatStore for $store {
            async fn insert_conversation(
                &self,
                c: &$crate::Conversation,
            ) -> $crate::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO conversations (id, user_id, title, provider, model, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.id)
                .bind(&c.user_id)
                .bind(&c.title)
                .bind(&c.provider)
                .bind(&c.model)
                .bind(c.created_at)
                .bind(c.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_conversations(
                &self,
                user_id: &str,
                limit: i64,
            ) -> $crate::StoreResult<Vec<$crate::Conversation>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM conversations WHERE user_id = $1 \
                     ORDER BY updated_at DESC, id DESC LIMIT $2",
                )
                .bind(user_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn conversation(
                &self,
                id: &str,
            ) -> $crate::StoreResult<Option<$crate::Conversation>> {
                Ok(sqlx::query_as("SELECT * FROM conversations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn rename_conversation(
                &self,
                id: &str,
                title: &str,
                at_ms: i64,
            ) -> $crate::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE conversations SET title = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(title)
                .bind(at_ms)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_conversation(&self, id: &str) -> $crate::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM conversation_messages WHERE conversation_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM conversations WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn append_message(
                &self,
                m: &$crate::ConversationMessage,
            ) -> $crate::StoreResult<i64> {
                let mut tx = self.pool.begin().await?;
                // Write first: on SQLite a transaction that reads before it writes cannot
                // wait for the lock (it fails with "database is locked"); one that starts by
                // writing waits its busy timeout like any writer.
                sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                    .bind(m.created_at)
                    .bind(&m.conversation_id)
                    .execute(&mut *tx)
                    .await?;
                let (seq,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM conversation_messages \
                     WHERE conversation_id = $1",
                )
                .bind(&m.conversation_id)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO conversation_messages \
                     (id, conversation_id, seq, role, content, error, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&m.id)
                .bind(&m.conversation_id)
                .bind(seq)
                .bind(&m.role)
                .bind(&m.content)
                .bind(&m.error)
                .bind(m.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn messages(
                &self,
                conversation_id: &str,
            ) -> $crate::StoreResult<Vec<$crate::ConversationMessage>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq",
                )
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(crate) use impl_chat_store;
