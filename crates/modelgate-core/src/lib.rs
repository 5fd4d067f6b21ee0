//! Domain vocabulary shared by every modelgate crate: identifiers, secrets, API keys and
//! their scopes, sealed (encrypted-at-rest) blobs, provider kinds, roles, usage and the
//! closed set of error kinds. Nothing here does I/O or is async, so every other crate can
//! depend on it.

pub mod error;
pub mod ids;
pub mod keys;
pub mod kinds;
pub mod scopes;
pub mod sealing;
pub mod secret;
pub mod usage;

pub use error::ErrorKind;
pub use kinds::{ProviderKind, Role};
pub use scopes::{Scope, Scopes};
pub use secret::Secret;

/// Milliseconds since the Unix epoch, the one timestamp unit of the store.
pub fn now_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
