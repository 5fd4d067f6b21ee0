//! One measured phase: wait for the gateway (and the tunnel agent and the replicas, if any)
//! to be idle, drive the load, wait for them to be idle again (so the usage writes a phase
//! causes are billed to it), and turn the outcome into a [`Phase`]. Gateway and tunnel
//! phases record the gateway's CPU; tunnel phases also the agent's; replica phases the sum
//! over the replicas. While replicas run, every phase also records the CPU of Redis and of
//! PostgreSQL's processes. A phase during which other processes used more than 5% of the
//! machine is measured again (`--retries`), keeping the least disturbed attempt.

use crate::gateway_process::{GatewayProcess, machine_busy, own_cpu};
use crate::load::{self, HttpClient, Outcome, Target};
use crate::phase::{Load, Mode, Phase, Route};
use crate::replica_set::{ReplicaSet, ReplicaUse};
use crate::stats::Summary;
use crate::tunnel_agent::AgentProcess;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Longest wait for the gateway to go idle between phases.
const IDLE_WAIT: Duration = Duration::from_secs(10);

/// The request kinds: (mode, route) → target.
pub struct Targets {
    pub list: Vec<(Mode, Route, Arc<Target>)>,
}

impl Targets {
    pub(crate) fn get(&self, mode: Mode, route: Route) -> Result<&Arc<Target>> {
        self.list
            .iter()
            .find(|(m, r, _)| *m == mode && *r == route)
            .map(|(_, _, t)| t)
            .context("missing target")
    }
}

/// Everything a phase needs.
#[derive(Clone, Copy)]
pub struct Bench<'a> {
    pub duration: Duration,
    pub max_in_flight: usize,
    pub retries: u32,
    pub cpus: usize,
    pub rt: &'a Runtime,
    pub client: &'a HttpClient,
    pub targets: &'a Targets,
    pub gateway: &'a GatewayProcess,
    /// The tunnel's agent (None with `--no-tunnel`).
    pub agent: Option<&'a AgentProcess>,
    /// The replicas on PostgreSQL + Redis (only in the `--replicas` section).
    pub replicas: Option<&'a ReplicaSet>,
}

impl Bench<'_> {
    /// Drives every target for `warmup` at `concurrency`; fails if one answers nothing.
    pub fn warm_up(&self, warmup: Duration, concurrency: usize) -> Result<()> {
        for (mode, route, target) in &self.targets.list {
            let out = load::closed_loop(self.rt, self.client, target, concurrency, warmup);
            if out.completed == 0 {
                anyhow::bail!(
                    "warm-up of {mode:?} via {route:?} failed: {}",
                    out.first_error.unwrap_or_default()
                );
            }
            eprintln!(
                "warm-up {mode:?} {route:?}: {:.0} req/s, {} errors",
                out.rps(),
                out.errors
            );
        }
        Ok(())
    }

    fn wait_idle(&self) -> Result<()> {
        self.gateway.wait_idle(IDLE_WAIT)?;
        if let Some(agent) = self.agent {
            agent.wait_idle(IDLE_WAIT)?;
        }
        if let Some(replicas) = self.replicas {
            replicas.wait_idle(IDLE_WAIT)?;
        }
        Ok(())
    }

    /// Measures one phase, again if other processes disturbed it.
    pub fn measure(&self, mode: Mode, load: Load, route: Route) -> Result<Phase> {
        let mut best: Option<Phase> = None;
        for attempt in 0..=self.retries {
            let phase = self.measure_once(mode, load, route)?;
            let disturbed = phase.disturbed(self.cpus);
            if disturbed && attempt < self.retries {
                eprintln!(
                    "  other processes used {:.2} CPU-s during that phase; measuring it again",
                    phase.foreign_cpu_s
                );
            }
            if best
                .as_ref()
                .is_none_or(|b| phase.foreign_cpu_s < b.foreign_cpu_s)
            {
                best = Some(phase);
            }
            if !disturbed {
                break;
            }
        }
        best.context("no attempt was made")
    }

    /// Runs one phase and collects its figures; for gateway and tunnel phases also the CPU
    /// the gateway (and the agent) used, from an idle start until it is idle again; for
    /// replica phases the replicas' (and, in the whole section, Redis's and PostgreSQL's).
    fn measure_once(&self, mode: Mode, load: Load, route: Route) -> Result<Phase> {
        let (gateway, duration) = (self.gateway, self.duration);
        let target = self.targets.get(mode, route)?;
        self.wait_idle()?;
        let ticks = gateway.clock_ticks();
        let cpu_before = gateway.cpu_time()?;
        let agent_before = self.agent.map(AgentProcess::cpu_time).transpose()?;
        let replicas_before = self.replicas.map(ReplicaSet::cpu_snapshot).transpose()?;
        let (machine_before, own_before) = (machine_busy(ticks)?, own_cpu(ticks)?);
        let mut out = match load {
            Load::Open(rate) => load::open_loop(
                self.rt,
                self.client,
                target,
                rate,
                duration,
                self.max_in_flight,
            ),
            Load::Closed(c) => load::closed_loop(self.rt, self.client, target, c, duration),
        };
        self.wait_idle()?;
        let cpu = gateway.cpu_time()?.saturating_sub(cpu_before);
        let agent_cpu = match (self.agent, agent_before) {
            (Some(agent), Some(before)) => agent.cpu_time()?.saturating_sub(before),
            _ => Duration::ZERO,
        };
        let replicas = match (self.replicas, &replicas_before) {
            (Some(set), Some(before)) => Some(set.cpu_snapshot()?.since(before)),
            _ => None,
        };
        let machine = machine_busy(ticks)?.saturating_sub(machine_before);
        let own = own_cpu(ticks)?.saturating_sub(own_before);
        // The replicas are ours in every phase (idle outside theirs); Redis only in the
        // replicas' phases (in the others its work is somebody else's). PostgreSQL is
        // never subtracted: its figure includes every other client of the server.
        let ours = replicas.as_ref().map_or(0.0, |r| {
            r.replicas_s.iter().sum::<f64>()
                + if route == Route::Replicas {
                    r.redis_s.unwrap_or(0.0)
                } else {
                    0.0
                }
        });
        let foreign_s =
            (machine.saturating_sub(cpu + agent_cpu + own).as_secs_f64() - ours).max(0.0);
        let cpu = Cpu {
            gateway_s: cpu.as_secs_f64(),
            agent_s: agent_cpu.as_secs_f64(),
        };
        let procs = Procs {
            gateway,
            agent: self.agent,
            replicas: self.replicas.zip(replicas.as_ref()),
        };
        let mut phase = phase(mode, load, route, &mut out, cpu, &procs)?;
        phase.foreign_cpu_s = foreign_s;
        eprintln!(
            "{mode:?} {load:?} {route:?}: {:.0} req/s, p50 {:.1} µs, p99 {:.1} µs, {} errors{}",
            phase.rps,
            phase.total.p50_us,
            phase.total.p99_us,
            phase.errors,
            phase
                .first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
        Ok(phase)
    }
}

/// CPU seconds the gateway and the agent used during a phase.
struct Cpu {
    gateway_s: f64,
    agent_s: f64,
}

/// The processes a phase may bill: the gateway, the agent, the replicas with what they
/// used during the phase.
struct Procs<'a> {
    gateway: &'a GatewayProcess,
    agent: Option<&'a AgentProcess>,
    replicas: Option<(&'a ReplicaSet, &'a ReplicaUse)>,
}

fn phase(
    mode: Mode,
    load: Load,
    route: Route,
    out: &mut Outcome,
    cpu: Cpu,
    procs: &Procs<'_>,
) -> Result<Phase> {
    // The gateway's figures belong to every route through it; the replicas' route is
    // billed the sum over the replicas and shows the largest replica's memory.
    let is_gateway = route != Route::Direct;
    let agent = procs.agent.filter(|_| route == Route::Tunnel);
    let on_replicas = procs.replicas.filter(|_| route == Route::Replicas);
    let completed = out.completed;
    let per_req = |s: f64| s * 1e6 / (completed.max(1) as f64);
    let cpu_s = match on_replicas {
        Some((_, used)) => used.replicas_s.iter().sum(),
        None => cpu.gateway_s,
    };
    let memory = match (is_gateway, on_replicas) {
        (_, Some((set, _))) => Some(set.largest_memory()?),
        (true, None) => Some(procs.gateway.memory()?),
        (false, None) => None,
    };
    let used = procs.replicas.map(|(_, used)| used);
    Ok(Phase {
        mode,
        load,
        route,
        completed: out.completed,
        errors: out.errors,
        first_error: out.first_error.clone(),
        elapsed_s: out.elapsed.as_secs_f64(),
        rps: out.rps(),
        total: Summary::of(&mut out.totals),
        ttft: (mode == Mode::Stream).then(|| Summary::of(&mut out.ttfts)),
        max_gap_us: out.max_gap.as_secs_f64() * 1e6,
        stalls: out.stalls,
        foreign_cpu_s: 0.0,
        lateness: (!out.lateness.is_empty()).then(|| Summary::of(&mut out.lateness)),
        cpu_s: is_gateway.then_some(cpu_s),
        cpu_us_per_req: is_gateway.then(|| per_req(cpu_s)),
        memory,
        agent_cpu_s: agent.map(|_| cpu.agent_s),
        agent_cpu_us_per_req: agent.map(|_| per_req(cpu.agent_s)),
        agent_memory: agent.map(AgentProcess::memory).transpose()?,
        replica_cpu_s: on_replicas.map(|(_, used)| used.replicas_s.clone()),
        redis_cpu_s: used.and_then(|u| u.redis_s),
        postgres_cpu_s: used.map(|u| u.postgres_s),
        redis_commands: used.and_then(|u| u.redis_commands),
    })
}
