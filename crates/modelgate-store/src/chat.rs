//! The chat part of the store contract: the web UI's conversations and their messages,
//! kept per user. SQL in [`crate::sql_chat`].

use crate::StoreResult;
use async_trait::async_trait;

/// A conversation of the web UI's chat, with the provider and model it talks to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Conversation {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub provider: String,
    pub model: String,
    pub created_at: i64,
    /// When it was created, renamed or last given a message.
    pub updated_at: i64,
}

/// One message of a conversation; `seq` orders them (1, 2, …).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationMessage {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// Why an answer is incomplete (stopped, failed), if it is.
    pub error: Option<String>,
    pub created_at: i64,
}

#[async_trait]
pub trait ChatStore: Send + Sync {
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<()>;
    /// A user's conversations, most recently updated first.
    async fn list_conversations(&self, user_id: &str, limit: i64)
    -> StoreResult<Vec<Conversation>>;
    async fn conversation(&self, id: &str) -> StoreResult<Option<Conversation>>;
    async fn rename_conversation(&self, id: &str, title: &str, at_ms: i64) -> StoreResult<bool>;
    /// Deletes a conversation with its messages.
    async fn delete_conversation(&self, id: &str) -> StoreResult<bool>;
    /// Appends a message after the last one (its `seq` is chosen here and returned) and
    /// marks the conversation updated.
    async fn append_message(&self, message: &ConversationMessage) -> StoreResult<i64>;
    /// A conversation's messages in order.
    async fn messages(&self, conversation_id: &str) -> StoreResult<Vec<ConversationMessage>>;
}
