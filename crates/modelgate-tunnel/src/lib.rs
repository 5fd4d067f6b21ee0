//! Session tunnels: a private model server reaches the gateway by dialing out.
//!
//! A researcher runs vLLM or Ollama on a machine that accepts no inbound connections and
//! starts `modelgate tunnel` next to it. The agent ([`agent`]) opens one outbound
//! HTTP/1.1 connection to the gateway, `GET /api/tunnels/connect` with the tunnel's token,
//! and asks to upgrade it to [`protocol::UPGRADE_PROTOCOL`]. Once the gateway answers
//! `101 Switching Protocols`, the roles reverse: on that same byte stream the **agent is
//! the HTTP/2 server and the gateway the HTTP/2 client** ([`link`]). The gateway then sends
//! ordinary OpenAI-style requests (`POST /v1/chat/completions`, `GET /v1/models`, ...) and
//! the agent forwards each one to its local target, streaming both bodies.
//!
//! # Why HTTP/2 over an upgraded HTTP/1.1 connection
//!
//! - **Reverse roles without inbound reachability**: the connection is opened from inside
//!   the private network, through whatever NAT or egress proxy lets HTTP(S) out; the
//!   upgrade is the standard way to turn an HTTP exchange into a raw byte stream (the same
//!   mechanism as WebSockets), so it passes TLS-terminating load balancers that support
//!   upgrades.
//! - **Multiplexing**: many concurrent requests, streamed or not, share one connection,
//!   each an HTTP/2 stream.
//! - **Flow control**: every stream has its own window, so a slow consumer of one stream
//!   (a client reading its SSE slowly) does not stall the others; the connection window is
//!   sized well above the stream window for that reason ([`protocol`]).
//! - **Heartbeats**: HTTP/2 PING frames on both sides detect a dead peer
//!   ([`protocol::KEEP_ALIVE_INTERVAL`], [`protocol::KEEP_ALIVE_TIMEOUT`]).
//! - **An existing protocol, no home-made framing**: both ends are hyper's own HTTP/2
//!   client and server (`hyper::client::conn::http2`, `hyper::server::conn::http2`), so
//!   headers, bodies, trailers, resets, GOAWAY and graceful shutdown behave exactly as on
//!   any HTTP/2 connection.
//!
//! The gateway sends no credentials through the tunnel; the agent adds the target's own
//! API key, if it has one, before forwarding.

pub mod agent;
mod headers;
pub mod link;
pub mod protocol;

pub use agent::{AgentConfig, AgentError, run};
pub use link::{TunnelError, TunnelLink, open};
