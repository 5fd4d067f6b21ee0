//! The organization as the request path and the admin API read it: an immutable
//! [`Directory`] of users, groups, memberships, permission grants, allocations and org
//! settings, loaded from the store and swapped atomically after every change (org changes
//! are rare; requests never wait for the database to learn who may draw from what).

use crate::auth::Principal;
use modelgate_core::GatewayError;
use modelgate_store::{AllocationRow, Grant, Group, User};
use std::collections::HashMap;
use std::sync::Arc;

/// The permission that lets a non-admin create providers.
pub const PROVIDER_CREATE: &str = "aiprovider:create";
/// The permission a share grants on one provider.
pub const PROVIDER_USE: &str = "aiprovider:use";
/// Permissions that can be granted through `/api/grants`.
pub const GRANTABLE: &[&str] = &[PROVIDER_CREATE];

/// Org-wide settings (`GET|PATCH /api/settings`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// Refuse loopback and private-range upstream endpoints for providers created by
    /// non-admins (link-local and metadata addresses are refused for everyone, always).
    #[serde(default)]
    pub restrict_private_upstreams: bool,
    /// Keys that members create must draw from an allocation when they have any (default
    /// on), so a member cannot step around their budget with an unbudgeted key. Admins may
    /// still mint unbudgeted keys (automation).
    #[serde(default = "yes")]
    pub require_allocation: bool,
    /// Keys bound to an allocation may use models without a known price, metered at zero
    /// (default off: such requests are refused, so a budget bounds every request).
    #[serde(default)]
    pub allow_unpriced: bool,
}

fn yes() -> bool {
    true
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            restrict_private_upstreams: false,
            require_allocation: true,
            allow_unpriced: false,
        }
    }
}

/// Everyone and everything of the organization, by id, with name indexes.
#[derive(Debug, Default)]
pub struct Directory {
    pub users: HashMap<String, User>,
    user_ids: HashMap<String, String>,
    pub groups: HashMap<String, Group>,
    group_ids: HashMap<String, String>,
    /// Group id → member user ids (sorted).
    pub members: HashMap<String, Vec<String>>,
    pub grants: Vec<Grant>,
    pub allocations: HashMap<String, Arc<AllocationRow>>,
    allocation_ids: HashMap<String, String>,
    pub settings: OrgSettings,
    /// Virtual model name → its ordered model references.
    pub virtual_models: HashMap<String, Vec<String>>,
}

impl Directory {
    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.user_ids.get(name).and_then(|id| self.users.get(id))
    }

    /// Whether the user exists and is not deactivated.
    pub fn user_is_active(&self, id: &str) -> bool {
        self.users
            .get(id)
            .is_some_and(|u| u.deactivated_at.is_none())
    }

    pub fn user_name(&self, id: &str) -> &str {
        self.users.get(id).map_or("", |u| u.name.as_str())
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.group_ids.get(name).and_then(|id| self.groups.get(id))
    }

    pub fn group_name(&self, id: &str) -> &str {
        self.groups.get(id).map_or("", |g| g.name.as_str())
    }

    pub fn allocation_by_name(&self, name: &str) -> Option<&Arc<AllocationRow>> {
        self.allocation_ids
            .get(name)
            .and_then(|id| self.allocations.get(id))
    }

    /// Ids of the groups a user belongs to, sorted.
    pub fn groups_of(&self, user_id: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.iter().any(|u| u == user_id))
            .map(|(g, _)| g.clone())
            .collect();
        v.sort();
        v
    }

    /// Whether `user_id` (in `groups`) may draw from the allocation.
    pub fn may_draw(&self, allocation: &AllocationRow, user_id: &str, groups: &[String]) -> bool {
        match (&allocation.owner_user_id, &allocation.owner_group_id) {
            (Some(u), _) => u == user_id,
            (None, Some(g)) => groups.iter().any(|x| x == g),
            (None, None) => false,
        }
    }

    /// Allocations the caller may draw from, by name.
    pub fn drawable(&self, who: &Principal) -> Vec<&Arc<AllocationRow>> {
        self.drawable_by(&who.user_id, &who.groups)
    }

    /// Allocations `user_id` (in `groups`) may draw from, by name.
    pub fn drawable_by(&self, user_id: &str, groups: &[String]) -> Vec<&Arc<AllocationRow>> {
        let mut v: Vec<_> = self
            .allocations
            .values()
            .filter(|a| self.may_draw(a, user_id, groups))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The allocation a key (or a signed-in browser) of `user` draws from: the one named,
    /// if they may draw from it; else, with `must_draw`, their only one, none when they
    /// have none (nothing to step around), and a 400 asking to choose when several.
    pub fn choose_allocation(
        &self,
        user: &User,
        groups: &[String],
        named: Option<&str>,
        must_draw: bool,
    ) -> Result<Option<String>, GatewayError> {
        match named {
            Some(a) => {
                let found = self
                    .allocation_by_name(a)
                    .filter(|alloc| self.may_draw(alloc, &user.id, groups))
                    .ok_or_else(|| {
                        GatewayError::not_found(format!(
                            "no allocation named '{a}' that user '{}' may draw from",
                            user.name
                        ))
                        .with_param("allocation")
                    })?;
                Ok(Some(found.id.clone()))
            }
            None if must_draw => match self.drawable_by(&user.id, groups).as_slice() {
                [only] => Ok(Some(only.id.clone())),
                [] => Ok(None),
                several => {
                    let names: Vec<&str> = several.iter().map(|a| a.name.as_str()).collect();
                    Err(GatewayError::bad_request(format!(
                        "Choose the allocation to draw from: {}",
                        names.join(", ")
                    ))
                    .with_code("allocation_required")
                    .with_param("allocation"))
                }
            },
            None => Ok(None),
        }
    }

    /// Whether the caller may create providers: admins, and holders of
    /// `aiprovider:create` (directly or through a group).
    pub fn may_create_providers(&self, who: &Principal) -> bool {
        who.is_admin()
            || self.grants.iter().any(|g| {
                g.permission == PROVIDER_CREATE
                    && match g.subject_kind.as_str() {
                        "user" => g.subject_id == who.user_id,
                        "group" => who.in_group(&g.subject_id),
                        _ => false,
                    }
            })
    }
}

/// What the store holds of the organization, as [`Directory::from_rows`] takes it.
pub struct Rows {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// (group id, user id) pairs.
    pub memberships: Vec<(String, String)>,
    pub grants: Vec<Grant>,
    pub allocations: Vec<AllocationRow>,
    /// (name, value) pairs.
    pub settings: Vec<(String, String)>,
    /// Virtual model name → its ordered model references.
    pub virtual_models: HashMap<String, Vec<String>>,
}

impl Directory {
    /// Indexes the organization's rows.
    pub fn from_rows(rows: Rows) -> Self {
        let Rows {
            users,
            groups,
            memberships,
            grants,
            allocations,
            settings,
            virtual_models,
        } = rows;
        let mut d = Directory {
            user_ids: users
                .iter()
                .map(|u| (u.name.clone(), u.id.clone()))
                .collect(),
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            group_ids: groups
                .iter()
                .map(|g| (g.name.clone(), g.id.clone()))
                .collect(),
            groups: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
            grants,
            allocation_ids: allocations
                .iter()
                .map(|a| (a.name.clone(), a.id.clone()))
                .collect(),
            allocations: allocations
                .into_iter()
                .map(|a| (a.id.clone(), Arc::new(a)))
                .collect(),
            virtual_models,
            ..Directory::default()
        };
        for (group, user) in memberships {
            d.members.entry(group).or_default().push(user);
        }
        for m in d.members.values_mut() {
            m.sort();
        }
        for (name, value) in settings {
            match name.as_str() {
                "restrict_private_upstreams" => {
                    d.settings.restrict_private_upstreams = value == "true";
                }
                "require_allocation" => d.settings.require_allocation = value == "true",
                "allow_unpriced" => d.settings.allow_unpriced = value == "true",
                _ => {}
            }
        }
        d
    }
}
