//! The gateway's end of a tunnel: an HTTP/2 *client* over a connection the agent dialed.
//!
//! The gateway accepts `GET /api/tunnels/connect`, answers `101`, and hands the upgraded
//! connection to [`open`]. It gets a [`TunnelLink`] (cheap to clone, one per tunnel) to send
//! requests through, and a future that drives the connection: the gateway spawns it, and
//! when it resolves the tunnel is down. Requests and responses are plain `reqwest` types,
//! so the gateway's provider code can send through a tunnel exactly as it sends to a URL.

use crate::headers::strip_hop_by_hop;
use crate::protocol::{
    CONNECTION_WINDOW, KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT, STREAM_WINDOW, TUNNEL_AUTHORITY,
};
use http::header::HOST;
use http::uri::{PathAndQuery, Scheme, Uri};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use reqwest::ResponseBuilderExt;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};

/// Why a tunnel could not be opened or a request could not go through it.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// The tunnel's connection is gone (the agent disconnected, or a keep-alive PING went
    /// unanswered). The request was not processed by the agent.
    #[error("the tunnel is closed")]
    Closed,
    /// The HTTP/2 handshake over the upgraded connection failed.
    #[error("the tunnel's HTTP/2 handshake failed: {0}")]
    Handshake(String),
    /// The request cannot be expressed on the tunnel (e.g. an unusable path).
    #[error("invalid request for the tunnel: {0}")]
    InvalidRequest(String),
    /// No response head arrived within the request's `timeout`.
    #[error("the tunnel agent did not answer in time")]
    Timeout,
    /// The request failed on the tunnel (stream reset, protocol error...).
    #[error("sending through the tunnel failed: {0}")]
    Send(String),
}

/// A handle to send requests through one tunnel. Clones share the connection.
#[derive(Clone, Debug)]
pub struct TunnelLink {
    sender: SendRequest<reqwest::Body>,
}

/// Performs the HTTP/2 client handshake over an upgraded connection.
///
/// Returns the link and a future that drives the connection and resolves when it ends (the
/// caller spawns it; when it resolves the tunnel is down). Keep-alive PINGs go out every
/// [`KEEP_ALIVE_INTERVAL`], also while idle; one unanswered for [`KEEP_ALIVE_TIMEOUT`] ends
/// the connection.
pub async fn open<IO>(
    io: IO,
) -> Result<(TunnelLink, impl Future<Output = ()> + Send + 'static), TunnelError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .adaptive_window(false)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    let (sender, connection) = builder
        .handshake::<_, reqwest::Body>(TokioIo::new(io))
        .await
        .map_err(|e| TunnelError::Handshake(e.to_string()))?;
    let driver = async move {
        match connection.await {
            Ok(()) => tracing::debug!("tunnel connection closed"),
            Err(e) => tracing::debug!(error = %e, "tunnel connection ended"),
        }
    };
    Ok((TunnelLink { sender }, driver))
}

impl TunnelLink {
    /// Sends one request through the tunnel and returns the agent's response as soon as its
    /// head arrives; the body streams.
    ///
    /// The URL's scheme and host are ignored: the path and query are sent, with the
    /// authority [`TUNNEL_AUTHORITY`]. Hop-by-hop headers and `host` are dropped. The
    /// request's `timeout`, if set, bounds the wait for the response head only (the body
    /// of a long stream is not cut). The returned response's `url()` is the request's URL.
    pub async fn send(&self, req: reqwest::Request) -> Result<reqwest::Response, TunnelError> {
        let url = req.url().clone();
        let timeout = req.timeout().copied();
        let mut request: http::Request<reqwest::Body> = req
            .try_into()
            .map_err(|e: reqwest::Error| TunnelError::InvalidRequest(e.to_string()))?;
        *request.uri_mut() = tunnel_uri(&url)?;
        *request.version_mut() = http::Version::HTTP_2;
        strip_hop_by_hop(request.headers_mut());
        request.headers_mut().remove(HOST);

        let mut sender = self.sender.clone();
        sender.ready().await.map_err(|_| TunnelError::Closed)?;
        let sent = sender.send_request(request);
        let response = match timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| TunnelError::Timeout)?,
            None => sent.await,
        }
        .map_err(send_error)?;

        let (parts, body) = response.into_parts();
        let mut builder = http::Response::builder()
            .status(parts.status)
            .version(parts.version);
        if let Some(headers) = builder.headers_mut() {
            *headers = parts.headers;
        }
        if let Some(extensions) = builder.extensions_mut() {
            *extensions = parts.extensions;
        }
        let response = builder
            .url(url)
            .body(reqwest::Body::wrap(body))
            .map_err(|e| TunnelError::Send(e.to_string()))?;
        Ok(reqwest::Response::from(response))
    }

    /// Whether the tunnel's connection has ended: no request can be sent through it any
    /// more.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// `http://tunnel/<path>?<query>` for the request's URL.
fn tunnel_uri(url: &url::Url) -> Result<Uri, TunnelError> {
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let path_and_query = PathAndQuery::try_from(path_and_query)
        .map_err(|e| TunnelError::InvalidRequest(e.to_string()))?;
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(TUNNEL_AUTHORITY)
        .path_and_query(path_and_query)
        .build()
        .map_err(|e| TunnelError::InvalidRequest(e.to_string()))
}

fn send_error(e: hyper::Error) -> TunnelError {
    if e.is_closed() || e.is_canceled() {
        TunnelError::Closed
    } else {
        let mut message = e.to_string();
        if let Some(source) = std::error::Error::source(&e) {
            message = format!("{message}: {source}");
        }
        TunnelError::Send(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_uri_keeps_path_and_query_only() {
        let url = url::Url::parse("https://ignored.example:8443/v1/models?limit=2").unwrap();
        let uri = tunnel_uri(&url).unwrap();
        assert_eq!(uri.to_string(), "http://tunnel/v1/models?limit=2");
    }
}
