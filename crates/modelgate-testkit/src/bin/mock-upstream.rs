//! `mock-upstream`: runs [`MockUpstream`] as a standalone process, for tests written in
//! other languages (the Python SDK tests in `tests/sdk/`).
//!
//! ```text
//! mock-upstream [--models a,b,c] [--chat-only]     (default: m1,emb-1)
//! ```
//!
//! `--chat-only` runs [`MockUpstream::start_chat_only`]: an OpenAI-compatible server
//! without the Responses API (`POST /v1/responses` answers 404), like older vLLM or Ollama.
//!
//! Prints `mock-upstream listening on http://ADDR` once ready, then serves until killed.
//! The model names choose the mock's behaviour (see the `modelgate-testkit` docs).

use modelgate_testkit::MockUpstream;
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: mock-upstream [--models a,b,c] [--chat-only]";

/// What the command line asks for.
struct Options {
    /// The models to advertise.
    models: Vec<String>,
    /// No Responses API (`--chat-only`).
    chat_only: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut models = "m1,emb-1".to_owned();
    let mut chat_only = false;
    while let Some(arg) = args.next() {
        if arg == "--chat-only" {
            chat_only = true;
        } else if arg == "--models" {
            models = args.next().ok_or("--models needs a value")?;
        } else if let Some(v) = arg.strip_prefix("--models=") {
            models = v.to_owned();
        } else if arg == "-h" || arg == "--help" {
            return Err(String::new());
        } else {
            return Err(format!("unexpected argument '{arg}'"));
        }
    }
    let models: Vec<String> = models
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    if models.is_empty() {
        return Err("--models needs at least one model name".to_owned());
    }
    Ok(Options { models, chat_only })
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("mock-upstream: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<&str> = options.models.iter().map(String::as_str).collect();
    let mock = if options.chat_only {
        MockUpstream::start_chat_only(&names).await
    } else {
        MockUpstream::start(&names).await
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "mock-upstream listening on {}", mock.origin())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(out);
    // The server runs on a spawned task; park until the process is killed.
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
