//! Allocation periods: `none` (one budget forever), `daily` and `monthly`, resetting on
//! calendar boundaries in UTC. A period is identified by its start (Unix milliseconds).

use chrono::{Datelike, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    None,
    Daily,
    Monthly,
}

const DAY_MS: i64 = 86_400_000;

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Period::None),
            "daily" => Some(Period::Daily),
            "monthly" => Some(Period::Monthly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::None => "none",
            Period::Daily => "daily",
            Period::Monthly => "monthly",
        }
    }

    /// Start of the period containing `at_ms`.
    pub fn start(self, at_ms: i64) -> i64 {
        match self {
            Period::None => 0,
            Period::Daily => at_ms.div_euclid(DAY_MS) * DAY_MS,
            Period::Monthly => {
                let t = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
                month_start(t.year(), t.month())
            }
        }
    }

    /// End (exclusive) of the period starting at `start`; `None` for [`Period::None`].
    pub fn end(self, start: i64) -> Option<i64> {
        match self {
            Period::None => None,
            Period::Daily => Some(start + DAY_MS),
            Period::Monthly => {
                let t = Utc.timestamp_millis_opt(start).single().unwrap_or_default();
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                Some(month_start(y, m))
            }
        }
    }
}

fn month_start(year: i32, month: u32) -> i64 {
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn boundaries_are_utc_calendar() {
        let t = ms("2026-11-23T21:30:00Z");
        assert_eq!(Period::Daily.start(t), ms("2026-11-23T00:00:00Z"));
        assert_eq!(
            Period::Daily.end(Period::Daily.start(t)),
            Some(ms("2026-11-24T00:00:00Z"))
        );
        assert_eq!(Period::Monthly.start(t), ms("2026-11-01T00:00:00Z"));
        assert_eq!(
            Period::Monthly.end(ms("2026-12-01T00:00:00Z")),
            Some(ms("2027-01-01T00:00:00Z"))
        );
        assert_eq!(Period::None.start(t), 0);
        assert_eq!(Period::None.end(0), None);
        assert_eq!(Period::parse("weekly"), None);
    }
}
