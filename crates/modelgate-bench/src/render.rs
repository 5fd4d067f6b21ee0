//! The text report: plain tables (added latency, streams, throughput, gateway resources)
//! and the target verdicts with PASS/MISS, printed to stdout. When the run measured the
//! tunnel route, each table of the gateway route is followed by the same figures through
//! the tunnel ("tunnel", added = tunnel minus direct, "over gw" = tunnel minus gateway),
//! the resources by the gateway's and the agent's CPU per tunnelled request, and the report
//! ends with the tunnel next to the direct provider, then (`--replicas`) the replicas next
//! to the single gateway (`replicas_report`).

use crate::phase::{Mode, Phase, Route, STALL_US, TARGET_CPU_US};
use crate::report::Report;
use crate::table::{table, verdict};
use std::fmt::Write as _;

fn us(x: f64) -> String {
    format!("{x:.1}")
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "modelgate-bench: {} s per phase, {} content chunks per stream, up to {} requests in flight (open loop)",
            self.duration_s, self.chunks, self.max_in_flight
        );
        let _ = writeln!(
            out,
            "NOTE: this machine has {} CPU(s); the load generator, the mock upstream and the gateway share them, so every figure includes contention between the three.\n",
            self.cpus
        );
        for mode in [Mode::Plain, Mode::Stream] {
            let _ = writeln!(
                out,
                "Added latency, {}, open loop (µs from the scheduled send to the end of the body)",
                mode.name()
            );
            let rows: Vec<Vec<String>> = self
                .pairs(mode, true)
                .into_iter()
                .map(|(d, g)| {
                    vec![
                        d.load.name(),
                        format!("{:.0}/{:.0}", d.rps, g.rps),
                        us(d.total.p50_us),
                        us(d.total.p99_us),
                        us(g.total.p50_us),
                        us(g.total.p99_us),
                        us(g.total.p50_us - d.total.p50_us),
                        us(g.total.p99_us - d.total.p99_us),
                        format!("{}/{}", d.errors, g.errors),
                        d.lateness.map_or(String::new(), |l| us(l.p99_us)),
                    ]
                })
                .collect();
            let headers = [
                "load",
                "achieved d/g",
                "direct p50",
                "direct p99",
                "gw p50",
                "gw p99",
                "added p50",
                "added p99",
                "errors d/g",
                "dispatch late p99",
            ];
            table(&mut out, &headers, &rows);
            if self.has_tunnel() {
                self.render_tunnel_added(&mut out, mode);
            }
        }
        self.render_streams(&mut out);
        self.render_throughput(&mut out);
        self.render_resources(&mut out);
        self.render_targets(&mut out);
        if self.has_tunnel() {
            self.render_tunnel_summary(&mut out);
        }
        if let Some(responses) = &self.responses {
            responses.render(&mut out);
        }
        if let Some(replicas) = &self.replicas {
            replicas.render(&mut out);
        }
        out
    }

    /// The gateway-route phase with the same mode and load as `p`.
    fn gateway_of(&self, p: &Phase) -> Option<&Phase> {
        self.find(p.mode, p.load, Route::Gateway)
    }

    /// `f(tunnel) - f(gateway)` at the same mode and load, or blank.
    fn over_gw(&self, t: &Phase, f: impl Fn(&Phase) -> f64) -> String {
        self.gateway_of(t)
            .map_or(String::new(), |g| us(f(t) - f(g)))
    }

    fn render_tunnel_added(&self, out: &mut String, mode: Mode) {
        let _ = writeln!(
            out,
            "Added latency through the tunnel, {}, open loop (µs; added = tunnel minus direct, over gw = tunnel minus gateway)",
            mode.name()
        );
        let rows: Vec<Vec<String>> = self
            .pairs_via(mode, true, Route::Tunnel)
            .into_iter()
            .map(|(d, t)| {
                vec![
                    d.load.name(),
                    format!("{:.0}/{:.0}", d.rps, t.rps),
                    us(d.total.p50_us),
                    us(d.total.p99_us),
                    us(t.total.p50_us),
                    us(t.total.p99_us),
                    us(t.total.p50_us - d.total.p50_us),
                    us(t.total.p99_us - d.total.p99_us),
                    self.over_gw(t, |p| p.total.p50_us),
                    self.over_gw(t, |p| p.total.p99_us),
                    format!("{}/{}", d.errors, t.errors),
                ]
            })
            .collect();
        let headers = [
            "load",
            "achieved d/t",
            "direct p50",
            "direct p99",
            "tunnel p50",
            "tunnel p99",
            "added p50",
            "added p99",
            "over gw p50",
            "over gw p99",
            "errors d/t",
        ];
        table(out, &headers, &rows);
    }

    fn render_tunnel_streams(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Streams through the tunnel: time to first content event and total stream time (µs; over gw = tunnel minus gateway)"
        );
        let mut pairs = self.pairs_via(Mode::Stream, true, Route::Tunnel);
        pairs.extend(self.pairs_via(Mode::Stream, false, Route::Tunnel));
        let ttft = |p: &Phase| p.ttft.unwrap_or_default();
        let rows: Vec<Vec<String>> = pairs
            .into_iter()
            .map(|(d, t)| {
                let (dt, tt) = (ttft(d), ttft(t));
                vec![
                    d.load.name(),
                    us(dt.p50_us),
                    us(dt.p99_us),
                    us(tt.p50_us),
                    us(tt.p99_us),
                    us(tt.p50_us - dt.p50_us),
                    us(tt.p99_us - dt.p99_us),
                    self.over_gw(t, |p| ttft(p).p50_us),
                    format!("{:.0}/{:.0}", dt.max_us, tt.max_us),
                    format!("{:.0}/{:.0}", d.total.p50_us, t.total.p50_us),
                    format!("{:.0}/{:.0}", d.max_gap_us, t.max_gap_us),
                ]
            })
            .collect();
        let headers = [
            "load",
            "d TTFT p50",
            "d TTFT p99",
            "t TTFT p50",
            "t TTFT p99",
            "added p50",
            "added p99",
            "over gw p50",
            "TTFT max d/t",
            "total p50 d/t",
            "max gap d/t",
        ];
        table(out, &headers, &rows);
    }

    fn render_tunnel_throughput(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Throughput through the tunnel, closed loop (requests/s; latency µs per request)"
        );
        let mut rows = Vec::new();
        for mode in [Mode::Plain, Mode::Stream] {
            for (d, t) in self.pairs_via(mode, false, Route::Tunnel) {
                let g = self.gateway_of(t);
                let g_rps = g.map_or(f64::NAN, |g| g.rps);
                rows.push(vec![
                    format!("{} {}", mode.name(), d.load.name()),
                    format!("{:.0}", d.rps),
                    format!("{g_rps:.0}"),
                    format!("{:.0}", t.rps),
                    format!("{:.0}%", 100.0 * t.rps / d.rps.max(1e-9)),
                    format!("{:.0}%", 100.0 * t.rps / g_rps.max(1e-9)),
                    us(t.total.p50_us),
                    us(t.total.p99_us),
                    format!(
                        "{}/{}/{}",
                        d.errors,
                        g.map_or(String::new(), |g| g.errors.to_string()),
                        t.errors
                    ),
                ]);
            }
        }
        let headers = [
            "load",
            "direct rps",
            "gw rps",
            "tunnel rps",
            "tunnel/direct",
            "tunnel/gw",
            "t p50",
            "t p99",
            "errors d/g/t",
        ];
        table(out, &headers, &rows);
    }

    fn render_tunnel_resources(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Tunnel route: CPU (utime+stime, all threads) per request of the gateway and of the agent process, and peak memory"
        );
        let nan = f64::NAN;
        let rows: Vec<Vec<String>> = self
            .phases
            .iter()
            .filter(|p| p.route == Route::Tunnel)
            .map(|p| {
                vec![
                    format!("{} {}", p.mode.name(), p.load.name()),
                    p.completed.to_string(),
                    format!("{:.2}", p.cpu_s.unwrap_or(nan)),
                    format!("{:.2}", p.agent_cpu_s.unwrap_or(nan)),
                    us(p.cpu_us_per_req.unwrap_or(nan)),
                    us(p.agent_cpu_us_per_req.unwrap_or(nan)),
                    us(p.total_cpu_us_per_req().unwrap_or(nan)),
                    self.gateway_of(p)
                        .and_then(|g| g.cpu_us_per_req)
                        .map_or(String::new(), us),
                    p.memory.map_or(String::new(), |m| {
                        format!("{:.1}", m.hwm_kib as f64 / 1024.0)
                    }),
                    p.agent_memory.map_or(String::new(), |m| {
                        format!("{:.1}", m.hwm_kib as f64 / 1024.0)
                    }),
                    format!("{:.2}", p.foreign_cpu_s),
                ]
            })
            .collect();
        let headers = [
            "phase",
            "requests",
            "gw CPU s",
            "agent CPU s",
            "gw µs/req",
            "agent µs/req",
            "gw+agent µs/req",
            "gw route µs/req",
            "gw VmHWM MiB",
            "agent VmHWM MiB",
            "other procs CPU s",
        ];
        table(out, &headers, &rows);
        if let Some(m) = self.agent_final_memory {
            let _ = writeln!(
                out,
                "Tunnel agent memory at the end: VmHWM {:.1} MiB, VmRSS {:.1} MiB\n",
                m.hwm_kib as f64 / 1024.0,
                m.rss_kib as f64 / 1024.0
            );
        }
    }

    fn render_tunnel_summary(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\nTunnel next to the direct provider (gateway route); added = minus direct, CPU = gateway + agent"
        );
        let rows: Vec<Vec<String>> = self
            .tunnel_summary()
            .into_iter()
            .map(|c| {
                let fmt = |x: f64| match c.unit {
                    "req/s" => format!("{x:.0} req/s"),
                    unit => format!("{x:.1} {unit}"),
                };
                let ratio = if c.unit == "req/s" {
                    format!("{:.0}%", 100.0 * c.tunnel / c.gateway.max(1e-9))
                } else {
                    String::new()
                };
                vec![
                    c.name.clone(),
                    fmt(c.gateway),
                    fmt(c.tunnel),
                    match c.split {
                        Some((g, a)) => format!("gw {g:.1} + agent {a:.1}"),
                        None => String::new(),
                    },
                    fmt(c.tunnel - c.gateway),
                    ratio,
                ]
            })
            .collect();
        let headers = [
            "figure",
            "direct provider",
            "tunnel",
            "tunnel split",
            "tunnel - provider",
            "tunnel/provider",
        ];
        table(out, &headers, &rows);
    }

    fn render_streams(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Streams: time to first content event and total stream time (µs)"
        );
        let mut pairs = self.pairs(Mode::Stream, true);
        pairs.extend(self.pairs(Mode::Stream, false));
        let rows: Vec<Vec<String>> = pairs
            .into_iter()
            .map(|(d, g)| {
                let (dt, gt) = (d.ttft.unwrap_or_default(), g.ttft.unwrap_or_default());
                vec![
                    d.load.name(),
                    us(dt.p50_us),
                    us(dt.p99_us),
                    us(gt.p50_us),
                    us(gt.p99_us),
                    us(gt.p50_us - dt.p50_us),
                    us(gt.p99_us - dt.p99_us),
                    format!("{:.0}/{:.0}", dt.max_us, gt.max_us),
                    format!("{:.0}/{:.0}", d.total.p50_us, g.total.p50_us),
                    format!("{:.0}/{:.0}", d.max_gap_us, g.max_gap_us),
                ]
            })
            .collect();
        let headers = [
            "load",
            "d TTFT p50",
            "d TTFT p99",
            "gw TTFT p50",
            "gw TTFT p99",
            "added p50",
            "added p99",
            "TTFT max d/g",
            "total p50 d/g",
            "max gap d/g",
        ];
        table(out, &headers, &rows);
        if self.has_tunnel() {
            self.render_tunnel_streams(out);
        }
    }

    fn render_throughput(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Throughput, closed loop (requests/s; latency µs per request)"
        );
        let mut rows = Vec::new();
        for mode in [Mode::Plain, Mode::Stream] {
            for (d, g) in self.pairs(mode, false) {
                rows.push(vec![
                    format!("{} {}", mode.name(), d.load.name()),
                    format!("{:.0}", d.rps),
                    format!("{:.0}", g.rps),
                    format!("{:.0}%", 100.0 * g.rps / d.rps.max(1e-9)),
                    us(d.total.p50_us),
                    us(d.total.p99_us),
                    us(g.total.p50_us),
                    us(g.total.p99_us),
                    format!("{}/{}", d.errors, g.errors),
                ]);
            }
        }
        let headers = [
            "load",
            "direct rps",
            "gw rps",
            "gw/direct",
            "d p50",
            "d p99",
            "gw p50",
            "gw p99",
            "errors d/g",
        ];
        table(out, &headers, &rows);
        if self.has_tunnel() {
            self.render_tunnel_throughput(out);
        }
    }

    fn render_resources(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Gateway process: CPU (utime+stime, all threads) per request during each phase, and peak memory"
        );
        let rows: Vec<Vec<String>> = self
            .phases
            .iter()
            .filter(|p| p.route == Route::Gateway)
            .map(|p| {
                let cpu = p.cpu_us_per_req.unwrap_or(f64::NAN);
                vec![
                    format!("{} {}", p.mode.name(), p.load.name()),
                    p.completed.to_string(),
                    format!("{:.2}", p.cpu_s.unwrap_or(f64::NAN)),
                    us(cpu),
                    p.memory.map_or(String::new(), |m| {
                        format!("{:.1}", m.hwm_kib as f64 / 1024.0)
                    }),
                    format!("{:.2}", p.foreign_cpu_s),
                    match p.mode {
                        Mode::Plain => {
                            format!("{} (≤ {TARGET_CPU_US} µs)", verdict(cpu <= TARGET_CPU_US))
                        }
                        Mode::Stream => String::from("(no target)"),
                    },
                ]
            })
            .collect();
        let headers = [
            "phase",
            "requests",
            "CPU s",
            "CPU µs/req",
            "VmHWM MiB",
            "other procs CPU s",
            "target",
        ];
        table(out, &headers, &rows);
        let _ = writeln!(
            out,
            "Gateway memory at the end: VmHWM {:.1} MiB, VmRSS {:.1} MiB\n",
            self.final_memory.hwm_kib as f64 / 1024.0,
            self.final_memory.rss_kib as f64 / 1024.0
        );
        if self.has_tunnel() {
            self.render_tunnel_resources(out);
        }
        let all = self.phases.iter().chain(&self.nagle);
        let disturbed: Vec<&Phase> = all.filter(|p| p.disturbed(self.cpus)).collect();
        if !disturbed.is_empty() {
            let total: f64 = disturbed.iter().map(|p| p.foreign_cpu_s).sum();
            let _ = writeln!(
                out,
                "WARNING: other processes used {total:.1} CPU-s during {} phase(s) (over 5% of the machine); those figures are disturbed.\n",
                disturbed.len()
            );
        }
    }

    /// (name, value, target, ok) for each target.
    fn render_targets(&self, out: &mut String) {
        let _ = writeln!(out, "Targets");
        let rows: Vec<Vec<String>> = self
            .targets()
            .into_iter()
            .map(|(name, value, target, ok)| {
                vec![
                    name,
                    format!("{value:.1} µs"),
                    format!("≤ {target} µs"),
                    verdict(ok).to_owned(),
                ]
            })
            .collect();
        table(out, &["target", "measured", "goal", "verdict"], &rows);
        let _ = writeln!(
            out,
            "Nagle check: one stream at a time, {} s over one keep-alive connection (µs)",
            self.duration_s
        );
        let rows: Vec<Vec<String>> = self
            .nagle
            .iter()
            .map(|p| {
                let ttft = p.ttft.unwrap_or_default();
                vec![
                    p.route.name().to_owned(),
                    p.completed.to_string(),
                    us(ttft.p50_us),
                    us(ttft.p99_us),
                    us(ttft.max_us),
                    us(p.max_gap_us),
                    p.stalls.to_string(),
                    verdict(p.stalls == 0).to_owned(),
                ]
            })
            .collect();
        let stall_header = format!("streams > {:.0} ms", STALL_US / 1000.0);
        let headers = [
            "route",
            "streams",
            "TTFT p50",
            "TTFT p99",
            "TTFT max",
            "max frame gap",
            &stall_header,
            "stall-free",
        ];
        table(out, &headers, &rows);
        let worst = |route: Route| {
            self.phases
                .iter()
                .filter(|p| p.mode == Mode::Stream && p.route == route)
                .filter_map(|p| p.ttft.map(|t| t.max_us))
                .fold(0.0f64, f64::max)
        };
        let tunnel = if self.has_tunnel() {
            format!(", tunnel {:.0} µs", worst(Route::Tunnel))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "Largest TTFT in any stream phase (includes queueing when a phase overloads the machine): direct {:.0} µs, gateway {:.0} µs{tunnel}",
            worst(Route::Direct),
            worst(Route::Gateway)
        );
    }
}
