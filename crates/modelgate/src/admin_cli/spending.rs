//! `allocations`, `keys` and `usage`: budgets, the AI keys that spend them, and the
//! resulting usage report.

use super::call::{Call, Column, Principal, View, is_empty, list, object, opt};
use reqwest::Method;
use serde_json::{Value, json};

const PERIODS: [&str; 3] = ["none", "daily", "monthly"];

const ALLOCATION_COLUMNS: &[Column] = &[
    ("NAME", "name"),
    ("OWNER", "owner"),
    ("LIMIT_USD", "limit_usd"),
    ("PERIOD", "period"),
    ("USED_USD", "used_usd"),
    ("REMAINING_USD", "remaining_usd"),
];
const KEY_COLUMNS: &[Column] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("PREFIX", "prefix"),
    ("USER", "user"),
    ("ALLOCATION", "allocation"),
    ("MODELS", "models"),
    ("SCOPES", "scopes"),
    ("CREATED", "created_at"),
    ("EXPIRES", "expires_at"),
    ("LAST USED", "last_used_at"),
    ("REVOKED", "revoked_at"),
];

/// A dollar amount: finite and not negative.
fn usd(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not an amount in USD (e.g. 25 or 12.50)")),
    }
}

/// `allocations ...`
#[derive(clap::Subcommand, Debug)]
pub enum Allocations {
    /// List allocations with what is used and what remains
    List,
    /// Create an allocation for a user or a group
    Create {
        /// Allocation name
        name: String,
        #[command(flatten)]
        owner: Principal,
        /// Spending limit in USD
        #[arg(long, value_parser = usd)]
        limit_usd: f64,
        /// When the used amount resets
        #[arg(long, value_parser = PERIODS)]
        period: String,
    },
    /// Change an allocation's limit or period
    Update {
        /// Allocation name
        name: String,
        /// New spending limit in USD
        #[arg(long, value_parser = usd)]
        limit_usd: Option<f64>,
        /// New reset period
        #[arg(long, value_parser = PERIODS)]
        period: Option<String>,
    },
    /// Delete an allocation
    Delete {
        /// Allocation name
        name: String,
    },
}

impl Allocations {
    pub(super) fn call(&self) -> anyhow::Result<Call> {
        Ok(match self {
            Self::List => Call::list(&["allocations"], ALLOCATION_COLUMNS),
            Self::Create {
                name,
                owner,
                limit_usd,
                period,
            } => {
                let (kind, who) = owner.pair();
                Call::done(
                    Method::POST,
                    &["allocations"],
                    format!(
                        "Created allocation {name} for {}: ${limit_usd}, period {period}.",
                        owner.describe()
                    ),
                )
                .body(object([
                    ("name", Some(json!(name))),
                    (kind, Some(json!(who))),
                    ("limit_usd", Some(json!(limit_usd))),
                    ("period", Some(json!(period))),
                ]))
            }
            Self::Update {
                name,
                limit_usd,
                period,
            } => {
                let body = object([
                    ("limit_usd", limit_usd.map(Value::from)),
                    ("period", opt(period)),
                ]);
                if is_empty(&body) {
                    anyhow::bail!("nothing to update: pass --limit-usd or --period");
                }
                Call::done(
                    Method::PATCH,
                    &["allocations", name],
                    format!("Updated allocation {name}."),
                )
                .body(body)
            }
            Self::Delete { name } => Call::done(
                Method::DELETE,
                &["allocations", name],
                format!("Deleted allocation {name}."),
            ),
        })
    }
}

/// `keys ...`
#[derive(clap::Subcommand, Debug)]
pub enum Keys {
    /// List keys (your own; with --all, everyone's, for admins)
    List {
        /// Only keys whose name, prefix or user contains TEXT
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Everyone's keys (admins)
        #[arg(long)]
        all: bool,
    },
    /// Create a key; its secret is printed once
    Create {
        /// Key name
        name: String,
        /// Allocation the key spends from
        #[arg(long)]
        allocation: Option<String>,
        /// Expiry, RFC 3339 (e.g. 2026-12-31T00:00:00Z)
        #[arg(long, value_name = "RFC3339")]
        expires_at: Option<String>,
        /// A model the key may use (repeat; all when omitted)
        #[arg(long = "model")]
        models: Vec<String>,
        /// Requests per minute
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens per minute
        #[arg(long)]
        tpm: Option<u64>,
        /// What the key may do: inference (the model API, the default) or management
        /// (the admin API); repeat for both
        #[arg(long = "scope", value_name = "SCOPE", value_parser = ["inference", "management"])]
        scopes: Vec<String>,
        /// Create the key for this user (admins)
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key at once
    Revoke {
        /// Key id (key_...)
        id: String,
    },
}

impl Keys {
    pub(super) fn call(&self) -> Call {
        match self {
            Self::List { filter, all } => {
                let mut c = Call::list(&["keys"], KEY_COLUMNS);
                if let Some(q) = filter {
                    c.query.push(("q", q.clone()));
                }
                if *all {
                    c.query.push(("all", "true".to_owned()));
                }
                c
            }
            Self::Create {
                name,
                allocation,
                expires_at,
                models,
                rpm,
                tpm,
                scopes,
                user,
            } => {
                let path: &[&str] = match user {
                    Some(u) => &["users", u, "keys"],
                    None => &["keys"],
                };
                Call::new(Method::POST, path, View::NewKey).body(object([
                    ("name", Some(json!(name))),
                    ("allocation", opt(allocation)),
                    ("expires_at", opt(expires_at)),
                    ("models", list(models)),
                    ("rpm", rpm.map(Value::from)),
                    ("tpm", tpm.map(Value::from)),
                    ("scopes", list(scopes)),
                ]))
            }
            Self::Revoke { id } => {
                Call::done(Method::DELETE, &["keys", id], format!("Revoked key {id}."))
            }
        }
    }
}

/// `usage [--days N | --since T --until T] [--group-by G] [--org]`
#[derive(clap::Args, Debug)]
pub struct UsageArgs {
    /// The last N days
    #[arg(long, value_parser = ["7", "30", "90"], conflicts_with_all = ["since", "until"])]
    days: Option<String>,
    /// Start (RFC 3339 or Unix seconds)
    #[arg(long)]
    since: Option<String>,
    /// End (RFC 3339 or Unix seconds)
    #[arg(long)]
    until: Option<String>,
    /// Break the totals down by (user and allocation with --org)
    #[arg(long, value_parser = ["model", "key", "provider", "user", "allocation"])]
    group_by: Option<String>,
    /// The whole organisation's usage (admins)
    #[arg(long)]
    org: bool,
}

impl UsageArgs {
    pub(super) fn call(&self) -> Call {
        let mut c = Call::new(Method::GET, &["usage"], View::Usage);
        let params = [
            ("days", &self.days),
            ("since", &self.since),
            ("until", &self.until),
            ("group_by", &self.group_by),
        ];
        for (k, v) in params {
            if let Some(v) = v {
                c.query.push((k, v.clone()));
            }
        }
        if self.org {
            c.query.push(("scope", "org".to_owned()));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::commands::tests::{call, parse, refused};
    use super::*;

    #[test]
    fn allocations_map_to_their_endpoints() {
        let c = call(&[
            "allocations",
            "create",
            "team",
            "--group",
            "eng",
            "--limit-usd",
            "12.5",
            "--period",
            "monthly",
        ]);
        assert_eq!(
            (c.method, c.path),
            (Method::POST, vec!["allocations".to_owned()])
        );
        assert_eq!(
            c.body,
            Some(json!({"name": "team", "group": "eng", "limit_usd": 12.5, "period": "monthly"}))
        );
        let c = call(&["allocations", "update", "team", "--period", "daily"]);
        assert_eq!(c.method, Method::PATCH);
        assert_eq!(c.body, Some(json!({"period": "daily"})));
        assert!(parse(&["allocations", "update", "team"]).call().is_err());
        assert!(refused(&[
            "allocations",
            "create",
            "t",
            "--user",
            "a",
            "--limit-usd",
            "-1",
            "--period",
            "none"
        ]));
        assert!(refused(&[
            "allocations",
            "create",
            "t",
            "--user",
            "a",
            "--limit-usd",
            "NaN",
            "--period",
            "none"
        ]));
        assert!(refused(&[
            "allocations",
            "create",
            "t",
            "--user",
            "a",
            "--limit-usd",
            "1",
            "--period",
            "weekly"
        ]));
    }

    #[test]
    fn keys_map_to_their_endpoints() {
        let c = call(&["keys", "list", "--filter", "lap top", "--all"]);
        assert_eq!(
            c.query,
            vec![("q", "lap top".to_owned()), ("all", "true".to_owned())]
        );
        let c = call(&[
            "keys", "create", "laptop", "--model", "gpt-4o", "--rpm", "5",
        ]);
        assert_eq!(
            (c.method, c.path, c.view),
            (Method::POST, vec!["keys".to_owned()], View::NewKey)
        );
        assert_eq!(
            c.body,
            Some(json!({"name": "laptop", "models": ["gpt-4o"], "rpm": 5}))
        );
        let c = call(&[
            "keys",
            "create",
            "ci",
            "--user",
            "bob",
            "--allocation",
            "team",
        ]);
        assert_eq!(c.path, ["users", "bob", "keys"]);
        assert_eq!(c.body, Some(json!({"name": "ci", "allocation": "team"})));
        let c = call(&[
            "keys",
            "create",
            "ops",
            "--scope",
            "management",
            "--scope",
            "inference",
        ]);
        assert_eq!(
            c.body,
            Some(json!({"name": "ops", "scopes": ["management", "inference"]}))
        );
        assert!(refused(&["keys", "create", "x", "--scope", "admin"]));
        let c = call(&["keys", "revoke", "key_1"]);
        assert_eq!(
            (c.method, c.path),
            (Method::DELETE, vec!["keys".to_owned(), "key_1".to_owned()])
        );
    }

    #[test]
    fn usage_query() {
        let c = call(&["usage", "--days", "30", "--group-by", "model", "--org"]);
        assert_eq!(
            c.query,
            vec![
                ("days", "30".to_owned()),
                ("group_by", "model".to_owned()),
                ("scope", "org".to_owned())
            ]
        );
        assert!(call(&["usage"]).query.is_empty());
        assert!(refused(&["usage", "--days", "5"]));
        assert!(refused(&[
            "usage",
            "--days",
            "7",
            "--since",
            "2025-01-01T00:00:00Z"
        ]));
    }
}
