//! Tunnels across replicas (`--redis`): an agent is connected to one replica, yet a
//! request may land on any. The replica holding the agent announces it (a change notice,
//! repeated every [`HEARTBEAT`] as long as the agent stays); the others remember where
//! each tunnel lives and forward its requests there over the internal channel —
//! `/internal/tunnels/{provider}/v1/...` on the owner's advertised URL, authenticated by
//! an HMAC of the provider id, the time, the method and the path under a key derived from
//! the master key (which every replica holds); each signature is accepted once (Redis
//! remembers it for the time window) and only model API paths (`v1/...`) are relayed. The receiving replica sends the request through its link and
//! streams the answer back; metering stays with the replica the client reached.

use super::hub::{TUNNEL_ENDPOINT, stopped};
use crate::providers::Providers;
use crate::runtime::RuntimeProvider;
use modelgate_cluster::RemoteTunnel;
use modelgate_core::GatewayError;
use modelgate_core::{ErrorKind, now_millis};
use modelgate_providers::UpstreamError;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How often a replica repeats that it holds a tunnel.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// The header of internal requests: `<unix seconds> <nonce> <hmac hex>`.
pub const INTERNAL_HEADER: &str = "x-modelgate-internal";
/// How far apart two replicas' clocks may be.
const SKEW_SECS: u64 = 30;

fn internal_message(provider_id: &str, ts: i64, nonce: &str, method: &str, path: &str) -> String {
    format!("{provider_id}|{ts}|{nonce}|{method}|{path}")
}

/// Whether a relayed path is one of the model API's (no way to reach the target's others).
pub fn relayable(path: &str) -> bool {
    path.starts_with("/v1/") && !path.contains("..") && !path.contains("//")
}

impl Providers {
    /// Forwards a tunnel provider's request to the replica holding its agent.
    pub(crate) async fn forward_to_owner(
        &self,
        p: &RuntimeProvider,
        owner: &RemoteTunnel,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let unreachable = |why: String| {
            UpstreamError::new(
                ErrorKind::UpstreamUnreachable,
                format!("the replica holding tunnel '{}' {why}", p.name()),
            )
        };
        let mut req = req
            .build()
            .map_err(|e| UpstreamError::from_transport(p.name(), &e))?;
        let path = match req.url().query() {
            Some(q) => format!("{}?{q}", req.url().path()),
            None => req.url().path().to_owned(),
        };
        let target = format!(
            "{}/internal/tunnels/{}{path}",
            owner.url.trim_end_matches('/'),
            p.row.id
        );
        *req.url_mut() = url::Url::parse(&target)
            .map_err(|e| unreachable(format!("has no usable address ({e})")))?;
        let ts = now_millis() / 1000;
        let nonce = modelgate_core::ids::new_id("n");
        let mac = self.master_key.internal_mac(&internal_message(
            &p.row.id,
            ts,
            &nonce,
            req.method().as_str(),
            &path,
        ));
        let value = http::HeaderValue::from_str(&format!("{ts} {nonce} {mac}"))
            .map_err(|e| unreachable(e.to_string()))?;
        req.headers_mut().insert(INTERNAL_HEADER, value);
        self.client
            .execute(req)
            .await
            .map_err(|e| unreachable(format!("could not be reached: {e}")))
    }

    /// Checks an internal request for tunnel `provider_id`: a fresh, valid signature of
    /// this method and path, never seen before, on a model API path.
    pub async fn check_internal(
        &self,
        provider_id: &str,
        method: &str,
        path: &str,
        header: Option<&str>,
    ) -> Result<(), GatewayError> {
        let refused = || {
            GatewayError::new(ErrorKind::Unauthorized, "not a valid internal request")
                .with_code("internal_auth_invalid")
        };
        let mut parts = header.unwrap_or_default().splitn(3, ' ');
        let (Some(ts), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(refused());
        };
        let ts: i64 = ts.parse().map_err(|_| refused())?;
        if (now_millis() / 1000).abs_diff(ts) > SKEW_SECS {
            return Err(refused());
        }
        let expected =
            self.master_key
                .internal_mac(&internal_message(provider_id, ts, nonce, method, path));
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return Err(refused());
        }
        if !relayable(path) {
            return Err(GatewayError::forbidden("only model API paths are relayed"));
        }
        // Without Redis there is no other replica to relay for.
        let shared = self.shared.as_ref().ok_or_else(refused)?;
        if !shared.first_use(nonce, 2 * SKEW_SECS + 1).await? {
            return Err(refused());
        }
        Ok(())
    }

    /// Sends a forwarded request through this replica's link of tunnel `provider_id`.
    pub async fn relay_internal(
        &self,
        provider_id: &str,
        method: reqwest::Method,
        path_and_query: &str,
        headers: http::HeaderMap,
        body: reqwest::Body,
    ) -> Result<reqwest::Response, GatewayError> {
        let name = self
            .registry
            .snapshot()
            .tunnel(provider_id)
            .map(|p| p.name().to_owned())
            .ok_or_else(|| GatewayError::not_found("no such tunnel"))?;
        let link = self
            .tunnels
            .link(provider_id)
            .ok_or_else(|| stopped(&name))?;
        let base = TUNNEL_ENDPOINT.trim_end_matches("/v1");
        let url = url::Url::parse(&format!("{base}{path_and_query}"))
            .map_err(|e| GatewayError::bad_request(e.to_string()))?;
        let mut req = reqwest::Request::new(method, url);
        for (name, value) in &headers {
            if name != INTERNAL_HEADER && name != http::header::HOST {
                req.headers_mut().append(name, value.clone());
            }
        }
        *req.body_mut() = Some(body);
        link.send(req).await.map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamUnreachable,
                format!("the tunnel '{name}' failed: {e}"),
            )
        })
    }
}
