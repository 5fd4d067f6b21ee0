//! `users`, `groups` and `grants`: who may use the gateway and what they may do.

use super::call::{Call, Column, Principal, is_empty, object, opt};
use reqwest::Method;
use serde_json::{Value, json};

const ROLES: [&str; 2] = ["admin", "member"];

const USER_COLUMNS: &[Column] = &[
    ("NAME", "name"),
    ("ROLE", "role"),
    ("GROUPS", "groups"),
    ("RPM", "rpm"),
    ("TPM", "tpm"),
    ("CREATED", "created_at"),
    ("DEACTIVATED", "deactivated_at"),
];
const GROUP_COLUMNS: &[Column] = &[
    ("NAME", "name"),
    ("MEMBERS", "members"),
    ("ALLOCATIONS", "allocations"),
    ("CREATED", "created_at"),
];
const GRANT_COLUMNS: &[Column] = &[
    ("PERMISSION", "permission"),
    ("USER", "user"),
    ("GROUP", "group"),
];

/// Fields a user is created or updated with.
#[derive(clap::Args, Debug)]
pub struct UserFields {
    /// Password (visible to anyone who can list this machine's processes: prefer
    /// --password-stdin)
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,
    /// Requests per minute allowed to the user's keys
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens per minute allowed to the user's keys
    #[arg(long)]
    tpm: Option<u64>,
}

/// `users ...`
#[derive(clap::Subcommand, Debug)]
pub enum Users {
    /// List users
    List,
    /// Create a user
    Create {
        /// User name
        name: String,
        /// Role
        #[arg(long, default_value = "member", value_parser = ROLES)]
        role: String,
        #[command(flatten)]
        fields: UserFields,
    },
    /// Change a user's role, password or rate limits
    Update {
        /// User name
        name: String,
        /// New role
        #[arg(long, value_parser = ROLES)]
        role: Option<String>,
        #[command(flatten)]
        fields: UserFields,
    },
    /// Deactivate a user: their keys stop working
    Deactivate {
        /// User name
        name: String,
    },
    /// Reactivate a deactivated user
    Activate {
        /// User name
        name: String,
    },
}

impl UserFields {
    /// The body of a create or update: the fields that were given.
    fn body(&self, name: Option<&String>, role: Option<&String>) -> Value {
        object([
            ("name", opt(&name.cloned())),
            ("role", opt(&role.cloned())),
            ("password", opt(&self.password)),
            ("rpm", self.rpm.map(Value::from)),
            ("tpm", self.tpm.map(Value::from)),
        ])
    }
}

impl Users {
    /// Fills the password from `read` when `--password-stdin` was given.
    pub(super) fn read_secrets(
        &mut self,
        read: &mut dyn FnMut() -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        if let Self::Create { fields, .. } | Self::Update { fields, .. } = self
            && fields.password_stdin
        {
            fields.password = Some(read()?);
        }
        Ok(())
    }

    pub(super) fn call(&self) -> anyhow::Result<Call> {
        let patch = |name: &str, body: Value, done: &str| {
            Call::done(
                Method::PATCH,
                &["users", name],
                format!("{done} user {name}."),
            )
            .body(body)
        };
        Ok(match self {
            Self::List => Call::list(&["users"], USER_COLUMNS),
            Self::Create { name, role, fields } => Call::done(
                Method::POST,
                &["users"],
                format!("Created user {name} ({role})."),
            )
            .body(fields.body(Some(name), Some(role))),
            Self::Update { name, role, fields } => {
                let body = fields.body(None, role.as_ref());
                if is_empty(&body) {
                    anyhow::bail!("nothing to update: pass --role, --password, --rpm or --tpm");
                }
                patch(name, body, "Updated")
            }
            Self::Deactivate { name } => patch(name, json!({"deactivated": true}), "Deactivated"),
            Self::Activate { name } => patch(name, json!({"deactivated": false}), "Activated"),
        })
    }
}

/// `groups ...`
#[derive(clap::Subcommand, Debug)]
pub enum Groups {
    /// List groups with their members and allocations
    List,
    /// Create a group
    Create {
        /// Group name
        name: String,
    },
    /// Delete a group
    Delete {
        /// Group name
        name: String,
    },
    /// Add a user to a group
    AddMember {
        /// Group name
        group: String,
        /// User name
        user: String,
    },
    /// Remove a user from a group
    RemoveMember {
        /// Group name
        group: String,
        /// User name
        user: String,
    },
}

impl Groups {
    pub(super) fn call(&self) -> Call {
        match self {
            Self::List => Call::list(&["groups"], GROUP_COLUMNS),
            Self::Create { name } => {
                Call::done(Method::POST, &["groups"], format!("Created group {name}."))
                    .body(json!({"name": name}))
            }
            Self::Delete { name } => Call::done(
                Method::DELETE,
                &["groups", name],
                format!("Deleted group {name}."),
            ),
            Self::AddMember { group, user } => Call::done(
                Method::PUT,
                &["groups", group, "members", user],
                format!("Added {user} to group {group}."),
            ),
            Self::RemoveMember { group, user } => Call::done(
                Method::DELETE,
                &["groups", group, "members", user],
                format!("Removed {user} from group {group}."),
            ),
        }
    }
}

/// `grants ...`
#[derive(clap::Subcommand, Debug)]
pub enum Grants {
    /// List grants
    List,
    /// Grant a permission (e.g. aiprovider:create) to a user or a group
    Add {
        /// Permission, e.g. aiprovider:create
        permission: String,
        #[command(flatten)]
        to: Principal,
    },
    /// Take a permission back
    Remove {
        /// Permission, e.g. aiprovider:create
        permission: String,
        #[command(flatten)]
        to: Principal,
    },
}

impl Grants {
    pub(super) fn call(&self) -> Call {
        let body = |permission: &str, to: &Principal| {
            let (kind, name) = to.pair();
            object([
                ("permission", Some(json!(permission))),
                (kind, Some(json!(name))),
            ])
        };
        match self {
            Self::List => Call::list(&["grants"], GRANT_COLUMNS),
            Self::Add { permission, to } => Call::done(
                Method::PUT,
                &["grants"],
                format!("Granted {permission} to {}.", to.describe()),
            )
            .body(body(permission, to)),
            Self::Remove { permission, to } => Call::done(
                Method::DELETE,
                &["grants"],
                format!("Removed {permission} from {}.", to.describe()),
            )
            .body(body(permission, to)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::View;
    use super::super::commands::tests::{call, parse, refused};
    use super::*;

    #[test]
    fn users_map_to_their_endpoints() {
        let c = call(&["users", "list"]);
        assert_eq!((c.method, c.path), (Method::GET, vec!["users".to_owned()]));
        assert_eq!(c.view, View::List(USER_COLUMNS));

        let c = call(&["users", "create", "alice", "--rpm", "10"]);
        assert_eq!((c.method, c.path), (Method::POST, vec!["users".to_owned()]));
        assert_eq!(
            c.body,
            Some(json!({"name": "alice", "role": "member", "rpm": 10}))
        );

        let c = call(&[
            "users",
            "update",
            "a b",
            "--role",
            "admin",
            "--password",
            "pw",
        ]);
        assert_eq!(c.method, Method::PATCH);
        assert_eq!(c.path, vec!["users".to_owned(), "a b".to_owned()]);
        assert_eq!(c.body, Some(json!({"role": "admin", "password": "pw"})));

        let c = call(&["users", "deactivate", "bob"]);
        assert_eq!(c.body, Some(json!({"deactivated": true})));
        let c = call(&["users", "activate", "bob"]);
        assert_eq!(c.body, Some(json!({"deactivated": false})));
        assert_eq!(c.view, View::Done("Activated user bob.".into()));

        assert!(refused(&["users", "create", "x", "--role", "root"]));
        assert!(refused(&["users", "create", "x", "--rpm", "-1"]));
    }

    #[test]
    fn an_empty_update_is_refused_before_any_request() {
        assert!(parse(&["users", "update", "bob"]).call().is_err());
    }

    #[test]
    fn groups_and_grants_map_to_their_endpoints() {
        let c = call(&["groups", "add-member", "eng/x", "bob"]);
        assert_eq!(c.method, Method::PUT);
        assert_eq!(c.path, ["groups", "eng/x", "members", "bob"]);
        assert_eq!(c.body, None);
        let c = call(&["groups", "remove-member", "eng", "bob"]);
        assert_eq!(c.method, Method::DELETE);
        let c = call(&["groups", "create", "eng"]);
        assert_eq!(c.body, Some(json!({"name": "eng"})));
        let c = call(&["groups", "delete", "eng"]);
        assert_eq!(
            (c.method, c.path),
            (Method::DELETE, vec!["groups".to_owned(), "eng".to_owned()])
        );

        let c = call(&["grants", "add", "aiprovider:create", "--group", "eng"]);
        assert_eq!((c.method, c.path), (Method::PUT, vec!["grants".to_owned()]));
        assert_eq!(
            c.body,
            Some(json!({"permission": "aiprovider:create", "group": "eng"}))
        );
        let c = call(&["grants", "remove", "aiprovider:create", "--user", "bob"]);
        assert_eq!(c.method, Method::DELETE);
        assert_eq!(
            c.body,
            Some(json!({"permission": "aiprovider:create", "user": "bob"}))
        );
        assert!(refused(&["grants", "add", "aiprovider:create"]));
        assert!(refused(&[
            "grants", "add", "p", "--user", "a", "--group", "b"
        ]));
    }
}
