//! The admin services of providers and what runs on them, behind `/api/...` and
//! `GET /v1/models`: providers, their targets and shares, session tunnels, the providers a
//! config file declares, model listing, and the web chat's conversations. Each takes the
//! calling [`Principal`](modelgate_org::Principal) and enforces who may do what. The
//! organization's own services (users, groups, keys, allocations, sessions, settings,
//! usage reports, virtual models) are in `modelgate-org`.

pub mod conversations;
pub mod declared;
pub mod models;
pub mod provider_spec;
pub mod provider_targets;
pub mod provider_view;
pub mod providers;
pub mod shares;
pub mod tunnels;

pub use modelgate_org::api::{double_option, parse_time, require_admin, rfc3339, valid_slug};

use modelgate_core::GatewayError;

/// The answer for a provider the caller cannot see (or that does not exist).
pub(crate) fn no_provider(name: &str) -> GatewayError {
    GatewayError::not_found(format!("no provider named '{name}'"))
}
