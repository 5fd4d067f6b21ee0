//! Encryption at rest for provider secrets: XChaCha20-Poly1305 under the deployment's
//! master key, a fresh random nonce per seal, and the owning row's id as associated data
//! so a ciphertext copied onto another row does not open.
//!
//! Layout of a sealed blob: `version (1 byte) || nonce (24 bytes) || ciphertext+tag`.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealingError {
    #[error("the master key must be 32 bytes, given as 64 hex characters or base64")]
    BadMasterKey,
    #[error("a sealed secret could not be opened (wrong master key or corrupted row)")]
    CannotOpen,
}

/// The deployment's master key. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    /// A key of its own for authenticating replicas to each other, derived from the
    /// master key so that every replica holding the master key holds it too.
    internal: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        use sha2::Digest;
        let mut derive = sha2::Sha256::new();
        derive.update(b"modelgate internal channel v1\0");
        derive.update(bytes);
        Self {
            cipher: XChaCha20Poly1305::new((&bytes).into()),
            internal: derive.finalize().into(),
        }
    }

    /// HMAC-SHA256 of `message` under the internal key (hex): what one replica shows
    /// another on the internal channel.
    pub fn internal_mac(&self, message: &str) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.internal)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(message.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Parses the text form used in `MODELGATE_MASTER_KEY` and the key file:
    /// 64 hex characters or standard/url-safe base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
                let s = std::str::from_utf8(chunk).map_err(|_| SealingError::BadMasterKey)?;
                out[i] = u8::from_str_radix(s, 16).map_err(|_| SealingError::BadMasterKey)?;
            }
            out.to_vec()
        } else {
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .or_else(|| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(text)
                        .ok()
                })
                .ok_or(SealingError::BadMasterKey)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SealingError::BadMasterKey)?;
        Ok(Self::from_bytes(arr))
    }

    /// A new random key and its text form (for writing the key file).
    pub fn generate() -> (Self, String) {
        let mut raw = [0u8; 32];
        crate::ids::fill_random(&mut raw);
        let text = base64::engine::general_purpose::STANDARD.encode(raw);
        (Self::from_bytes(raw), text)
    }

    /// Encrypts `plaintext`, binding it to `row_id`.
    pub fn seal(&self, plaintext: &[u8], row_id: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::ids::fill_random(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: row_id.as_bytes(),
                },
            )
            .unwrap_or_default(); // XChaCha20-Poly1305 encryption cannot fail for in-memory sizes
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts a blob made by [`MasterKey::seal`] for the same `row_id`.
    pub fn open(&self, sealed: &[u8], row_id: &str) -> Result<Vec<u8>, SealingError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(SealingError::CannotOpen);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: row_id.as_bytes(),
                },
            )
            .map_err(|_| SealingError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let (key, text) = MasterKey::generate();
        let sealed = key.seal(b"sk-canary", "prv_1");
        assert!(!sealed.windows(9).any(|w| w == b"sk-canary"));
        assert_eq!(key.open(&sealed, "prv_1").unwrap(), b"sk-canary");
        assert_eq!(key.open(&sealed, "prv_2"), Err(SealingError::CannotOpen));
        let again = MasterKey::parse(&text).unwrap();
        assert_eq!(again.open(&sealed, "prv_1").unwrap(), b"sk-canary");
        let (other, _) = MasterKey::generate();
        assert_eq!(other.open(&sealed, "prv_1"), Err(SealingError::CannotOpen));
    }

    #[test]
    fn master_key_text_forms() {
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert_eq!(
            MasterKey::parse("too short").unwrap_err(),
            SealingError::BadMasterKey
        );
        assert!(MasterKey::open(&MasterKey::generate().0, b"x", "r").is_err());
    }
}
