//! The organization: who is calling ([`auth`]: AI keys hashed, cached and checked in
//! constant time; [`sessions`]: people signing in), the [`directory`] of users, groups,
//! grants, budget allocations, org settings and virtual models that the request path
//! reads without a database round trip, and the services that change them — each takes
//! the calling [`Principal`] and enforces who may do what: [`users`], [`groups`] (and
//! grants), [`keys`] (with [`key_bounds`]: a key never mints a wider key),
//! [`allocations`], [`settings`], [`usage`] reports and [`virtual_models`]. They work on
//! an [`Organization`]: the store, the directory, the key cache, the ledger and the usage
//! sink — never providers or upstreams (a change that affects who may use a provider
//! tells the registry through [`ProviderRegistry`]).

pub mod allocations;
pub mod api;
pub mod auth;
pub mod declared;
pub mod directory;
pub mod groups;
pub mod key_bounds;
pub mod keys;
pub mod organization;
pub mod password;
pub mod sessions;
pub mod settings;
pub mod usage;
pub mod users;
pub mod virtual_models;

pub use auth::Principal;
pub use directory::Directory;
pub use organization::{Organization, ProviderRegistry};
