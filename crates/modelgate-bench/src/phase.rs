//! One measured phase of a run ([`Phase`]: mode, load, route and its figures) and the
//! targets the gateway is held to; every section of the report is made of them.

use crate::gateway_process::Memory;
use crate::stats::{Summary, round1};
use serde_json::{Value, json};

/// Targets the gateway is held to.
pub const TARGET_ADDED_P50_US: f64 = 50.0;
pub const TARGET_ADDED_P99_US: f64 = 500.0;
pub const TARGET_CPU_US: f64 = 30.0;
pub const TARGET_ADDED_TTFT_US: f64 = 100.0;
/// Share of the machine's CPU other processes may use before a phase counts as disturbed.
pub const DISTURBED_SHARE: f64 = 0.05;
/// A TTFT above this smells of Nagle/delayed-ACK (~40 ms) stalls.
pub const STALL_US: f64 = 30_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    Open(u32),
    Closed(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Direct,
    Gateway,
    Tunnel,
    /// The single (SQLite) gateway with a budgeted, rate-limited key (`--replicas` only).
    Budgeted,
    /// The same budgeted work on the replicas, round robin (`--replicas` only).
    Replicas,
}

impl Route {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Gateway => "gateway",
            Route::Tunnel => "tunnel",
            Route::Budgeted => "gateway-budgeted",
            Route::Replicas => "replicas",
        }
    }
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Plain => "non-stream",
            Mode::Stream => "stream",
        }
    }
}

impl Load {
    pub(crate) fn name(self) -> String {
        match self {
            Load::Open(r) => format!("open {r}/s"),
            Load::Closed(c) => format!("closed c={c}"),
        }
    }
}

/// What one phase measured.
#[derive(Debug, Clone)]
pub struct Phase {
    pub mode: Mode,
    pub load: Load,
    pub route: Route,
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub rps: f64,
    pub total: Summary,
    pub ttft: Option<Summary>,
    pub max_gap_us: f64,
    /// Requests with a TTFT or frame gap over 30 ms.
    pub stalls: u64,
    /// CPU seconds used by other processes on the machine during the phase.
    pub foreign_cpu_s: f64,
    pub lateness: Option<Summary>,
    /// Gateway and tunnel phases: the gateway's CPU seconds used during the phase, per
    /// request, and its memory after; replica phases: the sum over the replicas, and the
    /// largest replica's memory.
    pub cpu_s: Option<f64>,
    pub cpu_us_per_req: Option<f64>,
    pub memory: Option<Memory>,
    /// Tunnel phases only: the agent process's CPU seconds, per request, and memory after.
    pub agent_cpu_s: Option<f64>,
    pub agent_cpu_us_per_req: Option<f64>,
    pub agent_memory: Option<Memory>,
    /// Replica phases: each replica's CPU seconds (their sum is `cpu_s`).
    pub replica_cpu_s: Option<Vec<f64>>,
    /// Phases of the `--replicas` section: CPU seconds of the Redis server, and of all
    /// PostgreSQL server processes (other clients of the server included).
    pub redis_cpu_s: Option<f64>,
    pub postgres_cpu_s: Option<f64>,
    /// Commands Redis processed during the phase (inside scripts too; any client).
    pub redis_commands: Option<u64>,
}

impl Phase {
    /// Redis commands per completed request.
    pub(crate) fn redis_commands_per_req(&self) -> Option<f64> {
        self.redis_commands
            .map(|n| n as f64 / self.completed.max(1) as f64)
    }

    /// CPU seconds → µs per completed request.
    pub(crate) fn per_req_us(&self, cpu_s: f64) -> f64 {
        cpu_s * 1e6 / (self.completed.max(1) as f64)
    }

    /// True when other processes used more than [`DISTURBED_SHARE`] of the machine.
    pub fn disturbed(&self, cpus: usize) -> bool {
        self.foreign_cpu_s > DISTURBED_SHARE * cpus.max(1) as f64 * self.elapsed_s
    }

    /// CPU per request of every process the route adds: the gateway's, plus the agent's
    /// on the tunnel route.
    pub fn total_cpu_us_per_req(&self) -> Option<f64> {
        Some(self.cpu_us_per_req? + self.agent_cpu_us_per_req.unwrap_or(0.0))
    }

    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "mode": self.mode.name(),
            "load": self.load.name(),
            "route": self.route.name(),
            "completed": self.completed,
            "errors": self.errors,
            "first_error": self.first_error,
            "elapsed_s": self.elapsed_s,
            "requests_per_s": round1(self.rps),
            "latency": self.total.json(),
            "ttft": self.ttft.map(|s| s.json()),
            "max_frame_gap_us": round1(self.max_gap_us),
            "requests_over_30ms_ttft_or_gap": self.stalls,
            "foreign_cpu_s": round1(self.foreign_cpu_s),
            "dispatch_lateness": self.lateness.map(|s| s.json()),
            "gateway_cpu_s": self.cpu_s,
            "gateway_cpu_us_per_request": self.cpu_us_per_req.map(round1),
            "gateway_vm_hwm_kib": self.memory.map(|m| m.hwm_kib),
            "gateway_vm_rss_kib": self.memory.map(|m| m.rss_kib),
        });
        if self.route == Route::Tunnel
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("agent_cpu_s".into(), json!(self.agent_cpu_s));
            obj.insert(
                "agent_cpu_us_per_request".into(),
                json!(self.agent_cpu_us_per_req.map(round1)),
            );
            obj.insert(
                "gateway_plus_agent_cpu_us_per_request".into(),
                json!(self.total_cpu_us_per_req().map(round1)),
            );
            obj.insert(
                "agent_vm_hwm_kib".into(),
                json!(self.agent_memory.map(|m| m.hwm_kib)),
            );
            obj.insert(
                "agent_vm_rss_kib".into(),
                json!(self.agent_memory.map(|m| m.rss_kib)),
            );
        }
        if let Some(obj) = v.as_object_mut() {
            let per_req = |s: Option<f64>| s.map(|s| round1(self.per_req_us(s)));
            if let Some(split) = &self.replica_cpu_s {
                obj.insert("replica_cpu_s".into(), json!(split));
            }
            if self.redis_cpu_s.is_some() || self.postgres_cpu_s.is_some() {
                obj.insert("redis_cpu_s".into(), json!(self.redis_cpu_s));
                obj.insert(
                    "redis_cpu_us_per_request".into(),
                    json!(per_req(self.redis_cpu_s)),
                );
                obj.insert(
                    "redis_commands_per_request".into(),
                    json!(self.redis_commands_per_req().map(round1)),
                );
                obj.insert("postgres_cpu_s".into(), json!(self.postgres_cpu_s));
                obj.insert(
                    "postgres_cpu_us_per_request".into(),
                    json!(per_req(self.postgres_cpu_s)),
                );
            }
        }
        v
    }
}
