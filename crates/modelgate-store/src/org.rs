//! The organization part of the store contract: users' settings, groups and membership,
//! permission grants, provider shares, budget allocations, sign-in sessions and org
//! settings. SQL in [`crate::sql_org`].

use crate::{AllocationRow, Grant, Group, SessionRow, ShareRow, StoreResult, User};
use async_trait::async_trait;

#[async_trait]
pub trait OrgStore: Send + Sync {
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// Replaces role, password hash, deactivation and limits of the user with this id.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;

    async fn insert_group(&self, group: &Group) -> StoreResult<()>;
    async fn list_groups(&self) -> StoreResult<Vec<Group>>;
    /// Deletes the group, its memberships, shares and grants. Fails with a conflict while
    /// an allocation is owned by it.
    async fn delete_group(&self, id: &str) -> StoreResult<bool>;
    /// Adds a member; false if they already were one.
    async fn add_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool>;
    async fn remove_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool>;
    /// Every `(group_id, user_id)` membership.
    async fn list_memberships(&self) -> StoreResult<Vec<(String, String)>>;

    /// Adds a grant; false if it existed.
    async fn put_grant(&self, grant: &Grant) -> StoreResult<bool>;
    async fn delete_grant(&self, grant: &Grant) -> StoreResult<bool>;
    async fn list_grants(&self) -> StoreResult<Vec<Grant>>;

    /// Adds a share; false if it existed.
    async fn put_share(&self, share: &ShareRow) -> StoreResult<bool>;
    async fn delete_share(&self, provider_id: &str, grantee: &str) -> StoreResult<bool>;
    async fn list_shares(&self) -> StoreResult<Vec<ShareRow>>;

    async fn insert_allocation(&self, allocation: &AllocationRow) -> StoreResult<()>;
    async fn update_allocation(&self, allocation: &AllocationRow) -> StoreResult<bool>;
    /// Deletes an allocation; fails with a conflict while a live key is bound to it.
    async fn delete_allocation(&self, id: &str) -> StoreResult<bool>;
    async fn list_allocations(&self) -> StoreResult<Vec<AllocationRow>>;
    /// Settled spend of an allocation from `since_ms` on, in micro-dollars.
    async fn allocation_spent(&self, allocation_id: &str, since_ms: i64) -> StoreResult<i64>;

    async fn insert_session(&self, session: &SessionRow) -> StoreResult<()>;
    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRow>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;
    /// Ends every session of a user (after a password change); how many there were.
    async fn delete_sessions_of(&self, user_id: &str) -> StoreResult<u64>;
    /// Deletes the sessions that expired at or before `now_ms`; how many there were.
    async fn purge_sessions(&self, now_ms: i64) -> StoreResult<u64>;

    async fn list_settings(&self) -> StoreResult<Vec<(String, String)>>;
    /// Creates or replaces a virtual model (its references as a JSON list).
    async fn put_virtual_model(&self, name: &str, models_json: &str, at_ms: i64)
    -> StoreResult<()>;
    async fn delete_virtual_model(&self, name: &str) -> StoreResult<bool>;
    /// Every `(name, models_json)`, by name.
    async fn list_virtual_models(&self) -> StoreResult<Vec<(String, String)>>;
    async fn put_setting(&self, name: &str, value: &str) -> StoreResult<()>;
}
