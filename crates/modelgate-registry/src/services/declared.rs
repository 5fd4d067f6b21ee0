//! The providers declared in the config file (GitOps), applied at every start: created or
//! updated, owned by the admin, with exactly the shares the file names in `shared_with`
//! (a provider of the same name that a member owned is taken over with none of its
//! shares, unless the file names them). Nothing that is not in the file is removed. (The users, groups and allocations it
//! declares are applied by `modelgate-org`'s `declared.rs` first.)

use super::provider_spec::{ProviderSpec, validate};
use crate::providers::Providers;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::now_millis;
use std::sync::Arc;

impl Providers {
    /// Creates or replaces a provider declared in the config file, owned by `owner_id`.
    pub async fn apply_declared_provider(
        self: &Arc<Self>,
        owner_id: &str,
        spec: &ProviderSpec,
    ) -> Result<(), GatewayError> {
        let v = validate(spec)?;
        let existing = self
            .store
            .list_providers()
            .await?
            .into_iter()
            .find(|p| p.name == spec.name);
        // A provider of the same name that someone else owned is taken over: the file owns
        // it now, and none of that owner's shares survive unless the file names them.
        let taken_over = existing
            .as_ref()
            .is_some_and(|old| old.owner_id != owner_id);
        let id = match existing {
            Some(old) => {
                let row = self.provider_row(
                    old.id.clone(),
                    spec.name.clone(),
                    owner_id.to_owned(),
                    &v,
                    old.created_at,
                )?;
                self.store.update_provider(&row).await?;
                row.id
            }
            None => {
                let row = self.provider_row(
                    new_id("prv"),
                    spec.name.clone(),
                    owner_id.to_owned(),
                    &v,
                    now_millis(),
                )?;
                self.store.insert_provider(&row).await?;
                row.id
            }
        };
        match (&spec.shared_with, taken_over) {
            (Some(shared_with), _) => self.declare_shares(&id, shared_with).await?,
            (None, true) => self.declare_shares(&id, &[]).await?,
            (None, false) => {}
        }
        Ok(())
    }

    /// Makes a declared provider's shares exactly `shared_with` (`org` or group names).
    async fn declare_shares(
        &self,
        provider_id: &str,
        shared_with: &[String],
    ) -> Result<(), GatewayError> {
        let org = self.org.directory();
        let mut wanted = Vec::new();
        for entry in shared_with {
            let group_id = if entry == "org" {
                None
            } else {
                Some(
                    org.group_by_name(entry)
                        .map(|g| g.id.clone())
                        .ok_or_else(|| {
                            GatewayError::bad_request(format!(
                                "shared_with names an unknown group '{entry}'"
                            ))
                        })?,
                )
            };
            wanted.push(modelgate_store::ShareRow {
                provider_id: provider_id.to_owned(),
                grantee: modelgate_store::ShareRow::grantee_for(group_id.as_deref()),
                group_id,
                created_at: now_millis(),
            });
        }
        for old in self.store.list_shares().await? {
            if old.provider_id == provider_id && !wanted.iter().any(|w| w.grantee == old.grantee) {
                self.store.delete_share(provider_id, &old.grantee).await?;
            }
        }
        for share in &wanted {
            self.store.put_share(share).await?;
        }
        Ok(())
    }
}
