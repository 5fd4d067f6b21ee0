//! The wire protocol shared by the agent and the gateway, as constants.
//!
//! 1. The agent sends `GET` [`CONNECT_PATH`] over HTTP/1.1 to the gateway's base URL with
//!    `authorization: Bearer <token>`, `connection: upgrade`, `upgrade:`
//!    [`UPGRADE_PROTOCOL`], [`AGENT_VERSION_HEADER`] and, if the agent has a name,
//!    [`AGENT_NAME_HEADER`].
//! 2. The gateway answers `101 Switching Protocols` with `upgrade:` [`UPGRADE_PROTOCOL`],
//!    or an OpenAI-style JSON error (`{"error":{"message","type","code"}}`): 401 for a bad
//!    or revoked token, 409 when the tunnel already has a connected agent (the agent
//!    retries with backoff), anything else for other failures.
//! 3. After the 101 the agent is the HTTP/2 server on the upgraded stream and the gateway
//!    the HTTP/2 client. Requests carry OpenAI-style paths including `/v1`, and no
//!    credentials.

use std::time::Duration;

/// Path of the upgrade request, relative to the gateway's base URL.
pub const CONNECT_PATH: &str = "/api/tunnels/connect";
/// Value of the `upgrade` header in the agent's request and the gateway's 101 answer.
pub const UPGRADE_PROTOCOL: &str = "modelgate-tunnel/1";
/// Request header carrying the agent's version (`CARGO_PKG_VERSION`).
pub const AGENT_VERSION_HEADER: &str = "x-modelgate-agent-version";
/// Request header carrying the agent's optional name (`--name`).
pub const AGENT_NAME_HEADER: &str = "x-modelgate-agent-name";
/// This crate's version, sent in [`AGENT_VERSION_HEADER`].
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// HTTP/2 PING interval, on both sides, also while idle.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a PING may go unanswered before the connection is considered dead.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Most concurrent streams (requests) the agent accepts on one tunnel.
pub const MAX_CONCURRENT_STREAMS: u32 = 256;

/// Per-stream HTTP/2 receive window (both sides): how much of one body may be in flight
/// unread.
pub const STREAM_WINDOW: u32 = 1024 * 1024;
/// Per-connection HTTP/2 receive window (both sides). Sized at 16 stream windows so that a
/// few streams whose readers stopped reading cannot exhaust it and stall the others; fixed
/// windows rather than hyper's adaptive window, which sets both to the same value and so
/// lets a single stalled stream stall the whole connection.
pub const CONNECTION_WINDOW: u32 = 16 * STREAM_WINDOW;

/// Authority (`:authority`) the gateway puts on requests sent through a tunnel.
pub const TUNNEL_AUTHORITY: &str = "tunnel";

/// `error.code` of the agent's 502 answer when its target cannot be reached.
pub const TARGET_UNREACHABLE_CODE: &str = "tunnel_target_unreachable";
