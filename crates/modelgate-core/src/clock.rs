//! The clock the gateway reads time from: wall time (for key expiry, per-minute rate-limit
//! windows and circuit-breaker cooldowns) and monotonic time, behind one cheap cloneable
//! handle, so tests can move time forward instead of sleeping.
//!
//! [`Clock::system`] (the default) reads the operating system's clocks: a read is one
//! branch on top of `SystemTime::now()` / `Instant::now()`, with no allocation and no
//! lock. A [`ManualClock`] starts at the present and then stands still until a test
//! [`advance`](ManualClock::advance)s it; the [`Clock`] it hands out (cloned into the
//! gateway's settings once, at start) reads the same shared time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where time comes from: the system, or a [`ManualClock`]. Clone it freely (a clone of a
/// manual clock shares its time).
#[derive(Debug, Clone, Default)]
pub struct Clock(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<Frozen>),
}

/// A manual clock's time: where it started, and how far it has been advanced since.
#[derive(Debug)]
struct Frozen {
    wall_start: SystemTime,
    mono_start: Instant,
    /// Nanoseconds advanced since the start.
    advanced: AtomicU64,
}

impl Frozen {
    fn advanced(&self) -> Duration {
        Duration::from_nanos(self.advanced.load(Ordering::SeqCst))
    }
}

impl Clock {
    /// The operating system's clocks.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// Whether this clock is driven by hand (a test's [`ManualClock`]).
    pub fn is_manual(&self) -> bool {
        matches!(self.0, Source::Manual(_))
    }

    /// Wall time now.
    pub fn now(&self) -> SystemTime {
        match &self.0 {
            Source::System => SystemTime::now(),
            Source::Manual(m) => m.wall_start + m.advanced(),
        }
    }

    /// Milliseconds since the Unix epoch now (0 before the epoch), the store's timestamp
    /// unit.
    pub fn now_millis(&self) -> i64 {
        unix_millis(self.now())
    }

    /// Whole seconds since the Unix epoch now (0 before the epoch).
    pub fn unix_secs(&self) -> i64 {
        self.now_millis() / 1000
    }

    /// Monotonic time now: never goes back, for measuring how long something took.
    pub fn instant(&self) -> Instant {
        match &self.0 {
            Source::System => Instant::now(),
            Source::Manual(m) => m.mono_start + m.advanced(),
        }
    }
}

/// Milliseconds since the Unix epoch of `t` (0 before the epoch, saturated far after it).
pub fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A clock that moves only when told to: the handle a test keeps, while the gateway gets
/// its [`Clock`] (`ServeOptions::clock`).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Frozen>);

impl ManualClock {
    /// A clock standing at the present moment.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock standing at `wall` (its monotonic time starts at the present `Instant`).
    pub fn starting_at(wall: SystemTime) -> Self {
        Self(Arc::new(Frozen {
            wall_start: wall,
            mono_start: Instant::now(),
            advanced: AtomicU64::new(0),
        }))
    }

    /// The [`Clock`] to hand to what should see this time.
    pub fn clock(&self) -> Clock {
        Clock(Source::Manual(self.0.clone()))
    }

    /// Moves time forward by `by`, for every clone of this clock at once (saturating some
    /// 580 years after the start).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .0
            .advanced
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(nanos))
            });
    }

    /// Wall time now, as its clocks read it.
    pub fn now(&self) -> SystemTime {
        self.clock().now()
    }

    /// Milliseconds since the Unix epoch now.
    pub fn now_millis(&self) -> i64 {
        self.clock().now_millis()
    }

    /// Whole seconds since the Unix epoch now.
    pub fn unix_secs(&self) -> i64 {
        self.clock().unix_secs()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl From<&ManualClock> for Clock {
    fn from(manual: &ManualClock) -> Self {
        manual.clock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_follows_the_operating_system() {
        let clock = Clock::default();
        assert!(!clock.is_manual());
        let before = unix_millis(SystemTime::now());
        let read = clock.now_millis();
        let after = unix_millis(SystemTime::now());
        assert!(before <= read && read <= after, "{before} {read} {after}");
        assert_eq!(clock.unix_secs(), read / 1000);
        let (a, b) = (clock.instant(), clock.instant());
        assert!(b >= a);
    }

    #[test]
    fn a_manual_clock_stands_still_until_advanced() {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let manual = ManualClock::starting_at(start);
        let clock = manual.clock();
        assert!(clock.is_manual());
        let mono = clock.instant();
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now_millis(), 1_700_000_000_123);
        assert_eq!(clock.unix_secs(), 1_700_000_000);
        assert_eq!(clock.instant(), mono);

        manual.advance(Duration::from_millis(61_877));
        assert_eq!(clock.now_millis(), 1_700_000_062_000);
        assert_eq!(manual.now_millis(), 1_700_000_062_000);
        assert_eq!(clock.instant() - mono, Duration::from_millis(61_877));
        // Every clone sees the same time.
        let other = Clock::from(&manual);
        assert_eq!(other.now(), clock.now());
        manual.clone().advance(Duration::from_secs(1));
        assert_eq!(clock.unix_secs(), 1_700_000_063);
    }

    #[test]
    fn a_manual_clock_starts_at_the_present_and_saturates() {
        let before = unix_millis(SystemTime::now());
        let manual = ManualClock::new();
        let after = unix_millis(SystemTime::now());
        assert!((before..=after).contains(&manual.now_millis()));
        let at_epoch = ManualClock::starting_at(UNIX_EPOCH);
        at_epoch.advance(Duration::MAX);
        at_epoch.advance(Duration::from_secs(1));
        assert_eq!(
            at_epoch.clock().now(),
            UNIX_EPOCH + Duration::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn times_before_the_epoch_read_as_zero() {
        assert_eq!(unix_millis(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(unix_millis(UNIX_EPOCH + Duration::from_millis(7)), 7);
    }
}
