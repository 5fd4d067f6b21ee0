//! The gateway under test, as a child process: `modelgate serve` on 127.0.0.1 port 0 with a
//! throw-away data directory and a known bootstrap admin key (plus, for a replica, the
//! [`Extra`] arguments and environment: `--database`, `--redis`, the master key). Its
//! address is read from the `modelgate listening on http://ADDR` line on stdout. CPU time
//! (`utime + stime` of `/proc/<pid>/stat`, all threads) and memory (`VmHWM`, `VmRSS` of
//! `/proc/<pid>/status`) are read from procfs. The process is always stopped — SIGTERM,
//! then SIGKILL after 10 s — by [`GatewayProcess::stop`] or, on any early exit, by `Drop`.
//! [`register_provider`] points the gateway at the mock (through [`create_provider`] and
//! [`admin_call`], which the tunnel, replica and Responses set-ups use too), and
//! [`machine_busy`]/[`own_cpu`] let each phase check that no other process disturbed it.
//! The procfs readers and [`terminate`] are shared with the tunnel agent's process
//! (`tunnel_agent`) and the replicas (`replicas`).

use crate::load::HttpClient;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

/// The bootstrap admin key the bench gives the gateway.
pub const ADMIN_KEY: &str = "mg_bench_admin_key_000000000000000000";

const LISTENING: &str = "modelgate listening on http://";

/// Memory figures of the gateway process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub hwm_kib: u64,
    pub rss_kib: u64,
}

/// What a gateway gets beyond the defaults: arguments after `serve --listen ...
/// --data-dir ...`, and environment variables (set after the inherited `MODELGATE_*`
/// settings are removed).
#[derive(Debug, Default, Clone)]
pub struct Extra {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct GatewayProcess {
    child: Child,
    pub addr: SocketAddr,
    data_dir: PathBuf,
    clock_ticks: f64,
    stopped: bool,
}

impl GatewayProcess {
    /// Starts `bin serve` and waits (up to 30 s) for it to print its address.
    pub fn start(bin: &Path) -> Result<Self> {
        Self::start_with(bin, &Extra::default())
    }

    /// [`GatewayProcess::start`] with more arguments and environment variables (a replica:
    /// `--database`, `--redis`, the master key...).
    pub fn start_with(bin: &Path, extra: &Extra) -> Result<Self> {
        if !bin.is_file() {
            bail!(
                "gateway binary {} not found; run `cargo build --release -p modelgate` or pass --gateway-bin",
                bin.display()
            );
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let data_dir =
            std::env::temp_dir().join(format!("modelgate-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env("MODELGATE_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .env_remove("MODELGATE_MASTER_KEY")
            .env_remove("MODELGATE_CONFIG")
            .env_remove("MODELGATE_DATABASE")
            .env_remove("MODELGATE_REDIS")
            .env_remove("MODELGATE_REDIS_PREFIX")
            .env_remove("MODELGATE_ADVERTISE_URL")
            .args(&extra.args)
            .envs(extra.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take();
        let mut proc = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            clock_ticks: read_clock_ticks(),
            stopped: false,
        };
        let stdout = stdout.context("the gateway's stdout was not captured")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining stdout after the address line so the gateway never blocks on it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix(LISTENING)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .context("the gateway exited or did not print its address within 30 s")?;
        proc.addr = line
            .parse()
            .with_context(|| format!("parsing the gateway's address {line:?}"))?;
        Ok(proc)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system, all threads) the gateway has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        process_cpu(&format!("/proc/{}/stat", self.pid()), self.clock_ticks)
    }

    /// Clock ticks per second (`getconf CLK_TCK`).
    pub fn clock_ticks(&self) -> f64 {
        self.clock_ticks
    }

    /// Waits (up to `max`) until the gateway uses at most one clock tick of CPU per 100 ms,
    /// so that work left over from one phase is not billed to the next.
    pub fn wait_idle(&self, max: Duration) -> Result<()> {
        wait_process_idle("gateway", || self.cpu_time(), self.clock_ticks, max)
    }

    /// Peak and current resident memory.
    pub fn memory(&self) -> Result<Memory> {
        process_memory(self.pid())
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL; removes the data directory.
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        terminate(&mut self.child, "gateway")?;
        std::fs::remove_dir_all(&self.data_dir)
            .with_context(|| format!("removing {}", self.data_dir.display()))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the gateway: {e:#}");
        }
    }
}

/// Waits (up to `max`) until a process whose CPU time `cpu` reads uses at most one clock
/// tick of CPU per 100 ms.
pub(crate) fn wait_process_idle(
    what: &str,
    cpu: impl Fn() -> Result<Duration>,
    clock_ticks: f64,
    max: Duration,
) -> Result<()> {
    let deadline = Instant::now() + max;
    let tick = Duration::from_secs_f64(1.0 / clock_ticks);
    let mut last = cpu()?;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = cpu()?;
        if now.saturating_sub(last) <= tick {
            return Ok(());
        }
        last = now;
    }
    eprintln!("the {what} was still busy after {max:?}; measuring anyway");
    Ok(())
}

/// Peak and current resident memory of process `pid`, from `/proc/<pid>/status`.
pub(crate) fn process_memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        hwm_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
    })
}

/// Stops a child process if it still runs: SIGTERM, wait up to 10 s, then SIGKILL.
pub(crate) fn terminate(child: &mut Child, what: &str) -> Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            eprintln!("{what} did not stop within 10 s of SIGTERM; killing it");
            child.kill()?;
            child.wait()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// CPU time the whole machine spent busy (all but idle and iowait), from `/proc/stat`.
pub fn machine_busy(clock_ticks: f64) -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Ok(Duration::from_secs_f64(busy as f64 / clock_ticks))
}

/// CPU time of this process (load generator and mock), from `/proc/self/stat`.
pub fn own_cpu(clock_ticks: f64) -> Result<Duration> {
    process_cpu("/proc/self/stat", clock_ticks)
}

pub(crate) fn process_cpu(path: &str, clock_ticks: f64) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // Fields after the parenthesised command name start at field 3 (`state`);
    // utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/<pid>/stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse::<u64>()
            .context("non-numeric field in /proc/<pid>/stat")
    };
    let ticks = field(11)? + field(12)?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks))
}

/// `getconf CLK_TCK`, else the usual 100.
pub(crate) fn read_clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Registers the mock with the gateway as provider `bench` (expects 201 Created).
pub fn register_provider(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    mock: SocketAddr,
    admin_key: &str,
) -> Result<()> {
    let body = serde_json::json!({
        "name": "bench",
        "kind": "openai-compatible",
        "endpoint": format!("http://{mock}"),
        "models": [crate::mock::MODEL],
    });
    create_provider(rt, client, gateway, admin_key, &body)
}

/// `POST /api/providers` with `body` (expects 201 Created).
pub fn create_provider(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    admin_key: &str,
    body: &serde_json::Value,
) -> Result<()> {
    let name = body["name"].as_str().unwrap_or("?");
    let url = format!("http://{gateway}/api/providers");
    let (status, text) = admin_call(rt, client, Method::POST, &url, admin_key, Some(body))
        .with_context(|| format!("registering the mock as provider {name}"))?;
    if status != StatusCode::CREATED {
        bail!(
            "registering the mock as provider {name} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok(())
}

/// One admin API call with the bearer `admin_key` and an optional JSON body; returns the
/// status and the whole answer (any status: the caller judges it).
pub fn admin_call(
    rt: &Runtime,
    client: &HttpClient,
    method: Method,
    url: &str,
    admin_key: &str,
    body: Option<&serde_json::Value>,
) -> Result<(StatusCode, Bytes)> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {admin_key}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let req = req.body(Full::new(body))?;
    rt.block_on(async {
        let resp = tokio::time::timeout(crate::load::REQUEST_TIMEOUT, client.request(req))
            .await
            .with_context(|| format!("{method} {url} timed out"))??;
        let status = resp.status();
        let text = resp.into_body().collect().await?.to_bytes();
        Ok((status, text))
    })
}
