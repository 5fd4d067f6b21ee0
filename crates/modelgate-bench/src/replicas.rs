//! The multi-replica run (`--replicas N`): N `modelgate serve` processes on one fresh
//! PostgreSQL schema (created and dropped with `psql`) and one Redis (a key prefix of its
//! own), with one master key.
//!
//! The same budgeted work is set up on both sides so that they compare: a key bound to an
//! allocation (`bench-budget`, $1,000,000, no period) with per-key limits that never bite
//! (100 M requests and 1 G tokens per minute), on a priced model (1 $/M tokens each
//! way). Every request then takes a rate-limit check and a budget reservation, settled at
//! the end: in memory on the single SQLite gateway (provider `benchpriced`), in Redis on
//! the replicas (provider `bench`, registered through replica 1, priced with a `PATCH`;
//! the bench waits until every replica has the provider, its prices and the allocation).
//! Requests are spread round robin over the replicas by the load generator itself.
//!
//! While the replicas run, every phase records their CPU (each and summed), the Redis
//! server's (its pid from `INFO server`) with the commands it processed (`INFO stats`;
//! commands inside Lua scripts count, and so do other clients'), and the CPU of every
//! PostgreSQL server process (`/proc/*/comm` = `postgres`; other clients of the server
//! included; `pg_redis`). The processes are stopped, the run's Redis keys deleted and the
//! schema dropped at the end, or on any early exit by `Drop` (best effort). The admin
//! calls that set both sides up are in `replica_setup`.

use crate::load::Target;
use crate::mock::MODEL;
use crate::phase::{Mode, Route};
use crate::phases::{Bench, Targets};
use crate::replica_set::{ReplicaSet, Section};
use crate::replica_setup::{PRICED, configure, settled_allocation, sqlite_budget};
use crate::replicas_report::ReplicaReport;
use anyhow::Result;
use std::sync::Arc;

/// Runs the section after the single gateway's phases: the comparison key on the single
/// gateway, the replicas, warm-up, then (direct, single gateway budgeted, replicas) for
/// every mode and load.
pub fn run(section: &Section<'_>, bench: &Bench<'_>) -> Result<ReplicaReport> {
    let (rt, client) = (bench.rt, bench.client);
    let sqlite_key = sqlite_budget(rt, client, bench.gateway.addr, section.mock)?;
    let mut set = ReplicaSet::start(section)?;
    let key = configure(rt, client, &set.addrs(), section.mock)?;
    let mut list = Vec::new();
    for (mode, stream) in [(Mode::Plain, false), (Mode::Stream, true)] {
        let direct = bench.targets.get(mode, Route::Direct)?.clone();
        let priced = format!("{PRICED}/{MODEL}");
        let single = Target::chat(bench.gateway.addr, Some(&sqlite_key), &priced, stream)?;
        let spread =
            Target::chat_many(&set.addrs(), Some(&key), &format!("bench/{MODEL}"), stream)?;
        list.push((mode, Route::Direct, direct));
        list.push((mode, Route::Budgeted, Arc::new(single)));
        list.push((mode, Route::Replicas, Arc::new(spread)));
    }
    let targets = Targets { list };
    let bench = Bench {
        targets: &targets,
        replicas: Some(&set),
        ..*bench
    };
    bench.warm_up(section.warmup, section.concurrency)?;
    let redis_keys = set.redis_keys().map(|k| k.len()).ok();
    eprintln!(
        "Redis keys under prefix {} after warm-up: {}",
        set.prefix,
        redis_keys.map_or_else(|| "unknown".into(), |n| n.to_string())
    );
    let mut phases = Vec::new();
    for mode in [Mode::Plain, Mode::Stream] {
        for &load in section.loads {
            for route in [Route::Direct, Route::Budgeted, Route::Replicas] {
                phases.push(bench.measure(mode, load, route)?);
            }
        }
    }
    let allocation = settled_allocation(rt, client, set.addrs()[0]).ok();
    let memory = set.memory()?;
    let redis_pid = set.redis_pid;
    set.stop()?;
    Ok(ReplicaReport {
        count: section.count,
        phases,
        redis_keys,
        redis_pid,
        allocation,
        memory,
    })
}
