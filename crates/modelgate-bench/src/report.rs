//! The figures of a run: one [`Phase`] per (mode, load, route), the targets they are
//! judged against, and the JSON written by `--json` (the text tables are in `render`).

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
    /// Gateway phases only: CPU seconds used during the phase, per request, and memory after.
    pub cpu_s: Option<f64>,
    pub cpu_us_per_req: Option<f64>,
    pub memory: Option<Memory>,
}

impl Phase {
    /// True when other processes used more than [`DISTURBED_SHARE`] of the machine.
    pub fn disturbed(&self, cpus: usize) -> bool {
        self.foreign_cpu_s > DISTURBED_SHARE * cpus.max(1) as f64 * self.elapsed_s
    }

    fn json(&self) -> Value {
        json!({
            "mode": self.mode.name(),
            "load": self.load.name(),
            "route": match self.route { Route::Direct => "direct", Route::Gateway => "gateway" },
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
        })
    }
}

/// A whole run.
pub struct Report {
    pub cpus: usize,
    pub duration_s: f64,
    pub chunks: usize,
    pub max_in_flight: usize,
    pub phases: Vec<Phase>,
    /// The Nagle check: streams one at a time (direct, gateway).
    pub nagle: Vec<Phase>,
    pub final_memory: Memory,
}

impl Report {
    pub(crate) fn find(&self, mode: Mode, load: Load, route: Route) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.mode == mode && p.load == load && p.route == route)
    }

    /// (direct, gateway) pairs of one mode, in run order.
    pub(crate) fn pairs(&self, mode: Mode, open: bool) -> Vec<(&Phase, &Phase)> {
        self.phases
            .iter()
            .filter(|p| p.mode == mode && p.route == Route::Direct)
            .filter(|p| matches!(p.load, Load::Open(_)) == open)
            .filter_map(|d| Some((d, self.find(mode, d.load, Route::Gateway)?)))
            .collect()
    }

    /// The open-loop rate the latency targets are judged at: 1,000/s, else the lowest.
    fn target_rate(&self) -> Option<Load> {
        let rates = self.phases.iter().filter_map(|p| match p.load {
            Load::Open(r) => Some(r),
            Load::Closed(_) => None,
        });
        let min = rates.clone().min()?;
        Some(Load::Open(if rates.clone().any(|r| r == 1000) {
            1000
        } else {
            min
        }))
    }

    pub(crate) fn targets(&self) -> Vec<(String, f64, f64, bool)> {
        let mut t = Vec::new();
        if let Some(load) = self.target_rate() {
            let at = load.name();
            if let (Some(d), Some(g)) = (
                self.find(Mode::Plain, load, Route::Direct),
                self.find(Mode::Plain, load, Route::Gateway),
            ) {
                let p50 = g.total.p50_us - d.total.p50_us;
                let p99 = g.total.p99_us - d.total.p99_us;
                t.push((
                    format!("added p50, non-stream, {at}"),
                    p50,
                    TARGET_ADDED_P50_US,
                    p50 <= TARGET_ADDED_P50_US,
                ));
                t.push((
                    format!("added p99, non-stream, {at}"),
                    p99,
                    TARGET_ADDED_P99_US,
                    p99 <= TARGET_ADDED_P99_US,
                ));
            }
            if let (Some(d), Some(g)) = (
                self.find(Mode::Stream, load, Route::Direct),
                self.find(Mode::Stream, load, Route::Gateway),
            ) {
                let (dt, gt) = (d.ttft.unwrap_or_default(), g.ttft.unwrap_or_default());
                let added = gt.p50_us - dt.p50_us;
                t.push((
                    format!("added TTFT p50, stream, {at}"),
                    added,
                    TARGET_ADDED_TTFT_US,
                    added <= TARGET_ADDED_TTFT_US,
                ));
            }
        }
        for p in self
            .phases
            .iter()
            .filter(|p| p.route == Route::Gateway && p.mode == Mode::Plain)
        {
            if let Some(cpu) = p.cpu_us_per_req {
                t.push((
                    format!("gateway CPU per request, non-stream, {}", p.load.name()),
                    cpu,
                    TARGET_CPU_US,
                    cpu <= TARGET_CPU_US,
                ));
            }
        }
        if let Some(p) = self.nagle.iter().find(|p| p.route == Route::Gateway) {
            let worst = p.ttft.unwrap_or_default().max_us.max(p.max_gap_us);
            t.push((
                format!(
                    "Nagle check: worst TTFT or frame gap, gateway, one stream at a time ({} over 30 ms)",
                    p.stalls
                ),
                worst,
                STALL_US,
                p.stalls == 0,
            ));
        }
        t
    }

    pub fn json(&self) -> Value {
        json!({
            "cpus": self.cpus,
            "duration_s": self.duration_s,
            "stream_chunks": self.chunks,
            "max_in_flight": self.max_in_flight,
            "phases": self.phases.iter().map(Phase::json).collect::<Vec<_>>(),
            "nagle_check": self.nagle.iter().map(Phase::json).collect::<Vec<_>>(),
            "targets": self.targets().into_iter().map(|(name, value, target, ok)| json!({
                "name": name, "measured_us": round1(value), "goal_us": target, "pass": ok,
            })).collect::<Vec<_>>(),
            "gateway_final_vm_hwm_kib": self.final_memory.hwm_kib,
            "gateway_final_vm_rss_kib": self.final_memory.rss_kib,
        })
    }
}
