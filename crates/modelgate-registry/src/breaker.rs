//! Circuit breakers per deployment — one provider endpoint serving one model (a model
//! that fails does not pause the provider's other models): after `failures` consecutive
//! failed attempts
//! (connect errors, timeouts, 429s, 5xx) the circuit opens and routing skips the provider;
//! after `cooldown` one probe request is let through (half-open); its success closes the
//! circuit, its failure opens it again. Any answer that is not a failure (a 2xx, or the
//! client's own 4xx) counts as success. State lives in memory, carried over registry
//! reloads while the provider's endpoint is unchanged; `GET /api/providers` shows it and
//! `modelgate_circuit_transitions_total` counts changes. Cooldowns are measured on the
//! gateway's clock (`settings.clock`), which tests advance instead of sleeping.

use modelgate_core::Clock;
use serde::Serialize;
use std::sync::Mutex;

/// Consecutive failures that open a circuit, by default.
pub const DEFAULT_FAILURES: u32 = 5;
/// Seconds an open circuit waits before a probe, by default.
pub const DEFAULT_COOLDOWN_SECS: u64 = 30;
pub const TRANSITIONS_TOTAL: &str = "modelgate_circuit_transitions_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: State,
    failures: u32,
    /// When the state was entered (ms).
    since_ms: i64,
    last_error: Option<String>,
    last_error_at_ms: Option<i64>,
}

/// What `GET /api/providers` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub circuit: State,
    pub consecutive_failures: u32,
    pub since: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

#[derive(Debug)]
pub struct Breaker {
    provider: String,
    failures: u32,
    cooldown_ms: i64,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(
        provider: &str,
        failures: Option<u32>,
        cooldown_secs: Option<u64>,
        clock: Clock,
    ) -> Self {
        Self {
            provider: provider.to_owned(),
            clock,
            failures: failures.unwrap_or(DEFAULT_FAILURES).max(1),
            cooldown_ms: i64::try_from(
                cooldown_secs
                    .unwrap_or(DEFAULT_COOLDOWN_SECS)
                    .saturating_mul(1000),
            )
            .unwrap_or(i64::MAX),
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: 0,
                since_ms: 0,
                last_error: None,
                last_error_at_ms: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self, s: &mut Inner, state: State, now_ms: i64) {
        if s.state != state {
            metrics::counter!(TRANSITIONS_TOTAL, "provider" => self.provider.clone(), "to" => state.label())
                .increment(1);
            tracing::info!(provider = %self.provider, to = state.label(), "circuit state changed");
        }
        s.state = state;
        s.since_ms = now_ms;
    }

    /// Whether an attempt may go to this provider now. An open circuit past its cooldown
    /// lets one probe through (half-open); a half-open one lets another through only if
    /// the last probe never reported back within a cooldown.
    pub fn allow(&self) -> bool {
        self.allow_at(self.clock.now_millis())
    }

    /// Whether [`Breaker::allow`] would let an attempt through now, without taking the
    /// half-open probe slot (for choosing among several endpoints).
    pub fn available(&self) -> bool {
        self.available_at(self.clock.now_millis())
    }

    /// An attempt answered (see the module's introduction).
    pub fn success(&self) {
        self.success_at(self.clock.now_millis());
    }

    /// An attempt failed with `error`.
    pub fn failure(&self, error: &str) {
        self.failure_at(self.clock.now_millis(), error);
    }

    fn allow_at(&self, now_ms: i64) -> bool {
        let mut s = self.lock();
        match s.state {
            State::Closed => true,
            State::Open | State::HalfOpen if now_ms - s.since_ms >= self.cooldown_ms => {
                self.enter(&mut s, State::HalfOpen, now_ms);
                true
            }
            State::Open | State::HalfOpen => false,
        }
    }

    fn available_at(&self, now_ms: i64) -> bool {
        let s = self.lock();
        s.state == State::Closed || now_ms - s.since_ms >= self.cooldown_ms
    }

    fn success_at(&self, now_ms: i64) {
        let mut s = self.lock();
        s.failures = 0;
        if s.state != State::Closed {
            self.enter(&mut s, State::Closed, now_ms);
        }
    }

    fn failure_at(&self, now_ms: i64, error: &str) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        s.last_error = Some(error.chars().take(300).collect());
        s.last_error_at_ms = Some(now_ms);
        if s.state == State::HalfOpen || s.failures >= self.failures {
            self.enter(&mut s, State::Open, now_ms);
        }
    }

    pub fn health(&self) -> Health {
        let s = self.lock();
        let time = |ms: i64| modelgate_org::api::rfc3339(ms);
        Health {
            circuit: s.state,
            consecutive_failures: s.failures,
            since: (s.since_ms > 0).then(|| time(s.since_ms)),
            last_error: s.last_error.clone(),
            last_error_at: s.last_error_at_ms.map(time),
        }
    }
}

/// The breakers of one provider, one per upstream model, made on first use.
#[derive(Debug)]
pub struct Breakers {
    provider: String,
    failures: Option<u32>,
    cooldown_secs: Option<u64>,
    clock: Clock,
    by_model: Mutex<std::collections::HashMap<String, std::sync::Arc<Breaker>>>,
}

/// One model's breaker state, as provider views list it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelHealth {
    pub model: String,
    #[serde(flatten)]
    pub health: Health,
}

impl Breakers {
    pub fn new(
        provider: &str,
        failures: Option<u32>,
        cooldown_secs: Option<u64>,
        clock: Clock,
    ) -> Self {
        Self {
            provider: provider.to_owned(),
            failures,
            cooldown_secs,
            clock,
            by_model: Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn get(&self, model: &str) -> std::sync::Arc<Breaker> {
        let mut map = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        // The common case allocates nothing: the model's breaker exists.
        if let Some(b) = map.get(model) {
            return b.clone();
        }
        map.entry(model.to_owned())
            .or_insert_with(|| {
                std::sync::Arc::new(Breaker::new(
                    &format!("{}/{model}", self.provider),
                    self.failures,
                    self.cooldown_secs,
                    self.clock.clone(),
                ))
            })
            .clone()
    }

    /// The models whose circuit is not closed, or that failed last, by model.
    pub fn health(&self) -> Vec<ModelHealth> {
        let map = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<ModelHealth> = map
            .iter()
            .map(|(model, b)| ModelHealth {
                model: model.clone(),
                health: b.health(),
            })
            .filter(|m| m.health.circuit != State::Closed || m.health.consecutive_failures > 0)
            .collect();
        v.sort_by(|a, b| a.model.cmp(&b.model));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let b = Breaker::new("p", Some(3), Some(10), Clock::system());
        for t in 0..2 {
            b.failure_at(t, "boom");
            assert!(b.allow_at(t));
        }
        b.failure_at(2, "boom");
        assert_eq!(b.health().circuit, State::Open);
        assert!(!b.allow_at(5_000));
        // After the cooldown one probe goes through; the next waits for its result.
        assert!(b.allow_at(10_002));
        assert_eq!(b.health().circuit, State::HalfOpen);
        assert!(!b.allow_at(10_003));
        b.failure_at(10_004, "still down");
        assert_eq!(b.health().circuit, State::Open);
        assert!(b.allow_at(20_004));
        b.success_at(20_005);
        let h = b.health();
        assert_eq!(h.circuit, State::Closed);
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.last_error.as_deref(), Some("still down"));
        // A success resets the count: failures must be consecutive.
        b.failure_at(30_000, "x");
        b.failure_at(30_001, "x");
        b.success_at(30_002);
        b.failure_at(30_003, "x");
        assert!(b.allow_at(30_004));
    }

    #[test]
    fn cooldowns_run_on_the_breakers_clock() {
        let manual = modelgate_core::ManualClock::new();
        let breakers = Breakers::new("p", Some(1), Some(30), manual.clock());
        let b = breakers.get("m");
        b.failure("down");
        assert!(!b.available() && !b.allow());
        manual.advance(std::time::Duration::from_millis(29_999));
        assert!(!b.available());
        manual.advance(std::time::Duration::from_millis(1));
        assert!(b.available());
        assert!(b.allow());
        assert_eq!(b.health().circuit, State::HalfOpen);
        b.success();
        assert!(breakers.health().is_empty());
        // Another model of the provider has its own breaker, on the same clock.
        let other = breakers.get("other");
        other.failure("down");
        manual.advance(std::time::Duration::from_secs(30));
        assert!(other.allow());
    }
}
