//! How a provider's requests travel, chosen once when the provider is built from its
//! row: [`Transport::Direct`] over an HTTP client to the endpoint, or
//! [`Transport::Tunnel`] through a session tunnel's agent. The request path asks the
//! transport (`send.rs`); it never asks whether a provider "is a tunnel".

/// How requests reach a provider.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Straight to the endpoint over this client: the provider's own (when it sets a
    /// connect timeout), the public-only one (a provider restricted by the org's upstream
    /// policy), or the shared one.
    Direct(reqwest::Client),
    /// Through the link of a session tunnel's agent, on this replica or the one holding
    /// it. A tunnel serves its creator's own model server: private to them, its endpoint
    /// and credentials belong to the agent, and it is free unless priced.
    Tunnel,
}

impl Transport {
    /// A session tunnel.
    pub fn is_tunnel(&self) -> bool {
        matches!(self, Transport::Tunnel)
    }
}
