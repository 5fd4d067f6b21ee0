//! Budget reservations shared by every replica: per allocation and period one hash
//! (`spent`, `reserved`) plus the live reservations (amount by id, and their expiry in a
//! sorted set). Reserving is one script: drop expired reservations, then
//! `spent + reserved + ask <= limit` (and fewer holds than the allocation's
//! `max_in_flight`, when it sets one) or refuse — atomic in Redis, so replicas together
//! never overspend, as one process alone does not. A reservation expires after twice the
//! request timeout: a replica that dies mid-request releases its holds within that bound.
//! Spend starts from the store's records the first time an allocation is used in a
//! period (or after Redis lost it).

use crate::{ClusterError, Shared, unavailable};
use redis::Script;

/// Drops the holds whose time is up (shared by the scripts below).
const PURGE: &str = r#"
local function purge(h, res, exp, now)
  local dead = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  for _, d in ipairs(dead) do
    local a = redis.call('HGET', res, d)
    if a then redis.call('HINCRBY', h, 'reserved', -tonumber(a)); redis.call('HDEL', res, d) end
    redis.call('ZREM', exp, d)
  end
end
"#;

const RESERVE: &str = r#"
local h, res, exp = KEYS[1], KEYS[2], KEYS[3]
local limit, amount, id, expiry, now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local max_in_flight = tonumber(ARGV[7])
if redis.call('EXISTS', h) == 0 then return {-1, 0} end
purge(h, res, exp, now)
local remaining = limit - tonumber(redis.call('HGET', h, 'spent')) - tonumber(redis.call('HGET', h, 'reserved'))
if amount > remaining then return {0, remaining} end
if max_in_flight > 0 and redis.call('HLEN', res) >= max_in_flight then return {2, remaining} end
redis.call('HINCRBY', h, 'reserved', amount)
redis.call('HSET', res, id, amount)
redis.call('ZADD', exp, expiry, id)
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
return {1, remaining - amount}
"#;

const SETTLE: &str = r#"
local h, res, exp = KEYS[1], KEYS[2], KEYS[3]
local id, actual = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', h) == 0 then return 0 end
local a = redis.call('HGET', res, id)
if a then
  redis.call('HINCRBY', h, 'reserved', -tonumber(a))
  redis.call('HDEL', res, id)
  redis.call('ZREM', exp, id)
end
if actual > 0 then redis.call('HINCRBY', h, 'spent', actual) end
return 1
"#;

const STANDING: &str = r#"
local h, res, exp = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', h) == 0 then return {-1, 0} end
purge(h, res, exp, ARGV[1])
return {tonumber(redis.call('HGET', h, 'spent')), tonumber(redis.call('HGET', h, 'reserved'))}
"#;

const INIT: &str = r#"
redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
redis.call('HSETNX', KEYS[1], 'reserved', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// How long an allocation's counters outlive their last use (longer than any period).
const TTL_MS: i64 = 40 * 24 * 3600 * 1000;

pub(crate) struct Scripts {
    reserve: Script,
    settle: Script,
    init: Script,
    standing: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            reserve: Script::new(&format!("{PURGE}{RESERVE}")),
            settle: Script::new(SETTLE),
            init: Script::new(INIT),
            standing: Script::new(&format!("{PURGE}{STANDING}")),
        }
    }
}

/// One reservation to make.
pub struct Hold<'a> {
    pub allocation_id: &'a str,
    pub period_start: i64,
    pub limit: i64,
    /// The most reservations held at once (0: no bound).
    pub max_in_flight: i64,
    pub amount: i64,
    /// The reservation's id (to settle it by).
    pub id: &'a str,
    pub now_ms: i64,
    /// When it is released if never settled.
    pub until_ms: i64,
}

/// What a reservation attempt found.
pub enum Reserved {
    Held,
    /// Refused; this much remains.
    Refused(i64),
    /// Refused: the allocation has its most reservations in flight.
    Busy,
    /// The allocation has no counters in this period yet: load its spend, then
    /// [`Shared::init_allocation`].
    Unknown,
}

impl Shared {
    fn budget_keys(&self, allocation_id: &str, period_start: i64) -> [String; 3] {
        let base = self.key(format_args!("alloc:{allocation_id}:{period_start}"));
        [base.clone(), format!("{base}:res"), format!("{base}:exp")]
    }

    /// Reserves `hold.amount` under `hold.limit`; the reservation is released at
    /// `hold.until_ms` unless settled first.
    pub async fn reserve(&self, hold: &Hold<'_>) -> Result<Reserved, ClusterError> {
        let [h, res, exp] = self.budget_keys(hold.allocation_id, hold.period_start);
        let (code, remaining): (i64, i64) = self
            .scripts
            .reserve
            .key(h)
            .key(res)
            .key(exp)
            .arg(hold.limit)
            .arg(hold.amount)
            .arg(hold.id)
            .arg(hold.until_ms)
            .arg(hold.now_ms)
            .arg(TTL_MS)
            .arg(hold.max_in_flight)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(match code {
            1 => Reserved::Held,
            0 => Reserved::Refused(remaining),
            2 => Reserved::Busy,
            _ => Reserved::Unknown,
        })
    }

    /// Starts an allocation's counters for a period at `spent` (a no-op if another
    /// replica did it first).
    pub async fn init_allocation(
        &self,
        allocation_id: &str,
        period_start: i64,
        spent: i64,
    ) -> Result<(), ClusterError> {
        let [h, _, _] = self.budget_keys(allocation_id, period_start);
        let _: i64 = self
            .scripts
            .init
            .key(h)
            .arg(spent)
            .arg(TTL_MS)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    /// Replaces a reservation by the actual cost.
    pub async fn settle(
        &self,
        allocation_id: &str,
        period_start: i64,
        id: &str,
        actual: i64,
    ) -> Result<(), ClusterError> {
        let [h, res, exp] = self.budget_keys(allocation_id, period_start);
        let _: i64 = self
            .scripts
            .settle
            .key(h)
            .key(res)
            .key(exp)
            .arg(id)
            .arg(actual)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    /// `(spent, reserved)` of an allocation in a period (expired holds dropped first),
    /// if it has counters.
    pub async fn standing(
        &self,
        allocation_id: &str,
        period_start: i64,
        now_ms: i64,
    ) -> Result<Option<(i64, i64)>, ClusterError> {
        let [h, res, exp] = self.budget_keys(allocation_id, period_start);
        let (spent, reserved): (i64, i64) = self
            .scripts
            .standing
            .key(h)
            .key(res)
            .key(exp)
            .arg(now_ms)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok((spent >= 0).then_some((spent, reserved)))
    }
}
