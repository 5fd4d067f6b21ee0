//! Session tunnels, the gateway's side. A member runs `modelgate tunnel` next to a model
//! server; the agent dials `GET /api/tunnels/connect` with its token, the front door
//! upgrades the connection, and the gateway becomes an HTTP/2 *client* over it
//! (`modelgate-tunnel`'s link). A tunnel is a provider of kind `openai-tunnel` whose
//! [`Transport`](crate::transport::Transport) is the tunnel: [`hub`] keeps the live links
//! (and, with `--redis`, which replica holds each), [`agents`] serves an agent's
//! connection and sends requests through it, [`relay`] forwards requests between
//! replicas to the one holding the agent. Why a transport:
//! `docs/decisions/0006-tunnels-are-a-transport.md`.

pub mod agents;
pub mod hub;
pub mod relay;

pub use hub::{
    LiveInfo, TOKEN_PREFIX, TUNNEL_ENDPOINT, TUNNEL_KIND, TunnelGrant, TunnelHub, stopped,
    token_hash,
};
