//! What an AI key may be used for. A key is an inference credential by default
//! (`inference`: the model API `/v1/*`, plus `GET /api/me` and its owner's own usage);
//! `management` opens the admin API (`/api/*`) within what the key owner's role permits.
//! A set of scopes is stored as its names separated by spaces (`"inference management"`,
//! the OAuth convention) and shown in the API as a list of names.

use serde::{Deserialize, Serialize};

/// One scope a key may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The model API: `/v1/*` (and `/api/openai/v1/*`).
    Inference,
    /// The admin API: keys, providers, tunnels, conversations, the organization.
    Management,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 2] = [Scope::Inference, Scope::Management];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Inference => "inference",
            Scope::Management => "management",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Inference => 1,
            Scope::Management => 2,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

/// Why a list of scope names was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopesError {
    /// The list names no scope.
    Empty,
    /// This name is not a scope.
    Unknown(String),
}

impl std::fmt::Display for ScopesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = Scope::ALL.map(Scope::as_str).join(", ");
        match self {
            ScopesError::Empty => write!(f, "scopes must name at least one of: {known}"),
            ScopesError::Unknown(name) => {
                write!(f, "unknown scope '{name}'; the scopes are: {known}")
            }
        }
    }
}

impl std::error::Error for ScopesError {}

impl Scopes {
    /// The default of a new key.
    pub const INFERENCE: Scopes = Scopes(1);
    /// Every scope: what a signed-in session may do, and the bootstrap admin key.
    pub const ALL: Scopes = Scopes(3);

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether every scope of `self` is also in `other`.
    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in display order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses names given by a client: each must be a scope, and at least one is needed.
    /// Repeated names count once.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Scopes, ScopesError> {
        let mut bits = 0;
        for name in names {
            let name = name.as_ref();
            let scope = Scope::parse(name).ok_or_else(|| ScopesError::Unknown(name.to_owned()))?;
            bits |= scope.bit();
        }
        if bits == 0 {
            return Err(ScopesError::Empty);
        }
        Ok(Scopes(bits))
    }

    /// Reads the stored form. Names this version does not know grant nothing, so a row
    /// written by a newer version never gains rights here.
    pub fn from_stored(text: &str) -> Scopes {
        Scopes(
            text.split_ascii_whitespace()
                .filter_map(Scope::parse)
                .fold(0, |bits, s| bits | s.bit()),
        )
    }

    /// The stored form: names separated by one space.
    pub fn to_stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl std::fmt::Debug for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Scope::as_str))
            .finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Scopes::from_names(&names).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_stored_form() {
        for scopes in [Scopes::INFERENCE, Scopes::ALL, Scopes(2)] {
            assert_eq!(Scopes::from_stored(&scopes.to_stored()), scopes);
        }
        assert_eq!(Scopes::ALL.to_stored(), "inference management");
        assert_eq!(
            Scopes::from_stored("  management   inference future-scope "),
            Scopes::ALL
        );
        assert_eq!(Scopes::from_stored(""), Scopes(0));
    }

    #[test]
    fn client_names_are_checked() {
        assert_eq!(
            Scopes::from_names(&["management", "management"]),
            Ok(Scopes(2))
        );
        assert_eq!(Scopes::from_names::<&str>(&[]), Err(ScopesError::Empty));
        assert_eq!(
            Scopes::from_names(&["inference", "admin"]),
            Err(ScopesError::Unknown("admin".into()))
        );
        assert!(
            serde_json::from_str::<Scopes>(r#"["Inference"]"#)
                .unwrap_err()
                .to_string()
                .contains("unknown scope 'Inference'")
        );
        assert_eq!(
            serde_json::to_string(&Scopes::ALL).unwrap(),
            r#"["inference","management"]"#
        );
    }

    #[test]
    fn subsets() {
        let management = Scopes(2);
        assert!(Scopes::INFERENCE.is_subset_of(Scopes::ALL));
        assert!(management.is_subset_of(Scopes::ALL));
        assert!(!Scopes::ALL.is_subset_of(management));
        assert!(!management.is_subset_of(Scopes::INFERENCE));
        assert!(Scopes::INFERENCE.contains(Scope::Inference));
        assert!(!Scopes::INFERENCE.contains(Scope::Management));
    }
}
