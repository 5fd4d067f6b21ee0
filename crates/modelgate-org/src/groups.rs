//! Groups and permission grants (admins manage both). A group is a named set of users
//! that can own budget allocations and receive provider shares; a grant gives a user or a
//! group a permission (today `aiprovider:create`, the "team lead" right to create
//! providers). Members may read the groups they belong to.

use super::allocations::AllocationView;
use crate::api::{require_admin, rfc3339, valid_slug};
use crate::auth::Principal;
use crate::directory::GRANTABLE;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::now_millis;
use modelgate_store::{Grant, Group};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    /// The allocations the group owns, with used and total.
    pub allocations: Vec<AllocationView>,
    pub created_at: String,
}

/// `PUT|DELETE /api/grants` body and `GET /api/grants` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantView {
    pub permission: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Organization {
    async fn group_view(&self, g: &Group) -> Result<GroupView, GatewayError> {
        let org = self.directory();
        let mut members: Vec<String> = org
            .members
            .get(&g.id)
            .map(|m| m.iter().map(|u| org.user_name(u).to_owned()).collect())
            .unwrap_or_default();
        members.sort();
        let mut allocations = Vec::new();
        let mut owned: Vec<_> = org
            .allocations
            .values()
            .filter(|a| a.owner_group_id.as_deref() == Some(g.id.as_str()))
            .collect();
        owned.sort_by(|a, b| a.name.cmp(&b.name));
        for a in owned {
            allocations.push(self.allocation_view(a).await?);
        }
        Ok(GroupView {
            id: g.id.clone(),
            name: g.name.clone(),
            members,
            allocations,
            created_at: rfc3339(g.created_at),
        })
    }

    fn group_named(&self, name: &str) -> Result<Group, GatewayError> {
        self.directory()
            .group_by_name(name)
            .cloned()
            .ok_or_else(|| GatewayError::not_found(format!("no group named '{name}'")))
    }

    pub async fn create_group(
        &self,
        who: &Principal,
        spec: CreateGroup,
    ) -> Result<GroupView, GatewayError> {
        require_admin(who)?;
        if !valid_slug(&spec.name) {
            return Err(GatewayError::bad_request(
                "group names are 1-64 characters of letters, digits, '-' and '_'",
            )
            .with_param("name"));
        }
        let g = Group {
            id: new_id("grp"),
            name: spec.name,
            created_at: now_millis(),
        };
        self.store.insert_group(&g).await?;
        self.reload_org().await?;
        self.group_view(&g).await
    }

    /// Admins: every group; members: the groups they belong to.
    pub async fn list_groups(&self, who: &Principal) -> Result<Vec<GroupView>, GatewayError> {
        let org = self.directory();
        let mut groups: Vec<Group> = org
            .groups
            .values()
            .filter(|g| who.is_admin() || who.in_group(&g.id))
            .cloned()
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::with_capacity(groups.len());
        for g in &groups {
            out.push(self.group_view(g).await?);
        }
        Ok(out)
    }

    pub async fn get_group(&self, who: &Principal, name: &str) -> Result<GroupView, GatewayError> {
        let g = self.group_named(name)?;
        if !who.is_admin() && !who.in_group(&g.id) {
            return Err(GatewayError::not_found(format!("no group named '{name}'")));
        }
        self.group_view(&g).await
    }

    pub async fn delete_group(
        self: &std::sync::Arc<Self>,
        who: &Principal,
        name: &str,
    ) -> Result<(), GatewayError> {
        require_admin(who)?;
        let g = self.group_named(name)?;
        self.store.delete_group(&g.id).await?;
        self.reload_org().await?;
        // Its shares went with it.
        self.providers_changed().await
    }

    /// `PUT` (add) or `DELETE` (remove) `/api/groups/{group}/members/{user}`.
    pub async fn change_member(
        &self,
        who: &Principal,
        group: &str,
        user: &str,
        add: bool,
    ) -> Result<GroupView, GatewayError> {
        require_admin(who)?;
        let g = self.group_named(group)?;
        let u = self.user_named(user)?;
        if add {
            self.store.add_member(&g.id, &u.id).await?;
        } else if !self.store.remove_member(&g.id, &u.id).await? {
            return Err(GatewayError::not_found(format!(
                "user '{user}' is not a member of group '{group}'"
            )));
        }
        self.reload_org().await?;
        self.group_view(&g).await
    }

    pub fn list_grants(&self, who: &Principal) -> Result<Vec<GrantView>, GatewayError> {
        require_admin(who)?;
        let org = self.directory();
        Ok(org
            .grants
            .iter()
            .map(|g| GrantView {
                permission: g.permission.clone(),
                user: (g.subject_kind == "user").then(|| org.user_name(&g.subject_id).to_owned()),
                group: (g.subject_kind == "group")
                    .then(|| org.group_name(&g.subject_id).to_owned()),
            })
            .collect())
    }

    /// `PUT` (grant) or `DELETE` (revoke) `/api/grants`.
    pub async fn change_grant(
        &self,
        who: &Principal,
        spec: GrantView,
        grant: bool,
    ) -> Result<Vec<GrantView>, GatewayError> {
        require_admin(who)?;
        if !GRANTABLE.contains(&spec.permission.as_str()) {
            return Err(GatewayError::bad_request(format!(
                "unknown permission '{}'; grantable: {}",
                spec.permission,
                GRANTABLE.join(", ")
            ))
            .with_param("permission"));
        }
        let (kind, id) = match (&spec.user, &spec.group) {
            (Some(u), None) => ("user", self.user_named(u)?.id),
            (None, Some(g)) => ("group", self.group_named(g)?.id),
            _ => {
                return Err(GatewayError::bad_request(
                    "a grant names exactly one of 'user' or 'group'",
                ));
            }
        };
        let row = Grant {
            permission: spec.permission,
            subject_kind: kind.to_owned(),
            subject_id: id,
        };
        if grant {
            self.store.put_grant(&row).await?;
        } else {
            self.store.delete_grant(&row).await?;
        }
        self.reload_org().await?;
        self.list_grants(who)
    }
}
