//! Sign-in for people: name and password (argon2id) → a session. The session id is a
//! 256-bit random cookie value stored only as its SHA-256; each session has a CSRF token
//! that unsafe requests made with the cookie must echo in `x-csrf-token` (the server
//! checks it). Sessions last [`SESSION_TTL_MS`]; deactivating the user ends them.

use super::users::{UserView, user_view};
use crate::auth::Principal;
use crate::organization::Organization;
use crate::password;
use modelgate_core::GatewayError;
use modelgate_core::{ErrorKind, ids, keys, now_millis};
use modelgate_store::SessionRow;
use serde::{Deserialize, Serialize};

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// A new session: the cookie value (secret) and what the page may read.
#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    #[serde(skip)]
    pub cookie: String,
    pub user: UserView,
    pub csrf_token: String,
    pub expires_at: String,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    ids::fill_random(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bad_credentials() -> GatewayError {
    GatewayError::new(ErrorKind::Unauthorized, "Incorrect user name or password.")
        .with_code("invalid_credentials")
}

impl Organization {
    pub async fn sign_in(&self, spec: SignIn) -> Result<SignedIn, GatewayError> {
        let org = self.directory();
        let user = org.user_by_name(&spec.name).cloned();
        let stored = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::decoy().to_owned());
        let pw = spec.password.clone();
        // argon2 is deliberately slow: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        let user = match user {
            Some(u) if ok && u.password_hash.is_some() => u,
            _ => return Err(bad_credentials()),
        };
        if user.deactivated_at.is_some() {
            return Err(GatewayError::key_unusable(
                "This user has been deactivated.",
                "user_deactivated",
            ));
        }
        let cookie = random_token();
        let now = now_millis();
        let row = SessionRow {
            id_hash: keys::hash(&cookie).as_str().to_owned(),
            user_id: user.id.clone(),
            csrf_token: random_token(),
            created_at: now,
            expires_at: now + SESSION_TTL_MS,
        };
        self.store.insert_session(&row).await?;
        // Sessions that expired are deleted as people sign in, so the table holds live
        // sessions only.
        self.store.purge_sessions(now).await?;
        Ok(SignedIn {
            cookie,
            user: user_view(&user, &org),
            csrf_token: row.csrf_token,
            expires_at: crate::api::rfc3339(row.expires_at),
        })
    }

    /// The principal of a session cookie, if the session is live.
    pub async fn session_principal(&self, cookie: &str) -> Result<Principal, GatewayError> {
        let hash = keys::hash(cookie);
        let row = self
            .store
            .session_by_hash(hash.as_str())
            .await?
            .filter(|s| s.expires_at > now_millis())
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::Unauthorized,
                    "Your session has ended; sign in again.",
                )
                .with_code("session_expired")
            })?;
        let org = self.directory();
        let user = org
            .users
            .get(&row.user_id)
            .filter(|u| u.deactivated_at.is_none())
            .ok_or_else(|| {
                GatewayError::key_unusable("This user has been deactivated.", "user_deactivated")
            })?;
        Ok(Principal::for_session(
            user,
            org.groups_of(&user.id),
            row.csrf_token,
        ))
    }

    /// The principal of a browser session calling the model API (`/v1/*`, the chat
    /// page): the allocation named (`x-modelgate-allocation`), else chosen as for a key
    /// the user creates, so a session can never step around the user's budget.
    pub async fn session_model_principal(
        &self,
        cookie: &str,
        allocation: Option<&str>,
    ) -> Result<Principal, GatewayError> {
        let mut principal = self.session_principal(cookie).await?;
        let org = self.directory();
        let user = org
            .users
            .get(&principal.user_id)
            .ok_or_else(|| GatewayError::not_found("your user no longer exists"))?;
        let must_draw = !principal.is_admin() && org.settings.require_allocation;
        principal.allocation_id =
            org.choose_allocation(user, &principal.groups, allocation, must_draw)?;
        Ok(principal)
    }

    pub async fn sign_out(&self, cookie: &str) -> Result<(), GatewayError> {
        self.store
            .delete_session(keys::hash(cookie).as_str())
            .await?;
        Ok(())
    }
}
