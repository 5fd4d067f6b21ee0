//! Rate-limit windows shared by every replica: per key and per user one hash per UTC
//! minute (`r` requests, `t` tokens), checked and counted by one script, expiring two
//! minutes later. Same rules as the gateway's in-process windows.

use crate::Shared;

const ADMIT: &str = r#"
local now_limits = {{tonumber(ARGV[1]), tonumber(ARGV[2])}, {tonumber(ARGV[3]), tonumber(ARGV[4])}}
for i, k in ipairs(KEYS) do
  local l = now_limits[i]
  if l[1] >= 0 or l[2] >= 0 then
    local r = tonumber(redis.call('HGET', k, 'r') or '0')
    local t = tonumber(redis.call('HGET', k, 't') or '0')
    if l[1] >= 0 and r >= l[1] then return {i, 1} end
    if l[2] >= 0 and t >= l[2] then return {i, 2} end
  end
end
for i, k in ipairs(KEYS) do
  local l = now_limits[i]
  if l[1] >= 0 or l[2] >= 0 then
    redis.call('HINCRBY', k, 'r', 1)
    redis.call('PEXPIRE', k, 120000)
  end
end
return {0, 0}
"#;

pub(crate) fn admit_script() -> redis::Script {
    redis::Script::new(ADMIT)
}

const MINUTE_MS: i64 = 60_000;

fn limit(v: Option<u64>) -> i64 {
    v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The per-minute limits one request is admitted under (`None`: no limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowLimits {
    pub key_rpm: Option<u64>,
    pub key_tpm: Option<u64>,
    pub user_rpm: Option<u64>,
    pub user_tpm: Option<u64>,
}

/// A full window: whose (`key` or `user`), what (`requests` or `tokens`), and the seconds
/// until the next minute.
pub type Full = (&'static str, &'static str, i64);

impl Shared {
    fn windows(&self, key_id: &str, user_id: &str, minute: i64) -> [String; 2] {
        [
            self.key(format_args!("rl:k:{key_id}:{minute}")),
            self.key(format_args!("rl:u:{user_id}:{minute}")),
        ]
    }

    /// Admits one request under the shared windows: `Ok(None)` when admitted,
    /// `Ok(Some((whose, what, retry_after_secs)))` when a window is full. A Redis failure
    /// admits the request (fail open) and is logged.
    pub async fn admit(
        &self,
        key_id: &str,
        user_id: &str,
        l: WindowLimits,
        now_ms: i64,
    ) -> Option<Full> {
        let minute = now_ms.div_euclid(MINUTE_MS);
        let [k, u] = self.windows(key_id, user_id, minute);
        let result: Result<(i64, i64), redis::RedisError> = self
            .admit
            .key(k)
            .key(u)
            .arg(limit(l.key_rpm))
            .arg(limit(l.key_tpm))
            .arg(limit(l.user_rpm))
            .arg(limit(l.user_tpm))
            .invoke_async(&mut self.conn())
            .await;
        match result {
            Ok((0, _)) => None,
            Ok((which, what)) => {
                let retry_after = ((minute + 1) * MINUTE_MS - now_ms + 999) / 1000;
                Some((
                    if which == 1 { "key" } else { "user" },
                    if what == 1 { "requests" } else { "tokens" },
                    retry_after,
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limits unavailable; admitting");
                None
            }
        }
    }

    /// Adds a finished request's tokens to the shared windows.
    pub async fn add_tokens(&self, key_id: &str, user_id: &str, tokens: u64, now_ms: i64) {
        let minute = now_ms.div_euclid(MINUTE_MS);
        let [k, u] = self.windows(key_id, user_id, minute);
        let n = i64::try_from(tokens).unwrap_or(i64::MAX);
        let result: Result<(), redis::RedisError> = redis::pipe()
            .hincr(&k, "t", n)
            .ignore()
            .pexpire(&k, 120_000)
            .ignore()
            .hincr(&u, "t", n)
            .ignore()
            .pexpire(&u, 120_000)
            .ignore()
            .query_async(&mut self.conn())
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not count tokens in the shared rate limits");
        }
    }
}
