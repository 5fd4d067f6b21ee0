//! # modelgate-bench
//!
//! Measures what the gateway adds on top of a direct call to the same upstream, on two
//! routes through it: to the upstream registered as a direct provider (`gateway`), and to
//! the same upstream behind a session tunnel (`tunnel`: gateway → `modelgate tunnel`
//! agent → upstream):
//!
//! * added latency (p50/p99, gateway or tunnel minus direct) at fixed open-loop rates
//!   (default 1,000 and 5,000 requests/s), timed from each request's scheduled send so
//!   that queueing is not hidden (no coordinated omission);
//! * requests/s at closed-loop concurrency (default 32 and 128), direct, via the gateway and
//!   via the tunnel;
//! * the gateway process's CPU time per request and its peak memory (procfs); on the tunnel
//!   route also the agent process's, shown apart and summed (gateway + agent);
//! * for streams, the added time to the first content event and the total stream time,
//!   plus the longest TTFT seen (a ~40 ms figure would betray Nagle/delayed-ACK stalls);
//! * with `--replicas N` (the documented multi-replica run is `--replicas 3`), after those
//!   phases: the same figures for N gateway processes sharing one PostgreSQL (a schema of
//!   the run's own) and one Redis (a key prefix of the run's own), the requests spread
//!   round robin over them by the load generator, next to the single SQLite gateway doing
//!   the same work — a key bound to an allocation, with per-key limits, on a priced model,
//!   so that every request takes a rate-limit check and a budget reservation (in memory on
//!   the single gateway, in Redis on the replicas). CPU per request is summed over the
//!   replicas; Redis's and PostgreSQL's own CPU are shown apart (`replicas`,
//!   `replicas_report`);
//! * the translated Responses scenario (`responses`, `responses_report`; part of the
//!   default run, a few seconds, `--responses-streams 0` skips it, `--responses-only` runs
//!   nothing else): one stream at a time, time to the first event and to the first text of
//!   `POST /v1/responses` through the gateway to a provider with
//!   `responses_api: "translate"` (`benchtr`, the same mock: chat chunks turned into
//!   Responses events), next to the mock's chat stream direct and to chat completions
//!   through the gateway to the same provider (pass-through), legs interleaved.
//!
//! Everything is set up by the bench itself: an in-process mock upstream (raw hyper, its
//! own runtime), the gateway as a child process with a temporary data directory, the
//! provider registration (`bench`), the tunnel (`benchtunnel`, created through
//! `POST /api/tunnels`) with its agent as a second child process of the same binary,
//! a warm-up, then one bounded phase (`--duration`) per figure and route. The report ends
//! with the tunnel next to the direct provider; `--no-tunnel` skips the tunnel route. With
//! `--replicas N` it then creates the schema with `psql`, starts the replicas (one master
//! key), configures them through the first and waits until every replica sees the result,
//! measures direct / single gateway / replicas for every mode and load, and stops the
//! replicas, deletes the run's Redis keys and drops the schema. The replicas are skipped by
//! default: they need PostgreSQL, Redis, `psql` and `redis-cli`, and double the run time.
//!
//! ## Running
//!
//! ```sh
//! cargo build --release -p modelgate -p modelgate-bench && target/release/modelgate-bench
//! ```
//!
//! Useful flags: `--duration 5` (seconds per phase), `--json out.json`, `--rates 1000,5000`,
//! `--concurrency 32,128`, `--chunks 20`, `--retries 2`, `--gateway-bin PATH` (default:
//! `modelgate` next to this executable; it also runs the tunnel agent and the replicas),
//! `--no-tunnel`, `--responses-streams 300`, `--responses-only`, `--replicas 3` with
//! `--postgres URL` (default `postgres://postgres@127.0.0.1:5432/test`) and `--redis URL`
//! (default `redis://127.0.0.1:6379`). See `--help`. The multi-replica run:
//!
//! ```sh
//! target/release/modelgate-bench --duration 3 --rates 1000 --concurrency 32 --no-tunnel --replicas 3
//! ```
//!
//! The generator, the mock and the gateway share the machine's CPUs, so run it on an
//! otherwise idle machine: each phase measures how much CPU other processes used
//! (`/proc/stat` minus this process, the gateway, the agent, the replicas and, in their
//! phases, Redis) and is repeated if that exceeds 5%.

mod gateway_process;
mod load;
mod mock;
mod pg_redis;
mod phase;
mod phases;
mod render;
mod replica_set;
mod replica_setup;
mod replicas;
mod replicas_report;
mod report;
mod responses;
mod responses_report;
mod stats;
mod table;
mod tunnel_agent;

use anyhow::{Context, Result};
use clap::Parser;
use gateway_process::{ADMIN_KEY, GatewayProcess};
use load::Target;
use phase::{Load, Mode, Route};
use phases::{Bench, Targets};
use report::Report;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tunnel_agent::{AgentProcess, TUNNEL_NAME};

#[derive(Parser)]
#[command(
    name = "modelgate-bench",
    about = "Measures the latency, CPU and throughput modelgate adds over direct calls, to a direct provider and through a session tunnel"
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
    /// The modelgate binary, for the gateway and the tunnel agent [default: `modelgate`
    /// next to this executable]
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// Skip the tunnel route (no tunnel, no agent): direct and gateway only
    #[arg(long)]
    no_tunnel: bool,
    /// Times a phase is measured again when other processes disturbed it (used > 5% of
    /// the machine's CPU); the least disturbed attempt is kept
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Also write the figures to this file as JSON
    #[arg(long)]
    json: Option<PathBuf>,
    /// After the single gateway's phases, run this many replicas on PostgreSQL + Redis
    /// (3 is the documented multi-replica run; 0 skips it)
    #[arg(long, default_value_t = 0)]
    replicas: usize,
    /// PostgreSQL for --replicas: a schema of the run's own is created in it and dropped
    /// (with `psql`)
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// Redis for --replicas (the run's keys get a prefix of their own and are deleted)
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Streams per leg of the translated Responses scenario (one at a time: the mock's chat
    /// stream direct, chat through the gateway, Responses through the gateway to a provider
    /// with `responses_api: "translate"`); 0 skips it
    #[arg(long, default_value_t = 300)]
    responses_streams: usize,
    /// Run only the translated Responses scenario (no tunnel, no other phases)
    #[arg(long)]
    responses_only: bool,
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
    anyhow::ensure!(
        !args.responses_only || args.responses_streams > 0,
        "--responses-only needs --responses-streams above 0"
    );
    if args.replicas > 0 && !args.responses_only {
        pg_redis::check(&args.postgres, &args.redis)?;
    }
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
    let mut agent = if args.no_tunnel || args.responses_only {
        None
    } else {
        let token = tunnel_agent::create_tunnel(&rt, &client, gateway.addr, ADMIN_KEY)?;
        let mut agent = AgentProcess::start(&bin, gateway.addr, mock.addr, &token)?;
        tunnel_agent::wait_running(
            &rt,
            &client,
            gateway.addr,
            ADMIN_KEY,
            &mut agent,
            tunnel_agent::RUNNING_WAIT,
        )?;
        eprintln!("tunnel {TUNNEL_NAME} running, agent pid {}", agent.pid());
        Some(agent)
    };

    let mut list = Vec::new();
    let tunnel_model = format!("{TUNNEL_NAME}/{}", mock::MODEL);
    for (mode, stream) in [(Mode::Plain, false), (Mode::Stream, true)] {
        let direct = Target::chat(mock.addr, None, mock::MODEL, stream)?;
        let via = Target::chat(gateway.addr, Some(ADMIN_KEY), "bench/bench-model", stream)?;
        list.push((mode, Route::Direct, Arc::new(direct)));
        list.push((mode, Route::Gateway, Arc::new(via)));
        if agent.is_some() {
            let tunnel = Target::chat(gateway.addr, Some(ADMIN_KEY), &tunnel_model, stream)?;
            list.push((mode, Route::Tunnel, Arc::new(tunnel)));
        }
    }
    let targets = Targets { list };
    let bench = Bench {
        duration: Duration::from_secs_f64(args.duration),
        max_in_flight: args.max_in_flight,
        retries: args.retries,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rt: &rt,
        client: &client,
        targets: &targets,
        gateway: &gateway,
        agent: agent.as_ref(),
        replicas: None,
    };
    if args.responses_streams > 0 {
        responses::register(&bench, mock.addr)?;
    }
    if args.responses_only {
        let scenario = responses::run(&bench, mock.addr, args.responses_streams)?;
        let cpus = bench.cpus;
        drop(client);
        rt.shutdown_timeout(Duration::from_secs(1));
        gateway.stop()?;
        drop(mock);
        let mut out = format!(
            "modelgate-bench --responses-only: {} content chunks per stream; {cpus} CPU(s) shared by the load generator, the mock and the gateway\n",
            args.chunks
        );
        scenario.render(&mut out);
        print!("{out}");
        if let Some(path) = &args.json {
            let json = serde_json::json!({
                "cpus": cpus,
                "stream_chunks": args.chunks,
                "responses_translation": scenario.json(),
            });
            let text = serde_json::to_string_pretty(&json)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("figures written to {}", path.display());
        }
        return Ok(());
    }
    let mut report = run(&args, &bench)?;
    if args.responses_streams > 0 {
        report.responses = Some(responses::run(&bench, mock.addr, args.responses_streams)?);
    }
    if args.replicas > 0 {
        let loads = loads(&args);
        let section = replica_set::Section {
            count: args.replicas,
            postgres: &args.postgres,
            redis: &args.redis,
            bin: &bin,
            mock: mock.addr,
            warmup: Duration::from_secs_f64(args.warmup),
            concurrency: warm_concurrency(&args),
            loads: &loads,
        };
        report.replicas = Some(replicas::run(&section, &bench)?);
    }
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(agent) = &mut agent {
        agent.stop()?;
    }
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

/// The open-loop rates, then the closed-loop concurrencies.
fn loads(args: &Args) -> Vec<Load> {
    let mut loads: Vec<Load> = args.rates.iter().map(|&r| Load::Open(r)).collect();
    loads.extend(args.concurrency.iter().map(|&c| Load::Closed(c)));
    loads
}

/// Warm-ups run at the highest concurrency.
fn warm_concurrency(args: &Args) -> usize {
    args.concurrency.iter().copied().max().unwrap_or(32)
}

/// Warm-up, then every (mode, load, route) phase, then the Nagle check.
fn run(args: &Args, bench: &Bench<'_>) -> Result<Report> {
    bench.warm_up(Duration::from_secs_f64(args.warmup), warm_concurrency(args))?;
    let loads = loads(args);
    let mut routes = vec![Route::Direct, Route::Gateway];
    if bench.agent.is_some() {
        routes.push(Route::Tunnel);
    }
    let mut phases = Vec::new();
    for mode in [Mode::Plain, Mode::Stream] {
        for &load in &loads {
            for &route in &routes {
                phases.push(bench.measure(mode, load, route)?);
            }
        }
    }
    // Nagle check: one stream at a time over one long-lived keep-alive connection, so any
    // ~40 ms pause can only come from the network stack, not from queueing.
    let mut nagle = Vec::new();
    for &route in &routes {
        nagle.push(bench.measure(Mode::Stream, Load::Closed(1), route)?);
    }
    Ok(Report {
        cpus: bench.cpus,
        duration_s: args.duration,
        chunks: args.chunks,
        max_in_flight: args.max_in_flight,
        phases,
        nagle,
        final_memory: bench.gateway.memory()?,
        agent_final_memory: bench.agent.map(AgentProcess::memory).transpose()?,
        replicas: None,
        responses: None,
    })
}
