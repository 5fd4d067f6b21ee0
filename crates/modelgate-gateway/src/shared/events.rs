//! Change notices between replicas. After an admin change a replica reloads its own view
//! and publishes a notice on the deployment's channel; every other replica then reloads
//! the organization directory or the providers, or drops a revoked key from its cache —
//! well within a second. A listener that lost Redis reloads everything once it is back,
//! so a notice missed during the outage is not lost for good (and cached keys expire
//! after the key-cache TTL regardless).

use super::Shared;
use crate::Gateway;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Users, groups, grants, allocations, settings or virtual models.
    Org,
    /// Providers, their shares or tunnels.
    Providers,
    /// A key was revoked (its hash).
    Key(String),
    /// A tunnel's agent is connected to the sending replica (repeated as a heartbeat).
    TunnelUp(crate::tunnel_relay::RemoteTunnel),
    /// A tunnel's agent left the sending replica.
    TunnelDown(String),
}

impl Notice {
    fn encode(&self, replica: &str) -> String {
        match self {
            Notice::Org => format!("{replica} org"),
            Notice::Providers => format!("{replica} providers"),
            Notice::Key(hash) => format!("{replica} key {hash}"),
            Notice::TunnelUp(t) => format!(
                "{replica} tunnel-up {}",
                serde_json::to_string(t).unwrap_or_default()
            ),
            Notice::TunnelDown(id) => format!("{replica} tunnel-down {id}"),
        }
    }

    /// The notice and the replica that sent it.
    fn decode(text: &str) -> Option<(&str, Notice)> {
        let (replica, rest) = text.split_once(' ')?;
        if let Some(json) = rest.strip_prefix("tunnel-up ") {
            return Some((replica, Notice::TunnelUp(serde_json::from_str(json).ok()?)));
        }
        let mut parts = rest.split(' ');
        let notice = match (parts.next()?, parts.next()) {
            ("org", None) => Notice::Org,
            ("providers", None) => Notice::Providers,
            ("key", Some(hash)) => Notice::Key(hash.to_owned()),
            ("tunnel-down", Some(id)) => Notice::TunnelDown(id.to_owned()),
            _ => return None,
        };
        Some((replica, notice))
    }
}

impl Shared {
    fn channel(&self) -> String {
        self.key(format_args!("events"))
    }

    /// Tells the other replicas; a failure is logged (they catch up by TTL or on their
    /// listener's next reconnect).
    pub async fn publish(&self, notice: &Notice) {
        let sent: Result<i64, redis::RedisError> = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(notice.encode(&self.replica))
            .query_async(&mut self.conn())
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not publish a change notice");
        }
    }

    /// Listens for the other replicas' notices until the gateway is dropped.
    pub fn spawn_listener(self: &Arc<Self>, gateway: Weak<Gateway>) -> tokio::task::JoinHandle<()> {
        let shared = self.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                if gateway.strong_count() == 0 {
                    return;
                }
                match shared.listen(&gateway, !first).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "change notices interrupted; reconnecting")
                    }
                }
                first = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn listen(&self, gateway: &Weak<Gateway>, catch_up: bool) -> redis::RedisResult<()> {
        use futures_util::StreamExt;
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        if catch_up && let Some(gw) = gateway.upgrade() {
            apply(&gw, Notice::Org).await;
            apply(&gw, Notice::Providers).await;
        }
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Some(gw) = gateway.upgrade() else {
                return Ok(());
            };
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            match Notice::decode(&text) {
                Some((from, notice)) if from != self.replica => apply(&gw, notice).await,
                Some(_) => {}
                None => tracing::warn!("unreadable change notice"),
            }
        }
        Err(redis::RedisError::from(std::io::Error::other(
            "the notice stream ended",
        )))
    }
}

/// Brings this replica's view up to date with a notice.
async fn apply(gw: &Arc<Gateway>, notice: Notice) {
    let result = match notice {
        Notice::Org => gw.load_org().await,
        Notice::Providers => gw.load_providers().await,
        Notice::Key(hash) => {
            gw.auth.invalidate(&hash);
            Ok(())
        }
        Notice::TunnelUp(t) => {
            let id = t.provider_id.clone();
            if gw.tunnels.remote_up(t) {
                // Newly running elsewhere: learn its models through the owner.
                let name = gw
                    .registry
                    .snapshot()
                    .providers
                    .values()
                    .find(|p| p.row.id == id)
                    .map(|p| p.name().to_owned());
                if let Some(name) = name {
                    let gw = gw.clone();
                    tokio::spawn(async move { gw.refresh_provider_models(&name).await });
                }
            }
            Ok(())
        }
        Notice::TunnelDown(id) => {
            gw.tunnels.remote_down(&id);
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not apply a change notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        let up = Notice::TunnelUp(crate::tunnel_relay::RemoteTunnel {
            provider_id: "prv_1".into(),
            url: "http://10.0.0.7:8080".into(),
            since_ms: 5,
            agent_version: "0.1.0 beta".into(),
            agent_name: None,
        });
        for n in [
            Notice::Org,
            Notice::Providers,
            Notice::Key("ab12".into()),
            up,
            Notice::TunnelDown("prv_1".into()),
        ] {
            let text = n.encode("rpl_1");
            assert_eq!(Notice::decode(&text), Some(("rpl_1", n)));
        }
        assert_eq!(Notice::decode("rpl_1 bogus"), None);
        assert_eq!(Notice::decode(""), None);
    }
}
