//! The gateway's side of a session tunnel's agent: the token that opens a tunnel, serving
//! one upgraded agent connection (open the HTTP/2 link, register it, discover the models
//! behind it, announce it to the other replicas every heartbeat), and sending a tunnel
//! provider's requests through the link or to the replica holding it.

use super::hub::{Live, TOKEN_PREFIX, TunnelGrant, link_failure, token_hash};
use super::relay::HEARTBEAT;
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use modelgate_cluster::{Notice, RemoteTunnel};
use modelgate_core::GatewayError;
use modelgate_core::{ErrorKind, now_millis};
use modelgate_providers::UpstreamError;
use modelgate_providers::operation::Operation;
use modelgate_providers::upstream::Upstream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite};

impl Providers {
    /// The tunnel a token opens (401 otherwise, or when its owner is deactivated).
    pub fn tunnel_for_token(&self, token: &str) -> Result<TunnelGrant, GatewayError> {
        let refused = || {
            GatewayError::new(
                ErrorKind::Unauthorized,
                "the tunnel token is not valid (revoked, mistyped, or for another gateway)",
            )
            .with_code("invalid_tunnel_token")
        };
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(refused());
        }
        let hash = token_hash(token);
        let snapshot = self.registry.snapshot();
        let found = snapshot.providers.values().find(|p| {
            p.config
                .tunnel_token_sha256
                .as_deref()
                .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(hash.as_bytes())))
        });
        let p = found.ok_or_else(refused)?;
        if !self.org.directory().user_is_active(&p.row.owner_id) {
            return Err(refused());
        }
        Ok(TunnelGrant {
            provider_id: p.row.id.clone(),
            name: p.name().to_owned(),
        })
    }

    /// Serves one agent connection (already upgraded) until it ends.
    #[expect(
        clippy::disallowed_methods,
        reason = "each connected tunnel owns the task driving its HTTP/2 link"
    )]
    pub async fn serve_tunnel<IO>(
        self: Arc<Self>,
        grant: TunnelGrant,
        io: IO,
        agent_version: String,
        agent_name: Option<String>,
    ) where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (link, driver) = match modelgate_tunnel::link::open(io).await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(tunnel = %grant.name, error = %e, "tunnel handshake failed");
                return;
            }
        };
        let task = tokio::spawn(driver);
        let agent_name_copy = agent_name.clone();
        let conn = self.tunnels.next_conn.fetch_add(1, Ordering::Relaxed);
        self.tunnels.attach(
            &grant.provider_id,
            Live {
                conn,
                link,
                since_ms: now_millis(),
                agent_version: agent_version.clone(),
                agent_name,
                driver: task.abort_handle(),
            },
        );
        // Deleted while the agent was connecting: the provider reload that dropped the
        // tunnel's connections ran before this one was attached.
        if self
            .registry
            .snapshot()
            .tunnel(&grant.provider_id)
            .is_none()
        {
            self.tunnels.disconnect(&grant.provider_id);
            return;
        }
        tracing::info!(tunnel = %grant.name, agent = %agent_version, "tunnel running");
        metrics::gauge!("modelgate_tunnels_running").increment(1.0);
        let announce = self.tunnels.advertise.get().map(|url| RemoteTunnel {
            provider_id: grant.provider_id.clone(),
            url: url.clone(),
            since_ms: now_millis(),
            agent_version: agent_version.clone(),
            agent_name: agent_name_copy,
        });
        if let Err(e) = self.refresh_provider_models(&grant.name).await {
            tracing::warn!(tunnel = %grant.name, error = %e, "tunnel model discovery failed");
        }
        // Other replicas learn where the tunnel lives, again every heartbeat.
        let mut task = task;
        match (&self.shared, announce) {
            (Some(_), Some(announce)) => loop {
                modelgate_cluster::notify(
                    self.shared.as_deref(),
                    Notice::TunnelUp(announce.clone()),
                )
                .await;
                tokio::select! {
                    _ = &mut task => break,
                    () = tokio::time::sleep(HEARTBEAT) => {}
                }
            },
            _ => {
                let _ = (&mut task).await;
            }
        }
        if self.tunnels.detach(&grant.provider_id, conn)
            && let Some(url) = self.tunnels.advertise.get()
        {
            let notice = Notice::TunnelDown {
                provider_id: grant.provider_id.clone(),
                url: url.clone(),
            };
            modelgate_cluster::notify(self.shared.as_deref(), notice).await;
        }
        metrics::gauge!("modelgate_tunnels_running").decrement(1.0);
        tracing::info!(tunnel = %grant.name, "tunnel stopped");
    }
}

impl Providers {
    /// Sends a tunnel provider's request through its agent's link, or to the replica
    /// holding the agent.
    pub(crate) async fn send_through_tunnel(
        &self,
        p: &RuntimeProvider,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let Some(link) = self.tunnels.link(&p.row.id) else {
            return match self.tunnels.remote(&p.row.id) {
                Some(owner) => self.forward_to_owner(p, &owner, req).await,
                None => Err(UpstreamError::new(
                    ErrorKind::Unavailable,
                    format!("the tunnel '{}' is stopped", p.name()),
                )),
            };
        };
        let req = req
            .build()
            .map_err(|e| UpstreamError::from_transport(p.name(), &e))?;
        link.send(req).await.map_err(|e| link_failure(p.name(), &e))
    }

    /// Lists the models behind a tunnel (its agent forwards `GET /v1/models`).
    pub(crate) async fn discover_through_tunnel(
        &self,
        p: &RuntimeProvider,
    ) -> Result<Vec<String>, UpstreamError> {
        let Upstream::OpenAi(upstream) = p.primary() else {
            return Err(UpstreamError::new(
                ErrorKind::Internal,
                "a tunnel provider must speak the OpenAI API",
            ));
        };
        let timeout = self.settings.discovery_timeout;
        let req = upstream
            .request(&self.client, Operation::Models)
            .timeout(timeout);
        let listed = async {
            let resp = self.send_through_tunnel(p, req).await?;
            modelgate_providers::openai::read_model_list(p.name(), resp).await
        };
        tokio::time::timeout(timeout, listed).await.map_err(|_| {
            UpstreamError::new(
                ErrorKind::UpstreamTimeout,
                format!("the tunnel '{}' did not list its models in time", p.name()),
            )
        })?
    }
}
