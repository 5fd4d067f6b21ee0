//! The agent: `modelgate tunnel`, next to a private model server.
//!
//! [`run`] dials the gateway (`connect`), serves HTTP/2 on the upgraded connection and
//! forwards each request to the target (`forward`), then reconnects with capped,
//! jittered exponential backoff whenever the connection is lost, until the shutdown future
//! resolves. A refused token, a refused TLS certificate or an unreadable `--ca-file` are
//! fatal: retrying cannot fix them, so [`run`] returns the error instead.

mod connect;
mod forward;

use connect::{ConnectError, Gateway};
use forward::Forwarder;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::time::{Duration, Instant};

use crate::protocol::{
    CONNECTION_WINDOW, KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT, MAX_CONCURRENT_STREAMS,
    STREAM_WINDOW,
};

/// First reconnect delay.
const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted longer than this resets the backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What `modelgate tunnel` was told.
#[derive(Clone)]
pub struct AgentConfig {
    /// The gateway's base URL (`http` or `https`); the agent connects to
    /// `<gateway>/api/tunnels/connect`.
    pub gateway: url::Url,
    /// The tunnel's token, sent as `authorization: Bearer`. Never logged.
    pub token: String,
    /// The model server's base URL, with or without a trailing `/v1`.
    pub target: url::Url,
    /// Sent to the target as `authorization: Bearer` when set. Never logged.
    pub target_api_key: Option<String>,
    /// A PEM file of extra CA certificates to trust for the gateway's TLS certificate.
    pub ca_file: Option<PathBuf>,
    /// A name for this agent, shown by the gateway.
    pub name: Option<String>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("gateway", &self.gateway.as_str())
            .field("token", &"<redacted>")
            .field("target", &self.target.as_str())
            .field(
                "target_api_key",
                &self.target_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("ca_file", &self.ca_file)
            .field("name", &self.name)
            .finish()
    }
}

/// Why the agent stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The command line cannot work (bad URL scheme, a token that is not a header value...).
    #[error("{0}")]
    Config(String),
    /// `--ca-file` could not be read or holds no PEM certificate.
    #[error("cannot use --ca-file {path}: {reason}")]
    CaFile {
        /// The file as given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The gateway answered 401 or 403 to the token.
    #[error("the gateway refused the token: {0} (revoked, mistyped or for another gateway)")]
    TokenRefused(String),
    /// The gateway's TLS certificate was not trusted.
    #[error(
        "the gateway's TLS certificate was refused ({0}); pass --ca-file with the CA that signed it"
    )]
    Certificate(String),
    /// The gateway answered `101` but not with this protocol.
    #[error("the gateway does not speak the tunnel protocol: {0}")]
    Protocol(String),
    /// An HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Runs the agent until `shutdown` resolves (then returns `Ok` after letting in-flight
/// requests finish for up to 10 s) or a fatal error occurs.
#[expect(
    clippy::disallowed_methods,
    reason = "the agent owns its connection's health probe task"
)]
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let gateway = Gateway::new(&config)?;
    let forwarder = Forwarder::new(&config)?;
    tracing::info!(
        "tunnel agent {} starting: gateway {}, target {}",
        gateway.agent_name(),
        gateway.display(),
        forwarder.target_display()
    );
    let probe = tokio::spawn({
        let forwarder = forwarder.clone();
        async move { forwarder.probe().await }
    });
    let result = reconnect_loop(&gateway, &forwarder, pin!(shutdown)).await;
    probe.abort();
    result
}

async fn reconnect_loop<F: Future<Output = ()>>(
    gateway: &Gateway,
    forwarder: &Forwarder,
    mut shutdown: Pin<&mut F>,
) -> Result<(), AgentError> {
    let mut backoff = Backoff::new();
    loop {
        let attempt = tokio::select! {
            biased;
            () = &mut shutdown => {
                tracing::info!("shutdown requested; stopped");
                return Ok(());
            }
            attempt = gateway.connect() => attempt,
        };
        let reason = match attempt {
            Ok(upgraded) => {
                tracing::info!(
                    "connected to gateway {} as tunnel agent {}; forwarding to {}",
                    gateway.display(),
                    gateway.agent_name(),
                    forwarder.target_display(),
                );
                let since = Instant::now();
                match serve(upgraded, forwarder.clone(), shutdown.as_mut()).await {
                    Served::Shutdown => return Ok(()),
                    Served::Lost(reason) => {
                        if since.elapsed() > BACKOFF_RESET_AFTER {
                            backoff.reset();
                        }
                        format!("disconnected: {reason}")
                    }
                }
            }
            Err(ConnectError::Fatal(e)) => return Err(e),
            Err(ConnectError::Retry(reason)) => reason,
        };
        let delay = backoff.next_delay();
        tracing::warn!("{reason}; reconnecting in {:.1}s", delay.as_secs_f64());
        tokio::select! {
            biased;
            () = &mut shutdown => {
                tracing::info!("shutdown requested; stopped");
                return Ok(());
            }
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// How one tunnel connection ended.
enum Served {
    /// Shutdown was requested; the connection was closed gracefully (or after the grace).
    Shutdown,
    /// The connection ended on its own, for this reason.
    Lost(String),
}

/// Serves HTTP/2 on the upgraded connection until it ends or shutdown is requested.
async fn serve<F: Future<Output = ()>>(
    io: reqwest::Upgraded,
    forwarder: Forwarder,
    mut shutdown: Pin<&mut F>,
) -> Served {
    let service = service_fn(move |req| {
        let forwarder = forwarder.clone();
        async move { Ok::<_, Infallible>(forwarder.forward(req).await) }
    });
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .adaptive_window(false)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        ended = connection.as_mut() => Served::Lost(match ended {
            Ok(()) => "the gateway closed the tunnel".to_owned(),
            Err(e) => connect::error_chain(&e),
        }),
        () = &mut shutdown => {
            tracing::info!(
                "shutting down: finishing in-flight requests (up to {}s)",
                SHUTDOWN_GRACE.as_secs()
            );
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                Ok(Ok(())) => tracing::info!("tunnel closed"),
                Ok(Err(e)) => tracing::info!("tunnel closed: {}", connect::error_chain(&e)),
                Err(_) => tracing::warn!(
                    "in-flight requests did not finish within {}s; closing the tunnel",
                    SHUTDOWN_GRACE.as_secs()
                ),
            }
            Served::Shutdown
        }
    }
}

/// Capped exponential backoff with ±25 % jitter.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            next: BACKOFF_INITIAL,
        }
    }

    fn reset(&mut self) {
        self.next = BACKOFF_INITIAL;
    }

    fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(BACKOFF_MAX);
        base.mul_f64(0.75 + 0.5 * random_unit()).min(BACKOFF_MAX)
    }
}

/// A number in `[0, 1)`, random enough for jitter (std's randomly keyed SipHash).
fn random_unit() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
        let mut last = first;
        for _ in 0..12 {
            last = b.next_delay();
        }
        assert!(last <= BACKOFF_MAX && last >= BACKOFF_MAX.mul_f64(0.75));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(625));
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = AgentConfig {
            gateway: url::Url::parse("https://gw.example").unwrap(),
            token: "tok-secret".into(),
            target: url::Url::parse("http://127.0.0.1:8000").unwrap(),
            target_api_key: Some("key-secret".into()),
            ca_file: None,
            name: None,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("tok-secret") && !shown.contains("key-secret"));
    }
}
