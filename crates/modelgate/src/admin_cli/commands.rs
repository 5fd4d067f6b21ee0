//! The `modelgate admin` command tree (clap derive): each resource's subcommand maps to a
//! [`Call`] (`call.rs`). The mapping is pure, so it is unit-tested without a server; the
//! subcommands themselves live in `accounts`, `providers` and `spending`.

use super::accounts::{Grants, Groups, Users};
use super::call::{Call, View};
use super::providers::{Providers, Shares};
use super::spending::{Allocations, Keys, UsageArgs};
use reqwest::Method;
use serde_json::{Map, Value};

/// What to manage.
#[derive(clap::Subcommand, Debug)]
pub enum Resource {
    /// Users: roles, passwords, rate limits, deactivation
    #[command(subcommand)]
    Users(Users),
    /// Groups and their members
    #[command(subcommand)]
    Groups(Groups),
    /// Permissions granted to users or groups
    #[command(subcommand)]
    Grants(Grants),
    /// Model providers (backends)
    #[command(subcommand)]
    Providers(Providers),
    /// Who a provider is shared with
    #[command(subcommand)]
    Shares(Shares),
    /// Spending allocations (budgets) of users and groups
    #[command(subcommand)]
    Allocations(Allocations),
    /// AI keys
    #[command(subcommand)]
    Keys(Keys),
    /// Gateway-wide settings
    #[command(subcommand)]
    Settings(Settings),
    /// Usage and cost report
    Usage(UsageArgs),
}

impl Resource {
    /// Reads the secrets asked for with `--password-stdin` / `--api-key-stdin` (at most
    /// one per command) with `read`, so they never appear on a command line.
    pub fn read_secrets(
        &mut self,
        read: &mut dyn FnMut() -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        match self {
            Self::Users(c) => c.read_secrets(read),
            Self::Providers(c) => c.read_secrets(read),
            _ => Ok(()),
        }
    }

    /// The API call these arguments stand for.
    pub fn call(&self) -> anyhow::Result<Call> {
        Ok(match self {
            Self::Users(c) => c.call()?,
            Self::Groups(c) => c.call(),
            Self::Grants(c) => c.call(),
            Self::Providers(c) => c.call(),
            Self::Shares(c) => c.call(),
            Self::Allocations(c) => c.call()?,
            Self::Keys(c) => c.call(),
            Self::Settings(c) => c.call(),
            Self::Usage(a) => a.call(),
        })
    }
}

/// `settings ...`
#[derive(clap::Subcommand, Debug)]
pub enum Settings {
    /// Show all settings
    Get,
    /// Change one setting; VALUE is read as JSON if it parses (10, true, null, "x", [..]),
    /// else as a string
    Set {
        /// Setting name
        name: String,
        /// New value
        value: String,
    },
}

impl Settings {
    fn call(&self) -> Call {
        match self {
            Self::Get => Call::new(Method::GET, &["settings"], View::Object),
            Self::Set { name, value } => {
                let parsed = serde_json::from_str::<Value>(value)
                    .unwrap_or_else(|_| Value::String(value.clone()));
                let mut body = Map::new();
                body.insert(name.clone(), parsed);
                Call::done(
                    Method::PATCH,
                    &["settings"],
                    format!("Set {name} to {value}."),
                )
                .body(Value::Object(body))
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Cmd {
        #[command(subcommand)]
        resource: Resource,
    }

    /// Parses `admin` arguments (those after `admin`).
    pub fn parse(args: &[&str]) -> Resource {
        Cmd::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .resource
    }

    /// Parses `admin` arguments into their call.
    pub fn call(args: &[&str]) -> Call {
        parse(args).call().unwrap()
    }

    /// Whether these arguments are refused by the parser.
    pub fn refused(args: &[&str]) -> bool {
        Cmd::try_parse_from(std::iter::once("admin").chain(args.iter().copied())).is_err()
    }

    #[test]
    fn secrets_come_from_standard_input_when_asked() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["users", "create", "bob", "--password-stdin"],
                "password",
                "pw-from-stdin",
            ),
            (
                &["users", "update", "bob", "--password-stdin"],
                "password",
                "pw-from-stdin",
            ),
            (
                &[
                    "providers",
                    "create",
                    "p",
                    "--kind",
                    "openai",
                    "--api-key-stdin",
                ],
                "api_key",
                "pw-from-stdin",
            ),
        ];
        for (args, field, value) in cases {
            let mut resource = parse(args);
            let mut reads = 0;
            resource
                .read_secrets(&mut || {
                    reads += 1;
                    Ok("pw-from-stdin".to_owned())
                })
                .unwrap();
            assert_eq!(reads, 1, "{args:?}");
            let body = resource.call().unwrap().body.unwrap();
            assert_eq!(body[*field], json!(value), "{args:?}");
        }
        // Without the flag nothing is read; with both forms the command is refused.
        let mut resource = parse(&["users", "create", "bob", "--password", "pw"]);
        resource
            .read_secrets(&mut || panic!("nothing to read"))
            .unwrap();
        assert!(refused(&[
            "users",
            "create",
            "bob",
            "--password",
            "pw",
            "--password-stdin"
        ]));
        assert!(refused(&[
            "providers",
            "create",
            "p",
            "--kind",
            "openai",
            "--api-key",
            "k",
            "--api-key-stdin"
        ]));
    }

    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory;
        Cmd::command().debug_assert();
    }

    #[test]
    fn settings_values_are_json_when_they_parse() {
        let c = call(&["settings", "set", "max_rpm", "10"]);
        assert_eq!((c.method, c.path), (Method::PATCH, vec!["settings".into()]));
        assert_eq!(c.body, Some(json!({"max_rpm": 10})));
        let c = call(&["settings", "set", "banner", "hello world"]);
        assert_eq!(c.body, Some(json!({"banner": "hello world"})));
        let c = call(&["settings", "set", "flag", "true"]);
        assert_eq!(c.body, Some(json!({"flag": true})));
        assert_eq!(call(&["settings", "get"]).view, View::Object);
    }
}
