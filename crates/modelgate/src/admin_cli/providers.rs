//! `providers` and `shares`: the model backends and who may use them.

use super::call::{Call, Column, View, list, object, opt};
use reqwest::Method;
use serde_json::{Value, json};

const PROVIDER_COLUMNS: &[Column] = &[
    ("NAME", "name"),
    ("KIND", "kind"),
    ("ENDPOINT", "endpoint"),
    ("OWNER", "owner"),
    ("MODELS", "models"),
    ("SHARES", "shares"),
];
const SHARE_COLUMNS: &[Column] = &[("SHARED WITH", "")];

/// `providers ...`
#[derive(clap::Subcommand, Debug)]
pub enum Providers {
    /// List providers
    List,
    /// Show one provider
    Get {
        /// Provider name
        name: String,
    },
    /// Register a provider
    Create {
        /// Provider name
        name: String,
        /// Kind: openai, openai-compatible, anthropic, azure, bedrock, or a catalog vendor
        #[arg(long)]
        kind: String,
        /// Base URL of the upstream (required for self-hosted kinds)
        #[arg(long)]
        endpoint: Option<String>,
        /// The upstream's API key (visible to anyone who can list this machine's
        /// processes: prefer --api-key-stdin)
        #[arg(long, conflicts_with = "api_key_stdin")]
        api_key: Option<String>,
        /// Read the upstream's API key from the first line of standard input
        #[arg(long)]
        api_key_stdin: bool,
        /// A model it serves (repeat; discovered from the upstream when omitted)
        #[arg(long = "model")]
        models: Vec<String>,
        /// Free-text description
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a provider
    Delete {
        /// Provider name
        name: String,
    },
}

impl Providers {
    /// Fills the API key from `read` when `--api-key-stdin` was given.
    pub(super) fn read_secrets(
        &mut self,
        read: &mut dyn FnMut() -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        if let Self::Create {
            api_key,
            api_key_stdin: true,
            ..
        } = self
        {
            *api_key = Some(read()?);
        }
        Ok(())
    }

    pub(super) fn call(&self) -> Call {
        match self {
            Self::List => Call::list(&["providers"], PROVIDER_COLUMNS),
            Self::Get { name } => Call::new(Method::GET, &["providers", name], View::Object),
            Self::Create {
                name,
                kind,
                endpoint,
                api_key,
                models,
                description,
                ..
            } => Call::done(
                Method::POST,
                &["providers"],
                format!("Created provider {name} ({kind})."),
            )
            .body(object([
                ("name", Some(json!(name))),
                ("kind", Some(json!(kind))),
                ("endpoint", opt(endpoint)),
                ("api_key", opt(api_key)),
                ("models", list(models)),
                ("description", opt(description)),
            ])),
            Self::Delete { name } => Call::done(
                Method::DELETE,
                &["providers", name],
                format!("Deleted provider {name}."),
            ),
        }
    }
}

/// `--group G | --org`: whom a provider is shared with.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ShareTarget {
    /// Share with the members of this group
    #[arg(long)]
    group: Option<String>,
    /// Share with everyone in the organisation
    #[arg(long)]
    org: bool,
}

impl ShareTarget {
    fn body(&self) -> Value {
        match &self.group {
            Some(g) => json!({"group": g}),
            None => json!({"org": true}),
        }
    }

    fn describe(&self) -> String {
        match &self.group {
            Some(g) => format!("group {g}"),
            None => "the organisation".to_owned(),
        }
    }
}

/// `shares ...`
#[derive(clap::Subcommand, Debug)]
pub enum Shares {
    /// List whom a provider is shared with
    List {
        /// Provider name
        provider: String,
    },
    /// Share a provider with a group or the whole organisation
    Add {
        /// Provider name
        provider: String,
        #[command(flatten)]
        with: ShareTarget,
    },
    /// Stop sharing a provider with a group or the organisation
    Remove {
        /// Provider name
        provider: String,
        #[command(flatten)]
        with: ShareTarget,
    },
}

impl Shares {
    pub(super) fn call(&self) -> Call {
        match self {
            Self::List { provider } => {
                Call::list(&["providers", provider, "shares"], SHARE_COLUMNS)
            }
            Self::Add { provider, with } => Call::done(
                Method::PUT,
                &["providers", provider, "shares"],
                format!("Shared provider {provider} with {}.", with.describe()),
            )
            .body(with.body()),
            Self::Remove { provider, with } => Call::done(
                Method::DELETE,
                &["providers", provider, "shares"],
                format!(
                    "Stopped sharing provider {provider} with {}.",
                    with.describe()
                ),
            )
            .body(with.body()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::commands::tests::{call, refused};
    use super::*;

    #[test]
    fn providers_map_to_their_endpoints() {
        let c = call(&[
            "providers",
            "create",
            "p1",
            "--kind",
            "openai",
            "--api-key",
            "sk-x",
            "--model",
            "a",
            "--model",
            "b",
        ]);
        assert_eq!(
            (c.method, c.path),
            (Method::POST, vec!["providers".to_owned()])
        );
        assert_eq!(
            c.body,
            Some(json!({"name": "p1", "kind": "openai", "api_key": "sk-x", "models": ["a", "b"]}))
        );
        let c = call(&["providers", "get", "p1"]);
        assert_eq!((c.method, c.view), (Method::GET, View::Object));
        assert_eq!(call(&["providers", "delete", "p1"]).method, Method::DELETE);
        assert!(refused(&["providers", "create", "p1"]));
    }

    #[test]
    fn shares_need_exactly_one_target() {
        let c = call(&["shares", "add", "p1", "--org"]);
        assert_eq!(
            (c.method, c.path),
            (
                Method::PUT,
                vec!["providers".to_owned(), "p1".to_owned(), "shares".to_owned()]
            )
        );
        assert_eq!(c.body, Some(json!({"org": true})));
        let c = call(&["shares", "remove", "p1", "--group", "eng"]);
        assert_eq!(c.method, Method::DELETE);
        assert_eq!(c.body, Some(json!({"group": "eng"})));
        assert_eq!(
            call(&["shares", "list", "p1"]).view,
            View::List(SHARE_COLUMNS)
        );
        assert!(refused(&["shares", "add", "p1"]));
        assert!(refused(&["shares", "add", "p1", "--org", "--group", "eng"]));
    }
}
