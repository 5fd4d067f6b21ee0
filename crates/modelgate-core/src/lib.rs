//! Domain vocabulary shared by every modelgate crate: identifiers, secrets, API keys and
//! their scopes, sealed (encrypted-at-rest) blobs, provider kinds, roles, usage, the
//! closed set of error kinds and the clock time is read from. Nothing here does I/O or is
//! async, so every other crate can depend on it.

pub mod clock;
pub mod error;
pub mod gateway_error;
pub mod ids;
pub mod keys;
pub mod kinds;
pub mod scopes;
pub mod sealing;
pub mod secret;
pub mod usage;

pub use clock::{Clock, ManualClock};
pub use error::ErrorKind;
pub use gateway_error::GatewayError;
pub use kinds::{ProviderKind, Role};
pub use scopes::{Scope, Scopes};
pub use secret::Secret;

/// Milliseconds since the Unix epoch, the one timestamp unit of the store.
/// (The system clock's reading; code that tests drive in time reads a [`Clock`].)
pub fn now_millis() -> i64 {
    clock::unix_millis(std::time::SystemTime::now())
}
