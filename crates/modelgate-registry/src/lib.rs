//! The providers of the organization and how requests reach them: each provider's stored
//! settings ([`config`]) and runtime form ([`runtime`]: adapters per target, circuit
//! [`breaker`]s, weighted [`targets`], its [`transport`]), built from its row ([`build`]);
//! the lock-free [`snapshot`] the request path reads, kept current by [`providers`]
//! (loading, model discovery, change notices); which provider a model reference names
//! ([`resolve`], pure); sending a request by transport ([`send`]); session tunnels
//! ([`tunnel`]); and the admin services of providers and what runs on them ([`services`]:
//! providers, targets, shares, tunnels, declared providers, model listing, the web chat's
//! conversations). Knows no budgets or routes.

pub mod breaker;
pub mod build;
pub mod config;
pub mod providers;
pub mod resolve;
pub mod runtime;
pub mod send;
pub mod services;
pub mod snapshot;
pub mod targets;
pub mod transport;
pub mod tunnel;

pub use providers::{Providers, RegistrySettings};
pub use runtime::RuntimeProvider;
pub use snapshot::Snapshot;
