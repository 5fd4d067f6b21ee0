//! The web UI's chat conversations (`/api/conversations`): kept server-side per user, each
//! bound to a provider and model. The browser streams answers from `/v1/chat/completions`
//! itself and records both sides here. A conversation whose provider the user can no
//! longer use (revoked share, deleted provider, stopped sharing) stays readable but takes
//! no new messages (`writable: false`, 409 `conversation_read_only`).

use super::rfc3339;
use crate::providers::Providers;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::{ErrorKind, now_millis};
use modelgate_org::auth::Principal;
use modelgate_store::{Conversation, ConversationMessage};
use serde::{Deserialize, Serialize};

/// Most conversations listed.
const LIST_LIMIT: i64 = 200;
/// Longest message kept (bytes).
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The body of `POST /api/conversations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    #[serde(default)]
    title: Option<String>,
    provider: String,
    model: String,
}

/// The body of `PATCH /api/conversations/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    title: String,
}

/// The body of `POST /api/conversations/{id}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    role: String,
    content: String,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub role: String,
    pub content: String,
    pub error: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: String,
    pub title: String,
    pub provider: String,
    pub model: String,
    pub created_at: String,
    pub updated_at: String,
    /// Whether its provider is still usable by its owner (else it is read-only).
    pub writable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageView>>,
}

fn no_conversation() -> GatewayError {
    GatewayError::not_found("no such conversation")
}

fn clean_title(title: &str) -> Result<String, GatewayError> {
    let title: String = title
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if title.is_empty() {
        return Err(GatewayError::bad_request("title must not be empty").with_param("title"));
    }
    Ok(title)
}

impl Providers {
    /// Whether `who` may still use the conversation's provider (else it is read-only).
    fn writable(&self, who: &Principal, c: &Conversation) -> bool {
        self.visible_provider(who, &c.provider).is_ok()
    }

    fn conversation_view(&self, who: &Principal, c: Conversation) -> ConversationView {
        let writable = self.writable(who, &c);
        ConversationView {
            id: c.id,
            title: c.title,
            provider: c.provider,
            model: c.model,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            writable,
            messages: None,
        }
    }

    /// The caller's own conversation (404 for anyone else's).
    async fn own_conversation(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Conversation, GatewayError> {
        self.store
            .conversation(id)
            .await?
            .filter(|c| c.user_id == who.user_id)
            .ok_or_else(no_conversation)
    }

    pub async fn create_conversation(
        &self,
        who: &Principal,
        spec: NewConversation,
    ) -> Result<ConversationView, GatewayError> {
        self.visible_provider(who, &spec.provider)
            .map_err(|e| e.with_param("provider"))?;
        if spec.model.trim().is_empty() || spec.model.len() > 256 {
            return Err(GatewayError::bad_request("model must be a model id").with_param("model"));
        }
        let now = now_millis();
        let c = Conversation {
            id: new_id("cnv"),
            user_id: who.user_id.clone(),
            title: clean_title(spec.title.as_deref().unwrap_or("New conversation"))?,
            provider: spec.provider,
            model: spec.model,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_conversation(&c).await?;
        let mut view = self.conversation_view(who, c);
        view.messages = Some(Vec::new());
        Ok(view)
    }

    pub async fn list_conversations(
        &self,
        who: &Principal,
    ) -> Result<Vec<ConversationView>, GatewayError> {
        let rows = self
            .store
            .list_conversations(&who.user_id, LIST_LIMIT)
            .await?;
        Ok(rows
            .into_iter()
            .map(|c| self.conversation_view(who, c))
            .collect())
    }

    pub async fn get_conversation(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<ConversationView, GatewayError> {
        let c = self.own_conversation(who, id).await?;
        let messages = self.store.messages(&c.id).await?;
        let mut view = self.conversation_view(who, c);
        view.messages = Some(
            messages
                .into_iter()
                .map(|m| MessageView {
                    role: m.role,
                    content: m.content,
                    error: m.error,
                    created_at: rfc3339(m.created_at),
                })
                .collect(),
        );
        Ok(view)
    }

    pub async fn rename_conversation(
        &self,
        who: &Principal,
        id: &str,
        spec: Rename,
    ) -> Result<ConversationView, GatewayError> {
        let c = self.own_conversation(who, id).await?;
        let title = clean_title(&spec.title)?;
        self.store
            .rename_conversation(&c.id, &title, now_millis())
            .await?;
        self.get_conversation(who, id).await
    }

    pub async fn delete_conversation(&self, who: &Principal, id: &str) -> Result<(), GatewayError> {
        let c = self.own_conversation(who, id).await?;
        self.store.delete_conversation(&c.id).await?;
        Ok(())
    }

    /// Appends a message; refused once the provider is no longer usable.
    pub async fn append_message(
        &self,
        who: &Principal,
        id: &str,
        spec: NewMessage,
    ) -> Result<MessageView, GatewayError> {
        if spec.role != "user" && spec.role != "assistant" {
            return Err(
                GatewayError::bad_request("role must be 'user' or 'assistant'").with_param("role"),
            );
        }
        if spec.content.len() > MAX_MESSAGE_BYTES {
            return Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                "a message may hold at most 1 MiB",
            ));
        }
        let c = self.own_conversation(who, id).await?;
        if !self.writable(who, &c) {
            return Err(GatewayError::new(
                ErrorKind::Conflict,
                format!(
                    "this conversation is read-only: provider '{}' is no longer available to you",
                    c.provider
                ),
            )
            .with_code("conversation_read_only"));
        }
        let now = now_millis();
        let m = ConversationMessage {
            id: new_id("msg"),
            conversation_id: c.id,
            seq: 0,
            role: spec.role,
            content: spec.content,
            error: spec
                .error
                .map(|e| e.chars().take(500).collect::<String>())
                .filter(|e| !e.is_empty()),
            created_at: now,
        };
        self.store.append_message(&m).await?;
        Ok(MessageView {
            role: m.role,
            content: m.content,
            error: m.error,
            created_at: rfc3339(now),
        })
    }
}
