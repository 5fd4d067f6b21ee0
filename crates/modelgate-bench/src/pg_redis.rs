//! The replicas' PostgreSQL and Redis, seen from outside with their own clients: a schema
//! of the run's own (`psql`: created, put in the replicas' `search_path`, dropped with
//! everything in it), the Redis server's pid and counters (`redis-cli INFO`), and the CPU
//! of every PostgreSQL server process (procfs: `/proc/*/comm` = `postgres`, so other
//! clients' work is included).

use crate::gateway_process::process_cpu;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A schema of its own for the run.
pub struct Schema {
    base: String,
    name: String,
    dropped: bool,
}

impl Schema {
    pub fn create(base: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("bench_{}_{nanos:x}", std::process::id());
        psql(base, &format!("CREATE SCHEMA {name}"))
            .context("creating the replicas' PostgreSQL schema")?;
        eprintln!("PostgreSQL schema {name} created");
        Ok(Self {
            base: base.to_owned(),
            name,
            dropped: false,
        })
    }

    /// The base URL with `search_path` set to the schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    pub fn drop_now(&mut self) {
        if std::mem::replace(&mut self.dropped, true) {
            return;
        }
        match psql(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name)) {
            Ok(()) => eprintln!("PostgreSQL schema {} dropped", self.name),
            Err(e) => eprintln!("could not drop schema {}: {e:#}", self.name),
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// Fails early (before the single gateway's phases) when PostgreSQL or Redis cannot be
/// reached with `psql` and `redis-cli`.
pub fn check(postgres: &str, redis: &str) -> Result<()> {
    psql(postgres, "SELECT 1").context("--replicas needs PostgreSQL (--postgres)")?;
    let out = Command::new("redis-cli")
        .args(["-u", redis, "ping"])
        .output()
        .context("running redis-cli (is it installed?)")?;
    if String::from_utf8_lossy(&out.stdout).trim() != "PONG" {
        bail!(
            "--replicas needs Redis (--redis {redis}): {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn psql(url: &str, sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("running psql (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "psql -c {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The Redis server's pid (`INFO server`), if it runs on this machine.
pub fn redis_pid(url: &str) -> Option<u32> {
    let pid = u32::try_from(redis_info(url, "server", "process_id")?).ok()?;
    Path::new(&format!("/proc/{pid}/stat"))
        .exists()
        .then_some(pid)
}

/// One numeric field of `INFO section`.
pub fn redis_info(url: &str, section: &str, field: &str) -> Option<u64> {
    let out = Command::new("redis-cli")
        .args(["-u", url, "info", section])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .parse()
        .ok()
}

/// CPU time of every process named `postgres`, by pid.
pub fn postgres_cpu(clock_ticks: f64) -> HashMap<u32, Duration> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| {
            Some((
                pid,
                process_cpu(&format!("/proc/{pid}/stat"), clock_ticks).ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_goes_into_the_search_path() {
        let mut schema = Schema {
            base: "postgres://postgres@127.0.0.1:5432/test".into(),
            name: "bench_1_a".into(),
            dropped: true,
        };
        assert_eq!(
            schema.url(),
            "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dbench_1_a"
        );
        schema.base.push_str("?sslmode=disable");
        assert!(
            schema
                .url()
                .ends_with("?sslmode=disable&options=-c%20search_path%3Dbench_1_a")
        );
    }
}
