//! Token usage of one request and the record the metering layer stores for it.

use serde::{Deserialize, Serialize};

/// Tokens of one request as reported by the upstream (or estimated, see `estimated`).
/// `input_tokens` counts every input token, cache reads and writes included;
/// `output_tokens` every output token, reasoning included. The parts are priced at their
/// own rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic, Bedrock).
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning (OpenAI's `reasoning_tokens`).
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// How a metered request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The upstream answered completely.
    Ok,
    /// The upstream answered with an error status (relayed to the client).
    UpstreamError,
    /// The upstream could not be reached or timed out before answering.
    UpstreamFailed,
    /// A stream broke part-way (reset, malformed, or ended without its terminator).
    StreamBroken,
    /// The client went away before the answer was complete.
    ClientDisconnected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::UpstreamFailed => "upstream_failed",
            Outcome::StreamBroken => "stream_broken",
            Outcome::ClientDisconnected => "client_disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Outcome::Ok,
            "upstream_error" => Outcome::UpstreamError,
            "upstream_failed" => Outcome::UpstreamFailed,
            "stream_broken" => Outcome::StreamBroken,
            "client_disconnected" => Outcome::ClientDisconnected,
            _ => return None,
        })
    }
}

/// One metered request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Internal unique id of the record (idempotent insert).
    pub id: String,
    /// The request id the client saw in `x-request-id`.
    pub request_id: String,
    pub created_at_ms: i64,
    pub key_id: String,
    pub user_id: String,
    /// The budget allocation the request drew from, if its key is bound to one.
    #[serde(default)]
    pub allocation_id: Option<String>,
    pub provider: String,
    pub model: String,
    /// Which API: `chat.completions`, `completions`, `embeddings`, `responses`.
    pub api: String,
    pub stream: bool,
    pub usage: TokenUsage,
    /// True when the upstream reported no usage and the tokens were counted by us.
    pub usage_estimated: bool,
    /// Cost in micro-dollars (0 until prices arrive with the catalog).
    pub cost_micros: i64,
    /// HTTP status sent to the client (200 for streams that started).
    pub status: u16,
    pub outcome: Outcome,
    /// Total time from request to last byte, milliseconds.
    pub latency_ms: i64,
    /// Time to first byte from upstream (first token for streams), milliseconds.
    pub ttft_ms: Option<i64>,
}
