//! The figures of the `--replicas` section: its phases (direct, the single SQLite gateway
//! with the budgeted key, the replicas with the same key), the comparison of the last two
//! ([`ReplicaReport::summary`]: requests/s at each closed-loop concurrency, added latency
//! or TTFT at each open-loop rate, CPU per request), its text and its JSON.
//!
//! "Added" is minus the direct phase measured in the same section. The replicas' CPU per
//! request is the sum over all replicas; Redis's and PostgreSQL's are shown apart (and
//! PostgreSQL's counts every client of the server, not only the replicas).

use crate::gateway_process::Memory;
use crate::phase::{Load, Mode, Phase, Route};
use crate::stats::round1;
use crate::table::table;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The replicas' allocation at the end of the section.
#[derive(Debug, Clone, Copy)]
pub struct Allocation {
    pub used_usd: f64,
    pub reserved_usd: f64,
}

pub struct ReplicaReport {
    pub count: usize,
    pub phases: Vec<Phase>,
    /// Keys under the run's Redis prefix after the warm-up (shows the shared state is used).
    pub redis_keys: Option<usize>,
    pub redis_pid: Option<u32>,
    pub allocation: Option<Allocation>,
    /// Each replica's memory at the end.
    pub memory: Vec<Memory>,
}

/// One figure, single SQLite gateway next to the replicas.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub sqlite: f64,
    pub replicas: f64,
    pub note: String,
}

/// Reads (p50, p99) of one phase: of the whole request, or of the TTFT.
type Percentiles = fn(&Phase) -> (f64, f64);

fn us(x: f64) -> String {
    format!("{x:.1}")
}

impl ReplicaReport {
    fn find(&self, mode: Mode, load: Load, route: Route) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.mode == mode && p.load == load && p.route == route)
    }

    /// (direct, single gateway, replicas) at one mode and load.
    fn triple(&self, mode: Mode, load: Load) -> Option<(&Phase, &Phase, &Phase)> {
        Some((
            self.find(mode, load, Route::Direct)?,
            self.find(mode, load, Route::Budgeted)?,
            self.find(mode, load, Route::Replicas)?,
        ))
    }

    /// The loads measured, in run order.
    fn loads(&self) -> Vec<Load> {
        let mut loads = Vec::new();
        for p in &self.phases {
            if !loads.contains(&p.load) {
                loads.push(p.load);
            }
        }
        loads
    }

    /// The single gateway next to the replicas.
    pub fn summary(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let loads = self.loads();
        let row = |name: String, unit, sqlite, replicas, note| Row {
            name,
            unit,
            sqlite,
            replicas,
            note,
        };
        for mode in [Mode::Plain, Mode::Stream] {
            for &load in loads.iter().filter(|l| matches!(l, Load::Closed(_))) {
                if let Some((d, s, r)) = self.triple(mode, load) {
                    let name = format!("requests/s, {}, {}", mode.name(), load.name());
                    let note = format!("direct {:.0}", d.rps);
                    rows.push(row(name, "req/s", s.rps, r.rps, note));
                }
            }
        }
        for mode in [Mode::Plain, Mode::Stream] {
            for &load in loads.iter().filter(|l| matches!(l, Load::Open(_))) {
                let Some((d, s, r)) = self.triple(mode, load) else {
                    continue;
                };
                let (what, pick): (&str, Percentiles) = match mode {
                    Mode::Plain => ("added", |p| (p.total.p50_us, p.total.p99_us)),
                    Mode::Stream => ("added TTFT", |p| {
                        let t = p.ttft.unwrap_or_default();
                        (t.p50_us, t.p99_us)
                    }),
                };
                let (d, s, r) = (pick(d), pick(s), pick(r));
                let at = format!("{}, {}", mode.name(), load.name());
                let note = format!("direct {:.1} / {:.1}", d.0, d.1);
                rows.push(row(
                    format!("{what} p50, {at}"),
                    "µs",
                    s.0 - d.0,
                    r.0 - d.0,
                    note.clone(),
                ));
                rows.push(row(
                    format!("{what} p99, {at}"),
                    "µs",
                    s.1 - d.1,
                    r.1 - d.1,
                    note,
                ));
            }
        }
        for mode in [Mode::Plain, Mode::Stream] {
            for &load in &loads {
                let Some((_, s, r)) = self.triple(mode, load) else {
                    continue;
                };
                let (Some(sc), Some(rc)) = (s.cpu_us_per_req, r.cpu_us_per_req) else {
                    continue;
                };
                let split: Vec<String> = r
                    .replica_cpu_s
                    .iter()
                    .flatten()
                    .map(|c| format!("{:.0}", r.per_req_us(*c)))
                    .collect();
                let extra =
                    |p: &Phase, s: Option<f64>| s.map_or("?".into(), |s| us(p.per_req_us(s)));
                let cmds = r
                    .redis_commands_per_req()
                    .map_or("?".into(), |n| format!("{n:.1}"));
                let note = format!(
                    "replicas {}; Redis {} (single gw phase {}), {cmds} commands/req; PostgreSQL {} (single gw phase {})",
                    split.join(" + "),
                    extra(r, r.redis_cpu_s),
                    extra(s, s.redis_cpu_s),
                    extra(r, r.postgres_cpu_s),
                    extra(s, s.postgres_cpu_s),
                );
                let name = format!("CPU µs/request, {}, {}", mode.name(), load.name());
                rows.push(row(name, "µs", sc, rc, note));
            }
        }
        rows
    }

    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\n{} replicas on PostgreSQL + Redis, next to the single SQLite gateway",
            self.count
        );
        let _ = writeln!(
            out,
            "Both: a key bound to an allocation with per-key rpm/tpm limits, on a priced model (a rate-limit check and a budget reservation per request); single gw = counters in memory, replicas = counters in Redis, requests round robin over the replicas. Added = minus direct measured in this section; replicas' CPU = sum over all replicas; Redis and PostgreSQL (all server processes, other clients included) apart, µs per request.\n"
        );
        let rows: Vec<Vec<String>> = self
            .phases
            .iter()
            .map(|p| {
                let d = self.find(p.mode, p.load, Route::Direct);
                let added = |f: fn(&Phase) -> f64| d.map_or(String::new(), |d| us(f(p) - f(d)));
                let ttft_p50 = |p: &Phase| p.ttft.unwrap_or_default().p50_us;
                let extra = |s: Option<f64>| s.map_or(String::new(), |s| us(p.per_req_us(s)));
                vec![
                    format!("{} {}", p.mode.name(), p.load.name()),
                    p.route.name().to_owned(),
                    format!("{:.0}", p.rps),
                    us(p.total.p50_us),
                    us(p.total.p99_us),
                    added(|p| p.total.p50_us),
                    added(|p| p.total.p99_us),
                    p.ttft.map_or(String::new(), |_| added(ttft_p50)),
                    p.errors.to_string(),
                    p.cpu_us_per_req.map_or(String::new(), us),
                    extra(p.redis_cpu_s),
                    p.redis_commands_per_req()
                        .map_or(String::new(), |n| format!("{n:.1}")),
                    extra(p.postgres_cpu_s),
                    format!("{:.2}", p.foreign_cpu_s),
                ]
            })
            .collect();
        let headers = [
            "phase",
            "route",
            "req/s",
            "p50",
            "p99",
            "added p50",
            "added p99",
            "added TTFT p50",
            "errors",
            "gw CPU µs/req",
            "Redis µs/req",
            "Redis cmd/req",
            "PG µs/req",
            "other procs CPU s",
        ];
        table(out, &headers, &rows);
        let rows: Vec<Vec<String>> = self
            .summary()
            .into_iter()
            .map(|r| {
                let fmt = |x: f64| match r.unit {
                    "req/s" => format!("{x:.0}"),
                    _ => format!("{x:.1}"),
                };
                let ratio = if r.unit == "req/s" || r.name.starts_with("CPU") {
                    format!("{:.0}%", 100.0 * r.replicas / r.sqlite.max(1e-9))
                } else {
                    String::new()
                };
                vec![
                    format!("{} ({})", r.name, r.unit),
                    fmt(r.sqlite),
                    fmt(r.replicas),
                    ratio,
                    r.note,
                ]
            })
            .collect();
        let headers = [
            "figure",
            "single SQLite gw",
            &format!("{} replicas", self.count),
            "replicas/single",
            "notes",
        ];
        table(out, &headers, &rows);
        let mem: Vec<String> = self
            .memory
            .iter()
            .map(|m| format!("{:.1}", m.hwm_kib as f64 / 1024.0))
            .collect();
        let _ = writeln!(
            out,
            "Replicas' VmHWM at the end: {} MiB. Redis keys under the run's prefix after warm-up: {}. Allocation at the end: {}.{}\n",
            mem.join(" / "),
            self.redis_keys.map_or("unknown".into(), |n| n.to_string()),
            self.allocation.map_or("unknown".into(), |a| format!(
                "used ${:.6}, reserved ${:.6}",
                a.used_usd, a.reserved_usd
            )),
            if self.redis_pid.is_none() {
                " Redis's pid was not found: its CPU is not measured."
            } else {
                ""
            }
        );
    }

    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "redis_pid": self.redis_pid,
            "redis_keys_after_warmup": self.redis_keys,
            "allocation_used_usd": self.allocation.map(|a| a.used_usd),
            "allocation_reserved_usd": self.allocation.map(|a| a.reserved_usd),
            "replica_vm_hwm_kib": self.memory.iter().map(|m| m.hwm_kib).collect::<Vec<_>>(),
            "phases": self.phases.iter().map(Phase::json).collect::<Vec<_>>(),
            "single_sqlite_vs_replicas": self.summary().into_iter().map(|r| json!({
                "name": r.name,
                "unit": r.unit,
                "single_sqlite_gateway": round1(r.sqlite),
                "replicas": round1(r.replicas),
                "note": r.note,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::phase;

    fn report() -> ReplicaReport {
        let mut phases = Vec::new();
        for mode in [Mode::Plain, Mode::Stream] {
            for load in [Load::Open(1000), Load::Closed(32)] {
                phases.push(phase(mode, load, Route::Direct, 100.0, None));
                let mut s = phase(mode, load, Route::Budgeted, 200.0, Some((40.0, 0.0)));
                s.redis_cpu_s = Some(0.0);
                s.postgres_cpu_s = Some(0.001);
                phases.push(s);
                let mut r = phase(mode, load, Route::Replicas, 400.0, Some((90.0, 0.0)));
                r.replica_cpu_s = Some(vec![0.003, 0.003, 0.003]);
                r.redis_cpu_s = Some(0.002);
                r.postgres_cpu_s = Some(0.004);
                r.redis_commands = Some(700);
                phases.push(r);
            }
        }
        ReplicaReport {
            count: 3,
            phases,
            redis_keys: Some(4),
            redis_pid: Some(1),
            allocation: Some(Allocation {
                used_usd: 0.5,
                reserved_usd: 0.0,
            }),
            memory: vec![Memory::default(); 3],
        }
    }

    #[test]
    fn replicas_are_judged_against_direct_next_to_the_single_gateway() {
        let r = report();
        let rows = r.summary();
        let row = |name: &str| rows.iter().find(|c| c.name == name).unwrap();
        let rps = row("requests/s, non-stream, closed c=32");
        assert_eq!((rps.sqlite, rps.replicas), (5000.0, 2500.0));
        let p50 = row("added p50, non-stream, open 1000/s");
        assert_eq!((p50.sqlite, p50.replicas), (100.0, 300.0));
        let p99 = row("added p99, non-stream, open 1000/s");
        assert_eq!((p99.sqlite, p99.replicas), (200.0, 600.0));
        let ttft = row("added TTFT p50, stream, open 1000/s");
        assert_eq!((ttft.sqlite, ttft.replicas), (100.0, 300.0));
        let cpu = row("CPU µs/request, stream, closed c=32");
        assert_eq!((cpu.sqlite, cpu.replicas), (40.0, 90.0));
        assert!(cpu.note.contains("replicas 30 + 30 + 30"), "{}", cpu.note);
        assert!(
            cpu.note
                .contains("Redis 20.0 (single gw phase 0.0), 7.0 commands/req"),
            "{}",
            cpu.note
        );
        assert!(
            cpu.note.contains("PostgreSQL 40.0 (single gw phase 10.0)"),
            "{}",
            cpu.note
        );
        let mut text = String::new();
        r.render(&mut text);
        assert!(text.contains("3 replicas on PostgreSQL + Redis"));
        assert!(text.contains("gateway-budgeted"));
        let json = r.json();
        assert_eq!(json["phases"][2]["route"], "replicas");
        assert_eq!(json["phases"][2]["redis_cpu_us_per_request"], 20.0);
        assert_eq!(json["phases"][2]["redis_commands_per_request"], 7.0);
        assert!(json["phases"][0].get("replica_cpu_s").is_none());
        assert!(json["single_sqlite_vs_replicas"].is_array());
    }
}
