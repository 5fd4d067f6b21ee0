//! # modelgate-bench
//!
//! Measures what the gateway adds on top of a direct call to the same upstream:
//!
//! * added latency (p50/p99, gateway minus direct) at fixed open-loop rates
//!   (default 1,000 and 5,000 requests/s), timed from each request's scheduled send so
//!   that queueing is not hidden (no coordinated omission);
//! * requests/s at closed-loop concurrency (default 32 and 128), direct and via the gateway;
//! * the gateway process's CPU time per request and its peak memory (procfs);
//! * for streams, the added time to the first content event and the total stream time,
//!   plus the longest TTFT seen (a ~40 ms figure would betray Nagle/delayed-ACK stalls).
//!
//! Everything is set up by the bench itself: an in-process mock upstream (raw hyper, its
//! own runtime), the gateway as a child process with a temporary data directory, the
//! provider registration, a warm-up, then one bounded phase (`--duration`) per figure.
//!
//! ## Running
//!
//! ```sh
//! cargo build --release -p modelgate -p modelgate-bench && target/release/modelgate-bench
//! ```
//!
//! Useful flags: `--duration 5` (seconds per phase), `--json out.json`, `--rates 1000,5000`,
//! `--concurrency 32,128`, `--chunks 20`, `--gateway-bin PATH` (default: `modelgate` next to
//! this executable). See `--help`.

mod gateway_process;
mod load;
mod mock;
mod render;
mod report;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use gateway_process::{ADMIN_KEY, GatewayProcess, machine_busy, own_cpu};
use load::{HttpClient, Outcome, Target};
use report::{Load, Mode, Phase, Report, Route};
use stats::Summary;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

#[derive(Parser)]
#[command(
    name = "modelgate-bench",
    about = "Measures the latency, CPU and throughput modelgate adds over direct calls"
)]
struct Args {
    /// Seconds per measured phase
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up per route and mode
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Open-loop rates, requests/s
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    rates: Vec<u32>,
    /// Closed-loop concurrencies
    #[arg(long, value_delimiter = ',', default_value = "32,128")]
    concurrency: Vec<usize>,
    /// Content chunks per mock stream
    #[arg(long, default_value_t = 20)]
    chunks: usize,
    /// Most requests in flight during an open-loop phase (bounds the connection count)
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Worker threads of the load generator's runtime
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The modelgate binary [default: `modelgate` next to this executable]
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// Also write the figures to this file as JSON
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The four request kinds: (mode, route) → target.
struct Targets {
    list: Vec<(Mode, Route, Arc<Target>)>,
}

impl Targets {
    fn get(&self, mode: Mode, route: Route) -> Result<&Arc<Target>> {
        self.list
            .iter()
            .find(|(m, r, _)| *m == mode && *r == route)
            .map(|(_, _, t)| t)
            .context("missing target")
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.duration > 0.0 && args.duration.is_finite(),
        "--duration must be positive"
    );
    let bin = match &args.gateway_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("modelgate"),
    };
    let mock = mock::Mock::start(args.chunks)?;
    let mut gateway = GatewayProcess::start(&bin)?;
    eprintln!(
        "mock upstream on {}, gateway (pid {}) on {}",
        mock.addr,
        gateway.pid(),
        gateway.addr
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .thread_name("bench-load")
        .enable_all()
        .build()?;
    let client = load::client();
    gateway_process::register_provider(&rt, &client, gateway.addr, mock.addr, ADMIN_KEY)?;

    let mut list = Vec::new();
    for (mode, stream) in [(Mode::Plain, false), (Mode::Stream, true)] {
        let direct = Target::chat(mock.addr, None, mock::MODEL, stream)?;
        let via = Target::chat(gateway.addr, Some(ADMIN_KEY), "bench/bench-model", stream)?;
        list.push((mode, Route::Direct, Arc::new(direct)));
        list.push((mode, Route::Gateway, Arc::new(via)));
    }
    let targets = Targets { list };

    let report = run(&args, &rt, &client, &targets, &gateway)?;
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
    gateway.stop()?;
    drop(mock);

    print!("{}", report.render());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    Ok(())
}

fn run(
    args: &Args,
    rt: &Runtime,
    client: &HttpClient,
    targets: &Targets,
    gateway: &GatewayProcess,
) -> Result<Report> {
    let warm_conc = args.concurrency.iter().copied().max().unwrap_or(32);
    for (mode, route, target) in &targets.list {
        let out = load::closed_loop(
            rt,
            client,
            target,
            warm_conc,
            Duration::from_secs_f64(args.warmup),
        );
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

    let mut loads: Vec<Load> = args.rates.iter().map(|&r| Load::Open(r)).collect();
    loads.extend(args.concurrency.iter().map(|&c| Load::Closed(c)));
    let mut phases = Vec::new();
    for mode in [Mode::Plain, Mode::Stream] {
        for &load in &loads {
            for route in [Route::Direct, Route::Gateway] {
                phases.push(measure(
                    args, rt, client, targets, gateway, mode, load, route,
                )?);
            }
        }
    }
    // Nagle check: one stream at a time over one long-lived keep-alive connection, so any
    // ~40 ms pause can only come from the network stack, not from queueing.
    let mut nagle = Vec::new();
    for route in [Route::Direct, Route::Gateway] {
        let load = Load::Closed(1);
        nagle.push(measure(
            args,
            rt,
            client,
            targets,
            gateway,
            Mode::Stream,
            load,
            route,
        )?);
    }
    Ok(Report {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        duration_s: args.duration,
        chunks: args.chunks,
        max_in_flight: args.max_in_flight,
        phases,
        nagle,
        final_memory: gateway.memory()?,
    })
}

/// Runs one phase and collects its figures; for gateway phases also the CPU the gateway
/// used, from an idle start until it is idle again (so its usage writes are included).
#[allow(clippy::too_many_arguments)]
fn measure(
    args: &Args,
    rt: &Runtime,
    client: &HttpClient,
    targets: &Targets,
    gateway: &GatewayProcess,
    mode: Mode,
    load: Load,
    route: Route,
) -> Result<Phase> {
    let duration = Duration::from_secs_f64(args.duration);
    let target = targets.get(mode, route)?;
    gateway.wait_idle(IDLE_WAIT)?;
    let ticks = gateway.clock_ticks();
    let cpu_before = gateway.cpu_time()?;
    let (machine_before, own_before) = (machine_busy(ticks)?, own_cpu(ticks)?);
    let mut out = match load {
        Load::Open(rate) => load::open_loop(rt, client, target, rate, duration, args.max_in_flight),
        Load::Closed(c) => load::closed_loop(rt, client, target, c, duration),
    };
    gateway.wait_idle(IDLE_WAIT)?;
    let cpu = gateway.cpu_time()?.saturating_sub(cpu_before);
    let machine = machine_busy(ticks)?.saturating_sub(machine_before);
    let own = own_cpu(ticks)?.saturating_sub(own_before);
    let foreign_s = machine.saturating_sub(cpu + own).as_secs_f64();
    let mut phase = phase(mode, load, route, &mut out, cpu.as_secs_f64(), gateway)?;
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

/// Longest wait for the gateway to go idle between phases.
const IDLE_WAIT: Duration = Duration::from_secs(10);

fn phase(
    mode: Mode,
    load: Load,
    route: Route,
    out: &mut Outcome,
    cpu_s: f64,
    gateway: &GatewayProcess,
) -> Result<Phase> {
    let is_gateway = route == Route::Gateway;
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
        cpu_us_per_req: is_gateway.then(|| cpu_s * 1e6 / (out.completed.max(1) as f64)),
        memory: if is_gateway {
            Some(gateway.memory()?)
        } else {
            None
        },
    })
}
