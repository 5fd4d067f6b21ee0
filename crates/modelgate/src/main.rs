//! `modelgate`: the command line. `serve` runs the gateway; `admin` manages a running one
//! through its admin API; `tunnel` connects a private model server to a gateway.

mod tunnel_cmd;

use anyhow::Context;
use clap::{Parser, Subcommand};
use modelgate::admin_cli::{self, AdminArgs};
use modelgate::config::FileConfig;
use modelgate::run::{ServeOptions, start};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "modelgate",
    version,
    about = "An AI gateway: one endpoint for every model backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Manage a running gateway: users, groups, grants, providers, keys, usage...
    Admin(AdminArgs),
    /// Connect a private model server (vLLM, Ollama...) to a gateway by dialing out.
    Tunnel(tunnel_cmd::TunnelArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "MODELGATE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory for the SQLite store and the master key [default: ./modelgate-data]
    #[arg(long, env = "MODELGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Config file (TOML, or YAML with a .yaml/.yml extension)
    #[arg(long, env = "MODELGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: postgres://... for PostgreSQL [default: SQLite in the data dir]
    #[arg(long, env = "MODELGATE_DATABASE")]
    database: Option<String>,
    /// Redis URL, for several replicas sharing one PostgreSQL (budgets, rate limits, change notices)
    #[arg(long, env = "MODELGATE_REDIS")]
    redis: Option<String>,
    /// Largest request body in bytes [default: 33554432]
    #[arg(long, env = "MODELGATE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Seconds in-flight requests get to finish on shutdown [default: 30]
    #[arg(long, env = "MODELGATE_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// Prefix of this deployment's Redis keys and channels [default: modelgate]
    #[arg(long, env = "MODELGATE_REDIS_PREFIX")]
    redis_prefix: Option<String>,
    /// The URL other replicas reach this one at (tunnels held here are forwarded to it)
    /// [default: the listening address]
    #[arg(long, env = "MODELGATE_ADVERTISE_URL")]
    advertise_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, env = "MODELGATE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "MODELGATE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log format
    #[arg(long, env = "MODELGATE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn options(args: ServeArgs) -> anyhow::Result<ServeOptions> {
    let file = match &args.config {
        Some(path) => Some(Arc::new(FileConfig::load(path)?)),
        None => None,
    };
    let f = file.as_deref();
    let data_dir = args
        .data_dir
        .or_else(|| f.and_then(|f| f.data_dir.clone()))
        .unwrap_or_else(|| PathBuf::from("./modelgate-data"));
    let mut o = ServeOptions::new(data_dir);
    if let Some(listen) = args.listen.or_else(|| f.and_then(|f| f.listen)) {
        o.listen = listen;
    }
    o.database = args.database.or_else(|| f.and_then(|f| f.database.clone()));
    o.settings.redis_url = args.redis.or_else(|| f.and_then(|f| f.redis.clone()));
    if let Some(prefix) = args.redis_prefix {
        o.settings.redis_prefix = prefix;
    }
    if o.settings.redis_url.is_some() && o.database.is_none() {
        anyhow::bail!(
            "--redis is for several replicas, which must share one database: give --database postgres://..."
        );
    }
    o.master_key = std::env::var("MODELGATE_MASTER_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    o.bootstrap_admin_key = std::env::var("MODELGATE_BOOTSTRAP_ADMIN_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    if let Some(n) = args
        .max_body_bytes
        .or_else(|| f.and_then(|f| f.max_body_bytes))
    {
        o.settings.max_body_bytes = n;
    }
    if let Some(s) = args
        .shutdown_grace_secs
        .or_else(|| f.and_then(|f| f.shutdown_grace_secs))
    {
        o.shutdown_grace = Duration::from_secs(s);
    }
    if let Some(f) = f {
        if let Some(s) = f.first_byte_timeout_secs {
            o.settings.first_byte_timeout = Duration::from_secs(s);
        }
        if let Some(s) = f.request_timeout_secs {
            o.settings.request_timeout = Duration::from_secs(s);
        }
        if let Some(s) = f.models_ttl_secs {
            o.settings.models_ttl = Duration::from_secs(s);
        }
    }
    let cert = args.tls_cert.or_else(|| f.and_then(|f| f.tls_cert.clone()));
    let key = args.tls_key.or_else(|| f.and_then(|f| f.tls_key.clone()));
    o.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(modelgate::run::TlsFiles { cert, key }),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate and a key (tls_cert and tls_key)"),
    };
    o.advertise_url = args
        .advertise_url
        .or_else(|| f.and_then(|f| f.advertise_url.clone()));
    o.file = file;
    Ok(o)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let opts = options(args)?;
    let mut running = start(opts).await?;
    if let Some(key) = &running.generated_admin_key {
        println!("Created the admin user. Its API key is shown only this once:\n\n    {key}\n");
    }
    let scheme = if running.tls { "https" } else { "http" };
    println!("modelgate listening on {scheme}://{}", running.addr);
    let stop = running.take_stop().context("stop handle already taken")?;
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop.send(());
    });
    running.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

fn main() -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(args) => Ok(admin_cli::run(args)),
        Command::Tunnel(args) => Ok(tunnel_cmd::run(args)),
    }
}
