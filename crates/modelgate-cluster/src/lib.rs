//! State that several gateway replicas share (`--redis`): budget reservations and
//! spend ([`budget`]), rate-limit windows ([`limits`]) and signed change notices
//! ([`events`]), in one Redis. Without `--redis` none of this exists and the process keeps
//! the same state in memory (the gateway's own ledger and windows). Every counter update is one Lua script (one round trip, atomic on the
//! Redis side). When Redis cannot be reached, budgets fail closed (503: no request runs
//! unbudgeted) and rate limits fail open (a logged warning: an outage of the counters
//! must not stop the organization's traffic). Why Redis and not the database:
//! `docs/decisions/0007-replicas-share-counters-in-redis.md`.

pub mod budget;
pub mod events;
pub mod limits;

pub use events::{Notice, NoticeHandler, RemoteTunnel, notify};

use redis::aio::ConnectionManager;

/// A failure of the shared state.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The Redis URL cannot be used, or Redis cannot be reached at start.
    #[error("{0}")]
    Setup(String),
    /// Redis failed during a request (logged where it happened).
    #[error("the gateway's shared state is unavailable; try again shortly")]
    Unavailable,
}

/// A shared-state failure as the API answers it.
impl From<ClusterError> for modelgate_core::GatewayError {
    fn from(err: ClusterError) -> Self {
        match err {
            ClusterError::Setup(message) => Self::internal(message),
            e @ ClusterError::Unavailable => {
                Self::new(modelgate_core::ErrorKind::Unavailable, e.to_string())
            }
        }
    }
}

/// The shared state's connection and names.
pub struct Shared {
    conn: ConnectionManager,
    client: redis::Client,
    /// Every key and channel starts with this (several deployments may share a Redis).
    prefix: String,
    /// This process, so it can ignore its own change notices.
    pub replica: String,
    scripts: budget::Scripts,
    admit: redis::Script,
    /// Signs and checks change notices (a notice in Redis is trusted only if signed).
    master_key: modelgate_core::sealing::MasterKey,
}

impl Shared {
    /// Connects (the manager reconnects by itself after a failure).
    pub async fn connect(
        url: &str,
        prefix: &str,
        master_key: modelgate_core::sealing::MasterKey,
    ) -> Result<Self, ClusterError> {
        let client = redis::Client::open(url)
            .map_err(|e| ClusterError::Setup(format!("the Redis URL is not usable: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)));
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| ClusterError::Setup(format!("cannot reach Redis: {e}")))?;
        Ok(Self {
            conn,
            client,
            prefix: prefix.to_owned(),
            replica: modelgate_core::ids::new_id("rpl"),
            scripts: budget::Scripts::new(),
            admit: limits::admit_script(),
            master_key,
        })
    }

    fn key(&self, parts: std::fmt::Arguments<'_>) -> String {
        format!("{}:{parts}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Records a one-time value for `ttl_secs`; false if it was already seen (a replay).
    pub async fn first_use(&self, value: &str, ttl_secs: u64) -> Result<bool, ClusterError> {
        let key = self.key(format_args!("once:{value}"));
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(set.is_some())
    }
}

/// A Redis failure, logged here and reported as [`ClusterError::Unavailable`].
fn unavailable(e: &redis::RedisError) -> ClusterError {
    tracing::error!(error = %e, "the shared state (Redis) failed");
    ClusterError::Unavailable
}
