//! The organization declared in the config file (GitOps), applied at every start before
//! the providers it declares: users (created, or their role, password and limits
//! updated), groups (with exactly the members listed) and allocations (created, or their
//! limit and period updated). Nothing that is not in the file is removed.

use crate::allocations::{CreateAllocation, micros, period_of};
use crate::api::valid_slug;
use crate::organization::Organization;
use crate::users::{CreateUser, hash_password, parse_role, to_limit};
use modelgate_core::ids::new_id;
use modelgate_core::{GatewayError, now_millis};
use modelgate_store::{AllocationRow, Group, User};
use serde::Deserialize;

/// A group in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredGroup {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
}

fn invalid(what: &str, name: &str, why: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("{what} '{name}': {why}"))
}

impl Organization {
    /// Applies declared users, groups and allocations (before providers, whose shares may
    /// name the groups).
    pub async fn apply_declared_org(
        &self,
        users: &[CreateUser],
        groups: &[DeclaredGroup],
        allocations: &[CreateAllocation],
    ) -> Result<(), GatewayError> {
        for u in users {
            if !valid_slug(&u.name) {
                return Err(invalid("user", &u.name, "not a valid name"));
            }
            let in_user = |e: GatewayError| invalid("user", &u.name, e.message);
            let role = parse_role(u.role.as_deref().unwrap_or("member")).map_err(in_user)?;
            let password_hash = u
                .password
                .as_deref()
                .map(hash_password)
                .transpose()
                .map_err(in_user)?;
            match self.store.user_by_name(&u.name).await? {
                Some(mut existing) => {
                    existing.role = role.as_str().to_owned();
                    existing.password_hash = password_hash.or(existing.password_hash);
                    existing.rpm = to_limit(u.rpm);
                    existing.tpm = to_limit(u.tpm);
                    self.store.update_user(&existing).await?;
                }
                None => {
                    self.store
                        .insert_user(&User {
                            id: new_id("usr"),
                            name: u.name.clone(),
                            role: role.as_str().to_owned(),
                            password_hash,
                            created_at: now_millis(),
                            deactivated_at: None,
                            rpm: to_limit(u.rpm),
                            tpm: to_limit(u.tpm),
                        })
                        .await?;
                }
            }
        }
        self.reload_org().await?;
        for g in groups {
            if !valid_slug(&g.name) {
                return Err(invalid("group", &g.name, "not a valid name"));
            }
            let org = self.directory();
            let id = match org.group_by_name(&g.name) {
                Some(found) => found.id.clone(),
                None => {
                    let id = new_id("grp");
                    self.store
                        .insert_group(&Group {
                            id: id.clone(),
                            name: g.name.clone(),
                            created_at: now_millis(),
                        })
                        .await?;
                    id
                }
            };
            let mut wanted = Vec::new();
            for m in &g.members {
                let user = org
                    .user_by_name(m)
                    .ok_or_else(|| invalid("group", &g.name, format!("unknown member '{m}'")))?;
                wanted.push(user.id.clone());
            }
            for current in org.members.get(&id).cloned().unwrap_or_default() {
                if !wanted.contains(&current) {
                    self.store.remove_member(&id, &current).await?;
                }
            }
            for user_id in &wanted {
                self.store.add_member(&id, user_id).await?;
            }
        }
        self.reload_org().await?;
        for a in allocations {
            let org = self.directory();
            let (owner_user_id, owner_group_id) = match (&a.user, &a.group) {
                (Some(u), None) => (
                    Some(
                        org.user_by_name(u)
                            .ok_or_else(|| {
                                invalid("allocation", &a.name, format!("unknown user '{u}'"))
                            })?
                            .id
                            .clone(),
                    ),
                    None,
                ),
                (None, Some(g)) => (
                    None,
                    Some(
                        org.group_by_name(g)
                            .ok_or_else(|| {
                                invalid("allocation", &a.name, format!("unknown group '{g}'"))
                            })?
                            .id
                            .clone(),
                    ),
                ),
                _ => {
                    return Err(invalid(
                        "allocation",
                        &a.name,
                        "needs exactly one of user or group",
                    ));
                }
            };
            let in_allocation = |e: GatewayError| invalid("allocation", &a.name, e.message);
            let period = period_of(a.period.as_deref()).map_err(in_allocation)?;
            let limit_micros = micros(a.limit_usd).map_err(in_allocation)?;
            match org.allocation_by_name(&a.name) {
                Some(existing) => {
                    let mut row = (**existing).clone();
                    let period_changed = row.period != period.as_str();
                    row.limit_micros = limit_micros;
                    row.period = period.as_str().to_owned();
                    self.store.update_allocation(&row).await?;
                    if period_changed {
                        self.ledger.forget(&row.id);
                    }
                }
                None => {
                    if !valid_slug(&a.name) {
                        return Err(invalid("allocation", &a.name, "not a valid name"));
                    }
                    self.store
                        .insert_allocation(&AllocationRow {
                            id: new_id("alc"),
                            name: a.name.clone(),
                            owner_user_id,
                            owner_group_id,
                            limit_micros,
                            period: period.as_str().to_owned(),
                            created_at: now_millis(),
                            max_in_flight: None,
                        })
                        .await?;
                }
            }
        }
        self.reload_org().await
    }
}
