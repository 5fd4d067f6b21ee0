//! Change notices from the other replicas (`--redis`): [`NoticeHandler`] for the gateway
//! applies theirs (reload the org directory or the providers, drop a revoked key,
//! learn where a tunnel lives). The wire format and the listener are in
//! `modelgate-cluster` (`events.rs`).

use crate::gateway::Gateway;
use modelgate_cluster::{Notice, NoticeHandler};
use std::sync::Arc;

impl NoticeHandler for Gateway {
    #[expect(
        clippy::disallowed_methods,
        reason = "a provider's model refresh runs off the notice listener, which must not wait for it"
    )]
    async fn apply(self: Arc<Self>, notice: Notice) {
        let gw = &self;
        let result = match notice {
            Notice::Org => gw.org.load().await,
            Notice::Providers => gw.providers.load_providers_in_background().await,
            Notice::Key(hash) => {
                gw.org.auth.invalidate(&hash);
                Ok(())
            }
            Notice::TunnelUp(t) => {
                let id = t.provider_id.clone();
                if gw.providers.tunnels.remote_up(t) {
                    // Newly running elsewhere: learn its models through the owner.
                    let name = gw
                        .providers
                        .snapshot()
                        .tunnel(&id)
                        .map(|p| p.name().to_owned());
                    if let Some(name) = name {
                        let providers = gw.providers.clone();
                        tokio::spawn(async move { providers.refresh_provider_models(&name).await });
                    }
                }
                Ok(())
            }
            Notice::TunnelDown { provider_id, url } => {
                gw.providers.tunnels.remote_down(&provider_id, &url);
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not apply a change notice");
        }
    }
}
