//! Who may do what in an organization, through real HTTP: users (admin-only CRUD,
//! deactivation and reactivation stopping and restoring keys at once), why an unusable key
//! is refused (revoked, expired, unknown), keys minted for users and listed with filters,
//! groups and members, the `aiprovider:create` grant (direct and via a group), provider
//! ownership and sharing (visibility in `/v1/models`, provider lists and chat; who may
//! manage shares; revocation on the very next request), cross-user isolation, the upstream
//! URL policy for members' providers, and browser sign-in with session cookies and CSRF.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::MockUpstream;
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------

/// Asserts an OpenAI-shaped error with this status and code; returns the error object.
async fn expect_code(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let err = expect_error(resp, status).await;
    assert_eq!(err["code"], code, "{err}");
    err
}

/// Creates a user as the admin and returns the view.
async fn create_user(gw: &Gw, body: Value) -> Value {
    let r = gw.post("/api/users", ADMIN_KEY, body.clone()).await;
    assert_eq!(r.status(), 201, "creating user {body}");
    r.json().await.unwrap()
}

/// Mints a key for `user` as the admin; returns the whole answer (with `key`).
async fn mint_for(gw: &Gw, user: &str, body: Value) -> Value {
    let r = gw
        .post(&format!("/api/users/{user}/keys"), ADMIN_KEY, body)
        .await;
    assert_eq!(r.status(), 201, "minting a key for {user}");
    r.json().await.unwrap()
}

/// Gives `user` the `aiprovider:create` permission.
async fn grant_create(gw: &Gw, user: &str) {
    let r = gw
        .put(
            "/api/grants",
            ADMIN_KEY,
            json!({"permission": "aiprovider:create", "user": user}),
        )
        .await;
    assert_eq!(r.status(), 200, "granting aiprovider:create to {user}");
}

/// A member who may create providers; returns their key.
async fn creator_key(gw: &Gw, name: &str) -> String {
    let key = gw.member_manager_key(name, None).await;
    grant_create(gw, name).await;
    key
}

async fn create_group(gw: &Gw, name: &str) -> Value {
    let r = gw
        .post("/api/groups", ADMIN_KEY, json!({"name": name}))
        .await;
    assert_eq!(r.status(), 201, "creating group {name}");
    r.json().await.unwrap()
}

async fn add_member(gw: &Gw, group: &str, user: &str) -> Value {
    let r = gw
        .put(
            &format!("/api/groups/{group}/members/{user}"),
            ADMIN_KEY,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "adding {user} to {group}");
    r.json().await.unwrap()
}

/// A provider creation body pointing at `endpoint`.
fn provider_body(name: &str, endpoint: &str) -> Value {
    json!({"name": name, "kind": "openai-compatible", "endpoint": endpoint, "api_key": "sk-upstream"})
}

/// The ids `GET /v1/models` lists for `key`.
async fn model_ids(gw: &Gw, key: &str) -> Vec<String> {
    let r = gw.get("/v1/models", key).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The names `GET /api/providers` lists for `key`.
async fn provider_names(gw: &Gw, key: &str) -> Vec<String> {
    let r = gw.get("/api/providers", key).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The `data` array of a list answer.
async fn data_of(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["data"].as_array().unwrap().clone()
}

fn names_of(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that `key` can neither see nor use `provider` (which serves model `m`).
async fn assert_invisible(gw: &Gw, key: &str, provider: &str) {
    let ids = model_ids(gw, key).await;
    assert!(
        !ids.iter().any(|id| id.starts_with(&format!("{provider}/"))),
        "{provider} listed in {ids:?}"
    );
    assert!(!provider_names(gw, key).await.contains(&provider.to_owned()));
    expect_error(
        gw.get(&format!("/api/providers/{provider}"), key).await,
        404,
    )
    .await;
    expect_code(
        gw.chat(key, &format!("{provider}/m")).await,
        404,
        "model_not_found",
    )
    .await;
}

/// Asserts that `key` sees `provider` everywhere and can chat with it.
async fn assert_usable(gw: &Gw, key: &str, provider: &str) {
    assert!(model_ids(gw, key).await.contains(&format!("{provider}/m")));
    assert!(provider_names(gw, key).await.contains(&provider.to_owned()));
    assert_eq!(
        gw.get(&format!("/api/providers/{provider}"), key)
            .await
            .status(),
        200
    );
    assert_eq!(gw.chat(key, &format!("{provider}/m")).await.status(), 200);
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_manage_users() {
    let gw = start_gateway().await;
    let v = create_user(
        &gw,
        json!({"name": "alice", "role": "member", "rpm": 30, "tpm": 1000}),
    )
    .await;
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(v["name"], "alice");
    assert_eq!(v["role"], "member");
    assert!(v["created_at"].is_string());
    assert!(v["deactivated_at"].is_null());
    assert_eq!(v["groups"], json!([]));
    assert_eq!(v["rpm"], 30);
    assert_eq!(v["tpm"], 1000);
    assert_eq!(v["has_password"], false);

    let with_pw = create_user(
        &gw,
        json!({"name": "bob", "role": "admin", "password": "correct horse"}),
    )
    .await;
    assert_eq!(with_pw["role"], "admin");
    assert_eq!(with_pw["has_password"], true);
    assert!(!with_pw.to_string().contains("correct horse"));

    let users = data_of(gw.get("/api/users", ADMIN_KEY).await).await;
    let names = names_of(&users, "name");
    assert!(names.contains(&"alice".to_owned()) && names.contains(&"bob".to_owned()));

    let one: Value = gw
        .get("/api/users/alice", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], v["id"]);

    let r = gw
        .patch(
            "/api/users/alice",
            ADMIN_KEY,
            json!({"role": "admin", "rpm": null, "tpm": 5}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["role"], "admin");
    assert!(patched["rpm"].is_null());
    assert_eq!(patched["tpm"], 5);

    let r = gw.delete("/api/users/alice", ADMIN_KEY, None).await;
    assert_eq!(r.status(), 204);
    let one: Value = gw
        .get("/api/users/alice", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(one["deactivated_at"].is_string(), "{one}");

    expect_error(gw.get("/api/users/nobody", ADMIN_KEY).await, 404).await;
}

#[tokio::test]
async fn user_names_are_validated_and_unique() {
    let gw = start_gateway().await;
    let err = expect_error(
        gw.post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "bad name", "role": "member"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(err["param"], "name");

    create_user(&gw, json!({"name": "carol", "role": "member"})).await;
    let err = expect_error(
        gw.post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "carol", "role": "member"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        err["message"].as_str().unwrap().contains("already exists"),
        "{err}"
    );

    let err = expect_error(
        gw.post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "dave", "role": "owner"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(err["param"], "role");

    let err = expect_error(
        gw.post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "erin", "role": "member", "password": "short"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(err["param"], "password");
}

#[tokio::test]
async fn members_cannot_manage_users() {
    let gw = start_gateway().await;
    let key = gw.member_manager_key("mallory", None).await;
    create_user(&gw, json!({"name": "victim", "role": "member"})).await;

    let err = expect_error(
        gw.post(
            "/api/users",
            &key,
            json!({"name": "sneaky", "role": "admin"}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(err["type"], "permission_error");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("needs an administrator"),
        "{err}"
    );
    expect_error(gw.get("/api/users", &key).await, 403).await;
    expect_error(gw.get("/api/users/victim", &key).await, 403).await;
    expect_error(
        gw.patch("/api/users/victim", &key, json!({"rpm": 1})).await,
        403,
    )
    .await;
    expect_error(gw.delete("/api/users/victim", &key, None).await, 403).await;
    // Nor promote themselves.
    expect_error(
        gw.patch("/api/users/mallory", &key, json!({"role": "admin"}))
            .await,
        403,
    )
    .await;

    // Nothing changed.
    let users = data_of(gw.get("/api/users", ADMIN_KEY).await).await;
    assert!(!names_of(&users, "name").contains(&"sneaky".to_owned()));
    let victim: Value = gw
        .get("/api/users/victim", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(victim["deactivated_at"].is_null());
    assert!(victim["rpm"].is_null());
    let me: Value = gw
        .get("/api/users/mallory", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "member");
}

#[tokio::test]
async fn admins_cannot_deactivate_or_demote_themselves() {
    let gw = start_gateway().await;
    let me: Value = gw.get("/api/me", ADMIN_KEY).await.json().await.unwrap();
    let admin = me["user"].as_str().unwrap().to_owned();

    let err = expect_error(
        gw.delete(&format!("/api/users/{admin}"), ADMIN_KEY, None)
            .await,
        400,
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("deactivate yourself"),
        "{err}"
    );
    let err = expect_error(
        gw.patch(
            &format!("/api/users/{admin}"),
            ADMIN_KEY,
            json!({"deactivated": true}),
        )
        .await,
        400,
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("deactivate yourself"),
        "{err}"
    );
    let err = expect_error(
        gw.patch(
            &format!("/api/users/{admin}"),
            ADMIN_KEY,
            json!({"role": "member"}),
        )
        .await,
        400,
    )
    .await;
    assert!(
        err["message"].as_str().unwrap().contains("demote yourself"),
        "{err}"
    );

    // Still an active admin.
    let v: Value = gw
        .get(&format!("/api/users/{admin}"), ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["role"], "admin");
    assert!(v["deactivated_at"].is_null());
    assert_eq!(gw.get("/api/users", ADMIN_KEY).await.status(), 200);
}

// ---------------------------------------------------------------------------------------
// Deactivation and unusable keys
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn deactivation_stops_keys_at_once_and_reactivation_restores_them() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    gw.share_with_org("up").await;
    let key = gw.member_key("dora", None).await;
    let second = mint_for(&gw, "dora", json!({"name": "second"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Warm the auth cache first, so "at once" is really tested.
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    assert_eq!(gw.get("/api/me", &second).await.status(), 200);

    assert_eq!(
        gw.delete("/api/users/dora", ADMIN_KEY, None).await.status(),
        204
    );
    let err = expect_code(gw.chat(&key, "m").await, 401, "user_deactivated").await;
    assert_eq!(err["type"], "authentication_error");
    expect_code(gw.get("/api/me", &key).await, 401, "user_deactivated").await;
    expect_code(gw.get("/v1/models", &second).await, 401, "user_deactivated").await;
    let hits = mock.hits("/v1/chat/completions");
    expect_code(gw.chat(&second, "up/m").await, 401, "user_deactivated").await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);

    let r = gw
        .patch("/api/users/dora", ADMIN_KEY, json!({"deactivated": false}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["deactivated_at"].is_null());
    assert_eq!(gw.chat(&key, "m").await.status(), 200);
    assert_eq!(gw.get("/api/me", &second).await.status(), 200);
}

#[tokio::test]
async fn unusable_keys_say_why() {
    let gw = start_gateway().await;

    // Revoked.
    let created: Value = gw
        .post("/api/keys", ADMIN_KEY, json!({"name": "to-revoke"}))
        .await
        .json()
        .await
        .unwrap();
    let revoked = created["key"].as_str().unwrap().to_owned();
    assert_eq!(gw.get("/api/me", &revoked).await.status(), 200);
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        gw.delete(&format!("/api/keys/{id}"), ADMIN_KEY, None)
            .await
            .status(),
        204
    );
    let err = expect_code(gw.get("/api/me", &revoked).await, 401, "api_key_revoked").await;
    assert_eq!(err["type"], "authentication_error");
    expect_code(gw.chat(&revoked, "m").await, 401, "api_key_revoked").await;
    // Revoking twice is "not found".
    expect_error(
        gw.delete(&format!("/api/keys/{id}"), ADMIN_KEY, None).await,
        404,
    )
    .await;

    // Expired (used once while valid, so a cached key must expire too).
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let expiring = gw
        .new_key(json!({"name": "short-lived", "expires_at": soon}))
        .await;
    assert_eq!(gw.get("/api/me", &expiring).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    expect_code(gw.get("/api/me", &expiring).await, 401, "api_key_expired").await;
    expect_code(gw.chat(&expiring, "m").await, 401, "api_key_expired").await;

    // Unknown (well-formed, and garbage).
    expect_code(
        gw.get("/api/me", "mg_this_key_was_never_issued_0000000000")
            .await,
        401,
        "invalid_api_key",
    )
    .await;
    expect_code(gw.get("/api/me", "nope").await, 401, "invalid_api_key").await;

    // The list tells them apart.
    let keys = data_of(gw.get("/api/keys", ADMIN_KEY).await).await;
    let status_of = |name: &str| {
        keys.iter()
            .find(|k| k["name"] == name)
            .map(|k| k["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status_of("to-revoke"), "revoked");
    assert_eq!(status_of("short-lived"), "expired");
}

// ---------------------------------------------------------------------------------------
// Keys minted for users, listed and filtered
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_mint_keys_for_users_and_lists_never_show_secrets() {
    let gw = start_gateway().await;
    create_user(&gw, json!({"name": "frank", "role": "member"})).await;
    create_user(&gw, json!({"name": "grace", "role": "member"})).await;
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "frank-budget", "user": "frank", "limit_usd": 5.0, "period": "monthly"}),
        )
        .await;
    assert_eq!(r.status(), 201);

    let fk = mint_for(
        &gw,
        "frank",
        json!({"name": "Frank Laptop", "allocation": "frank-budget", "models": ["m"], "rpm": 10,
               "scopes": MANAGER}),
    )
    .await;
    let frank_secret = fk["key"].as_str().unwrap().to_owned();
    assert_eq!(fk["user"], "frank");
    assert_eq!(fk["allocation"], "frank-budget");
    assert_eq!(fk["models"], json!(["m"]));
    assert_eq!(fk["status"], "active");
    let gk = mint_for(&gw, "grace", json!({"name": "grace-ci"})).await;
    let grace_secret = gk["key"].as_str().unwrap().to_owned();

    // The secret is not in any list.
    let text = gw.get("/api/keys", ADMIN_KEY).await.text().await.unwrap();
    assert!(!text.contains(&frank_secret) && !text.contains(&grace_secret));
    let all: Value = serde_json::from_str(&text).unwrap();
    let item = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == fk["id"])
        .unwrap()
        .clone();
    for field in [
        "id",
        "name",
        "prefix",
        "user",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "status",
        "allocation",
        "models",
    ] {
        assert!(item.get(field).is_some(), "{field} missing in {item}");
    }
    assert!(item.get("key").is_none());
    // The prefix is the start of the secret (shown with an ellipsis).
    let prefix = item["prefix"].as_str().unwrap().trim_end_matches('…');
    assert!(
        prefix.len() > 3 && frank_secret.starts_with(prefix),
        "{item}"
    );

    // Admins see everyone's; ?user= narrows.
    let names = names_of(all["data"].as_array().unwrap(), "name");
    assert!(names.contains(&"Frank Laptop".to_owned()) && names.contains(&"grace-ci".to_owned()));
    let only_frank = data_of(gw.get("/api/keys?user=frank", ADMIN_KEY).await).await;
    assert_eq!(names_of(&only_frank, "name"), vec!["Frank Laptop"]);

    // Members see only their own, even when asking for someone else's.
    let mine = data_of(gw.get("/api/keys", &frank_secret).await).await;
    assert_eq!(names_of(&mine, "name"), vec!["Frank Laptop"]);
    let mine = data_of(gw.get("/api/keys?user=grace", &frank_secret).await).await;
    assert!(
        names_of(&mine, "user").iter().all(|u| u == "frank"),
        "{mine:?}"
    );
}

#[tokio::test]
async fn key_search_matches_name_id_prefix_user_and_allocation() {
    let gw = start_gateway().await;
    create_user(&gw, json!({"name": "heidi", "role": "member"})).await;
    create_user(&gw, json!({"name": "ivan", "role": "member"})).await;
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "research-pool", "user": "ivan", "limit_usd": 1.0, "period": "none"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let hk = mint_for(
        &gw,
        "heidi",
        json!({"name": "Nightly Batch", "scopes": MANAGER}),
    )
    .await;
    let ik = mint_for(
        &gw,
        "ivan",
        json!({"name": "notebook", "allocation": "research-pool"}),
    )
    .await;

    let search = |q: String| {
        let gw = &gw;
        async move {
            let items = data_of(gw.get(&format!("/api/keys?q={q}"), ADMIN_KEY).await).await;
            names_of(&items, "id")
        }
    };
    let h = hk["id"].as_str().unwrap().to_owned();
    let i = ik["id"].as_str().unwrap().to_owned();

    // Name, case-insensitively.
    assert_eq!(search("nIGHTLY".into()).await, vec![h.clone()]);
    // Id.
    assert_eq!(search(h.to_uppercase()).await, vec![h.clone()]);
    // Prefix.
    let prefix = ik["prefix"].as_str().unwrap().trim_end_matches('…');
    assert!(search(prefix.into()).await.contains(&i));
    // User.
    assert_eq!(search("HEIDI".into()).await, vec![h.clone()]);
    // Allocation.
    assert_eq!(search("Research-Pool".into()).await, vec![i.clone()]);
    // No match.
    assert!(search("zzz-no-such-thing".into()).await.is_empty());

    // A member's search stays within their own keys.
    let heidi = hk["key"].as_str().unwrap();
    let items = data_of(gw.get("/api/keys?q=notebook", heidi).await).await;
    assert!(items.is_empty(), "{items:?}");
    let items = data_of(gw.get("/api/keys?q=nightly", heidi).await).await;
    assert_eq!(names_of(&items, "id"), vec![h]);
}

#[tokio::test]
async fn members_cannot_revoke_other_users_keys() {
    let gw = start_gateway().await;
    let judy = gw.member_manager_key("judy", None).await;
    let karl_key = gw.member_manager_key("karl", None).await;
    let karl_id = data_of(gw.get("/api/keys", &karl_key).await).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let err = expect_error(
        gw.delete(&format!("/api/keys/{karl_id}"), &judy, None)
            .await,
        404,
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains(&karl_id), "{err}");
    // Still works.
    assert_eq!(gw.get("/api/me", &karl_key).await.status(), 200);

    // Members may revoke their own.
    let judy_id = data_of(gw.get("/api/keys", &judy).await).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        gw.delete(&format!("/api/keys/{judy_id}"), &judy, None)
            .await
            .status(),
        204
    );
    expect_code(gw.get("/api/me", &judy).await, 401, "api_key_revoked").await;
    // Members cannot mint keys for others.
    expect_error(
        gw.post("/api/users/karl/keys", &karl_key, json!({})).await,
        403,
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Groups and grants
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn groups_and_members() {
    let gw = start_gateway().await;
    let liam = gw.member_manager_key("liam", None).await;
    let mia = gw.member_manager_key("mia", None).await;

    let g = create_group(&gw, "ml-team").await;
    assert!(g["id"].as_str().is_some_and(|s| !s.is_empty()), "{g}");
    assert_eq!(g["name"], "ml-team");
    assert_eq!(g["members"], json!([]));
    assert_eq!(g["allocations"], json!([]));
    assert!(g["created_at"].is_string());
    create_group(&gw, "ops").await;
    expect_error(
        gw.post("/api/groups", ADMIN_KEY, json!({"name": "ml-team"}))
            .await,
        409,
    )
    .await;

    let v = add_member(&gw, "ml-team", "liam").await;
    assert_eq!(v["name"], "ml-team");
    assert_eq!(v["members"], json!(["liam"]));
    let v = add_member(&gw, "ml-team", "mia").await;
    assert_eq!(v["members"], json!(["liam", "mia"]));
    let u: Value = gw
        .get("/api/users/liam", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(u["groups"], json!(["ml-team"]));

    // Admins see every group; members only theirs.
    let all = data_of(gw.get("/api/groups", ADMIN_KEY).await).await;
    assert_eq!(names_of(&all, "name"), vec!["ml-team", "ops"]);
    let theirs = data_of(gw.get("/api/groups", &liam).await).await;
    assert_eq!(names_of(&theirs, "name"), vec!["ml-team"]);

    let r = gw
        .delete("/api/groups/ml-team/members/liam", ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["members"], json!(["mia"]));
    assert!(data_of(gw.get("/api/groups", &liam).await).await.is_empty());
    let theirs = data_of(gw.get("/api/groups", &mia).await).await;
    assert_eq!(names_of(&theirs, "name"), vec!["ml-team"]);

    // Members cannot manage groups.
    expect_error(
        gw.post("/api/groups", &liam, json!({"name": "mine"})).await,
        403,
    )
    .await;
    expect_error(
        gw.put("/api/groups/ml-team/members/liam", &liam, json!({}))
            .await,
        403,
    )
    .await;
    expect_error(
        gw.delete("/api/groups/ml-team/members/mia", &mia, None)
            .await,
        403,
    )
    .await;
    // Unknown group / user.
    expect_error(
        gw.put("/api/groups/nope/members/liam", ADMIN_KEY, json!({}))
            .await,
        404,
    )
    .await;
    expect_error(
        gw.put("/api/groups/ops/members/nobody", ADMIN_KEY, json!({}))
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn creating_providers_needs_the_grant_directly_or_via_a_group() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let nina = gw.member_manager_key("nina", None).await;
    let oscar = gw.member_manager_key("oscar", None).await;

    let err = expect_error(
        gw.post("/api/providers", &nina, provider_body("n1", &mock.origin()))
            .await,
        403,
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("aiprovider:create"),
        "{err}"
    );
    let me: Value = gw.get("/api/me", &nina).await.json().await.unwrap();
    assert_eq!(me["can_create_providers"], false);

    // Members cannot grant themselves.
    expect_error(
        gw.put(
            "/api/grants",
            &nina,
            json!({"permission": "aiprovider:create", "user": "nina"}),
        )
        .await,
        403,
    )
    .await;

    // Directly.
    let r = gw
        .put(
            "/api/grants",
            ADMIN_KEY,
            json!({"permission": "aiprovider:create", "user": "nina"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let grants = data_of(gw.get("/api/grants", ADMIN_KEY).await).await;
    assert!(
        grants.contains(&json!({"permission": "aiprovider:create", "user": "nina"})),
        "{grants:?}"
    );
    let created = gw.add_mock_with_key(&nina, "n1", &mock).await;
    assert_eq!(created["owner"], "nina");
    expect_error(gw.get("/api/grants", &nina).await, 403).await;

    // Revoked again.
    let r = gw
        .delete(
            "/api/grants",
            ADMIN_KEY,
            Some(json!({"permission": "aiprovider:create", "user": "nina"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        data_of(gw.get("/api/grants", ADMIN_KEY).await)
            .await
            .is_empty()
    );
    expect_error(
        gw.post("/api/providers", &nina, provider_body("n2", &mock.origin()))
            .await,
        403,
    )
    .await;

    // Via a group.
    create_group(&gw, "builders").await;
    let r = gw
        .put(
            "/api/grants",
            ADMIN_KEY,
            json!({"permission": "aiprovider:create", "group": "builders"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    expect_error(
        gw.post(
            "/api/providers",
            &oscar,
            provider_body("o1", &mock.origin()),
        )
        .await,
        403,
    )
    .await;
    add_member(&gw, "builders", "oscar").await;
    let me: Value = gw.get("/api/me", &oscar).await.json().await.unwrap();
    assert_eq!(me["can_create_providers"], true);
    let r = gw
        .post(
            "/api/providers",
            &oscar,
            provider_body("o1", &mock.origin()),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Leaving the group takes it away.
    gw.delete("/api/groups/builders/members/oscar", ADMIN_KEY, None)
        .await;
    expect_error(
        gw.post(
            "/api/providers",
            &oscar,
            provider_body("o2", &mock.origin()),
        )
        .await,
        403,
    )
    .await;

    // Unknown permissions are refused.
    let err = expect_error(
        gw.put(
            "/api/grants",
            ADMIN_KEY,
            json!({"permission": "everything", "user": "nina"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(err["param"], "permission");
}

// ---------------------------------------------------------------------------------------
// Provider ownership and sharing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_members_provider_is_private_until_shared() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let owner = creator_key(&gw, "pat").await;
    let peer = gw.member_manager_key("quinn", None).await;
    let outsider = gw.member_manager_key("rita", None).await;
    create_group(&gw, "team").await;
    add_member(&gw, "team", "quinn").await;

    let created = gw.add_mock_with_key(&owner, "pats", &mock).await;
    assert_eq!(created["owner"], "pat");
    assert_eq!(created["shares"], json!([]));

    // Owner and admins see and use it; others do not.
    assert_usable(&gw, &owner, "pats").await;
    assert_eq!(gw.chat(&owner, "m").await.status(), 200);
    assert_usable(&gw, ADMIN_KEY, "pats").await;
    assert_invisible(&gw, &peer, "pats").await;
    expect_code(gw.chat(&peer, "m").await, 404, "model_not_found").await;
    assert_invisible(&gw, &outsider, "pats").await;

    // The owner shares it with the group.
    let r = gw
        .put(
            "/api/providers/pats/shares",
            &owner,
            json!({"group": "team"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([{"group": "team"}]));
    assert_usable(&gw, &peer, "pats").await;
    assert_eq!(gw.chat(&peer, "m").await.status(), 200);
    assert_invisible(&gw, &outsider, "pats").await;

    // Shares are shown to the owner and admins only.
    let v: Value = gw
        .get("/api/providers/pats", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["shares"], json!([{"group": "team"}]));
    let v: Value = gw
        .get("/api/providers/pats", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["shares"], json!([{"group": "team"}]));
    let v: Value = gw
        .get("/api/providers/pats", &peer)
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("shares").is_none_or(Value::is_null), "{v}");
    let listed = data_of(gw.get("/api/providers", &peer).await).await;
    let item = listed.iter().find(|p| p["name"] == "pats").unwrap();
    assert!(item.get("shares").is_none_or(Value::is_null), "{item}");
    let r = gw.get("/api/providers/pats/shares", &owner).await;
    assert_eq!(data_of(r).await, vec![json!({"group": "team"})]);

    // Shared with the org: everyone.
    let r = gw
        .put("/api/providers/pats/shares", &owner, json!({"org": true}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([{"org": true}, {"group": "team"}]));
    assert_usable(&gw, &outsider, "pats").await;

    // Removing the org share: back to the group only, on the very next request.
    let r = gw
        .delete(
            "/api/providers/pats/shares",
            &owner,
            Some(json!({"org": true})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([{"group": "team"}]));
    expect_code(gw.chat(&outsider, "pats/m").await, 404, "model_not_found").await;
    assert_invisible(&gw, &outsider, "pats").await;
    assert_usable(&gw, &peer, "pats").await;
}

#[tokio::test]
async fn revoking_a_share_takes_effect_on_the_next_request() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let owner = creator_key(&gw, "sam").await;
    let peer = gw.member_manager_key("tina", None).await;
    create_group(&gw, "crew").await;
    add_member(&gw, "crew", "tina").await;
    gw.add_mock_with_key(&owner, "sams", &mock).await;

    let r = gw
        .put(
            "/api/providers/sams/shares",
            ADMIN_KEY,
            json!({"group": "crew"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Warm every cache on the peer's path.
    assert_eq!(gw.chat(&peer, "sams/m").await.status(), 200);
    assert_eq!(gw.chat(&peer, "m").await.status(), 200);
    let hits = mock.hits("/v1/chat/completions");

    let r = gw
        .delete(
            "/api/providers/sams/shares",
            ADMIN_KEY,
            Some(json!({"group": "crew"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"], json!([]));
    expect_code(gw.chat(&peer, "sams/m").await, 404, "model_not_found").await;
    expect_code(gw.chat(&peer, "m").await, 404, "model_not_found").await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);
    assert!(model_ids(&gw, &peer).await.is_empty());

    // Removing the peer from the group works just as fast.
    gw.put(
        "/api/providers/sams/shares",
        ADMIN_KEY,
        json!({"group": "crew"}),
    )
    .await;
    assert_eq!(gw.chat(&peer, "sams/m").await.status(), 200);
    let r = gw
        .delete("/api/groups/crew/members/tina", ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 200);
    expect_code(gw.chat(&peer, "sams/m").await, 404, "model_not_found").await;
}

#[tokio::test]
async fn only_owner_and_admins_manage_a_shared_provider() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let owner = creator_key(&gw, "uma").await;
    let user = gw.member_manager_key("vic", None).await;
    let stranger = gw.member_manager_key("wes", None).await;
    create_group(&gw, "g1").await;
    create_group(&gw, "g2").await;
    add_member(&gw, "g1", "vic").await;
    gw.add_mock_with_key(&owner, "umas", &mock).await;
    let r = gw
        .put("/api/providers/umas/shares", &owner, json!({"group": "g1"}))
        .await;
    assert_eq!(r.status(), 200);

    // Can use it via the share, but not manage it: 403.
    let forbidden = |r: reqwest::Response| async move {
        let err = expect_error(r, 403).await;
        assert!(
            err["message"].as_str().unwrap().contains("Only the owner"),
            "{err}"
        );
    };
    forbidden(gw.get("/api/providers/umas/shares", &user).await).await;
    forbidden(
        gw.put("/api/providers/umas/shares", &user, json!({"org": true}))
            .await,
    )
    .await;
    forbidden(
        gw.delete(
            "/api/providers/umas/shares",
            &user,
            Some(json!({"group": "g1"})),
        )
        .await,
    )
    .await;
    forbidden(
        gw.patch(
            "/api/providers/umas",
            &user,
            json!({"description": "mine now"}),
        )
        .await,
    )
    .await;
    forbidden(gw.delete("/api/providers/umas", &user, None).await).await;

    // Cannot even see it: 404, for every verb.
    expect_error(gw.get("/api/providers/umas/shares", &stranger).await, 404).await;
    expect_error(
        gw.put(
            "/api/providers/umas/shares",
            &stranger,
            json!({"org": true}),
        )
        .await,
        404,
    )
    .await;
    expect_error(
        gw.delete(
            "/api/providers/umas/shares",
            &stranger,
            Some(json!({"group": "g1"})),
        )
        .await,
        404,
    )
    .await;
    expect_error(
        gw.patch(
            "/api/providers/umas",
            &stranger,
            json!({"description": "x"}),
        )
        .await,
        404,
    )
    .await;
    expect_error(gw.delete("/api/providers/umas", &stranger, None).await, 404).await;

    // Nothing changed.
    let v: Value = gw
        .get("/api/providers/umas", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["shares"], json!([{"group": "g1"}]));
    assert!(v["description"].is_null());

    // The owner and an admin may.
    let r = gw
        .patch(
            "/api/providers/umas",
            &owner,
            json!({"description": "owned"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = gw
        .put(
            "/api/providers/umas/shares",
            ADMIN_KEY,
            json!({"group": "g2"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let shares = data_of(gw.get("/api/providers/umas/shares", &owner).await).await;
    assert_eq!(shares, vec![json!({"group": "g1"}), json!({"group": "g2"})]);

    // Bad share bodies.
    expect_error(
        gw.put(
            "/api/providers/umas/shares",
            &owner,
            json!({"group": "nope"}),
        )
        .await,
        404,
    )
    .await;
    expect_error(
        gw.put(
            "/api/providers/umas/shares",
            &owner,
            json!({"group": "g1", "org": true}),
        )
        .await,
        400,
    )
    .await;

    assert_eq!(
        gw.delete("/api/providers/umas", &owner, None)
            .await
            .status(),
        204
    );
    expect_code(gw.chat(&user, "umas/m").await, 404, "model_not_found").await;
}

// ---------------------------------------------------------------------------------------
// Cross-user isolation
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn members_are_isolated_from_each_other() {
    let mock_a = MockUpstream::start(&["m"]).await;
    let mock_b = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let a = creator_key(&gw, "alpha").await;
    let b = creator_key(&gw, "bravo").await;
    gw.add_mock_with_key(&a, "alphas", &mock_a).await;
    gw.add_mock_with_key(&b, "bravos", &mock_b).await;

    // Each sees only their own: bare "m" is not ambiguous for either.
    assert_eq!(model_ids(&gw, &a).await, vec!["m", "alphas/m"]);
    assert_eq!(model_ids(&gw, &b).await, vec!["m", "bravos/m"]);
    assert_eq!(provider_names(&gw, &a).await, vec!["alphas"]);
    assert_eq!(provider_names(&gw, &b).await, vec!["bravos"]);
    assert_eq!(gw.chat(&b, "m").await.status(), 200);
    assert_eq!(mock_a.hits("/v1/chat/completions"), 0);
    assert_eq!(mock_b.hits("/v1/chat/completions"), 1);
    assert_invisible(&gw, &b, "alphas").await;
    assert_eq!(mock_a.hits("/v1/chat/completions"), 0);

    // B cannot touch A's shares.
    expect_error(gw.get("/api/providers/alphas/shares", &b).await, 404).await;
    expect_error(
        gw.put("/api/providers/alphas/shares", &b, json!({"org": true}))
            .await,
        404,
    )
    .await;
    assert_invisible(&gw, &b, "alphas").await;

    // B cannot bind a key to A's allocation.
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "alpha-budget", "user": "alpha", "limit_usd": 10.0, "period": "daily"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let err = expect_error(
        gw.post("/api/keys", &b, json!({"allocation": "alpha-budget"}))
            .await,
        404,
    )
    .await;
    assert_eq!(err["param"], "allocation");
    // (Nor can an admin mint B such a key.)
    expect_error(
        gw.post(
            "/api/users/bravo/keys",
            ADMIN_KEY,
            json!({"allocation": "alpha-budget"}),
        )
        .await,
        404,
    )
    .await;
    // A can.
    let r = gw
        .post("/api/keys", &a, json!({"allocation": "alpha-budget"}))
        .await;
    assert_eq!(r.status(), 201);

    // B cannot read A's usage; A can read their own.
    let err = expect_error(gw.get("/api/usage?user=alpha", &b).await, 403).await;
    assert_eq!(err["type"], "permission_error");
    assert_eq!(gw.get("/api/usage?user=alpha", &a).await.status(), 200);
    assert_eq!(
        gw.get("/api/usage?user=alpha", ADMIN_KEY).await.status(),
        200
    );
}

// ---------------------------------------------------------------------------------------
// Upstream URL policy
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn restricting_private_upstreams_binds_members_not_admins() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let member = creator_key(&gw, "yara").await;
    // Created before the setting, pointing at the mock on 127.0.0.1.
    gw.add_mock_with_key(&member, "early", &mock).await;
    assert_eq!(gw.chat(&member, "early/m").await.status(), 200);

    let s: Value = gw
        .get("/api/settings", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["restrict_private_upstreams"], false);
    expect_error(
        gw.patch(
            "/api/settings",
            &member,
            json!({"restrict_private_upstreams": true}),
        )
        .await,
        403,
    )
    .await;
    let r = gw
        .patch(
            "/api/settings",
            ADMIN_KEY,
            json!({"restrict_private_upstreams": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["restrict_private_upstreams"],
        true
    );
    let s: Value = gw
        .get("/api/settings", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["restrict_private_upstreams"], true);

    // Members cannot create loopback providers any more.
    let port = url::Url::parse(&mock.origin()).unwrap().port().unwrap();
    for endpoint in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let err = expect_error(
            gw.post("/api/providers", &member, provider_body("late", &endpoint))
                .await,
            403,
        )
        .await;
        assert_eq!(err["param"], "endpoint", "{endpoint}: {err}");
    }
    // Nor point an existing one there.
    expect_error(
        gw.patch(
            "/api/providers/early",
            &member,
            json!({"endpoint": format!("http://localhost:{port}")}),
        )
        .await,
        403,
    )
    .await;
    // Admins still can.
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            provider_body("admins", &format!("http://127.0.0.1:{port}")),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(gw.chat(ADMIN_KEY, "admins/m").await.status(), 200);

    // The member's existing provider stops working.
    let hits = mock.hits("/v1/chat/completions");
    let r = gw.chat(&member, "early/m").await;
    let status = r.status().as_u16();
    assert!(status >= 400, "{status}");
    expect_error(r, status).await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);

    // And works again once the setting is off.
    let r = gw
        .patch(
            "/api/settings",
            ADMIN_KEY,
            json!({"restrict_private_upstreams": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.chat(&member, "early/m").await.status(), 200);
    let r = gw
        .post(
            "/api/providers",
            &member,
            provider_body("late", &format!("http://localhost:{port}")),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn link_local_endpoints_are_refused_for_everyone() {
    let gw = start_gateway().await;
    let member = creator_key(&gw, "zed").await;
    for (key, name) in [(ADMIN_KEY, "meta-admin"), (member.as_str(), "meta-member")] {
        for endpoint in ["http://169.254.169.254/", "http://169.254.169.254/latest"] {
            let err = expect_error(
                gw.post("/api/providers", key, provider_body(name, endpoint))
                    .await,
                400,
            )
            .await;
            assert_eq!(err["param"], "endpoint", "{err}");
            assert!(
                err["message"].as_str().unwrap().contains("link-local"),
                "{err}"
            );
        }
    }
    assert!(provider_names(&gw, ADMIN_KEY).await.is_empty());
}

// ---------------------------------------------------------------------------------------
// Sign-in sessions
// ---------------------------------------------------------------------------------------

const PASSWORD: &str = "s3cret-passphrase";

/// A browser-like client: no bearer key, no cookie store (cookies are sent by hand).
fn browser() -> reqwest::Client {
    reqwest::Client::new()
}

/// Signs in; returns the cookie value, the `Set-Cookie` header and the body.
async fn sign_in(gw: &Gw, name: &str, password: &str) -> (String, String, Value) {
    let r = browser()
        .post(gw.url("/api/auth/login"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signing in as {name}");
    let set_cookie = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("mg_session=")
        .unwrap()
        .to_owned();
    assert!(!value.is_empty());
    (value, set_cookie, r.json().await.unwrap())
}

/// A request carrying the session cookie and, if given, a CSRF token.
async fn with_session(
    gw: &Gw,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = browser()
        .request(method, gw.url(path))
        .header(reqwest::header::COOKIE, format!("mg_session={cookie}"));
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn sign_in_gives_a_session_cookie_guarded_by_csrf() {
    let gw = start_gateway().await;
    create_user(
        &gw,
        json!({"name": "sally", "role": "member", "password": PASSWORD}),
    )
    .await;

    let (cookie, set_cookie, body) = sign_in(&gw, "sally", PASSWORD).await;
    assert!(set_cookie.starts_with("mg_session="), "{set_cookie}");
    for attr in ["; Path=/", "; HttpOnly", "; SameSite=Strict", "; Max-Age="] {
        assert!(set_cookie.contains(attr), "{attr} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let max_age: i64 = set_cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age > 0);
    assert_eq!(body["user"]["name"], "sally");
    assert_eq!(body["user"]["role"], "member");
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert!(!csrf.is_empty());
    assert!(body["expires_at"].is_string());
    // The cookie value itself is never in the body.
    assert!(!body.to_string().contains(&cookie));

    // Reads work with the cookie alone.
    let r = with_session(&gw, Method::GET, "/api/me", &cookie, None, None).await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["user"], "sally");
    assert_eq!(me["role"], "member");
    let r = with_session(&gw, Method::GET, "/api/auth/session", &cookie, None, None).await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["csrf_token"], csrf.as_str());
    assert_eq!(s["user"]["name"], "sally");
    // Members' keys draw from an allocation: sally's only one is taken by default.
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "sally-budget", "user": "sally", "limit_usd": 5.0}),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Unsafe requests need the CSRF token: missing, wrong, right.
    let r = with_session(
        &gw,
        Method::POST,
        "/api/keys",
        &cookie,
        None,
        Some(json!({})),
    )
    .await;
    let err = expect_code(r, 403, "csrf_token_invalid").await;
    assert!(err["message"].as_str().unwrap().contains("x-csrf-token"));
    let wrong = "0".repeat(csrf.len());
    let r = with_session(
        &gw,
        Method::POST,
        "/api/keys",
        &cookie,
        Some(&wrong),
        Some(json!({})),
    )
    .await;
    expect_code(r, 403, "csrf_token_invalid").await;
    let r = with_session(
        &gw,
        Method::POST,
        "/api/keys",
        &cookie,
        Some(""),
        Some(json!({})),
    )
    .await;
    expect_code(r, 403, "csrf_token_invalid").await;
    let r = with_session(
        &gw,
        Method::POST,
        "/api/keys",
        &cookie,
        Some(&csrf),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let key: Value = r.json().await.unwrap();
    assert_eq!(key["user"], "sally");
    assert_eq!(key["allocation"], "sally-budget");
    // The key made in the browser works on its own.
    let minted = key["key"].as_str().unwrap();
    assert_eq!(gw.get("/api/me", minted).await.status(), 200);
    // None of the refused attempts made a key.
    let keys = data_of(gw.get("/api/keys?user=sally", ADMIN_KEY).await).await;
    assert_eq!(keys.len(), 1);

    // Sign out (CSRF-checked too): the cookie stops working.
    let r = with_session(&gw, Method::POST, "/api/auth/logout", &cookie, None, None).await;
    expect_code(r, 403, "csrf_token_invalid").await;
    let r = with_session(
        &gw,
        Method::POST,
        "/api/auth/logout",
        &cookie,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = with_session(&gw, Method::GET, "/api/me", &cookie, None, None).await;
    expect_error(r, 401).await;
    let r = with_session(&gw, Method::GET, "/api/auth/session", &cookie, None, None).await;
    expect_error(r, 401).await;
}

#[tokio::test]
async fn session_cookie_is_secure_behind_tls() {
    let gw = start_gateway().await;
    create_user(
        &gw,
        json!({"name": "tls-user", "role": "member", "password": PASSWORD}),
    )
    .await;
    let r = browser()
        .post(gw.url("/api/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"name": "tls-user", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(set_cookie.starts_with("mg_session="), "{set_cookie}");
    assert!(set_cookie.ends_with("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("; HttpOnly") && set_cookie.contains("; SameSite=Strict"));
}

#[tokio::test]
async fn sign_in_refuses_bad_credentials_and_deactivated_users() {
    let gw = start_gateway().await;
    create_user(
        &gw,
        json!({"name": "ursula", "role": "member", "password": PASSWORD}),
    )
    .await;
    create_user(&gw, json!({"name": "nopass", "role": "member"})).await;

    let attempt = |name: &'static str, password: &'static str| {
        let gw = &gw;
        async move {
            browser()
                .post(gw.url("/api/auth/login"))
                .json(&json!({"name": name, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = attempt("ursula", "not-the-password").await;
    assert!(wrong.headers().get(reqwest::header::SET_COOKIE).is_none());
    let wrong = expect_code(wrong, 401, "invalid_credentials").await;
    let unknown = expect_code(
        attempt("nobody", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // Indistinguishable.
    assert_eq!(wrong["message"], unknown["message"]);
    expect_code(
        attempt("nopass", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;

    // A live session, then deactivation: no new sign-in, and the session ends.
    let (cookie, _, _) = sign_in(&gw, "ursula", PASSWORD).await;
    assert_eq!(
        with_session(&gw, Method::GET, "/api/me", &cookie, None, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        gw.delete("/api/users/ursula", ADMIN_KEY, None)
            .await
            .status(),
        204
    );
    let r = attempt("ursula", PASSWORD).await;
    assert!(r.headers().get(reqwest::header::SET_COOKIE).is_none());
    let status = r.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    expect_error(r, status).await;
    let r = with_session(&gw, Method::GET, "/api/me", &cookie, None, None).await;
    expect_error(r, 401).await;

    // Reactivated: may sign in again.
    gw.patch(
        "/api/users/ursula",
        ADMIN_KEY,
        json!({"deactivated": false}),
    )
    .await;
    sign_in(&gw, "ursula", PASSWORD).await;
}
