//! Session tunnels (`/api/tunnels`, docs/tunnels.md): a tunnel is a provider of kind
//! `openai-tunnel`, private to its creator, whose requests go through the agent that dials
//! in with the tunnel's token. Creating one returns the token once (only its SHA-256 is
//! kept) with the exact agent command; listing shows whether an agent is connected
//! (`running`/`stopped`), since when, its version and the models seen behind it; deleting
//! revokes the token and drops the connection at once.

use super::{rfc3339, valid_slug};
use crate::config::ProviderConfig;
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use crate::tunnel::{TOKEN_PREFIX, TUNNEL_ENDPOINT, TUNNEL_KIND, token_hash};
use base64::Engine as _;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::now_millis;
use modelgate_org::auth::Principal;
use modelgate_store::ProviderRow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The body of `POST /api/tunnels`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelSpec {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// A tunnel as its owner sees it. Never the token.
#[derive(Debug, Clone, Serialize)]
pub struct TunnelView {
    pub name: String,
    pub kind: &'static str,
    /// `running` while an agent is connected, else `stopped`.
    pub status: &'static str,
    pub connected_since: Option<String>,
    pub agent_version: Option<String>,
    pub agent_name: Option<String>,
    /// The models its server listed (kept while stopped).
    pub models: Vec<String>,
    pub models_error: Option<String>,
    pub description: Option<String>,
    pub owner: String,
    pub created_at: String,
}

/// The answer to `POST /api/tunnels`: the view, the token (this once) and the command.
#[derive(Debug, Serialize)]
pub struct CreatedTunnel {
    #[serde(flatten)]
    pub tunnel: TunnelView,
    pub token: String,
    /// The agent command to run next to the model server (its target is an example).
    pub command: String,
}

/// A new random tunnel token.
fn new_token() -> String {
    let mut raw = [0u8; 32];
    modelgate_core::ids::fill_random(&mut raw);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn no_tunnel(name: &str) -> GatewayError {
    GatewayError::not_found(format!("no tunnel named '{name}'"))
}

impl Providers {
    pub(crate) fn tunnel_view(&self, p: &RuntimeProvider) -> TunnelView {
        let live = self.tunnels.info(&p.row.id);
        let discovery = p.discovery.load();
        TunnelView {
            name: p.name().to_owned(),
            kind: TUNNEL_KIND,
            status: if live.is_some() { "running" } else { "stopped" },
            connected_since: live.as_ref().map(|l| rfc3339(l.since_ms)),
            agent_version: live.as_ref().map(|l| l.agent_version.clone()),
            agent_name: live.and_then(|l| l.agent_name),
            models: p.models(),
            models_error: discovery.error.clone(),
            description: p.config.description.clone(),
            owner: p.owner_name.clone(),
            created_at: rfc3339(p.row.created_at),
        }
    }

    /// `POST /api/tunnels {name, description?}`: any active user may open tunnels to
    /// their own model servers. `gateway_url` is how agents reach this gateway.
    pub async fn create_tunnel(
        self: &Arc<Self>,
        who: &Principal,
        spec: TunnelSpec,
        gateway_url: &str,
    ) -> Result<CreatedTunnel, GatewayError> {
        if !valid_slug(&spec.name) || spec.name == "connect" {
            return Err(GatewayError::bad_request(
                "name must be 1-64 characters of letters, digits, '-' and '_' (and not 'connect')",
            )
            .with_param("name"));
        }
        let token = new_token();
        let config = ProviderConfig {
            description: spec.description,
            auth_type: "none".into(),
            tunnel_token_sha256: Some(token_hash(&token)),
            ..ProviderConfig::default()
        };
        let now = now_millis();
        let row = ProviderRow {
            id: new_id("prv"),
            name: spec.name.clone(),
            kind: TUNNEL_KIND.into(),
            endpoint: TUNNEL_ENDPOINT.into(),
            owner_id: who.user_id.clone(),
            config_json: serde_json::to_string(&config)
                .map_err(|e| GatewayError::internal(e.to_string()))?,
            secret_sealed: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_provider(&row).await?;
        self.reload_providers().await?;
        let p = self.own_tunnel(who, &spec.name)?;
        let command = format!(
            "modelgate tunnel --gateway {gateway_url} --token {token} --target http://127.0.0.1:8000"
        );
        Ok(CreatedTunnel {
            tunnel: self.tunnel_view(&p),
            token,
            command,
        })
    }

    /// `GET /api/tunnels`: the caller's tunnels.
    pub fn list_tunnels(&self, who: &Principal) -> Vec<TunnelView> {
        let snapshot = self.registry.snapshot();
        snapshot
            .sorted()
            .into_iter()
            .filter(|p| p.transport.is_tunnel() && p.row.owner_id == who.user_id)
            .map(|p| self.tunnel_view(p))
            .collect()
    }

    pub fn get_tunnel(&self, who: &Principal, name: &str) -> Result<TunnelView, GatewayError> {
        let p = self.own_tunnel(who, name)?;
        Ok(self.tunnel_view(&p))
    }

    /// `DELETE /api/tunnels/{name}`: revokes the token and drops the agent's connection.
    /// Admins may delete anyone's tunnel.
    pub async fn delete_tunnel(
        self: &Arc<Self>,
        who: &Principal,
        name: &str,
    ) -> Result<(), GatewayError> {
        let snapshot = self.registry.snapshot();
        let mine = snapshot.get(name).is_some_and(|p| {
            p.transport.is_tunnel() && (p.row.owner_id == who.user_id || who.is_admin())
        });
        if !mine || !self.store.delete_provider(name).await? {
            return Err(no_tunnel(name));
        }
        // The reload drops the agent's connection with the provider (on every replica).
        self.reload_providers().await
    }

    fn own_tunnel(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Arc<RuntimeProvider>, GatewayError> {
        self.registry
            .snapshot()
            .get(name)
            .filter(|p| p.transport.is_tunnel() && p.row.owner_id == who.user_id)
            .cloned()
            .ok_or_else(|| no_tunnel(name))
    }
}
