//! The tunnel route's set-up: a session tunnel `benchtunnel` on the gateway
//! (`POST /api/tunnels`, 201 with the token shown once; `PATCH /api/providers/benchtunnel`
//! lists the mock's model, so it is known whatever the discovery through the link finds)
//! and its agent, `modelgate tunnel --gateway http://GW --target http://MOCK`, as a child
//! process of the same binary as the gateway. The token goes to the agent in
//! `MODELGATE_TUNNEL_TOKEN`, never in argv; the agent's output goes to a log file in the
//! temporary directory (removed at the end unless the agent died by itself).
//! [`wait_running`] polls `GET /api/tunnels/benchtunnel` until its `status` is `running`.
//!
//! Like the gateway, the agent's CPU time and memory are read from procfs, and it is always
//! stopped (SIGTERM, then SIGKILL after 10 s) by [`AgentProcess::stop`] or by `Drop`.

use crate::gateway_process::{
    Memory, admin_call, process_cpu, process_memory, read_clock_ticks, terminate, wait_process_idle,
};
use crate::load::HttpClient;
use anyhow::{Context, Result, bail};
use http::{Method, StatusCode};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

/// The tunnel's name, and so the provider half of its model references.
pub const TUNNEL_NAME: &str = "benchtunnel";

/// How often and how long [`wait_running`] polls the tunnel's status.
const POLL: Duration = Duration::from_millis(50);
pub const RUNNING_WAIT: Duration = Duration::from_secs(15);

/// Creates the tunnel and lists the mock's model on it; returns the tunnel's token.
pub fn create_tunnel(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    admin_key: &str,
) -> Result<String> {
    let url = format!("http://{gateway}/api/tunnels");
    let body = serde_json::json!({ "name": TUNNEL_NAME });
    let (status, text) = admin_call(rt, client, Method::POST, &url, admin_key, Some(&body))
        .context("creating the tunnel")?;
    if status != StatusCode::CREATED {
        bail!(
            "creating the tunnel answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    let created: serde_json::Value =
        serde_json::from_slice(&text).context("the tunnel's creation answer is not JSON")?;
    let token = created["token"]
        .as_str()
        .context("the tunnel's creation answer has no token")?
        .to_owned();

    let url = format!("http://{gateway}/api/providers/{TUNNEL_NAME}");
    let body = serde_json::json!({ "models": [crate::mock::MODEL] });
    let (status, text) = admin_call(rt, client, Method::PATCH, &url, admin_key, Some(&body))
        .context("listing the model on the tunnel")?;
    if !status.is_success() {
        bail!(
            "PATCH /api/providers/{TUNNEL_NAME} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok(token)
}

/// Polls the tunnel every 50 ms until the gateway reports it `running` (an agent is
/// connected), for at most `max`; fails early if the agent exits.
pub fn wait_running(
    rt: &Runtime,
    client: &HttpClient,
    gateway: SocketAddr,
    admin_key: &str,
    agent: &mut AgentProcess,
    max: Duration,
) -> Result<()> {
    let url = format!("http://{gateway}/api/tunnels/{TUNNEL_NAME}");
    let deadline = Instant::now() + max;
    loop {
        if let Some(status) = agent.child.try_wait()? {
            bail!(
                "the tunnel agent exited ({status}) before connecting; its log:\n{}",
                agent.log_tail()
            );
        }
        let (status, text) = admin_call(rt, client, Method::GET, &url, admin_key, None)?;
        if status == StatusCode::OK {
            let view: serde_json::Value =
                serde_json::from_slice(&text).context("the tunnel's view is not JSON")?;
            if view["status"] == "running" {
                return Ok(());
            }
        }
        let last = format!("{status}: {}", String::from_utf8_lossy(&text));
        if Instant::now() >= deadline {
            bail!(
                "the tunnel was not running within {max:?} (last answer {last}); the agent's log:\n{}",
                agent.log_tail()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// The tunnel agent, as a child process.
pub struct AgentProcess {
    child: Child,
    log: PathBuf,
    clock_ticks: f64,
    stopped: bool,
}

impl AgentProcess {
    /// Starts `bin tunnel` towards `gateway`, forwarding to `target`.
    pub fn start(bin: &Path, gateway: SocketAddr, target: SocketAddr, token: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let log = std::env::temp_dir().join(format!(
            "modelgate-bench-agent-{}-{nanos}.log",
            std::process::id()
        ));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("creating the agent's log {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(bin)
            .arg("tunnel")
            .arg("--gateway")
            .arg(format!("http://{gateway}"))
            .arg("--target")
            .arg(format!("http://{target}"))
            .args(["--name", "modelgate-bench"])
            .env("MODELGATE_TUNNEL_TOKEN", token)
            .env("RUST_LOG", "warn")
            .env_remove("MODELGATE_TARGET_API_KEY")
            .env_remove("MODELGATE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("starting {} tunnel", bin.display()))?;
        Ok(Self {
            child,
            log,
            clock_ticks: read_clock_ticks(),
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system, all threads) the agent has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        process_cpu(&format!("/proc/{}/stat", self.pid()), self.clock_ticks)
    }

    /// Waits (up to `max`) until the agent uses at most one clock tick per 100 ms.
    pub fn wait_idle(&self, max: Duration) -> Result<()> {
        wait_process_idle("tunnel agent", || self.cpu_time(), self.clock_ticks, max)
    }

    /// Peak and current resident memory.
    pub fn memory(&self) -> Result<Memory> {
        process_memory(self.pid())
    }

    /// The last lines of the agent's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL; removes the log unless the agent had
    /// already died by itself.
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if let Some(status) = self.child.try_wait()?
            && !status.success()
        {
            eprintln!(
                "the tunnel agent had exited by itself ({status}); its log is {}",
                self.log.display()
            );
            return Ok(());
        }
        terminate(&mut self.child, "tunnel agent")?;
        std::fs::remove_file(&self.log).with_context(|| format!("removing {}", self.log.display()))
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the tunnel agent: {e:#}");
        }
    }
}
