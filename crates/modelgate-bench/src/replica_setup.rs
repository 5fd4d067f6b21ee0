//! Configuring the two sides of the `--replicas` section through the admin API: the
//! replicas (through replica 1, then waiting until every replica sees the result, since
//! each learns of a change by its own notice) and the single gateway's comparison key.
//! Both get the same work: an allocation for `admin`, a key bound to it with per-key
//! limits that never bite, and a priced model.

use crate::gateway_process::{ADMIN_KEY, admin_call, register_provider};
use crate::load::HttpClient;
use crate::mock::MODEL;
use crate::replicas_report::Allocation;
use anyhow::{Context, Result, bail};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

pub const ALLOCATION: &str = "bench-budget";
/// The priced provider of the single gateway (its `bench` stays as the gateway route has it).
pub const PRICED: &str = "benchpriced";
/// The bench model's price on both sides, USD per million tokens each way: the mock's 16
/// (non-stream) or 29 (stream) tokens then cost 16 or 29 micro-dollars, so settling adds to
/// the spend (at 0.01 $/M an answer would cost 0.16 µ$, which rounds to nothing).
fn price() -> Value {
    json!({"input": 1.0, "output": 1.0})
}

/// How long set-up waits for a change made on replica 1 to reach the others.
const PROPAGATION: Duration = Duration::from_secs(15);

/// Through replica 1: provider `bench` (then priced), the allocation and the key;
/// waits until every replica sees the priced provider and the allocation. Returns the
/// key.
pub fn configure(
    rt: &Runtime,
    client: &HttpClient,
    addrs: &[SocketAddr],
    mock: SocketAddr,
) -> Result<String> {
    let first = addrs[0];
    register_provider(rt, client, first, mock, ADMIN_KEY)?;
    let priced = |v: &Value| v["prices"][MODEL].is_object();
    wait_all(rt, client, addrs, "/api/providers/bench", |_| true)?;
    let prices = json!({"prices": {MODEL: price()}});
    call(
        rt,
        client,
        first,
        Method::PATCH,
        "/api/providers/bench",
        &prices,
        StatusCode::OK,
    )?;
    let key = budgeted_key(rt, client, first)?;
    wait_all(rt, client, addrs, "/api/providers/bench", priced)?;
    wait_all(
        rt,
        client,
        addrs,
        &format!("/api/allocations/{ALLOCATION}"),
        |_| true,
    )?;
    Ok(key)
}

/// On the single gateway: provider `benchpriced` (the mock, priced), the allocation and
/// the key — the replicas' work, with in-memory counters. Returns the key.
pub fn sqlite_budget(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    mock: SocketAddr,
) -> Result<String> {
    let provider = json!({
        "name": PRICED,
        "kind": "openai-compatible",
        "endpoint": format!("http://{mock}"),
        "models": [MODEL],
        "prices": {MODEL: price()},
    });
    call(
        rt,
        client,
        gateway,
        Method::POST,
        "/api/providers",
        &provider,
        StatusCode::CREATED,
    )?;
    budgeted_key(rt, client, gateway)
}

/// The allocation for `admin` and a key bound to it with limits that never bite.
fn budgeted_key(rt: &Runtime, client: &HttpClient, gateway: SocketAddr) -> Result<String> {
    let allocation =
        json!({"name": ALLOCATION, "user": "admin", "limit_usd": 1_000_000, "period": "none"});
    call(
        rt,
        client,
        gateway,
        Method::POST,
        "/api/allocations",
        &allocation,
        StatusCode::CREATED,
    )?;
    let key = json!({"name": "bench", "allocation": ALLOCATION, "rpm": 100_000_000, "tpm": 1_000_000_000_u64});
    let created = call(
        rt,
        client,
        gateway,
        Method::POST,
        "/api/keys",
        &key,
        StatusCode::CREATED,
    )?;
    created["key"]
        .as_str()
        .map(str::to_owned)
        .context("the created key has no `key`")
}

/// One admin call that must answer `want`; returns the JSON answer.
fn call(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    method: Method,
    path: &str,
    body: &Value,
    want: StatusCode,
) -> Result<Value> {
    let url = format!("http://{gateway}{path}");
    let (status, text) = admin_call(rt, client, method.clone(), &url, ADMIN_KEY, Some(body))?;
    if status != want {
        bail!(
            "{method} {path} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok(serde_json::from_slice(&text).unwrap_or(Value::Null))
}

/// Polls `GET path` on every replica until it answers 200 with a body `ok` accepts.
fn wait_all(
    rt: &Runtime,
    client: &HttpClient,
    addrs: &[SocketAddr],
    path: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + PROPAGATION;
    for addr in addrs {
        loop {
            let url = format!("http://{addr}{path}");
            let (status, text) = admin_call(rt, client, Method::GET, &url, ADMIN_KEY, None)?;
            let body: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
            if status == StatusCode::OK && ok(&body) {
                break;
            }
            if Instant::now() > deadline {
                bail!("replica {addr} still answers {status} to GET {path} after {PROPAGATION:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// The replicas' allocation once nothing is reserved any more (up to 5 s).
pub fn settled_allocation(
    rt: &Runtime,
    client: &HttpClient,
    addr: SocketAddr,
) -> Result<Allocation> {
    let url = format!("http://{addr}/api/allocations/{ALLOCATION}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = admin_call(rt, client, Method::GET, &url, ADMIN_KEY, None)?;
        let v: Value = serde_json::from_slice(&text)?;
        let a = Allocation {
            used_usd: v["used_usd"].as_f64().unwrap_or(f64::NAN),
            reserved_usd: v["reserved_usd"].as_f64().unwrap_or(f64::NAN),
        };
        if a.reserved_usd == 0.0 || Instant::now() > deadline {
            return Ok(a);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
