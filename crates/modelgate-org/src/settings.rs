//! Org settings (`GET|PATCH /api/settings`, admins): the upstream URL policy
//! (`restrict_private_upstreams`) and whether members' keys must draw from an allocation
//! (`require_allocation`), and whether budgeted keys may use models without a price
//! (`allow_unpriced`). A change reloads the directory and the providers, so
//! restricted providers switch clients before the next request.

use crate::api::require_admin;
use crate::auth::Principal;
use crate::directory::OrgSettings;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default)]
    pub restrict_private_upstreams: Option<bool>,
    #[serde(default)]
    pub require_allocation: Option<bool>,
    #[serde(default)]
    pub allow_unpriced: Option<bool>,
}

impl Organization {
    pub fn get_settings(&self, who: &Principal) -> Result<OrgSettings, GatewayError> {
        require_admin(who)?;
        Ok(self.directory().settings.clone())
    }

    pub async fn update_settings(
        self: &Arc<Self>,
        who: &Principal,
        patch: SettingsPatch,
    ) -> Result<OrgSettings, GatewayError> {
        require_admin(who)?;
        for (name, value) in [
            (
                "restrict_private_upstreams",
                patch.restrict_private_upstreams,
            ),
            ("require_allocation", patch.require_allocation),
            ("allow_unpriced", patch.allow_unpriced),
        ] {
            if let Some(v) = value {
                self.store
                    .put_setting(name, if v { "true" } else { "false" })
                    .await?;
            }
        }
        self.reload_org().await?;
        self.providers_changed().await?;
        Ok(self.directory().settings.clone())
    }
}
