//! The `modelgate admin` command tree (clap derive) and the shape every subcommand maps
//! to: a [`Call`] (method, path under `/api`, query, JSON body) plus the [`View`] that
//! shows its answer. The mapping is pure, so it is unit-tested without a server; the
//! subcommands themselves live in `accounts`, `providers` and `spending`.

use super::accounts::{Grants, Groups, Users};
use super::providers::{Providers, Shares};
use super::spending::{Allocations, Keys, UsageArgs};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// A table column: its header and the key of each list item it shows (`""`: the item).
pub type Column = (&'static str, &'static str);

/// How to show a successful answer when `--json` is not given.
#[derive(Debug, PartialEq)]
pub enum View {
    /// `{"data": [...]}` as a table with these columns.
    List(&'static [Column]),
    /// One object as a field/value table.
    Object,
    /// A one-line confirmation.
    Done(String),
    /// A freshly created key: its secret, shown once.
    NewKey,
    /// A usage report: totals, then the breakdown as a table.
    Usage,
}

/// One admin API request and how to present its answer.
#[derive(Debug)]
pub struct Call {
    /// The HTTP method.
    pub method: Method,
    /// Path segments under `/api` (percent-encoded when the URL is built).
    pub path: Vec<String>,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// How to show the answer.
    pub view: View,
}

impl Call {
    /// A call without query or body.
    pub fn new(method: Method, path: &[&str], view: View) -> Self {
        Self {
            method,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            view,
        }
    }

    /// `GET` of a list, shown as a table.
    pub fn list(path: &[&str], columns: &'static [Column]) -> Self {
        Self::new(Method::GET, path, View::List(columns))
    }

    /// A mutation confirmed by `message`.
    pub fn done(method: Method, path: &[&str], message: String) -> Self {
        Self::new(method, path, View::Done(message))
    }

    /// With this JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A JSON object of the fields that are set.
pub fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    Value::Object(map)
}

/// An optional string as a JSON value.
pub fn opt(s: &Option<String>) -> Option<Value> {
    s.as_deref().map(Value::from)
}

/// A repeated option as a JSON array, or nothing when it was not given.
pub fn list(items: &[String]) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

/// Whether a body built with [`object`] has no fields.
pub fn is_empty(body: &Value) -> bool {
    body.as_object().is_some_and(Map::is_empty)
}

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

/// `--user U | --group G`: whom a grant or an allocation is for.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Principal {
    /// A user name
    #[arg(long)]
    pub user: Option<String>,
    /// A group name
    #[arg(long)]
    pub group: Option<String>,
}

impl Principal {
    /// `("user", name)` or `("group", name)`.
    pub fn pair(&self) -> (&'static str, &str) {
        match (&self.user, &self.group) {
            (Some(u), _) => ("user", u),
            (None, Some(g)) => ("group", g),
            // Unreachable after parsing: clap requires exactly one of the two.
            (None, None) => ("user", ""),
        }
    }

    /// `user NAME` or `group NAME`, for confirmations.
    pub fn describe(&self) -> String {
        let (kind, name) = self.pair();
        format!("{kind} {name}")
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
