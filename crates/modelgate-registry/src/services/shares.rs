//! Provider ownership and sharing (`aiprovider:use`): who may manage a provider (its owner
//! and admins), its shares with groups or the whole org (`PUT|DELETE|GET
//! /api/providers/{name}/shares`), and the org's upstream URL policy for providers created
//! by non-admins. A change reloads the registry before it answers, so the very next
//! request sees it.

use super::no_provider;
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use modelgate_core::GatewayError;
use modelgate_core::now_millis;
use modelgate_org::auth::Principal;
use modelgate_providers::address_guard;
use modelgate_store::ShareRow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A share as the API reads and writes it: `{"group": NAME}` or `{"org": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<bool>,
}

impl Providers {
    /// The provider `name` if `who` may manage it: 404 when they cannot see it, 403 when
    /// they can use but not manage it.
    pub fn managed_provider(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Arc<RuntimeProvider>, GatewayError> {
        let p = self.visible_provider(who, name)?;
        if who.is_admin() || p.row.owner_id == who.user_id {
            Ok(p)
        } else {
            Err(GatewayError::forbidden(format!(
                "Only the owner of provider '{name}' or an administrator may change it or its shares."
            )))
        }
    }

    pub(crate) fn share_views(&self, p: &RuntimeProvider) -> Vec<ShareView> {
        let org = self.org.directory();
        let mut views: Vec<ShareView> = Vec::new();
        if p.shares.org {
            views.push(ShareView {
                group: None,
                org: Some(true),
            });
        }
        let mut groups: Vec<&str> = p.shares.groups.iter().map(|g| org.group_name(g)).collect();
        groups.sort_unstable();
        views.extend(groups.into_iter().map(|g| ShareView {
            group: Some(g.to_owned()),
            org: None,
        }));
        views
    }

    /// `GET /api/providers/{name}/shares`.
    pub fn list_shares(&self, who: &Principal, name: &str) -> Result<Vec<ShareView>, GatewayError> {
        let p = self.managed_provider(who, name)?;
        Ok(self.share_views(&p))
    }

    /// `PUT` (grant) or `DELETE` (revoke) `/api/providers/{name}/shares`. Returns the
    /// provider's shares after the change.
    pub async fn change_share(
        self: &Arc<Self>,
        who: &Principal,
        name: &str,
        spec: ShareView,
        grant: bool,
    ) -> Result<Vec<ShareView>, GatewayError> {
        let p = self.managed_provider(who, name)?;
        if p.is_private() {
            return Err(GatewayError::bad_request(format!(
                "'{name}' is a session tunnel: it is private to the user who created it and cannot be shared"
            ))
            .with_code("tunnel_not_shareable"));
        }
        let group_id = match (&spec.group, spec.org) {
            (Some(g), None | Some(false)) => Some(
                self.org
                    .directory()
                    .group_by_name(g)
                    .map(|g| g.id.clone())
                    .ok_or_else(|| {
                        GatewayError::not_found(format!("no group named '{g}'")).with_param("group")
                    })?,
            ),
            (None, Some(true)) => None,
            _ => {
                return Err(GatewayError::bad_request(
                    "a share is {\"group\": NAME} or {\"org\": true}",
                ));
            }
        };
        let grantee = ShareRow::grantee_for(group_id.as_deref());
        if grant {
            self.store
                .put_share(&ShareRow {
                    provider_id: p.row.id.clone(),
                    grantee,
                    group_id,
                    created_at: now_millis(),
                })
                .await?;
        } else {
            self.store.delete_share(&p.row.id, &grantee).await?;
        }
        self.reload_providers().await?;
        let snapshot = self.registry.snapshot();
        let updated = snapshot.get(name).ok_or_else(|| no_provider(name))?;
        Ok(self.share_views(updated))
    }

    /// The org's upstream URL policy for an endpoint `who` wants to use: when the org
    /// refuses private upstreams for non-admins, the endpoint's host must not be (or
    /// resolve only to) loopback or private addresses. Connections are checked again at
    /// connect time by the restricted client, so a later DNS change cannot get around it.
    pub async fn check_upstream_policy(
        &self,
        who: &Principal,
        endpoint: &str,
    ) -> Result<(), GatewayError> {
        if who.is_admin() || !self.org.directory().settings.restrict_private_upstreams {
            return Ok(());
        }
        let refused = || {
            GatewayError::forbidden(
                "This organization does not allow providers created by members to use loopback or private-network endpoints.",
            )
            .with_param("endpoint")
        };
        let url = url::Url::parse(endpoint)
            .map_err(|e| GatewayError::bad_request(format!("invalid endpoint: {e}")))?;
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            Some(url::Host::Ipv4(ip)) if address_guard::is_private(ip.into()) => Err(refused()),
            Some(url::Host::Ipv6(ip)) if address_guard::is_private(ip.into()) => Err(refused()),
            Some(url::Host::Domain(d)) => {
                // A name that resolves now only to private addresses is refused here; one
                // that does not resolve is left to the connect-time check.
                match tokio::net::lookup_host((d, port)).await {
                    Ok(addrs) => {
                        let addrs: Vec<_> = addrs.collect();
                        if !addrs.is_empty() && address_guard::allowed(addrs, false).is_empty() {
                            Err(refused())
                        } else {
                            Ok(())
                        }
                    }
                    Err(_) => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}
