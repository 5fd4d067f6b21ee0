//! Users (admins only): create, list, read, update (role, password, per-minute limits),
//! deactivate and reactivate. Deactivating a user stops all of their keys and sessions at
//! once (the auth cache is dropped with every change). An admin cannot deactivate or demote
//! themselves, so the org is never left without the admin who made the change.

use crate::api::{double_option, require_admin, rfc3339, valid_slug};
use crate::auth::Principal;
use crate::directory::Directory;
use crate::organization::Organization;
use crate::password;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::{Role, now_millis};
use modelgate_store::User;
use serde::{Deserialize, Serialize};

/// `POST /api/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub tpm: Option<u64>,
}

/// `PATCH /api/users/{name}`: absent fields stay; `rpm`/`tpm` `null` removes the limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub rpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tpm: Option<Option<u64>>,
    #[serde(default)]
    pub deactivated: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub created_at: String,
    pub deactivated_at: Option<String>,
    pub groups: Vec<String>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub has_password: bool,
}

pub fn user_view(u: &User, org: &Directory) -> UserView {
    let mut groups: Vec<String> = org
        .groups_of(&u.id)
        .iter()
        .map(|g| org.group_name(g).to_owned())
        .collect();
    groups.sort();
    UserView {
        id: u.id.clone(),
        name: u.name.clone(),
        role: u.role().as_str(),
        created_at: rfc3339(u.created_at),
        deactivated_at: u.deactivated_at.map(rfc3339),
        groups,
        rpm: u.rpm,
        tpm: u.tpm,
        has_password: u.password_hash.is_some(),
    }
}

pub(super) fn parse_role(role: &str) -> Result<Role, GatewayError> {
    Role::parse(role).ok_or_else(|| {
        GatewayError::bad_request("role must be 'admin' or 'member'").with_param("role")
    })
}

pub(super) fn hash_password(p: &str) -> Result<String, GatewayError> {
    if !(password::MIN_LEN..=password::MAX_LEN).contains(&p.chars().count()) {
        return Err(GatewayError::bad_request(format!(
            "password must be {}-{} characters",
            password::MIN_LEN,
            password::MAX_LEN
        ))
        .with_param("password"));
    }
    password::hash(p).map_err(GatewayError::internal)
}

pub(super) fn to_limit<T: TryInto<i64>>(v: Option<T>) -> Option<i64> {
    v.map(|n| n.try_into().unwrap_or(i64::MAX))
}

impl Organization {
    pub(crate) fn user_named(&self, name: &str) -> Result<User, GatewayError> {
        self.directory()
            .user_by_name(name)
            .cloned()
            .ok_or_else(|| GatewayError::not_found(format!("no user named '{name}'")))
    }

    pub async fn create_user(
        &self,
        who: &Principal,
        spec: CreateUser,
    ) -> Result<UserView, GatewayError> {
        require_admin(who)?;
        if !valid_slug(&spec.name) {
            return Err(GatewayError::bad_request(
                "name must be 1-64 characters of letters, digits, '-' and '_'",
            )
            .with_param("name"));
        }
        let role = parse_role(spec.role.as_deref().unwrap_or("member"))?;
        let password_hash = spec.password.as_deref().map(hash_password).transpose()?;
        let user = User {
            id: new_id("usr"),
            name: spec.name,
            role: role.as_str().to_owned(),
            password_hash,
            created_at: now_millis(),
            deactivated_at: None,
            rpm: to_limit(spec.rpm),
            tpm: to_limit(spec.tpm),
        };
        self.store.insert_user(&user).await?;
        self.reload_org().await?;
        Ok(user_view(&user, &self.directory()))
    }

    pub fn list_users(&self, who: &Principal) -> Result<Vec<UserView>, GatewayError> {
        require_admin(who)?;
        let org = self.directory();
        let mut users: Vec<UserView> = org.users.values().map(|u| user_view(u, &org)).collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    pub fn get_user(&self, who: &Principal, name: &str) -> Result<UserView, GatewayError> {
        if who.user_name != name {
            require_admin(who)?;
        }
        Ok(user_view(&self.user_named(name)?, &self.directory()))
    }

    pub async fn update_user(
        self: &std::sync::Arc<Self>,
        who: &Principal,
        name: &str,
        patch: UpdateUser,
    ) -> Result<UserView, GatewayError> {
        require_admin(who)?;
        let mut user = self.user_named(name)?;
        let old_role = user.role.clone();
        let is_self = user.id == who.user_id;
        if let Some(role) = &patch.role {
            let role = parse_role(role)?;
            if is_self && role != Role::Admin {
                return Err(GatewayError::bad_request("you cannot demote yourself"));
            }
            user.role = role.as_str().to_owned();
        }
        if let Some(p) = &patch.password {
            user.password_hash = Some(hash_password(p)?);
        }
        if let Some(rpm) = patch.rpm {
            user.rpm = to_limit(rpm);
        }
        if let Some(tpm) = patch.tpm {
            user.tpm = to_limit(tpm);
        }
        match patch.deactivated {
            Some(true) if is_self => {
                return Err(GatewayError::bad_request("you cannot deactivate yourself"));
            }
            Some(true) => user.deactivated_at = user.deactivated_at.or(Some(now_millis())),
            Some(false) => user.deactivated_at = None,
            None => {}
        }
        if !self.store.update_user(&user).await? {
            return Err(GatewayError::not_found(format!("no user named '{name}'")));
        }
        if patch.password.is_some() {
            // A new password ends every session signed in with the old one.
            self.store.delete_sessions_of(&user.id).await?;
        }
        self.reload_org().await?;
        if user.role != old_role {
            // The upstream policy of the user's providers follows their role.
            self.providers_changed().await?;
        }
        Ok(user_view(&user, &self.directory()))
    }
}
