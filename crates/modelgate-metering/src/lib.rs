//! What a request may spend and what it spent: the budget [`budget::Ledger`] (worst-case
//! reservations per allocation and period, settled at the actual cost), per-minute
//! [`limits::RateLimiter`] windows, the [`meter::UsageGuard`] that writes exactly one usage
//! record per upstream attempt, the usage [`journal`] that makes an answered request
//! durable before it is stored, budget [`period`]s, and the metrics of finished requests
//! ([`telemetry`]). With `--redis` the ledger and the windows keep their counters in
//! `modelgate-cluster`; otherwise in this process. Knows no HTTP, providers or routes.

pub mod budget;
pub mod journal;
pub mod limits;
pub mod meter;
pub mod period;
pub mod telemetry;
