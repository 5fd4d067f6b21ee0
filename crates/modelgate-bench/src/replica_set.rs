//! The replicas of a `--replicas N` run as processes: N `modelgate serve` on one fresh
//! PostgreSQL schema and one Redis prefix with one master key, their CPU (each, Redis's,
//! PostgreSQL's) per phase, and their teardown (processes stopped, Redis keys deleted,
//! schema dropped — also on an early exit, by `Drop`).

use crate::gateway_process::{Extra, GatewayProcess, Memory, process_cpu, read_clock_ticks};
use crate::pg_redis::{Schema, postgres_cpu, redis_info, redis_pid};
use crate::phase::Load;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One master key for every replica (a throw-away one: the schema is dropped at the end).
const MASTER_KEY: &str = "6d6f64656c676174652d62656e63682d6d61737465722d6b65792d2d2d2d2d21";

/// What the section needs from the command line.
pub struct Section<'a> {
    pub count: usize,
    pub postgres: &'a str,
    pub redis: &'a str,
    pub bin: &'a Path,
    pub mock: SocketAddr,
    pub warmup: Duration,
    pub concurrency: usize,
    pub loads: &'a [Load],
}

/// The replicas, their schema and their Redis prefix.
pub struct ReplicaSet {
    procs: Vec<GatewayProcess>,
    schema: Schema,
    redis: String,
    pub(crate) prefix: String,
    pub(crate) redis_pid: Option<u32>,
    clock_ticks: f64,
    stopped: bool,
}

/// CPU time used so far by the replicas, Redis and each PostgreSQL process, and the
/// commands Redis has processed.
pub struct ReplicaCpu {
    replicas: Vec<Duration>,
    redis: Option<Duration>,
    redis_commands: Option<u64>,
    postgres: HashMap<u32, Duration>,
}

/// CPU seconds used during a phase.
pub struct ReplicaUse {
    pub replicas_s: Vec<f64>,
    pub redis_s: Option<f64>,
    /// `total_commands_processed` (commands inside Lua scripts count; other clients' too).
    pub redis_commands: Option<u64>,
    /// Processes that exited during the phase are missing (an undercount).
    pub postgres_s: f64,
}

impl ReplicaCpu {
    pub fn since(&self, before: &ReplicaCpu) -> ReplicaUse {
        let delta = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64();
        ReplicaUse {
            replicas_s: self
                .replicas
                .iter()
                .zip(&before.replicas)
                .map(|(a, b)| delta(*a, *b))
                .collect(),
            redis_s: self.redis.zip(before.redis).map(|(a, b)| delta(a, b)),
            redis_commands: self
                .redis_commands
                .zip(before.redis_commands)
                .map(|(a, b)| a.saturating_sub(b)),
            postgres_s: self
                .postgres
                .iter()
                .map(|(pid, a)| delta(*a, before.postgres.get(pid).copied().unwrap_or_default()))
                .sum(),
        }
    }
}

impl ReplicaSet {
    /// Creates the schema, then starts the replicas one after the other (the first one
    /// creates the admin on the empty schema).
    pub(crate) fn start(section: &Section<'_>) -> Result<Self> {
        let schema = Schema::create(section.postgres)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let prefix = format!("mgbench{}x{nanos}", std::process::id());
        let extra = Extra {
            args: vec![
                "--database".into(),
                schema.url(),
                "--redis".into(),
                section.redis.to_owned(),
                "--redis-prefix".into(),
                prefix.clone(),
            ],
            env: vec![("MODELGATE_MASTER_KEY".into(), MASTER_KEY.into())],
        };
        let mut set = Self {
            procs: Vec::new(),
            schema,
            redis: section.redis.to_owned(),
            prefix,
            redis_pid: redis_pid(section.redis),
            clock_ticks: read_clock_ticks(),
            stopped: false,
        };
        for i in 0..section.count {
            let gw = GatewayProcess::start_with(section.bin, &extra)
                .with_context(|| format!("starting replica {}", i + 1))?;
            eprintln!("replica {} (pid {}) on {}", i + 1, gw.pid(), gw.addr);
            set.procs.push(gw);
        }
        match set.redis_pid {
            Some(pid) => eprintln!("Redis server pid {pid}, key prefix {}", set.prefix),
            None => eprintln!("Redis's pid not found: its CPU is not measured"),
        }
        Ok(set)
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.procs.iter().map(|p| p.addr).collect()
    }

    pub fn cpu_snapshot(&self) -> Result<ReplicaCpu> {
        let redis = self
            .redis_pid
            .and_then(|pid| process_cpu(&format!("/proc/{pid}/stat"), self.clock_ticks).ok());
        Ok(ReplicaCpu {
            replicas: self
                .procs
                .iter()
                .map(GatewayProcess::cpu_time)
                .collect::<Result<_>>()?,
            redis,
            redis_commands: redis_info(&self.redis, "stats", "total_commands_processed"),
            postgres: postgres_cpu(self.clock_ticks),
        })
    }

    pub fn wait_idle(&self, max: Duration) -> Result<()> {
        self.procs.iter().try_for_each(|p| p.wait_idle(max))
    }

    /// The largest replica's peak and current memory.
    pub fn largest_memory(&self) -> Result<Memory> {
        Ok(self
            .memory()?
            .into_iter()
            .max_by_key(|m| m.hwm_kib)
            .unwrap_or_default())
    }

    pub(crate) fn memory(&self) -> Result<Vec<Memory>> {
        self.procs.iter().map(GatewayProcess::memory).collect()
    }

    /// The run's keys in Redis (`SCAN` for the prefix).
    pub(crate) fn redis_keys(&self) -> Result<Vec<String>> {
        let pattern = format!("{}:*", self.prefix);
        let out = Command::new("redis-cli")
            .args(["-u", &self.redis, "--scan", "--pattern", &pattern])
            .output()
            .context("running redis-cli")?;
        if !out.status.success() {
            bail!("redis-cli --scan: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Stops the replicas, then deletes the run's Redis keys and drops the schema (both
    /// best effort: reported, not fatal).
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut first_error = None;
        for p in &mut self.procs {
            if let Err(e) = p.stop() {
                first_error.get_or_insert(e);
            }
        }
        match self.redis_keys() {
            Ok(keys) => {
                for chunk in keys.chunks(200) {
                    let _ = Command::new("redis-cli")
                        .args(["-u", &self.redis, "DEL"])
                        .args(chunk)
                        .output();
                }
            }
            Err(e) => eprintln!("could not delete the run's Redis keys: {e:#}"),
        }
        self.schema.drop_now();
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for ReplicaSet {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the replicas: {e:#}");
        }
    }
}
