//! Key scopes, through real HTTP: an inference key (the default) calls the model API and
//! reads `/api/me` and its owner's own usage, and gets 403 `insufficient_scope` on
//! everything else under `/api`; a management key manages within its owner's role; a
//! key never mints a key wider than itself (scopes, models, expiry, allocation, limits:
//! one row each, 403 `wider_than_minting_key`), a session mints what its user may; and
//! revoking a key revokes that key only.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use reqwest::Method;
use serde_json::{Value, json};

/// Mints a key for `user` as the admin with `body`; returns the whole answer.
async fn mint_for(gw: &Gw, user: &str, body: Value) -> Value {
    let r = gw
        .post(&format!("/api/users/{user}/keys"), ADMIN_KEY, body.clone())
        .await;
    assert_eq!(r.status(), 201, "minting {body} for {user}");
    r.json().await.unwrap()
}

/// Mints a key with `minter` (`POST /api/keys`); returns the answer, status and body.
async fn mint_with(gw: &Gw, minter: &str, body: Value) -> (u16, Value) {
    let r = gw.post("/api/keys", minter, body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

fn secret(v: &Value) -> String {
    v["key"].as_str().unwrap().to_owned()
}

/// A gateway with the mock `up` (model `m`) shared with the org, and the member `ann`.
async fn setup() -> (Gw, MockUpstream) {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    gw.share_with_org("up").await;
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "ann", "role": "member", "password": "a long passphrase"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    (gw, mock)
}

struct Row {
    what: &'static str,
    key: String,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    status: u16,
    /// The error code expected on a refusal.
    code: Option<&'static str>,
}

fn row(what: &'static str, key: &str, method: Method, path: &'static str) -> Row {
    Row {
        what,
        key: key.to_owned(),
        method,
        path,
        body: None,
        status: 200,
        code: None,
    }
}

impl Row {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn answers(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn refused(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = Some(code);
        self
    }
}

#[tokio::test]
async fn inference_keys_call_models_and_read_themselves_management_keys_manage() {
    let (gw, _mock) = setup().await;
    let ann = mint_for(&gw, "ann", json!({"name": "ann-tools"})).await;
    assert_eq!(ann["scopes"], json!(["inference"]), "the default scope");
    let ann = secret(&ann);
    let ann_ops = secret(
        &mint_for(
            &gw,
            "ann",
            json!({"name": "ann-ops", "scopes": ["inference", "management"]}),
        )
        .await,
    );
    let ann_manage_only = secret(
        &mint_for(
            &gw,
            "ann",
            json!({"name": "ann-cli", "scopes": ["management"]}),
        )
        .await,
    );
    let admin_tools = gw.new_key(json!({"name": "admin-tools"})).await;
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let provider =
        json!({"name": "p2", "kind": "openai-compatible", "endpoint": "http://127.0.0.1:9"});
    let scope = "insufficient_scope";
    use Method as M;
    let rows = vec![
        // An inference key: the model API, who it is, its owner's usage.
        row("inference chat", &ann, M::POST, "/v1/chat/completions").body(chat.clone()),
        row("inference models", &ann, M::GET, "/v1/models"),
        row("inference me", &ann, M::GET, "/api/me"),
        row("inference usage", &ann, M::GET, "/api/usage"),
        // ... and nothing else under /api.
        row("inference providers", &ann, M::POST, "/api/providers")
            .body(provider.clone())
            .refused(403, scope),
        row("inference provider list", &ann, M::GET, "/api/providers").refused(403, scope),
        row("inference mint", &ann, M::POST, "/api/keys")
            .body(json!({}))
            .refused(403, scope),
        row("inference key list", &ann, M::GET, "/api/keys").refused(403, scope),
        row("inference tunnels", &ann, M::POST, "/api/tunnels")
            .body(json!({"name": "t"}))
            .refused(403, scope),
        row(
            "inference conversations",
            &ann,
            M::GET,
            "/api/conversations",
        )
        .refused(403, scope),
        row("inference catalog", &ann, M::GET, "/api/catalog").refused(403, scope),
        // An admin's inference key is no admin credential: own usage only.
        row("admin inference users", &admin_tools, M::POST, "/api/users")
            .body(json!({"name": "eve", "role": "admin"}))
            .refused(403, scope),
        row(
            "admin inference settings",
            &admin_tools,
            M::GET,
            "/api/settings",
        )
        .refused(403, scope),
        row(
            "admin inference org usage",
            &admin_tools,
            M::GET,
            "/api/usage?scope=org",
        )
        .refused(403, scope),
        row(
            "admin inference ann's usage",
            &admin_tools,
            M::GET,
            "/api/usage?user=ann",
        )
        .refused(403, scope),
        row(
            "admin inference own usage",
            &admin_tools,
            M::GET,
            "/api/usage",
        ),
        // A management key manages within its owner's role.
        row("management mint", &ann_ops, M::POST, "/api/keys")
            .body(json!({"name": "more"}))
            .answers(201),
        row("management key list", &ann_ops, M::GET, "/api/keys"),
        row("management tunnels", &ann_ops, M::POST, "/api/tunnels")
            .body(json!({"name": "ann-gpu"}))
            .answers(201),
        row(
            "management conversations",
            &ann_ops,
            M::POST,
            "/api/conversations",
        )
        .body(json!({"provider": "up", "model": "m"}))
        .answers(201),
        row("management chat", &ann_ops, M::POST, "/v1/chat/completions").body(chat.clone()),
        row("a member's management key", &ann_ops, M::POST, "/api/users")
            .body(json!({"name": "eve", "role": "admin"}))
            .answers(403),
        row(
            "the admin's management key",
            ADMIN_KEY,
            M::POST,
            "/api/users",
        )
        .body(json!({"name": "eve", "role": "member"}))
        .answers(201),
        // Management without inference: the admin API only.
        row("management-only me", &ann_manage_only, M::GET, "/api/me"),
        row(
            "management-only keys",
            &ann_manage_only,
            M::GET,
            "/api/keys",
        ),
        row(
            "management-only chat",
            &ann_manage_only,
            M::POST,
            "/v1/chat/completions",
        )
        .body(chat.clone())
        .refused(403, scope),
        row(
            "management-only models",
            &ann_manage_only,
            M::GET,
            "/v1/models",
        )
        .refused(403, scope),
        // Scope names are checked.
        row("unknown scope", &ann_ops, M::POST, "/api/keys")
            .body(json!({"scopes": ["admin"]}))
            .refused(400, "invalid_scope"),
        row("no scope", &ann_ops, M::POST, "/api/keys")
            .body(json!({"scopes": []}))
            .refused(400, "invalid_scope"),
    ];
    for r in rows {
        let resp = gw.send(r.method, r.path, &r.key, r.body).await;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, r.status, "{}: {v}", r.what);
        if let Some(code) = r.code {
            assert_eq!(v["error"]["code"], code, "{}: {v}", r.what);
        }
        if r.code == Some(scope) {
            let needed = if r.path.starts_with("/v1") {
                "'inference'"
            } else {
                "'management'"
            };
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(needed), "{}: {message}", r.what);
        }
    }

    // `/api/me` says what the key may do; its usage is its owner's, even for an admin.
    let me: Value = gw.get("/api/me", &ann).await.json().await.unwrap();
    assert_eq!(me["scopes"], json!(["inference"]));
    let usage: Value = gw
        .get("/api/usage", &admin_tools)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (usage["scope"].as_str(), usage["user"].as_str()),
        (Some("user"), Some("admin"))
    );
    // Listings show each key's scopes.
    let list: Value = gw
        .get("/api/keys?q=ann-", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    let scopes: Vec<(&str, &Value)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["name"].as_str().unwrap(), &k["scopes"]))
        .collect();
    assert!(
        scopes.contains(&("ann-tools", &json!(["inference"]))),
        "{list}"
    );
    assert!(
        scopes.contains(&("ann-ops", &json!(["inference", "management"]))),
        "{list}"
    );
    assert!(
        scopes.contains(&("ann-cli", &json!(["management"]))),
        "{list}"
    );
}

#[tokio::test]
async fn a_narrow_key_cannot_mint_a_wider_one() {
    let (gw, _mock) = setup().await;
    let r = gw
        .patch("/api/settings", ADMIN_KEY, json!({"allow_unpriced": true}))
        .await;
    assert_eq!(r.status(), 200);
    for name in ["team", "other"] {
        let r = gw
            .post(
                "/api/allocations",
                ADMIN_KEY,
                json!({"name": name, "user": "ann", "limit_usd": 100, "period": "monthly"}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let expires = "2999-01-01T00:00:00Z";
    let narrow = secret(
        &mint_for(
            &gw,
            "ann",
            json!({"name": "narrow", "scopes": ["inference", "management"], "models": ["m"],
                   "expires_at": expires, "allocation": "team", "rpm": 10, "tpm": 100000}),
        )
        .await,
    );
    let within = json!({"name": "child", "models": ["m"], "expires_at": "2998-01-01T00:00:00Z",
                        "rpm": 5, "tpm": 1000});
    let with = |field: &str, value: Value| {
        let mut body = within.clone();
        match value {
            Value::Null => {
                body.as_object_mut().unwrap().remove(field);
            }
            v => body[field] = v,
        }
        body
    };
    // A management-only key, narrow in scopes alone.
    let manage_only = secret(
        &mint_for(
            &gw,
            "ann",
            json!({"name": "manage-only", "scopes": ["management"]}),
        )
        .await,
    );
    let rows = [
        (
            &manage_only,
            "scopes",
            json!({"name": "c"}),
            "the default scope, inference",
        ),
        (
            &manage_only,
            "scopes",
            json!({"scopes": ["inference", "management"]}),
            "both",
        ),
        (
            &narrow,
            "models",
            with("models", Value::Null),
            "no allow-list",
        ),
        (
            &narrow,
            "models",
            with("models", json!(["m", "up:other"])),
            "another model",
        ),
        (
            &narrow,
            "models",
            with("models", json!(["up:m"])),
            "another spelling",
        ),
        (
            &narrow,
            "expires_at",
            with("expires_at", Value::Null),
            "no expiry",
        ),
        (
            &narrow,
            "expires_at",
            with("expires_at", json!("2999-06-01T00:00:00Z")),
            "later expiry",
        ),
        (
            &narrow,
            "allocation",
            with("allocation", json!("other")),
            "another allocation",
        ),
        (&narrow, "rpm", with("rpm", Value::Null), "no rpm"),
        (&narrow, "rpm", with("rpm", json!(11)), "higher rpm"),
        (&narrow, "tpm", with("tpm", Value::Null), "no tpm"),
        (&narrow, "tpm", with("tpm", json!(100001)), "higher tpm"),
    ];
    for (minter, param, body, what) in rows {
        let (status, v) = mint_with(&gw, minter, body).await;
        assert_eq!(status, 403, "{what}: {v}");
        assert_eq!(v["error"]["code"], "wider_than_minting_key", "{what}: {v}");
        assert_eq!(v["error"]["param"], param, "{what}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 20, "{v}");
    }

    // Within every bound it works, and draws from the minting key's allocation.
    let (status, child) = mint_with(&gw, &narrow, within.clone()).await;
    assert_eq!(status, 201, "{child}");
    assert_eq!(child["allocation"], "team");
    assert_eq!(child["scopes"], json!(["inference"]));
    assert_eq!(child["models"], json!(["m"]));
    assert_eq!(gw.chat(&secret(&child), "m").await.status(), 200);
    // Naming its own allocation and scopes is fine too.
    let mut same = with("scopes", json!(["inference", "management"]));
    same["allocation"] = json!("team");
    let (status, v) = mint_with(&gw, &narrow, same).await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = mint_with(
        &gw,
        &manage_only,
        json!({"scopes": ["management"], "allocation": "other"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");

    // A session mints whatever its user may: wider than the narrow key.
    let r = reqwest::Client::new()
        .post(gw.url("/api/auth/login"))
        .json(&json!({"name": "ann", "password": "a long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let login: Value = r.json().await.unwrap();
    let r = reqwest::Client::new()
        .post(gw.url("/api/keys"))
        .header(reqwest::header::COOKIE, cookie)
        .header("x-csrf-token", login["csrf_token"].as_str().unwrap())
        .json(
            &json!({"name": "wide", "scopes": ["inference", "management"], "allocation": "other"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let wide: Value = r.json().await.unwrap();
    assert_eq!(wide["scopes"], json!(["inference", "management"]));
    assert_eq!(wide["allocation"], "other");
    assert_eq!(wide["expires_at"], Value::Null);
}

#[tokio::test]
async fn revoking_a_key_revokes_only_that_key() {
    let (gw, _mock) = setup().await;
    // The admin's management key mints a key; ann has two keys of her own.
    let manager = gw
        .new_key(json!({"name": "ops", "scopes": ["inference", "management"]}))
        .await;
    let (status, child) = mint_with(&gw, &manager, json!({"name": "ops-child"})).await;
    assert_eq!(status, 201);
    let child_id = child["id"].as_str().unwrap().to_owned();
    let child = secret(&child);
    let ann_a = mint_for(&gw, "ann", json!({"name": "a"})).await;
    let ann_b = secret(&mint_for(&gw, "ann", json!({"name": "b"})).await);
    for key in [&manager, &child, &ann_b, ADMIN_KEY] {
        assert_eq!(gw.chat(key, "m").await.status(), 200);
    }

    // Revoking the key that minted another leaves the minted one working, and the reverse.
    let me: Value = gw.get("/api/me", &manager).await.json().await.unwrap();
    let manager_id = me["key_id"].as_str().unwrap().to_owned();
    let r = gw
        .delete(&format!("/api/keys/{manager_id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 204);
    let err = expect_error(gw.chat(&manager, "m").await, 401).await;
    assert_eq!(err["code"], "api_key_revoked");
    assert_eq!(gw.chat(&child, "m").await.status(), 200);
    let r = gw
        .delete(&format!("/api/keys/{child_id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 204);
    expect_error(gw.chat(&child, "m").await, 401).await;

    // Revoking one of ann's keys leaves her other key, and the admin's, working.
    let r = gw
        .delete(
            &format!("/api/keys/{}", ann_a["id"].as_str().unwrap()),
            ADMIN_KEY,
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    expect_error(gw.chat(&secret(&ann_a), "m").await, 401).await;
    assert_eq!(gw.chat(&ann_b, "m").await.status(), 200);
    assert_eq!(gw.chat(ADMIN_KEY, "m").await.status(), 200);
    let list: Value = gw
        .get("/api/keys?revoked=false", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    let active: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        active.contains(&"b") && active.contains(&"bootstrap"),
        "{active:?}"
    );
    assert!(
        !active.contains(&"a") && !active.contains(&"ops"),
        "{active:?}"
    );
}
