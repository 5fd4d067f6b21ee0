//! Random identifiers for stored rows (`usr_…`, `key_…`, `prv_…`): a short type prefix and
//! 80 random bits, so ids are unguessable and never sequential (no BOLA by enumeration).

/// A new id such as `key_3kq9w1x0b5r2m7c4d8fz`.
pub fn new_id(prefix: &str) -> String {
    let mut raw = [0u8; 10];
    fill_random(&mut raw);
    format!("{prefix}_{}", base32_lower(&raw))
}

/// A new id that is unique without a system call: a random per-process prefix and a
/// counter (`use_3kq9w1x0b5r2m7c4_1f`). For internal records whose ids are never looked up
/// by users (no enumeration concern); unique across restarts and replicas by the prefix.
pub fn sequential_id(prefix: &str) -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| {
        let mut raw = [0u8; 10];
        fill_random(&mut raw);
        base32_lower(&raw)
    });
    format!(
        "{prefix}_{process}_{:x}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Fills `buf` from the operating system's CSPRNG. The OS generator failing is not a
/// recoverable condition for a server that mints credentials, so it aborts loudly.
pub fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_are_distinct() {
        let a = new_id("key");
        let b = new_id("key");
        assert!(a.starts_with("key_"));
        assert_eq!(a.len(), 4 + 16);
        assert_ne!(a, b);
        let c = sequential_id("use");
        let d = sequential_id("use");
        assert!(c.starts_with("use_"));
        assert_ne!(c, d);
    }
}
