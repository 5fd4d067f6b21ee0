//! `modelgate admin ...` end to end: a real gateway started in-process, the built binary
//! run as a child process against it (URL and key from the environment or the flags),
//! checked by its output and exit code.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

/// What one run of the binary printed and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs `modelgate admin ARGS` with `env` set and nothing else from the caller's
/// `MODELGATE_*` environment. Async, so the in-process gateway keeps serving meanwhile.
async fn modelgate(env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelgate"));
    cmd.arg("admin").args(args);
    cmd.env_remove("MODELGATE_URL").env_remove("MODELGATE_KEY");
    cmd.envs(env.iter().copied());
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs `modelgate admin ARGS` as the admin, against `gw` (URL and key from the env).
async fn admin(gw: &Gw, args: &[&str]) -> Run {
    modelgate(
        &[("MODELGATE_URL", &gw.base), ("MODELGATE_KEY", ADMIN_KEY)],
        args,
    )
    .await
}

/// The item of a `{"data": [...]}` answer with this `name`.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test]
async fn users_and_groups() {
    let gw = start_gateway().await;

    let out = admin(&gw, &["users", "create", "alice", "--rpm", "60"]).await;
    assert!(out.ok().contains("alice"), "{}", out.stdout);

    let out = admin(&gw, &["users", "list"]).await;
    let table = out.ok();
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("ROLE"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(row.contains("member") && row.contains("60"), "{table}");

    let list = admin(&gw, &["--json", "users", "list"]).await.json();
    assert_eq!(named(&list, "alice")["role"], "member");
    assert_eq!(named(&list, "alice")["rpm"], 60);

    admin(&gw, &["groups", "create", "eng"]).await.ok();
    let out = admin(&gw, &["groups", "add-member", "eng", "alice"]).await;
    assert!(out.ok().contains("eng"));
    let table = admin(&gw, &["groups", "list"]).await.ok().to_owned();
    let row = table.lines().find(|l| l.starts_with("eng")).unwrap();
    assert!(row.contains("alice"), "{table}");
    let list = admin(&gw, &["groups", "list", "--json"]).await.json();
    assert_eq!(named(&list, "eng")["members"], serde_json::json!(["alice"]));
    let list = admin(&gw, &["users", "list", "--json"]).await.json();
    assert_eq!(named(&list, "alice")["groups"], serde_json::json!(["eng"]));
}

#[tokio::test]
async fn keys_create_list_revoke() {
    let gw = start_gateway().await;
    admin(&gw, &["users", "create", "bob"]).await.ok();

    // The secret is printed once, on its own line.
    let out = admin(&gw, &["keys", "create", "laptop"]).await;
    let secret = out
        .ok()
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("mg_"))
        .unwrap_or_else(|| panic!("no key in {}", out.stdout))
        .to_owned();
    assert_eq!(gw.get("/api/me", &secret).await.status(), 200);

    // A key for another user, as JSON.
    let created = admin(&gw, &["--json", "keys", "create", "ci", "--user", "bob"])
        .await
        .json();
    let bobs = created["key"].as_str().unwrap();
    let me: Value = gw.get("/api/me", bobs).await.json().await.unwrap();
    assert_eq!(me["user"], "bob");

    let table = admin(&gw, &["keys", "list"]).await.ok().to_owned();
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("laptop"), "{table}");

    let list = admin(&gw, &["keys", "list", "--json", "--filter", "laptop"])
        .await
        .json();
    let id = named(&list, "laptop")["id"].as_str().unwrap().to_owned();
    let out = admin(&gw, &["keys", "revoke", &id]).await;
    assert!(out.ok().contains(&id));
    assert_eq!(gw.get("/api/me", &secret).await.status(), 401);
}

#[tokio::test]
async fn admin_needs_a_management_key_and_says_how_to_make_one() {
    let gw = start_gateway().await;
    let key_of = |run: &Run| run.json()["key"].as_str().unwrap().to_owned();
    let env = |key: &str| {
        [
            ("MODELGATE_URL", gw.base.clone()),
            ("MODELGATE_KEY", key.to_owned()),
        ]
    };

    // A key made without --scope is an inference key: the admin API refuses it, with a hint.
    let inference = key_of(&admin(&gw, &["--json", "keys", "create", "laptop"]).await);
    let [(u, url), (k, key)] = env(&inference);
    let out = modelgate(&[(u, &url), (k, &key)], &["users", "list"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.starts_with("error: 403: "), "{}", out.stderr);
    assert!(out.stderr.contains("'management' scope"), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: ") && out.stderr.contains("--scope management"),
        "{}",
        out.stderr
    );

    // A management key works; the listing shows each key's scopes.
    let manager = key_of(
        &admin(
            &gw,
            &["--json", "keys", "create", "ops", "--scope", "management"],
        )
        .await,
    );
    let [(u, url), (k, key)] = env(&manager);
    let list = modelgate(&[(u, &url), (k, &key)], &["keys", "list"]).await;
    let table = list.ok();
    assert!(
        table.contains("SCOPES") && table.contains("management"),
        "{table}"
    );
    // It cannot mint an inference key: it has no inference scope to give.
    let out = modelgate(&[(u, &url), (k, &key)], &["keys", "create", "x"]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("error: 403: "), "{}", out.stderr);
}

#[tokio::test]
async fn failures_exit_non_zero_with_the_servers_message() {
    let gw = start_gateway().await;

    // Refused by the server: `error: <status>: <message>` on stderr, exit 1.
    let out = admin(&gw, &["users", "create", "bad name"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.starts_with("error: 4"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    // Unknown names come back as 404 with the server's message.
    let out = admin(&gw, &["providers", "get", "no-such/provider"]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("error: 404: "), "{}", out.stderr);

    // A wrong key, passed as a flag.
    let out = modelgate(
        &[],
        &[
            "--url",
            &gw.base,
            "--key",
            "mg_wrong_key_0123456789abcdef",
            "users",
            "list",
        ],
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("error: 401: "), "{}", out.stderr);

    // No key at all: a clear message before any request.
    let out = modelgate(&[("MODELGATE_URL", &gw.base)], &["users", "list"]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("--key") && out.stderr.contains("MODELGATE_KEY"),
        "{}",
        out.stderr
    );

    // Nobody listening.
    let out = modelgate(
        &[],
        &[
            "--url",
            "http://127.0.0.1:1",
            "--key",
            ADMIN_KEY,
            "users",
            "list",
        ],
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("error: could not reach"),
        "{}",
        out.stderr
    );

    // Bad arguments are clap's usage errors.
    let out = admin(&gw, &["grants", "add", "aiprovider:create"]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[tokio::test]
async fn providers_and_usage() {
    let mock = modelgate_testkit::MockUpstream::start(&["m-a"]).await;
    let gw = start_gateway().await;
    let out = admin(
        &gw,
        &[
            "providers",
            "create",
            "local",
            "--kind",
            "openai-compatible",
            "--endpoint",
            &mock.origin(),
        ],
    )
    .await;
    assert!(out.ok().contains("local"));
    let table = admin(&gw, &["providers", "list"]).await.ok().to_owned();
    let row = table.lines().find(|l| l.starts_with("local")).unwrap();
    assert!(
        row.contains("openai-compatible") && row.contains("m-a"),
        "{table}"
    );
    let one = admin(&gw, &["providers", "get", "local", "--json"])
        .await
        .json();
    assert_eq!(one["models"], serde_json::json!(["m-a"]));

    assert_eq!(gw.chat(ADMIN_KEY, "local/m-a").await.status(), 200);
    let out = admin(&gw, &["usage", "--days", "7"]).await;
    assert!(out.ok().starts_with("Total: cost_usd="), "{}", out.stdout);
    assert!(out.stdout.contains("requests=1"), "{}", out.stdout);
    let report = admin(&gw, &["usage", "--json"]).await.json();
    assert_eq!(report["totals"]["requests"], 1);

    let out = admin(&gw, &["providers", "delete", "local"]).await;
    assert!(out.ok().contains("Deleted provider local"));
}

#[tokio::test]
async fn grants_allocations_shares_and_settings() {
    let mock = modelgate_testkit::MockUpstream::start(&["m-a"]).await;
    let gw = start_gateway().await;
    admin(&gw, &["users", "create", "carol"]).await.ok();
    admin(&gw, &["groups", "create", "eng"]).await.ok();
    admin(&gw, &["groups", "add-member", "eng", "carol"])
        .await
        .ok();

    // Grants.
    let out = admin(
        &gw,
        &["grants", "add", "aiprovider:create", "--group", "eng"],
    )
    .await;
    assert!(out.ok().contains("aiprovider:create"));
    let table = admin(&gw, &["grants", "list"]).await.ok().to_owned();
    let row = table
        .lines()
        .find(|l| l.starts_with("aiprovider:create"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("eng"), "{table}");
    admin(
        &gw,
        &["grants", "remove", "aiprovider:create", "--group", "eng"],
    )
    .await
    .ok();
    let list = admin(&gw, &["grants", "list", "--json"]).await.json();
    let left = list["data"].as_array().unwrap();
    assert!(!left.iter().any(|g| g["group"] == "eng"), "{list}");

    // Allocations, and a key drawing from one.
    let args = [
        "allocations",
        "create",
        "team",
        "--group",
        "eng",
        "--limit-usd",
        "25",
        "--period",
        "monthly",
    ];
    admin(&gw, &args).await.ok();
    let table = admin(&gw, &["allocations", "list"]).await.ok().to_owned();
    let row = table.lines().find(|l| l.starts_with("team")).unwrap();
    assert!(row.contains("group:eng") && row.contains("25"), "{table}");
    admin(&gw, &["allocations", "update", "team", "--limit-usd", "30"])
        .await
        .ok();
    let list = admin(&gw, &["allocations", "list", "--json"]).await.json();
    assert_eq!(named(&list, "team")["limit_usd"], 30.0);
    let args = [
        "keys",
        "create",
        "ci",
        "--user",
        "carol",
        "--allocation",
        "team",
    ];
    let created = admin(&gw, &args).await;
    assert!(created.ok().contains("mg_"), "{}", created.stdout);
    let args = [
        "allocations",
        "create",
        "spare",
        "--user",
        "carol",
        "--limit-usd",
        "1",
        "--period",
        "none",
    ];
    admin(&gw, &args).await.ok();
    admin(&gw, &["allocations", "delete", "spare"]).await.ok();
    let list = admin(&gw, &["allocations", "list", "--json"]).await.json();
    assert!(
        !list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "spare")
    );

    // Shares.
    let origin = mock.origin();
    let args = [
        "providers",
        "create",
        "shared",
        "--kind",
        "openai-compatible",
        "--endpoint",
        &origin,
    ];
    admin(&gw, &args).await.ok();
    admin(&gw, &["shares", "add", "shared", "--group", "eng"])
        .await
        .ok();
    admin(&gw, &["shares", "add", "shared", "--org"]).await.ok();
    let table = admin(&gw, &["shares", "list", "shared"])
        .await
        .ok()
        .to_owned();
    assert!(table.starts_with("SHARED WITH\n"), "{table}");
    assert!(table.lines().any(|l| l == "group:eng"), "{table}");
    assert!(table.lines().any(|l| l == "org"), "{table}");
    admin(&gw, &["shares", "remove", "shared", "--org"])
        .await
        .ok();
    let list = admin(&gw, &["shares", "list", "shared", "--json"])
        .await
        .json();
    assert_eq!(list["data"], serde_json::json!([{"group": "eng"}]));

    // Settings: VALUE is JSON when it parses.
    let out = admin(
        &gw,
        &["settings", "set", "restrict_private_upstreams", "true"],
    )
    .await;
    out.ok();
    let settings = admin(&gw, &["settings", "get", "--json"]).await.json();
    assert_eq!(settings["restrict_private_upstreams"], true);
    let table = admin(&gw, &["settings", "get"]).await.ok().to_owned();
    let row = table
        .lines()
        .find(|l| l.starts_with("restrict_private_upstreams"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.ends_with("true"), "{table}");
}

/// Runs `modelgate admin ARGS` with `stdin` as its standard input.
async fn modelgate_with_stdin(env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelgate"));
    cmd.arg("admin").args(args);
    cmd.env_remove("MODELGATE_URL").env_remove("MODELGATE_KEY");
    cmd.envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[tokio::test]
async fn secrets_stay_off_the_command_line() {
    let gw = start_gateway().await;
    // The admin key from a file, the new user's password from standard input.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin.key");
    std::fs::write(&key_file, format!("{ADMIN_KEY}\n")).unwrap();
    let key_file = key_file.to_str().unwrap();
    let out = modelgate_with_stdin(
        &[("MODELGATE_URL", &gw.base)],
        &[
            "--key-file",
            key_file,
            "users",
            "create",
            "sam",
            "--password-stdin",
        ],
        "sam-secret-password\n",
    )
    .await;
    assert!(out.ok().contains("sam"), "{}", out.stderr);
    let r = gw
        .http
        .post(gw.url("/api/auth/login"))
        .json(&json!({"name": "sam", "password": "sam-secret-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "signed in with the password read from stdin"
    );
    // An empty standard input is refused, not sent as an empty password.
    let out = modelgate_with_stdin(
        &[("MODELGATE_URL", &gw.base)],
        &[
            "--key-file",
            key_file,
            "users",
            "update",
            "sam",
            "--password-stdin",
        ],
        "",
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("empty secret"), "{}", out.stderr);
    // The help says why.
    let out = modelgate(&[], &["users", "create", "--help"]).await;
    assert!(out.stdout.contains("--password-stdin"), "{}", out.stdout);
}
