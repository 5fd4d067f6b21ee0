//! The admin API of issue #2: providers (CRUD, validation, discovery, refresh, secrets
//! never returned and encrypted at rest), keys (create once, list, revoke at once,
//! expiry), declared providers from a config file, usage visibility.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_store::ApiKeyRow;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};

#[tokio::test]
async fn provider_crud_never_returns_secrets() {
    let a = MockUpstream::start(&["m-a"]).await;
    let b = MockUpstream::start(&["m-b"]).await;
    let gw = start_gateway().await;
    let created = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "p1", "kind": "openai-compatible", "endpoint": a.origin(), "api_key": "sk-canary-secret-1", "description": "first", "tags": ["gpu"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let text = created.text().await.unwrap();
    assert!(!text.contains("sk-canary-secret-1"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["auth"], json!({"type": "api-key", "configured": true}));
    assert_eq!(v["models"], json!(["m-a"]));
    assert_eq!(v["models_source"], "discovered");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["owner"], "admin");
    assert_eq!(v["tags"], json!(["gpu"]));

    let list = gw
        .get("/api/providers", ADMIN_KEY)
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains("sk-canary-secret-1"));
    let one: Value = gw
        .get("/api/providers/p1", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["endpoint"], a.base_url());

    // Point it elsewhere with a new key: the next request uses both.
    let patched = gw
        .http
        .patch(gw.url("/api/providers/p1"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"endpoint": b.base_url(), "api_key": "sk-canary-secret-2", "description": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let v: Value = patched.json().await.unwrap();
    assert_eq!(v["models"], json!(["m-b"]));
    assert!(v["description"].is_null());
    assert_eq!(gw.chat(ADMIN_KEY, "m-b").await.status(), 200);
    assert_eq!(
        b.last("/v1/chat/completions").unwrap().headers["authorization"],
        "Bearer sk-canary-secret-2"
    );
    expect_error(gw.chat(ADMIN_KEY, "m-a").await, 404).await;

    // Listing models pins discovery; a PATCH to null goes back to discovery.
    let v: Value = gw
        .http
        .patch(gw.url("/api/providers/p1"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"models": ["pinned"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["models"], json!(["pinned"]));
    let v: Value = gw
        .http
        .patch(gw.url("/api/providers/p1"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"models": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["models"], json!(["m-b"]));

    let before = b.hits("/v1/models");
    let r = gw
        .post("/api/providers/p1/refresh", ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(b.hits("/v1/models"), before + 1);

    let del = gw
        .http
        .delete(gw.url("/api/providers/p1"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    expect_error(gw.get("/api/providers/p1", ADMIN_KEY).await, 404).await;
    expect_error(gw.chat(ADMIN_KEY, "m-b").await, 404).await;
    let del = gw
        .http
        .delete(gw.url("/api/providers/p1"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    expect_error(del, 404).await;
}

#[tokio::test]
async fn provider_validation() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let ok = json!({"name": "ok", "kind": "openai-compatible", "endpoint": mock.origin()});
    assert_eq!(
        gw.post("/api/providers", ADMIN_KEY, ok.clone())
            .await
            .status(),
        201
    );
    expect_error(gw.post("/api/providers", ADMIN_KEY, ok).await, 409).await;
    let bad = [
        (
            json!({"name": "a b", "kind": "openai-compatible", "endpoint": mock.origin()}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "nonsense", "endpoint": mock.origin()}),
            "kind",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible"}),
            "endpoint",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible", "endpoint": "http://169.254.169.254/"}),
            "endpoint",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible", "endpoint": "ftp://h/"}),
            "endpoint",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible", "endpoint": mock.origin(), "owner_id": "evil"}),
            "",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible", "endpoint": mock.origin(), "api_key": "a", "auth": {"type": "api-key", "api_key": "b"}}),
            "",
        ),
        (
            json!({"name": "x", "kind": "openai-compatible", "endpoint": mock.origin(), "auth": {"type": "aws-sigv4"}}),
            "",
        ),
    ];
    for (body, param) in bad {
        let err = expect_error(
            gw.post("/api/providers", ADMIN_KEY, body.clone()).await,
            400,
        )
        .await;
        if !param.is_empty() {
            assert_eq!(err["param"], param, "{body}");
        }
    }
    let err = expect_error(
        gw.post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "x", "kind": "nonsense"}),
        )
        .await,
        400,
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("openai-compatible")
    );
    // kind openai needs no endpoint.
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "oai", "kind": "openai", "api_key": "sk-x", "models": ["gpt-4o"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["endpoint"], "https://api.openai.com/v1");
}

/// A new member and a key of theirs that also manages (their own keys, providers...).
async fn add_member(gw: &Gw, name: &str) -> String {
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": name, "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = gw
        .post(
            &format!("/api/users/{name}/keys"),
            ADMIN_KEY,
            json!({"name": "automation", "scopes": MANAGER}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_are_shown_once_and_revoked_at_once() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let r = gw
        .post("/api/keys", ADMIN_KEY, json!({"name": "laptop"}))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mg_") && key.len() >= 40);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(created["prefix"].as_str().unwrap().trim_end_matches('…')));

    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    let listed = gw.get("/api/keys", ADMIN_KEY).await.text().await.unwrap();
    assert!(!listed.contains(&key), "the secret is never listed");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(row["name"], "laptop");
    assert!(row["created_at"].is_string());
    // last_used_at is written by the usage writer; /api/usage flushes it.
    gw.usage(ADMIN_KEY).await;
    let listed: Value = gw.get("/api/keys", ADMIN_KEY).await.json().await.unwrap();
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert!(row["last_used_at"].is_string(), "{row}");

    // A member cannot revoke someone else's key, and does not see it.
    let member = add_member(&gw, "bob").await;
    let r = gw
        .http
        .delete(gw.url(&format!("/api/keys/{id}")))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    expect_error(r, 404).await;
    let theirs: Value = gw.get("/api/keys", &member).await.json().await.unwrap();
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1);
    // Members may not manage providers.
    let r = gw
        .post(
            "/api/providers",
            &member,
            json!({"name": "m2", "kind": "openai-compatible", "endpoint": mock.origin()}),
        )
        .await;
    expect_error(r, 403).await;

    let r = gw
        .http
        .delete(gw.url(&format!("/api/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    expect_error(gw.chat(&key, "m").await, 401).await;
    let r = gw
        .http
        .delete(gw.url(&format!("/api/keys/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    expect_error(r, 404).await;
}

#[tokio::test]
async fn key_creation_rules_and_expiry() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    for body in [
        json!({"expires_at": "2001-01-01T00:00:00Z"}),
        json!({"expires_at": "next tuesday"}),
        json!({"models": []}),
        json!({"user_id": "someone-else"}),
    ] {
        expect_error(gw.post("/api/keys", ADMIN_KEY, body).await, 400).await;
    }
    // An allocation the user may not draw from (here: none exists) is not found.
    expect_error(
        gw.post("/api/keys", ADMIN_KEY, json!({"allocation": "team"}))
            .await,
        404,
    )
    .await;
    let r = gw
        .post(
            "/api/keys",
            ADMIN_KEY,
            json!({"expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_at"], "2999-01-01T00:00:00.000Z");
    assert_eq!(gw.chat(v["key"].as_str().unwrap(), "m").await.status(), 200);

    // A key whose expiry has passed is refused like any unknown key.
    let store = gw.running.as_ref().unwrap().gateway.store.clone();
    let admin = store.user_by_name("admin").await.unwrap().unwrap();
    let minted = modelgate_core::keys::generate();
    store
        .insert_key(&ApiKeyRow {
            id: modelgate_core::ids::new_id("key"),
            user_id: admin.id,
            name: "old".into(),
            key_hash: minted.hash.as_str().into(),
            display_prefix: minted.display_prefix,
            created_at: 1,
            expires_at: Some(modelgate_core::now_millis() - 1),
            revoked_at: None,
            last_used_at: None,
            allocation_id: None,
            models_json: None,
            rpm: None,
            tpm: None,
            scopes: "inference".into(),
        })
        .await
        .unwrap();
    expect_error(gw.chat(&minted.plaintext, "m").await, 401).await;
}

#[tokio::test]
async fn members_see_only_their_usage() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    gw.share_with_org("up").await;
    let member = add_member(&gw, "carol").await;
    assert_eq!(gw.chat(&member, "m").await.status(), 200);
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);
    let mine = gw.usage(&member).await;
    assert_eq!(mine["totals"]["requests"], 1);
    assert_eq!(gw.usage(ADMIN_KEY).await["totals"]["requests"], 2);
    let all: Value = gw
        .get("/api/usage?scope=org", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["totals"]["requests"], 3);
    assert_eq!(all["active_users"], 2);
    expect_error(gw.get("/api/usage?scope=org", &member).await, 403).await;
    assert_eq!(all["totals"]["input_tokens"], 21);
    let carol: Value = gw
        .get("/api/usage?user=carol", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(carol["totals"]["requests"], 1);
    let me: Value = gw.get("/api/me", &member).await.json().await.unwrap();
    assert_eq!(me["user"], "carol");
    assert_eq!(me["role"], "member");
}

#[tokio::test]
async fn provider_secrets_are_encrypted_at_rest() {
    let mock = MockUpstream::start(&["m"]).await;
    let mut gw = start_gateway().await;
    let canary = "sk-CANARY-7f3a9c1e5b";
    let r = gw
        .post("/api/providers", ADMIN_KEY, json!({"name": "c", "kind": "openai-compatible", "endpoint": mock.origin(), "api_key": canary}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);
    gw.stop().await;
    let mut scanned = 0;
    let mut files = Vec::new();
    let mut dirs = vec![gw.dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        scanned += 1;
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "canary found in {}",
            path.display()
        );
        assert!(
            !bytes
                .windows(ADMIN_KEY.len())
                .any(|w| w == ADMIN_KEY.as_bytes()),
            "admin key found in {}",
            path.display()
        );
    }
    assert!(scanned >= 2, "database and key file scanned");
}

#[tokio::test]
async fn providers_declared_in_a_config_file() {
    let mock = MockUpstream::start(&["from-file"]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.toml");
    let toml = r#"
[[users]]
name = "mo"
role = "member"
password = "${MODELGATE_TEST_MO_PASSWORD}"

[[groups]]
name = "team"
members = ["mo"]

[[allocations]]
name = "team-budget"
group = "team"
limit_usd = 12.5
period = "daily"

[[providers]]
name = "filed"
kind = "openai-compatible"
endpoint = "ENDPOINT"
api_key = "${MODELGATE_TEST_FILE_KEY}"
shared_with = ["team"]
prices = { "from-file" = { input = 0.0, output = 0.0 } }
"#
    .replace("ENDPOINT", &mock.origin());
    std::fs::write(&path, toml).unwrap();
    let env = |name: &str| match name {
        "MODELGATE_TEST_FILE_KEY" => Some("sk-from-env".to_string()),
        "MODELGATE_TEST_MO_PASSWORD" => Some("mo-secret-password".to_string()),
        _ => None,
    };
    let file = modelgate::config::FileConfig::load_with(&path, &env).unwrap();
    let file = std::sync::Arc::new(file);
    let f = file.clone();
    let mut gw = start_gateway_with(move |o| o.file = Some(f)).await;
    let r = gw.chat(ADMIN_KEY, "filed:from-file").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        mock.last("/v1/chat/completions").unwrap().headers["authorization"],
        "Bearer sk-from-env"
    );
    // The declared member, in the declared group, draws from the declared allocation and
    // uses the provider shared with the group; declared prices make it free.
    let member = gw.member_key("mo", Some("team-budget")).await;
    assert_eq!(gw.chat(&member, "filed:from-file").await.status(), 200);
    let v: Value = gw
        .get("/api/providers/filed", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["shares"], json!([{"group": "team"}]));
    assert_eq!(v["prices"]["from-file"]["output"], 0.0);
    let a: Value = gw
        .get("/api/allocations/team-budget", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["limit_usd"], 12.5);
    assert_eq!(a["period"], "daily");
    let r = gw
        .http
        .post(gw.url("/api/auth/login"))
        .json(&json!({"name": "mo", "password": "mo-secret-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Applying the same file again (a restart) changes nothing and duplicates nothing.
    gw.stop().await;
    let f = file.clone();
    let gw = start_in(gw.dir, move |o| o.file = Some(f)).await;
    let groups: Value = gw.get("/api/groups", ADMIN_KEY).await.json().await.unwrap();
    assert_eq!(groups["data"].as_array().unwrap().len(), 1);
    assert_eq!(groups["data"][0]["members"], json!(["mo"]));
    assert_eq!(gw.chat(&member, "filed:from-file").await.status(), 200);
}

#[tokio::test]
async fn a_provider_declared_in_the_file_takes_over_a_members_without_their_shares() {
    let mock = MockUpstream::start(&["m"]).await;
    let dir = tempfile::tempdir().unwrap();
    // A member may create providers, creates "shadow" and shares it with everyone.
    let mut gw = start_in(dir, |_| {}).await;
    let member = gw.member_manager_key("mia", None).await;
    let grant = json!({"permission": "aiprovider:create", "user": "mia"});
    assert_eq!(gw.put("/api/grants", ADMIN_KEY, grant).await.status(), 200);
    gw.add_mock_with_key(&member, "shadow", &mock).await;
    let r = gw
        .put(
            "/api/providers/shadow/shares",
            &member,
            json!({"org": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    gw.stop().await;
    // The config file declares a provider of the same name, without `shared_with`.
    let path = gw.dir.path().join("modelgate.toml");
    let toml = format!(
        "[[providers]]\nname = \"shadow\"\nkind = \"openai-compatible\"\nendpoint = \"{}\"\n",
        mock.origin()
    );
    std::fs::write(&path, toml).unwrap();
    let file = modelgate::config::FileConfig::load_with(&path, &|_: &str| None).unwrap();
    let file = std::sync::Arc::new(file);
    let gw = start_in(gw.dir, move |o| o.file = Some(file)).await;
    let v: Value = gw
        .get("/api/providers/shadow", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["owner"], "admin", "{v}");
    assert_eq!(v["shares"], json!([]), "{v}");
    // Nobody but its new owner (and admins) sees it now.
    let other = gw.member_key("otto", None).await;
    assert_eq!(gw.chat(&other, "shadow:m").await.status(), 404);
}
