//! Change notices between replicas. After an admin change a replica reloads its own view
//! and publishes a notice on the deployment's channel; every other replica then reloads
//! the organization directory or the providers, or drops a revoked key from its cache —
//! well within a second. A listener that lost Redis reloads everything once it is back,
//! so a notice missed during the outage is not lost for good (and cached keys expire
//! after the key-cache TTL regardless).

use crate::Shared;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A tunnel held by another replica, as announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTunnel {
    pub provider_id: String,
    /// The owner's advertised base URL.
    pub url: String,
    pub since_ms: i64,
    pub agent_version: String,
    pub agent_name: Option<String>,
}

/// What a replica does with the others' notices (the gateway reloads its view).
pub trait NoticeHandler: Send + Sync + 'static {
    /// Brings this replica's view up to date with one notice.
    fn apply(self: Arc<Self>, notice: Notice) -> impl Future<Output = ()> + Send;
}

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
    TunnelUp(RemoteTunnel),
    /// A tunnel's agent left the sending replica (its provider id, and the replica's URL
    /// so that a later announcement from elsewhere is not erased).
    TunnelDown { provider_id: String, url: String },
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
            Notice::TunnelDown { provider_id, url } => {
                format!("{replica} tunnel-down {provider_id} {url}")
            }
        }
    }

    /// The notice and the replica that sent it.
    fn decode(text: &str) -> Option<(&str, Notice)> {
        let (replica, rest) = text.split_once(' ')?;
        if let Some(json) = rest.strip_prefix("tunnel-up ") {
            return Some((replica, Notice::TunnelUp(serde_json::from_str(json).ok()?)));
        }
        if let Some(down) = rest.strip_prefix("tunnel-down ") {
            let (id, url) = down.split_once(' ')?;
            let notice = Notice::TunnelDown {
                provider_id: id.to_owned(),
                url: url.to_owned(),
            };
            return Some((replica, notice));
        }
        let mut parts = rest.split(' ');
        let notice = match (parts.next()?, parts.next()) {
            ("org", None) => Notice::Org,
            ("providers", None) => Notice::Providers,
            ("key", Some(hash)) => Notice::Key(hash.to_owned()),
            _ => return None,
        };
        Some((replica, notice))
    }
}

impl Shared {
    /// `<hmac> <notice>`: only holders of the master key can announce changes (a notice
    /// that moves a tunnel elsewhere must not come from anyone who can reach Redis).
    fn sign(&self, text: &str) -> String {
        format!("{} {text}", self.master_key.internal_mac(text))
    }

    fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        use subtle::ConstantTimeEq;
        let (mac, text) = signed.split_once(' ')?;
        let expected = self.master_key.internal_mac(text);
        bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then_some(text)
    }

    fn channel(&self) -> String {
        self.key(format_args!("events"))
    }

    /// Tells the other replicas; a failure is logged (they catch up by TTL or on their
    /// listener's next reconnect).
    pub async fn publish(&self, notice: &Notice) {
        let sent: Result<i64, redis::RedisError> = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(self.sign(&notice.encode(&self.replica)))
            .query_async(&mut self.conn())
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not publish a change notice");
        }
    }

    /// Listens for the other replicas' notices until `handler` is dropped.
    #[expect(
        clippy::disallowed_methods,
        reason = "the change-notice listener is one of the gateway's owned background tasks"
    )]
    pub fn spawn_listener<H: NoticeHandler>(
        self: &Arc<Self>,
        handler: Weak<H>,
    ) -> tokio::task::JoinHandle<()> {
        let shared = self.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                if handler.strong_count() == 0 {
                    return;
                }
                match shared.listen(&handler, !first).await {
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

    async fn listen<H: NoticeHandler>(
        &self,
        handler: &Weak<H>,
        catch_up: bool,
    ) -> redis::RedisResult<()> {
        use futures_util::StreamExt;
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        if catch_up && let Some(h) = handler.upgrade() {
            h.clone().apply(Notice::Org).await;
            h.apply(Notice::Providers).await;
        }
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Some(h) = handler.upgrade() else {
                return Ok(());
            };
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            let Some(text) = self.verify(&text) else {
                tracing::warn!("a change notice without a valid signature was ignored");
                continue;
            };
            match Notice::decode(text) {
                Some((from, notice)) if from != self.replica => h.apply(notice).await,
                Some(_) => {}
                None => tracing::warn!("unreadable change notice"),
            }
        }
        Err(redis::RedisError::from(std::io::Error::other(
            "the notice stream ended",
        )))
    }
}

/// Tells the other replicas about a change when there are any (`--redis`); without them
/// there is no one to tell.
pub async fn notify(shared: Option<&Shared>, notice: Notice) {
    if let Some(shared) = shared {
        shared.publish(&notice).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        let up = Notice::TunnelUp(RemoteTunnel {
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
            Notice::TunnelDown {
                provider_id: "prv_1".into(),
                url: "http://10.0.0.7:8080".into(),
            },
        ] {
            let text = n.encode("rpl_1");
            assert_eq!(Notice::decode(&text), Some(("rpl_1", n)));
        }
        assert_eq!(Notice::decode("rpl_1 bogus"), None);
        assert_eq!(Notice::decode(""), None);
    }
}
