//! AI keys, full lifecycle: create (the secret is returned this once; bound to an
//! allocation the owner may draw from; optional expiry, model allow-list, per-minute
//! limits and scopes, `inference` by default; never wider than the minting key, see
//! [`super::key_bounds`]), list (with created, expires, last used, allocation, scopes;
//! filtered by text), and revoke (that key only, dropped from the auth cache at once; the
//! keys it minted are independent and keep working). Admins may mint a key for another
//! user.

use super::key_bounds::{self, Asked};
use crate::api::{parse_time, require_admin, rfc3339};
use crate::auth::Principal;
use crate::directory::Directory;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::{Scopes, keys, now_millis};
use modelgate_store::{ApiKeyRow, User};
use serde::{Deserialize, Serialize};

/// `POST /api/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub name: Option<String>,
    /// The allocation's name.
    #[serde(default)]
    pub allocation: Option<String>,
    #[serde(default)]
    pub expires_at: Option<serde_json::Value>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Requests per minute for this key.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per minute for this key.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Scope names (`inference`, `management`); `["inference"]` when omitted.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `GET /api/keys` query.
#[derive(Debug, Default, Deserialize)]
pub struct KeyQuery {
    /// Case-insensitive text matched against name, id, prefix, user and allocation.
    #[serde(default)]
    pub q: Option<String>,
    /// Admins: only this user's keys.
    #[serde(default)]
    pub user: Option<String>,
    /// Admins: everyone's keys (the default for admins; kept for clarity in scripts).
    #[serde(default)]
    pub all: Option<bool>,
    /// Include revoked keys (default true).
    #[serde(default)]
    pub revoked: Option<bool>,
}

/// A key as listed: never the secret, only its display prefix.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub user_id: String,
    pub user: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    /// The allocation's name.
    pub allocation: Option<String>,
    pub models: Option<Vec<String>>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    /// What the key may be used for: `inference`, `management`.
    pub scopes: Scopes,
}

/// The answer to a create: the view plus the secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
}

fn view(k: &ApiKeyRow, org: &Directory, now: i64) -> KeyView {
    let status = if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else {
        "active"
    };
    KeyView {
        id: k.id.clone(),
        name: k.name.clone(),
        prefix: k.display_prefix.clone(),
        user_id: k.user_id.clone(),
        user: org.user_name(&k.user_id).to_owned(),
        created_at: rfc3339(k.created_at),
        expires_at: k.expires_at.map(rfc3339),
        last_used_at: k.last_used_at.map(rfc3339),
        revoked_at: k.revoked_at.map(rfc3339),
        status,
        allocation: k.allocation_id.as_ref().map(|id| {
            org.allocations
                .get(id)
                .map_or_else(|| id.clone(), |a| a.name.clone())
        }),
        models: k
            .models_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok()),
        rpm: k.rpm,
        tpm: k.tpm,
        scopes: Scopes::from_stored(&k.scopes),
    }
}

fn matches(v: &KeyView, needle: &str) -> bool {
    [
        Some(v.name.as_str()),
        Some(v.id.as_str()),
        Some(v.prefix.as_str()),
        Some(v.user.as_str()),
        v.allocation.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|h| h.to_lowercase().contains(needle))
}

/// The fields of a new key that need no directory to check.
struct Checked {
    name: String,
    expires_at: Option<i64>,
    scopes: Scopes,
}

/// Checks the name, expiry, allow-list and scope names of a new key (400 naming the field).
fn checked(spec: &CreateKey, now: i64) -> Result<Checked, GatewayError> {
    let name = spec.name.clone().unwrap_or_else(|| "default".to_owned());
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(
            GatewayError::bad_request("name must be 1-128 printable characters").with_param("name"),
        );
    }
    let expires_at = spec.expires_at.as_ref().map(parse_time).transpose()?;
    if expires_at.is_some_and(|t| t <= now) {
        return Err(
            GatewayError::bad_request("expires_at must be in the future").with_param("expires_at"),
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
    let scopes = match &spec.scopes {
        None => Scopes::INFERENCE,
        Some(names) => Scopes::from_names(names).map_err(|e| {
            GatewayError::bad_request(e.to_string())
                .with_param("scopes")
                .with_code("invalid_scope")
        })?,
    };
    Ok(Checked {
        name,
        expires_at,
        scopes,
    })
}

impl Organization {
    /// Creates a key for the caller.
    pub async fn create_key(
        &self,
        who: &Principal,
        spec: CreateKey,
    ) -> Result<CreatedKey, GatewayError> {
        let org = self.directory();
        let user = org
            .users
            .get(&who.user_id)
            .cloned()
            .ok_or_else(|| GatewayError::not_found("your user no longer exists"))?;
        let must_draw = !who.is_admin() && org.settings.require_allocation;
        self.mint_key(who, &user, spec, must_draw).await
    }

    /// Creates a key for the user `user_name` (admins only).
    pub async fn create_key_for(
        &self,
        who: &Principal,
        user_name: &str,
        spec: CreateKey,
    ) -> Result<CreatedKey, GatewayError> {
        require_admin(who)?;
        let user = self
            .directory()
            .user_by_name(user_name)
            .cloned()
            .ok_or_else(|| GatewayError::not_found(format!("no user named '{user_name}'")))?;
        self.mint_key(who, &user, spec, false).await
    }

    /// Mints a key for `user`, at most as wide as the minting key `minter` (when it is a
    /// key). With `must_draw`, a key without an allocation takes the user's only drawable
    /// one, must name one when there are several, and is unbudgeted only when the user has
    /// none at all (no budget to step around).
    async fn mint_key(
        &self,
        minter: &Principal,
        user: &User,
        spec: CreateKey,
        must_draw: bool,
    ) -> Result<CreatedKey, GatewayError> {
        if user.deactivated_at.is_some() {
            return Err(GatewayError::forbidden(format!(
                "user '{}' is deactivated",
                user.name
            )));
        }
        // The clock key expiry is checked against (auth.rs).
        let now = self.clock.now_millis();
        let Checked {
            name,
            expires_at,
            scopes,
        } = checked(&spec, now)?;
        let org = self.directory();
        let minter_allocation = minter
            .allocation_id
            .as_ref()
            .and_then(|id| org.allocations.get(id))
            .map(|a| a.name.as_str());
        let allocation = key_bounds::check(
            minter,
            minter_allocation,
            Asked {
                scopes,
                models: spec.models.as_deref(),
                expires_at,
                allocation: spec.allocation.as_deref(),
                rpm: spec.rpm,
                tpm: spec.tpm,
            },
        )?;
        let groups = org.groups_of(&user.id);
        let allocation_id =
            org.choose_allocation(user, &groups, allocation.as_deref(), must_draw)?;
        if !minter.is_session()
            && minter.allocation_id.is_some()
            && allocation_id != minter.allocation_id
        {
            return Err(GatewayError::forbidden(
                "The key this key mints must draw from the same allocation.",
            )
            .with_code("wider_than_minting_key")
            .with_param("allocation"));
        }
        let minted = keys::generate();
        let row = ApiKeyRow {
            id: new_id("key"),
            user_id: user.id.clone(),
            name,
            key_hash: minted.hash.as_str().to_owned(),
            display_prefix: minted.display_prefix,
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            allocation_id,
            models_json: spec
                .models
                .map(|m| serde_json::to_string(&m).unwrap_or_default()),
            rpm: spec.rpm.map(i64::from),
            tpm: spec.tpm.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
            scopes: scopes.to_stored(),
        };
        self.store.insert_key(&row).await?;
        // A guess at this very key made before it existed is not remembered as unknown.
        self.auth.invalidate(&row.key_hash);
        Ok(CreatedKey {
            view: view(&row, &org, now),
            key: minted.plaintext,
        })
    }

    /// The caller's keys; admins see everyone's (or one user's).
    pub async fn list_keys(
        &self,
        who: &Principal,
        q: &KeyQuery,
    ) -> Result<Vec<KeyView>, GatewayError> {
        let org = self.directory();
        let scope =
            if who.is_admin() {
                match &q.user {
                    Some(name) => Some(org.user_by_name(name).map(|u| u.id.clone()).ok_or_else(
                        || GatewayError::not_found(format!("no user named '{name}'")),
                    )?),
                    None => None,
                }
            } else {
                Some(who.user_id.clone())
            };
        let needle = q.q.as_deref().map(str::to_lowercase).unwrap_or_default();
        let now = self.clock.now_millis();
        Ok(self
            .store
            .list_keys(scope.as_deref())
            .await?
            .iter()
            .filter(|k| q.revoked.unwrap_or(true) || k.revoked_at.is_none())
            .map(|k| view(k, &org, now))
            .filter(|v| needle.is_empty() || matches(v, &needle))
            .collect())
    }

    /// Revokes a key of the caller (any key for admins). Unknown and foreign keys are
    /// both "not found". Only that key stops working: keys are not chained, so the keys
    /// it minted, and the one that minted it, are untouched.
    pub async fn revoke_key(&self, who: &Principal, id: &str) -> Result<(), GatewayError> {
        let scope = (!who.is_admin()).then_some(who.user_id.as_str());
        let hash = self
            .store
            .revoke_key(id, scope, now_millis())
            .await?
            .ok_or_else(|| GatewayError::not_found(format!("no active key with id '{id}'")))?;
        self.auth.invalidate(&hash);
        modelgate_cluster::notify(self.shared.as_deref(), modelgate_cluster::Notice::Key(hash))
            .await;
        Ok(())
    }
}
