//! The shape every `modelgate admin` subcommand maps to: a [`Call`] (method, path under
//! `/api`, query, JSON body) plus the [`View`] that shows its answer, the JSON helpers the
//! subcommands build bodies with, and `--user | --group` ([`Principal`]).

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
