//! Rate limits per key and per user (requests and tokens per minute), in fixed windows
//! aligned to the UTC minute. A request is admitted if no window it counts against is
//! full; its tokens are added when it ends. A refusal carries the seconds until the
//! window turns (`retry-after`). Callers without limits never touch the table. Windows
//! live in this process (several replicas share them through the scale-out mode). The
//! minute is the limiter's clock's (the gateway's `settings.clock`).

use modelgate_core::Clock;
use std::collections::HashMap;
use std::sync::Mutex;

const MINUTE_MS: i64 = 60_000;

/// Per-minute limits of a key and of its owner (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub key_rpm: Option<u64>,
    pub key_tpm: Option<u64>,
    pub user_rpm: Option<u64>,
    pub user_tpm: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.key_rpm.is_some()
            || self.key_tpm.is_some()
            || self.user_rpm.is_some()
            || self.user_tpm.is_some()
    }
}

/// A full window: whose (`key` or `user`), what (`requests` or `tokens`), and the seconds
/// until the window turns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Rate limit reached: this {whose}'s {what} per minute are used up. Retry in {retry_after_secs} s."
)]
pub struct RateLimited {
    pub whose: &'static str,
    pub what: &'static str,
    pub retry_after_secs: u64,
}

/// A full window as the API answers it: 429 `rate_limit_exceeded` with `retry-after`.
impl From<RateLimited> for modelgate_core::GatewayError {
    fn from(full: RateLimited) -> Self {
        let mut err = Self::new(modelgate_core::ErrorKind::RateLimited, full.to_string())
            .with_code("rate_limit_exceeded");
        err.retry_after_secs = Some(full.retry_after_secs);
        err
    }
}

fn refused(whose: &'static str, what: &'static str, retry_after: i64) -> RateLimited {
    RateLimited {
        whose,
        what,
        retry_after_secs: u64::try_from(retry_after.max(1)).unwrap_or(1),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    minute: i64,
    requests: u64,
    tokens: u64,
}

impl Window {
    fn current(&mut self, minute: i64) -> &mut Self {
        if self.minute != minute {
            *self = Window {
                minute,
                requests: 0,
                tokens: 0,
            };
        }
        self
    }
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
    /// With `--redis`, the windows live there instead (shared by every replica).
    shared: Option<std::sync::Arc<modelgate_cluster::Shared>>,
    /// Which minute it is.
    clock: Clock,
}

fn key_slot(id: &str) -> String {
    format!("k:{id}")
}

fn user_slot(id: &str) -> String {
    format!("u:{id}")
}

impl RateLimiter {
    pub fn new(shared: Option<std::sync::Arc<modelgate_cluster::Shared>>, clock: Clock) -> Self {
        Self {
            windows: Mutex::default(),
            shared,
            clock,
        }
    }

    /// Admits one request of key `key_id` of user `user_id` now, or refuses it.
    pub async fn admit(&self, key_id: &str, user_id: &str, l: Limits) -> Result<(), RateLimited> {
        if !l.any() {
            return Ok(());
        }
        let now_ms = self.clock.now_millis();
        match &self.shared {
            Some(shared) => {
                let limits = modelgate_cluster::limits::WindowLimits {
                    key_rpm: l.key_rpm,
                    key_tpm: l.key_tpm,
                    user_rpm: l.user_rpm,
                    user_tpm: l.user_tpm,
                };
                match shared.admit(key_id, user_id, limits, now_ms).await {
                    None => Ok(()),
                    Some((whose, what, retry_after)) => Err(refused(whose, what, retry_after)),
                }
            }
            None => self.admit_local(key_id, user_id, l, now_ms),
        }
    }

    fn admit_local(
        &self,
        key_id: &str,
        user_id: &str,
        l: Limits,
        now_ms: i64,
    ) -> Result<(), RateLimited> {
        let minute = now_ms.div_euclid(MINUTE_MS);
        let retry_after = ((minute + 1) * MINUTE_MS - now_ms + 999) / 1000;
        let checks = [
            (key_slot(key_id), l.key_rpm, l.key_tpm, "key"),
            (user_slot(user_id), l.user_rpm, l.user_tpm, "user"),
        ];
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, rpm, tpm, whose) in &checks {
            if rpm.is_none() && tpm.is_none() {
                continue;
            }
            let w = windows.entry(slot.clone()).or_default().current(minute);
            let what = if rpm.is_some_and(|r| w.requests >= r) {
                "requests"
            } else if tpm.is_some_and(|t| w.tokens >= t) {
                "tokens"
            } else {
                continue;
            };
            return Err(refused(whose, what, retry_after));
        }
        for (slot, rpm, tpm, _) in &checks {
            if rpm.is_some() || tpm.is_some() {
                windows
                    .entry(slot.clone())
                    .or_default()
                    .current(minute)
                    .requests += 1;
            }
        }
        Ok(())
    }

    /// Adds a finished request's tokens to its key's and user's windows of this minute.
    pub fn add_tokens(&self, key_id: &str, user_id: &str, tokens: u64) {
        self.add_tokens_at(key_id, user_id, tokens, self.clock.now_millis());
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "counting tokens in the shared windows must not delay the answer that used them"
    )]
    fn add_tokens_at(&self, key_id: &str, user_id: &str, tokens: u64, now_ms: i64) {
        if let Some(shared) = &self.shared {
            let (shared, key_id, user_id) = (shared.clone(), key_id.to_owned(), user_id.to_owned());
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { shared.add_tokens(&key_id, &user_id, tokens, now_ms).await });
            }
            return;
        }
        let minute = now_ms.div_euclid(MINUTE_MS);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for slot in [key_slot(key_id), user_slot(user_id)] {
            let w = windows.entry(slot).or_default().current(minute);
            w.tokens = w.tokens.saturating_add(tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key `k` of user `u`, with these limits.
    fn who(limits: Limits) -> (&'static str, &'static str, Limits) {
        ("k", "u", limits)
    }

    #[test]
    fn windows_count_requests_and_tokens_per_minute() {
        let l = RateLimiter::default();
        let rpm = who(Limits {
            key_rpm: Some(2),
            ..Limits::default()
        });
        let t0 = 120_000;
        assert!(l.admit_local(rpm.0, rpm.1, rpm.2, t0).is_ok());
        assert!(l.admit_local(rpm.0, rpm.1, rpm.2, t0 + 1).is_ok());
        let err = l.admit_local(rpm.0, rpm.1, rpm.2, t0 + 15_000).unwrap_err();
        assert_eq!(err.retry_after_secs, 45);
        // The next minute starts afresh.
        assert!(l.admit_local(rpm.0, rpm.1, rpm.2, t0 + 60_000).is_ok());

        let tpm = who(Limits {
            user_tpm: Some(100),
            ..Limits::default()
        });
        let l = RateLimiter::default();
        assert!(l.admit_local(tpm.0, tpm.1, tpm.2, t0).is_ok());
        l.add_tokens_at("k", "u", 100, t0);
        assert!(
            l.admit_local(tpm.0, tpm.1, tpm.2, t0 + 1)
                .unwrap_err()
                .to_string()
                .contains("user's tokens")
        );
        // No limits: nothing is counted.
        assert!(
            RateLimiter::default()
                .admit_local("k", "u", Limits::default(), t0)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn windows_turn_with_the_limiters_clock() {
        use std::time::{Duration, UNIX_EPOCH};
        // 50 s into a minute: the window turns in 10 s.
        let start = UNIX_EPOCH + Duration::from_secs(170);
        let manual = modelgate_core::ManualClock::starting_at(start);
        let l = RateLimiter::new(None, manual.clock());
        let rpm = who(Limits {
            key_rpm: Some(1),
            ..Limits::default()
        });
        assert!(l.admit(rpm.0, rpm.1, rpm.2).await.is_ok());
        let err = l.admit(rpm.0, rpm.1, rpm.2).await.unwrap_err();
        assert_eq!(err.retry_after_secs, 10);
        manual.advance(Duration::from_secs(10));
        assert!(l.admit(rpm.0, rpm.1, rpm.2).await.is_ok());

        // Tokens are added in the clock's minute too.
        let l = RateLimiter::new(None, manual.clock());
        let tpm = who(Limits {
            user_tpm: Some(10),
            ..Limits::default()
        });
        assert!(l.admit(tpm.0, tpm.1, tpm.2).await.is_ok());
        l.add_tokens("k", "u", 10);
        let err = l.admit(tpm.0, tpm.1, tpm.2).await.unwrap_err();
        assert!(err.to_string().contains("user's tokens"), "{err}");
        manual.advance(Duration::from_secs(60));
        assert!(l.admit(tpm.0, tpm.1, tpm.2).await.is_ok());
    }
}
