//! Live session tunnels: which tunnel providers have an agent connected right
//! now, through which [`TunnelLink`], since when and with which agent version. An agent
//! dials `GET /api/tunnels/connect` with its token; the front door upgrades the connection
//! and hands it to [`Gateway::serve_tunnel`], which opens the HTTP/2 link, registers it,
//! discovers the models behind it, and unregisters it when the connection ends. A newer
//! connection for the same tunnel replaces an older one (an agent restarted before its
//! old connection was noticed dead). The request path takes a clone of the link under a
//! short lock, never across an await.

use crate::registry::RuntimeProvider;
use crate::{Gateway, GatewayError};
use modelgate_cluster::{Notice, RemoteTunnel};
use modelgate_core::{ErrorKind, now_millis};
use modelgate_providers::UpstreamError;
use modelgate_providers::operation::Operation;
use modelgate_providers::upstream::Upstream;
use modelgate_tunnel::link::TunnelLink;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite};

/// The stored kind of a tunnel provider.
pub const TUNNEL_KIND: &str = "openai-tunnel";
/// The endpoint stored for tunnel providers: never dialed (requests go through the link),
/// it only gives request URLs their path.
pub const TUNNEL_ENDPOINT: &str = "http://tunnel.modelgate.invalid/v1";
/// Prefix of tunnel tokens.
pub const TOKEN_PREFIX: &str = "mgt_";

/// One connected agent.
struct Live {
    conn: u64,
    link: TunnelLink,
    since_ms: i64,
    agent_version: String,
    agent_name: Option<String>,
    driver: tokio::task::AbortHandle,
}

/// What provider and tunnel views show of a connected agent.
#[derive(Debug, Clone)]
pub struct LiveInfo {
    pub since_ms: i64,
    pub agent_version: String,
    pub agent_name: Option<String>,
}

/// The connected tunnels of this process, by provider id.
#[derive(Default)]
pub struct TunnelHub {
    live: Mutex<HashMap<String, Live>>,
    next_conn: AtomicU64,
    /// Tunnels other replicas hold (`--redis`), by provider id.
    pub(crate) remote: Mutex<HashMap<String, crate::tunnel_relay::Heard>>,
    /// How other replicas reach this one (set once listening).
    advertise: std::sync::OnceLock<String>,
}

impl TunnelHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The link of a running tunnel.
    pub fn link(&self, provider_id: &str) -> Option<TunnelLink> {
        self.lock()
            .get(provider_id)
            .filter(|l| !l.link.is_closed())
            .map(|l| l.link.clone())
    }

    /// The connected agent of a tunnel, here or (with `--redis`) on another replica.
    pub fn info(&self, provider_id: &str) -> Option<LiveInfo> {
        let here = self
            .lock()
            .get(provider_id)
            .filter(|l| !l.link.is_closed())
            .map(|l| LiveInfo {
                since_ms: l.since_ms,
                agent_version: l.agent_version.clone(),
                agent_name: l.agent_name.clone(),
            });
        here.or_else(|| {
            self.remote(provider_id).map(|t| LiveInfo {
                since_ms: t.since_ms,
                agent_version: t.agent_version,
                agent_name: t.agent_name,
            })
        })
    }

    /// Whether the tunnel can take a request (its agent is here or on another replica).
    pub fn is_running(&self, provider_id: &str) -> bool {
        self.link(provider_id).is_some() || self.remote(provider_id).is_some()
    }

    /// Sets the URL other replicas reach this one at (once).
    pub fn set_advertised_url(&self, url: String) {
        let _ = self.advertise.set(url);
    }

    /// Drops a tunnel's connection (revoked or deleted).
    pub fn disconnect(&self, provider_id: &str) {
        if let Some(old) = self.lock().remove(provider_id) {
            old.driver.abort();
        }
    }

    /// Drops the connections of tunnels that `keep` no longer recognises.
    pub fn disconnect_unless(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|id, live| {
            let kept = keep(id);
            if !kept {
                live.driver.abort();
            }
            kept
        });
    }

    fn attach(&self, provider_id: &str, live: Live) {
        if let Some(old) = self.lock().insert(provider_id.to_owned(), live) {
            tracing::info!(tunnel = %provider_id, "a new agent connection replaces the old one");
            old.driver.abort();
        }
    }

    /// Forgets a connection that ended; false if a newer one had replaced it.
    fn detach(&self, provider_id: &str, conn: u64) -> bool {
        let mut live = self.lock();
        let current = live.get(provider_id).is_some_and(|l| l.conn == conn);
        if current {
            live.remove(provider_id);
        }
        current
    }
}

/// The SHA-256 of a tunnel token, hex, as stored.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tunnel an agent may attach to: its provider's id and name.
#[derive(Debug, Clone)]
pub struct TunnelGrant {
    pub provider_id: String,
    pub name: String,
}

impl Gateway {
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
        if !self.org().user_is_active(&p.row.owner_id) {
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
                self.notify(Notice::TunnelUp(announce.clone())).await;
                tokio::select! {
                    _ = &mut task => break,
                    () = tokio::time::sleep(crate::tunnel_relay::HEARTBEAT) => {}
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
            self.notify(notice).await;
        }
        metrics::gauge!("modelgate_tunnels_running").decrement(1.0);
        tracing::info!(tunnel = %grant.name, "tunnel stopped");
    }
}

/// The answer for a request to a tunnel with no agent connected.
pub fn stopped(name: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::Unavailable,
        format!(
            "the tunnel '{name}' is stopped: start `modelgate tunnel` next to its model server"
        ),
    )
    .with_code("tunnel_stopped")
}

/// A failure of the link, as the failure of an upstream call.
fn link_failure(name: &str, e: &modelgate_tunnel::link::TunnelError) -> UpstreamError {
    use modelgate_tunnel::link::TunnelError;
    match e {
        TunnelError::Timeout => UpstreamError::new(
            ErrorKind::UpstreamTimeout,
            format!("the tunnel '{name}' did not answer in time"),
        ),
        other => UpstreamError::new(
            ErrorKind::UpstreamUnreachable,
            format!("the tunnel '{name}' failed: {other}"),
        ),
    }
}

impl Gateway {
    /// Sends an upstream request: through the tunnel's link for tunnel providers, else
    /// with the provider's HTTP client (which `req` was built with).
    pub(crate) async fn send_upstream(
        &self,
        p: &RuntimeProvider,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        if !p.tunnel {
            return req
                .send()
                .await
                .map_err(|e| UpstreamError::from_transport(p.name(), &e));
        }
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
            let resp = self.send_upstream(p, req).await?;
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
