//! `modelgate admin ...`: a command-line client for the admin API (`/api/...`).
//!
//! The flow is three small steps, each in its own module: `commands` maps the parsed
//! arguments to a `call::Call` (method, path, query, body; pure; the subcommands
//! are in `accounts`, `providers` and `spending`), `client` sends it with the
//! caller's key and turns a non-2xx answer into an error carrying the server's message,
//! and `output` renders the answer as an aligned table, a one-line confirmation, or
//! the server's JSON (`--json`).

mod accounts;
mod call;
mod client;
mod commands;
mod output;
mod providers;
mod spending;

pub use commands::Resource;

use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

/// The default gateway address, the same one `serve` listens on.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The help section of the options every admin subcommand takes.
const GLOBAL: &str = "Global Options";

/// `modelgate admin [--url URL] [--key KEY] [--json] <resource> <action> [args]`.
#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    /// Base URL of the gateway
    #[arg(long, global = true, env = "MODELGATE_URL", default_value = DEFAULT_URL, help_heading = GLOBAL)]
    pub url: String,
    /// API key to authenticate with (sent as a bearer token). On a command line it is
    /// visible to anyone who can list this machine's processes: prefer MODELGATE_KEY or
    /// --key-file
    #[arg(long, global = true, env = "MODELGATE_KEY", hide_env_values = true, help_heading = GLOBAL)]
    pub key: Option<String>,
    /// Read the API key from this file (its first line)
    #[arg(long, global = true, conflicts_with = "key", help_heading = GLOBAL)]
    pub key_file: Option<std::path::PathBuf>,
    /// Print the server's JSON answer instead of a table
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// What to manage
    #[command(subcommand)]
    pub resource: Resource,
}

/// Runs one admin command. Errors are printed to stderr as `error: ...`; the exit code
/// is 1 on any failure.
pub fn run(args: AdminArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: AdminArgs) -> anyhow::Result<()> {
    let key = match &args.key_file {
        Some(path) => first_line(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?,
        ),
        None => args.key.clone().unwrap_or_default(),
    };
    anyhow::ensure!(
        !key.trim().is_empty(),
        "no API key: set MODELGATE_KEY, or pass --key-file FILE (or --key KEY)"
    );
    let mut resource = args.resource;
    resource.read_secrets(&mut || {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("could not read the secret from standard input")?;
        let secret = first_line(&line);
        anyhow::ensure!(!secret.is_empty(), "standard input gave an empty secret");
        Ok(secret)
    })?;
    let call = resource.call()?;
    let client = client::Client::new(&args.url, key)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let answer = runtime.block_on(client.send(&call))?;
    let text = output::render(&call.view, answer.as_ref(), args.json)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The first line of `text`, without its line ending.
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}
