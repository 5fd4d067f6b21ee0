//! Live session tunnels: which tunnel providers have an agent connected right now,
//! through which [`TunnelLink`], since when and with which agent version, and (with
//! `--redis`) which ones another replica announced. A newer connection for the same
//! tunnel replaces an older one (an agent restarted before its old connection was noticed
//! dead). The request path takes a clone of the link under a short lock, never across an
//! await.

use modelgate_cluster::RemoteTunnel;
use modelgate_core::GatewayError;
use modelgate_core::{ErrorKind, now_millis};
use modelgate_providers::UpstreamError;
use modelgate_tunnel::link::TunnelLink;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// The stored kind of a tunnel provider.
pub const TUNNEL_KIND: &str = "openai-tunnel";
/// The endpoint stored for tunnel providers: never dialed (requests go through the link),
/// it only gives request URLs their path.
pub const TUNNEL_ENDPOINT: &str = "http://tunnel.modelgate.invalid/v1";
/// Prefix of tunnel tokens.
pub const TOKEN_PREFIX: &str = "mgt_";
/// A tunnel not announced for this long is taken as gone (its replica died).
const STALE_MS: i64 = 30_000;

/// One connected agent.
pub(super) struct Live {
    pub(super) conn: u64,
    pub(super) link: TunnelLink,
    pub(super) since_ms: i64,
    pub(super) agent_version: String,
    pub(super) agent_name: Option<String>,
    pub(super) driver: tokio::task::AbortHandle,
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
    pub(super) next_conn: AtomicU64,
    /// Tunnels other replicas hold (`--redis`), by provider id.
    remote: Mutex<HashMap<String, Heard>>,
    /// How other replicas reach this one (set once listening).
    pub(super) advertise: std::sync::OnceLock<String>,
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

    pub(super) fn attach(&self, provider_id: &str, live: Live) {
        if let Some(old) = self.lock().insert(provider_id.to_owned(), live) {
            tracing::info!(tunnel = %provider_id, "a new agent connection replaces the old one");
            old.driver.abort();
        }
    }

    /// Forgets a connection that ended; false if a newer one had replaced it.
    pub(super) fn detach(&self, provider_id: &str, conn: u64) -> bool {
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
pub(super) fn link_failure(name: &str, e: &modelgate_tunnel::link::TunnelError) -> UpstreamError {
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

/// A remembered announcement and when it was heard.
#[derive(Debug, Clone)]
pub(super) struct Heard {
    pub tunnel: RemoteTunnel,
    pub at_ms: i64,
}

impl TunnelHub {
    /// Remembers an announcement; true when the tunnel was not known to be running.
    pub fn remote_up(&self, tunnel: RemoteTunnel) -> bool {
        let now = now_millis();
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        let previous = remote.insert(tunnel.provider_id.clone(), Heard { tunnel, at_ms: now });
        previous.is_none_or(|h| now - h.at_ms >= STALE_MS)
    }

    /// Forgets a tunnel that left the replica at `url` (not one announced since from
    /// another replica).
    pub fn remote_down(&self, provider_id: &str, url: &str) {
        let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        if remote.get(provider_id).is_some_and(|h| h.tunnel.url == url) {
            remote.remove(provider_id);
        }
    }

    /// Where another replica holds this tunnel, if one announced it recently.
    pub fn remote(&self, provider_id: &str) -> Option<RemoteTunnel> {
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote
            .get(provider_id)
            .filter(|h| now_millis() - h.at_ms < STALE_MS)
            .map(|h| h.tunnel.clone())
    }
}
