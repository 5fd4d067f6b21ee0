//! Virtual models (`POST|GET /api/virtual-models`, `GET|DELETE /api/virtual-models/{name}`,
//! and `[[virtual_models]]` in the config file): a name for an ordered list of up to ten
//! model references, tried in order by the gateway's routing. Admins define them; everyone
//! may read them, and each candidate is still checked against the caller's permissions.

use crate::api::{require_admin, valid_slug};
use crate::auth::Principal;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use modelgate_core::now_millis;
use serde::{Deserialize, Serialize};

/// The most model references a virtual model, or a request's `models`, may list.
pub const MAX_FALLBACKS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualModel {
    pub name: String,
    pub models: Vec<String>,
}

impl Organization {
    /// Validates and stores a virtual model (replacing one of the same name).
    pub async fn put_virtual_model(&self, spec: &VirtualModel) -> Result<(), GatewayError> {
        if !valid_slug(&spec.name) {
            return Err(GatewayError::bad_request(
                "virtual model names are 1-64 characters of letters, digits, '-' and '_'",
            )
            .with_param("name"));
        }
        if spec.models.is_empty()
            || spec.models.len() > MAX_FALLBACKS
            || spec.models.iter().any(|m| m.trim().is_empty())
        {
            return Err(GatewayError::bad_request(format!(
                "models must list 1-{MAX_FALLBACKS} model references"
            ))
            .with_param("models"));
        }
        if spec
            .models
            .iter()
            .any(|m| self.directory().virtual_models.contains_key(m))
        {
            return Err(GatewayError::bad_request(
                "a virtual model lists real models, not other virtual models",
            )
            .with_param("models"));
        }
        let json = serde_json::to_string(&spec.models)
            .map_err(|e| GatewayError::internal(e.to_string()))?;
        self.store
            .put_virtual_model(&spec.name, &json, now_millis())
            .await?;
        self.reload_org().await
    }

    pub async fn create_virtual_model(
        &self,
        who: &Principal,
        spec: VirtualModel,
    ) -> Result<VirtualModel, GatewayError> {
        require_admin(who)?;
        self.put_virtual_model(&spec).await?;
        Ok(spec)
    }

    pub fn list_virtual_models(&self) -> Vec<VirtualModel> {
        let mut v: Vec<VirtualModel> = self
            .directory()
            .virtual_models
            .iter()
            .map(|(name, models)| VirtualModel {
                name: name.clone(),
                models: models.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn get_virtual_model(&self, name: &str) -> Result<VirtualModel, GatewayError> {
        self.directory()
            .virtual_models
            .get(name)
            .map(|models| VirtualModel {
                name: name.to_owned(),
                models: models.clone(),
            })
            .ok_or_else(|| GatewayError::not_found(format!("no virtual model named '{name}'")))
    }

    pub async fn delete_virtual_model(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(), GatewayError> {
        require_admin(who)?;
        if !self.store.delete_virtual_model(name).await? {
            return Err(GatewayError::not_found(format!(
                "no virtual model named '{name}'"
            )));
        }
        self.reload_org().await
    }
}
