//! `modelgate tunnel`: run a tunnel agent next to a private model server, so that the
//! gateway can reach it over a connection the agent dials out (see `modelgate-tunnel`).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub(crate) struct TunnelArgs {
    /// The gateway's base URL, e.g. https://gateway.example.com
    #[arg(long)]
    gateway: url::Url,
    /// The tunnel's token, as issued by the gateway
    #[arg(long, env = "MODELGATE_TUNNEL_TOKEN", hide_env_values = true)]
    token: String,
    /// The model server to expose, e.g. http://127.0.0.1:8000 (with or without /v1)
    #[arg(long)]
    target: url::Url,
    /// API key the model server expects, sent to it as a bearer token
    #[arg(long, env = "MODELGATE_TARGET_API_KEY", hide_env_values = true)]
    target_api_key: Option<String>,
    /// PEM file with the CA certificate(s) that signed the gateway's TLS certificate
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// A name for this agent, shown by the gateway
    #[arg(long)]
    name: Option<String>,
    /// Log format
    #[arg(long, env = "MODELGATE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

/// Runs the agent until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1).
pub(crate) fn run(args: TunnelArgs) -> ExitCode {
    crate::init_logging(&args.log_format);
    let config = modelgate_tunnel::AgentConfig {
        gateway: args.gateway,
        token: args.token,
        target: args.target,
        target_api_key: args.target_api_key.filter(|k| !k.is_empty()),
        ca_file: args.ca_file,
        name: args.name.filter(|n| !n.is_empty()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        crate::shutdown_signal().await;
        tracing::info!("shutting down the tunnel");
    };
    match runtime.block_on(modelgate_tunnel::run(config, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
