//! The figures of a run: one [`Phase`] per (mode, load, route), the targets they are
//! judged against, the tunnel route next to the direct provider ([`Report::tunnel_summary`]),
//! and the JSON written by `--json` (the text tables are in `render`).
//!
//! Routes: `direct` (straight to the mock), `gateway` (through modelgate to the mock as a
//! direct provider) and `tunnel` (through modelgate and a session tunnel's agent to the
//! same mock). Added figures of both are measured against `direct`; the tunnel's CPU per
//! request is the gateway's plus the agent's. The `--replicas` section (`replicas_report`)
//! has two more: `gateway-budgeted` (the same gateway, with a key bound to an allocation,
//! a priced model and per-key limits) and `replicas` (the same work on N replicas sharing
//! PostgreSQL and Redis, billed the sum of their CPU).

use crate::gateway_process::Memory;
use crate::phase::{
    Load, Mode, Phase, Route, STALL_US, TARGET_ADDED_P50_US, TARGET_ADDED_P99_US,
    TARGET_ADDED_TTFT_US, TARGET_CPU_US,
};
use crate::replicas_report::ReplicaReport;
use crate::responses_report::ResponsesReport;
use crate::stats::round1;
use serde_json::{Value, json};

/// One line of the tunnel's comparison with the direct provider: the same figure through
/// the gateway to the provider and through the gateway and the tunnel's agent.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub name: String,
    pub unit: &'static str,
    pub gateway: f64,
    pub tunnel: f64,
    /// CPU figures: the tunnel's (gateway part, agent part).
    pub split: Option<(f64, f64)>,
}

/// A whole run.
pub struct Report {
    pub cpus: usize,
    pub duration_s: f64,
    pub chunks: usize,
    pub max_in_flight: usize,
    pub phases: Vec<Phase>,
    /// The Nagle check: streams one at a time (direct, gateway, tunnel).
    pub nagle: Vec<Phase>,
    pub final_memory: Memory,
    /// The tunnel agent's memory at the end (None with `--no-tunnel`).
    pub agent_final_memory: Option<Memory>,
    /// The multi-replica section (`--replicas N`).
    pub replicas: Option<ReplicaReport>,
    /// The translated Responses scenario (`--responses-streams`, 0 skips it).
    pub responses: Option<ResponsesReport>,
}

impl Report {
    pub(crate) fn find(&self, mode: Mode, load: Load, route: Route) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.mode == mode && p.load == load && p.route == route)
    }

    /// (direct, gateway) pairs of one mode, in run order.
    pub(crate) fn pairs(&self, mode: Mode, open: bool) -> Vec<(&Phase, &Phase)> {
        self.pairs_via(mode, open, Route::Gateway)
    }

    /// (direct, `route`) pairs of one mode, in run order.
    pub(crate) fn pairs_via(&self, mode: Mode, open: bool, route: Route) -> Vec<(&Phase, &Phase)> {
        self.phases
            .iter()
            .filter(|p| p.mode == mode && p.route == Route::Direct)
            .filter(|p| matches!(p.load, Load::Open(_)) == open)
            .filter_map(|d| Some((d, self.find(mode, d.load, route)?)))
            .collect()
    }

    /// Whether the run measured the tunnel route.
    pub(crate) fn has_tunnel(&self) -> bool {
        self.phases.iter().any(|p| p.route == Route::Tunnel)
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

    /// The tunnel next to the direct provider: requests/s at each closed-loop concurrency,
    /// added latency (minus direct) and added TTFT at the target rate, and CPU per request
    /// (the tunnel's = gateway + agent) in every phase. Empty without tunnel phases.
    pub fn tunnel_summary(&self) -> Vec<Comparison> {
        let mut rows = Vec::new();
        if !self.has_tunnel() {
            return rows;
        }
        let get = |mode, load| {
            Some((
                self.find(mode, load, Route::Direct)?,
                self.find(mode, load, Route::Gateway)?,
                self.find(mode, load, Route::Tunnel)?,
            ))
        };
        let closed: Vec<Load> = self
            .phases
            .iter()
            .filter(|p| p.route == Route::Direct && matches!(p.load, Load::Closed(_)))
            .map(|p| p.load)
            .fold(Vec::new(), |mut v, l| {
                if !v.contains(&l) {
                    v.push(l);
                }
                v
            });
        for mode in [Mode::Plain, Mode::Stream] {
            for &load in &closed {
                if let Some((_, g, t)) = get(mode, load) {
                    rows.push(Comparison {
                        name: format!("requests/s, {}, {}", mode.name(), load.name()),
                        unit: "req/s",
                        gateway: g.rps,
                        tunnel: t.rps,
                        split: None,
                    });
                }
            }
        }
        if let Some(load) = self.target_rate() {
            let at = load.name();
            if let Some((d, g, t)) = get(Mode::Plain, load) {
                rows.push(Comparison {
                    name: format!("added p50, non-stream, {at}"),
                    unit: "µs",
                    gateway: g.total.p50_us - d.total.p50_us,
                    tunnel: t.total.p50_us - d.total.p50_us,
                    split: None,
                });
                rows.push(Comparison {
                    name: format!("added p99, non-stream, {at}"),
                    unit: "µs",
                    gateway: g.total.p99_us - d.total.p99_us,
                    tunnel: t.total.p99_us - d.total.p99_us,
                    split: None,
                });
            }
            if let Some((d, g, t)) = get(Mode::Stream, load) {
                let ttft = |p: &Phase| p.ttft.unwrap_or_default();
                rows.push(Comparison {
                    name: format!("added TTFT p50, stream, {at}"),
                    unit: "µs",
                    gateway: ttft(g).p50_us - ttft(d).p50_us,
                    tunnel: ttft(t).p50_us - ttft(d).p50_us,
                    split: None,
                });
                rows.push(Comparison {
                    name: format!("added TTFT p99, stream, {at}"),
                    unit: "µs",
                    gateway: ttft(g).p99_us - ttft(d).p99_us,
                    tunnel: ttft(t).p99_us - ttft(d).p99_us,
                    split: None,
                });
            }
        }
        for t in self.phases.iter().filter(|p| p.route == Route::Tunnel) {
            let Some(g) = self.find(t.mode, t.load, Route::Gateway) else {
                continue;
            };
            if let (Some(gw), Some(total), Some(tg), Some(ta)) = (
                g.cpu_us_per_req,
                t.total_cpu_us_per_req(),
                t.cpu_us_per_req,
                t.agent_cpu_us_per_req,
            ) {
                rows.push(Comparison {
                    name: format!("CPU per request, {}, {}", t.mode.name(), t.load.name()),
                    unit: "µs",
                    gateway: gw,
                    tunnel: total,
                    split: Some((tg, ta)),
                });
            }
        }
        rows
    }

    pub fn json(&self) -> Value {
        let mut v = json!({
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
        });
        if let (Some(agent), Some(obj)) = (self.agent_final_memory, v.as_object_mut()) {
            obj.insert("agent_final_vm_hwm_kib".into(), json!(agent.hwm_kib));
            obj.insert("agent_final_vm_rss_kib".into(), json!(agent.rss_kib));
            let rows: Vec<Value> = self
                .tunnel_summary()
                .into_iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "unit": c.unit,
                        "gateway": round1(c.gateway),
                        "tunnel": round1(c.tunnel),
                        "tunnel_gateway_part": c.split.map(|s| round1(s.0)),
                        "tunnel_agent_part": c.split.map(|s| round1(s.1)),
                    })
                })
                .collect();
            obj.insert("tunnel_vs_direct_provider".into(), Value::Array(rows));
        }
        if let (Some(replicas), Some(obj)) = (&self.replicas, v.as_object_mut()) {
            obj.insert("replicas".into(), replicas.json());
        }
        if let (Some(responses), Some(obj)) = (&self.responses, v.as_object_mut()) {
            obj.insert("responses_translation".into(), responses.json());
        }
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::Summary;

    /// A phase with p50 `p50_us` (p99 twice that) and, for routes through a gateway, CPU
    /// (gateway, agent) µs per request over 100 requests.
    pub(crate) fn phase(
        mode: Mode,
        load: Load,
        route: Route,
        p50_us: f64,
        cpu: Option<(f64, f64)>,
    ) -> Phase {
        let total = Summary {
            count: 1,
            p50_us,
            p99_us: 2.0 * p50_us,
            max_us: 2.0 * p50_us,
            mean_us: p50_us,
        };
        Phase {
            mode,
            load,
            route,
            completed: 100,
            errors: 0,
            first_error: None,
            elapsed_s: 1.0,
            rps: 1_000_000.0 / p50_us,
            total,
            ttft: (mode == Mode::Stream).then_some(total),
            max_gap_us: 0.0,
            stalls: 0,
            foreign_cpu_s: 0.0,
            lateness: None,
            cpu_s: cpu.map(|c| c.0 * 100e-6),
            cpu_us_per_req: cpu.map(|c| c.0),
            memory: cpu.map(|_| Memory::default()),
            agent_cpu_s: cpu.filter(|_| route == Route::Tunnel).map(|c| c.1 * 100e-6),
            agent_cpu_us_per_req: cpu.filter(|_| route == Route::Tunnel).map(|c| c.1),
            agent_memory: None,
            replica_cpu_s: None,
            redis_cpu_s: None,
            postgres_cpu_s: None,
            redis_commands: None,
        }
    }

    fn report(tunnel: bool) -> Report {
        let mut phases = Vec::new();
        for load in [Load::Open(1000), Load::Closed(32)] {
            phases.push(phase(Mode::Plain, load, Route::Direct, 100.0, None));
            phases.push(phase(
                Mode::Plain,
                load,
                Route::Gateway,
                200.0,
                Some((40.0, 0.0)),
            ));
            if tunnel {
                phases.push(phase(
                    Mode::Plain,
                    load,
                    Route::Tunnel,
                    250.0,
                    Some((30.0, 20.0)),
                ));
            }
        }
        Report {
            cpus: 2,
            duration_s: 1.0,
            chunks: 20,
            max_in_flight: 256,
            phases,
            nagle: Vec::new(),
            final_memory: Memory::default(),
            agent_final_memory: tunnel.then(Memory::default),
            replicas: None,
            responses: None,
        }
    }

    #[test]
    fn tunnel_is_judged_against_direct_and_billed_gateway_plus_agent() {
        let r = report(true);
        let rows = r.tunnel_summary();
        let row = |name: &str| rows.iter().find(|c| c.name == name).unwrap();
        assert_eq!(row("requests/s, non-stream, closed c=32").tunnel, 4000.0);
        let p50 = row("added p50, non-stream, open 1000/s");
        assert_eq!((p50.gateway, p50.tunnel), (100.0, 150.0));
        let cpu = row("CPU per request, non-stream, closed c=32");
        assert_eq!((cpu.gateway, cpu.tunnel), (40.0, 50.0));
        assert_eq!(cpu.split, Some((30.0, 20.0)));
        let text = r.render();
        assert!(text.contains("Added latency through the tunnel, non-stream"));
        assert!(text.contains("gw 30.0 + agent 20.0"));
        let json = r.json();
        assert_eq!(json["phases"][2]["route"], "tunnel");
        assert_eq!(
            json["phases"][2]["gateway_plus_agent_cpu_us_per_request"],
            50.0
        );
        assert!(json["tunnel_vs_direct_provider"].is_array());
    }

    #[test]
    fn without_the_tunnel_nothing_of_it_is_shown() {
        let r = report(false);
        assert!(r.tunnel_summary().is_empty());
        assert!(!r.render().contains("tunnel"));
        let json = r.json();
        assert!(json.get("tunnel_vs_direct_provider").is_none());
        assert!(json["phases"][1].get("agent_cpu_s").is_none());
    }
}
