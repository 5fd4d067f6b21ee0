//! Sending a request to a provider by its [`Transport`]: a direct provider's request goes
//! out on the client it was built with; a tunnel's through its agent (`tunnel/agents.rs`).
//! Whether a provider can take a request at all (a tunnel whose agent is gone cannot)
//! is asked here too, before any budget is reserved.

use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use crate::transport::Transport;
use modelgate_providers::UpstreamError;

impl Providers {
    /// Sends an upstream request built with [`Providers::client_for`].
    pub async fn send_upstream(
        &self,
        p: &RuntimeProvider,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        match &p.transport {
            Transport::Direct(_) => req
                .send()
                .await
                .map_err(|e| UpstreamError::from_transport(p.name(), &e)),
            Transport::Tunnel => self.send_through_tunnel(p, req).await,
        }
    }

    /// Whether `p` can take a request now: a direct provider always; a tunnel when its
    /// agent is connected here or on another replica.
    pub fn reachable(&self, p: &RuntimeProvider) -> bool {
        match &p.transport {
            Transport::Direct(_) => true,
            Transport::Tunnel => self.tunnels.is_running(&p.row.id),
        }
    }
}
