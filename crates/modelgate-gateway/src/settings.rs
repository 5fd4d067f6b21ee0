//! Tunables of the pipeline, with the defaults a fresh `modelgate serve` runs with.

use modelgate_core::Clock;
use modelgate_providers::client::ClientSettings;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Largest non-streamed upstream response relayed.
    pub max_response_bytes: usize,
    /// Time allowed for the upstream's response headers (first byte).
    pub first_byte_timeout: Duration,
    /// Total time allowed for a non-streamed upstream response.
    pub request_timeout: Duration,
    /// How long discovered model lists stay fresh.
    pub models_ttl: Duration,
    /// Time allowed for one model discovery call.
    pub discovery_timeout: Duration,
    /// How long an authenticated key stays cached (revocation invalidates at once).
    pub key_cache_ttl: Duration,
    pub client: ClientSettings,
    /// Where the usage journal lives (the data dir); `None` runs without one (records
    /// queued but not yet stored are then lost in a crash).
    pub journal_dir: Option<std::path::PathBuf>,
    /// Redis shared by several replicas (`--redis`): budgets, rate limits, change notices.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel of this deployment.
    pub redis_prefix: String,
    /// Where key expiry, per-minute rate-limit windows and circuit-breaker cooldowns read
    /// the time: the system's, or a test's manual clock.
    pub clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            first_byte_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(600),
            models_ttl: Duration::from_secs(600),
            discovery_timeout: Duration::from_secs(10),
            key_cache_ttl: Duration::from_secs(60),
            client: ClientSettings::default(),
            journal_dir: None,
            redis_url: None,
            redis_prefix: "modelgate".into(),
            clock: Clock::system(),
        }
    }
}
