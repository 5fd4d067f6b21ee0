//! AI keys (minimal lifecycle): create (the secret is returned this once), list, revoke.
//! Admins may mint a key for another user. Revocation drops the key from the auth cache
//! at once.

use super::{parse_json, parse_time, require_admin, rfc3339};
use crate::auth::Principal;
use crate::{Gateway, GatewayError};
use modelgate_core::ids::new_id;
use modelgate_core::{keys, now_millis};
use modelgate_store::ApiKeyRow;
use serde::{Deserialize, Serialize};

/// `POST /api/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub allocation: Option<String>,
    #[serde(default)]
    pub expires_at: Option<serde_json::Value>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

/// A key as listed: never the secret, only its display prefix.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub user_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub allocation: Option<String>,
    pub models: Option<Vec<String>>,
}

/// The answer to a create: the view plus the secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
}

impl From<&ApiKeyRow> for KeyView {
    fn from(k: &ApiKeyRow) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.display_prefix.clone(),
            user_id: k.user_id.clone(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
            allocation: k.allocation_id.clone(),
            models: k
                .models_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
        }
    }
}

impl Gateway {
    /// Creates a key for the caller.
    pub async fn create_key(
        &self,
        who: &Principal,
        body: &[u8],
    ) -> Result<CreatedKey, GatewayError> {
        let spec: CreateKey = parse_json(body)?;
        self.mint_key(&who.user_id, spec).await
    }

    /// Creates a key for the user `user_name` (admins only).
    pub async fn create_key_for(
        &self,
        who: &Principal,
        user_name: &str,
        body: &[u8],
    ) -> Result<CreatedKey, GatewayError> {
        require_admin(who)?;
        let spec: CreateKey = parse_json(body)?;
        let user = self
            .store
            .user_by_name(user_name)
            .await?
            .ok_or_else(|| GatewayError::not_found(format!("no user named '{user_name}'")))?;
        self.mint_key(&user.id, spec).await
    }

    async fn mint_key(&self, user_id: &str, spec: CreateKey) -> Result<CreatedKey, GatewayError> {
        if spec.allocation.is_some() {
            return Err(GatewayError::bad_request(
                "budget allocations are not available in this version; omit 'allocation'",
            )
            .with_param("allocation"));
        }
        let name = spec.name.unwrap_or_else(|| "default".to_owned());
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(
                GatewayError::bad_request("name must be 1-128 printable characters")
                    .with_param("name"),
            );
        }
        let now = now_millis();
        let expires_at = spec.expires_at.as_ref().map(parse_time).transpose()?;
        if expires_at.is_some_and(|t| t <= now) {
            return Err(
                GatewayError::bad_request("expires_at must be in the future")
                    .with_param("expires_at"),
            );
        }
        if let Some(models) = &spec.models
            && (models.is_empty() || models.iter().any(|m| m.trim().is_empty()))
        {
            return Err(
                GatewayError::bad_request("models must be a non-empty list of model ids")
                    .with_param("models"),
            );
        }
        let minted = keys::generate();
        let row = ApiKeyRow {
            id: new_id("key"),
            user_id: user_id.to_owned(),
            name,
            key_hash: minted.hash.as_str().to_owned(),
            display_prefix: minted.display_prefix,
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            allocation_id: None,
            models_json: spec
                .models
                .map(|m| serde_json::to_string(&m).unwrap_or_default()),
        };
        self.store.insert_key(&row).await?;
        Ok(CreatedKey {
            view: KeyView::from(&row),
            key: minted.plaintext,
        })
    }

    /// The caller's keys; admins see everyone's.
    pub async fn list_keys(&self, who: &Principal) -> Result<Vec<KeyView>, GatewayError> {
        let scope = (!who.is_admin()).then_some(who.user_id.as_str());
        Ok(self
            .store
            .list_keys(scope)
            .await?
            .iter()
            .map(KeyView::from)
            .collect())
    }

    /// Revokes a key of the caller (any key for admins). Unknown and foreign keys are
    /// both "not found".
    pub async fn revoke_key(&self, who: &Principal, id: &str) -> Result<(), GatewayError> {
        let scope = (!who.is_admin()).then_some(who.user_id.as_str());
        let hash = self
            .store
            .revoke_key(id, scope, now_millis())
            .await?
            .ok_or_else(|| GatewayError::not_found(format!("no active key with id '{id}'")))?;
        self.auth.invalidate(&hash);
        Ok(())
    }
}
