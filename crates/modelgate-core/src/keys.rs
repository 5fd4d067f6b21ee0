//! AI keys: 256-bit random secrets with the recognisable prefix `mg_`, stored only as a
//! SHA-256 hash (a fast hash is right for high-entropy secrets; argon2 would cost
//! milliseconds per uncached request). The hash is 64 hex characters and can never be
//! mistaken for a key, so presenting a stored hash as a key fails (no pass-the-hash).

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every AI key starts with this.
pub const KEY_PREFIX: &str = "mg_";
/// Length of a well-formed key: prefix + 43 base64url characters (32 bytes).
pub const KEY_LEN: usize = KEY_PREFIX.len() + 43;
/// Characters of the key shown in lists (`mg_AbCdEf…`); not enough to guess the rest.
const DISPLAY_CHARS: usize = KEY_PREFIX.len() + 6;

/// The SHA-256 of a key, hex-encoded: what the store indexes and compares.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// Constant-time comparison against another hash.
    pub fn ct_matches(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A freshly minted key: the plaintext (shown once), its hash and its display prefix.
pub struct NewKey {
    pub plaintext: String,
    pub hash: KeyHash,
    pub display_prefix: String,
}

/// Mints a new random key.
pub fn generate() -> NewKey {
    let mut raw = [0u8; 32];
    crate::ids::fill_random(&mut raw);
    let plaintext = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    from_plaintext(plaintext)
}

/// Wraps a key chosen by the operator (`MODELGATE_BOOTSTRAP_ADMIN_KEY`).
pub fn from_plaintext(plaintext: String) -> NewKey {
    let hash = hash(&plaintext);
    let display_prefix = display_prefix(&plaintext);
    NewKey {
        plaintext,
        hash,
        display_prefix,
    }
}

/// Hash of a presented key. Works on any input; shape checks happen in [`is_plausible`].
pub fn hash(presented: &str) -> KeyHash {
    let digest = Sha256::digest(presented.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    KeyHash(out)
}

/// The non-secret beginning of a key shown in listings.
pub fn display_prefix(plaintext: &str) -> String {
    let end = plaintext
        .char_indices()
        .nth(DISPLAY_CHARS)
        .map_or(plaintext.len(), |(i, _)| i);
    format!("{}…", &plaintext[..end])
}

/// Cheap shape check before any lookup: printable ASCII, sane length. Operator-chosen
/// bootstrap keys need not carry the `mg_` prefix, so only the charset and length are
/// checked here.
pub fn is_plausible(presented: &str) -> bool {
    (16..=256).contains(&presented.len()) && presented.bytes().all(|b| b.is_ascii_graphic())
}

/// Minimum length of an operator-chosen bootstrap key; shorter ones are refused at start.
pub const MIN_BOOTSTRAP_KEY_LEN: usize = 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_prefix_and_hash_consistently() {
        let k = generate();
        assert!(k.plaintext.starts_with(KEY_PREFIX));
        assert_eq!(k.plaintext.len(), KEY_LEN);
        assert!(hash(&k.plaintext).ct_matches(&k.hash));
        assert!(is_plausible(&k.plaintext));
        assert!(k.display_prefix.starts_with("mg_"));
        assert!(k.display_prefix.chars().count() < 12);
    }

    #[test]
    fn the_hash_is_not_a_key() {
        let k = generate();
        let as_key = hash(k.hash.as_str());
        assert!(!as_key.ct_matches(&k.hash));
    }

    #[test]
    fn implausible_keys_are_rejected_early() {
        assert!(!is_plausible(""));
        assert!(!is_plausible("short"));
        assert!(!is_plausible("mg_with space in it....."));
        assert!(!is_plausible(&"x".repeat(10_000)));
        assert!(!is_plausible("mg_abc\0defghijklmnopqrstu"));
    }
}
