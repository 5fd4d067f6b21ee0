//! The pooled HTTP client every adapter shares: keep-alive pools, HTTP/2 by ALPN,
//! `TCP_NODELAY` (no Nagle delay on small SSE writes), no redirects (a redirect is an SSRF
//! path), no system proxy, no response decompression (bodies pass through untouched), and
//! name resolution through [`GuardedResolver`](crate::address_guard::GuardedResolver), so
//! link-local and metadata addresses are refused at connect time. [`read_limited`] reads
//! a whole response body up to a size.

use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// Client-wide settings; per-request deadlines are applied by the caller.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 1024,
        }
    }
}

/// Builds a shared upstream client. With `allow_private: false` it also refuses loopback
/// and private addresses at connect time (the org's upstream policy for non-admins).
pub fn build(
    settings: &ClientSettings,
    allow_private: bool,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(settings.connect_timeout)
        .pool_idle_timeout(settings.pool_idle_timeout)
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(crate::address_guard::GuardedResolver { allow_private })
        .user_agent(concat!("modelgate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why a body was not read whole.
#[derive(Debug)]
pub enum ReadError {
    /// It is (or declares itself) larger than the limit.
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a whole response body, refusing one larger than `limit` bytes as soon as its
/// declared length or the bytes received so far say so (never holding more than
/// `limit`). A body that comes in one chunk of its declared length is not copied.
pub async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Transport)? {
        if buf.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        if buf.is_empty() && resp.content_length() == Some(chunk.len() as u64) {
            return Ok(chunk);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
