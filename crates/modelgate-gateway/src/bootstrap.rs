//! First start: on an empty store, create the `admin` user and its first key — the
//! operator's `MODELGATE_BOOTSTRAP_ADMIN_KEY` if set (refused if shorter than 24
//! characters), else a random key the caller prints once. That key has every scope
//! (inference and management): it is how the operator manages the gateway.

use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::keys::{self, MIN_BOOTSTRAP_KEY_LEN};
use modelgate_core::{Role, Scopes, now_millis};
use modelgate_store::{ApiKeyRow, Store, User};

#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The store already had users; nothing was done.
    AlreadyInitialised,
    /// The admin was created with the operator's key.
    CreatedWithGivenKey,
    /// The admin was created with this random key, to be shown once.
    CreatedWithRandomKey(String),
}

/// Refuses weak operator keys before anything is written.
pub fn check_bootstrap_key(key: &str) -> Result<(), GatewayError> {
    if key.len() < MIN_BOOTSTRAP_KEY_LEN || !keys::is_plausible(key) {
        return Err(GatewayError::bad_request(format!(
            "MODELGATE_BOOTSTRAP_ADMIN_KEY must be at least {MIN_BOOTSTRAP_KEY_LEN} printable characters without spaces"
        )));
    }
    Ok(())
}

pub async fn bootstrap(
    store: &dyn Store,
    given_key: Option<&str>,
) -> Result<Bootstrap, GatewayError> {
    if let Some(k) = given_key {
        check_bootstrap_key(k)?;
    }
    if store.count_users().await? > 0 {
        return Ok(Bootstrap::AlreadyInitialised);
    }
    let now = now_millis();
    let admin = User {
        id: new_id("usr"),
        name: "admin".into(),
        role: Role::Admin.as_str().into(),
        password_hash: None,
        created_at: now,
        deactivated_at: None,
        rpm: None,
        tpm: None,
    };
    store.insert_user(&admin).await?;
    let minted = match given_key {
        Some(k) => keys::from_plaintext(k.to_owned()),
        None => keys::generate(),
    };
    store
        .insert_key(&ApiKeyRow {
            id: new_id("key"),
            user_id: admin.id,
            name: "bootstrap".into(),
            key_hash: minted.hash.as_str().to_owned(),
            display_prefix: minted.display_prefix,
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            allocation_id: None,
            models_json: None,
            rpm: None,
            tpm: None,
            // The operator's key: `modelgate admin` and scripts manage the gateway with it.
            scopes: Scopes::ALL.to_stored(),
        })
        .await?;
    Ok(match given_key {
        Some(_) => Bootstrap::CreatedWithGivenKey,
        None => Bootstrap::CreatedWithRandomKey(minted.plaintext),
    })
}
