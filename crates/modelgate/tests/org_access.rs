//! Who may do what in an organization, through real HTTP: users (admin-only CRUD,
//! deactivation and reactivation stopping and restoring keys at once), why an unusable key
//! is refused (revoked, expired, unknown), keys minted for users and listed with filters,
//! groups and members, the `aiprovider:create` grant (direct and via a group), provider
//! ownership and sharing (visibility in `/v1/models`, provider lists and chat; who may
//! manage shares; revocation on the very next request), cross-user isolation, the upstream
//! URL policy for members' providers, and browser sign-in with session cookies and CSRF.
//!
//! Most rules are rows of a table (who, request, body, expected answer; `common/rules.rs`),
//! run in order: each row may change what the next one sees.
#![allow(clippy::unwrap_used)]

mod common;

use common::rules::*;
use common::*;
use modelgate_core::ManualClock;
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------

const CHAT: &str = "POST /v1/chat/completions";

/// A chat request for `model`.
fn chat_to(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
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

/// A member who may create providers; returns their key.
async fn creator_key(gw: &Gw, name: &str) -> String {
    let key = gw.member_manager_key(name, None).await;
    let grant = json!({"permission": "aiprovider:create", "user": name});
    let r = gw.put("/api/grants", ADMIN_KEY, grant).await;
    assert_eq!(r.status(), 200, "granting aiprovider:create to {name}");
    key
}

async fn create_group(gw: &Gw, name: &str) -> Value {
    let r = gw
        .post("/api/groups", ADMIN_KEY, json!({"name": name}))
        .await;
    assert_eq!(r.status(), 201, "creating group {name}");
    r.json().await.unwrap()
}

async fn add_member(gw: &Gw, group: &str, user: &str) {
    let path = format!("/api/groups/{group}/members/{user}");
    let r = gw.put(&path, ADMIN_KEY, json!({})).await;
    assert_eq!(r.status(), 200, "adding {user} to {group}");
}

/// A provider creation body pointing at `endpoint`.
fn provider_body(name: &str, endpoint: &str) -> Value {
    json!({"name": name, "kind": "openai-compatible", "endpoint": endpoint, "api_key": "sk-upstream"})
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

/// The `field` of each item the list at `path` shows `key`.
async fn listed(gw: &Gw, key: &str, path: &str, field: &str) -> Vec<String> {
    names_of(&data_of(gw.get(path, key).await).await, field)
}

/// The ids `GET /v1/models` lists for `key`.
async fn model_ids(gw: &Gw, key: &str) -> Vec<String> {
    listed(gw, key, "/v1/models", "id").await
}

/// The names `GET /api/providers` lists for `key`.
async fn provider_names(gw: &Gw, key: &str) -> Vec<String> {
    listed(gw, key, "/api/providers", "name").await
}

/// Asserts that `key` can neither see nor use `provider` (which serves model `m`).
async fn assert_invisible(gw: &Gw, key: &str, provider: &str) {
    let ids = model_ids(gw, key).await;
    assert!(
        !ids.iter().any(|id| id.starts_with(&format!("{provider}/"))),
        "{provider} listed in {ids:?}"
    );
    assert!(!provider_names(gw, key).await.contains(&provider.to_owned()));
    #[rustfmt::skip]
    gw.callers().key("caller", key).check(&[
        ("caller", &format!("GET /api/providers/{provider}"), NONE, error(404)),
        ("caller", CHAT, chat_to(&format!("{provider}/m")), code(404, "model_not_found")),
    ]).await;
}

/// Asserts that `key` sees `provider` everywhere and can chat with it.
async fn assert_usable(gw: &Gw, key: &str, provider: &str) {
    assert!(model_ids(gw, key).await.contains(&format!("{provider}/m")));
    assert!(provider_names(gw, key).await.contains(&provider.to_owned()));
    #[rustfmt::skip]
    gw.callers().key("caller", key).check(&[
        ("caller", &format!("GET /api/providers/{provider}"), NONE, status(200)),
        ("caller", CHAT, chat_to(&format!("{provider}/m")), status(200)),
    ]).await;
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_manage_users() {
    let gw = start_gateway().await;
    let t = gw.callers();
    #[rustfmt::skip]
    let created = t.check(&[
        ("admin", "POST /api/users", json!({"name": "alice", "role": "member", "rpm": 30, "tpm": 1000}),
         status(201).with(json!({"name": "alice", "role": "member", "deactivated_at": null, "groups": [],
                                 "rpm": 30, "tpm": 1000, "has_password": false}))),
        ("admin", "POST /api/users", json!({"name": "bob", "role": "admin", "password": "correct horse"}),
         status(201).with(json!({"role": "admin", "has_password": true}))),
    ]).await;
    let alice = &created[0];
    assert!(
        alice["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{alice}"
    );
    assert!(alice["created_at"].is_string());
    assert!(!created[1].to_string().contains("correct horse"));

    let names = listed(&gw, ADMIN_KEY, "/api/users", "name").await;
    assert!(names.contains(&"alice".to_owned()) && names.contains(&"bob".to_owned()));
    #[rustfmt::skip]
    let answers = t.check(&[
        ("admin", "GET /api/users/alice",    NONE, status(200).with(json!({"id": alice["id"]}))),
        ("admin", "PATCH /api/users/alice",  json!({"role": "admin", "rpm": null, "tpm": 5}),
         status(200).with(json!({"role": "admin", "rpm": null, "tpm": 5}))),
        ("admin", "DELETE /api/users/alice", NONE, status(204)),
        ("admin", "GET /api/users/alice",    NONE, status(200)),
        ("admin", "GET /api/users/nobody",   NONE, error(404)),
    ]).await;
    assert!(answers[3]["deactivated_at"].is_string(), "{}", answers[3]);
}

#[tokio::test]
async fn user_names_are_validated_and_unique() {
    let gw = start_gateway().await;
    #[rustfmt::skip]
    gw.callers().check(&[
        ("admin", "POST /api/users", json!({"name": "bad name", "role": "member"}), error(400).param("name")),
        ("admin", "POST /api/users", json!({"name": "carol", "role": "member"}),    status(201)),
        ("admin", "POST /api/users", json!({"name": "carol", "role": "member"}),    error(409).says("already exists")),
        ("admin", "POST /api/users", json!({"name": "dave", "role": "owner"}),      error(400).param("role")),
        ("admin", "POST /api/users", json!({"name": "erin", "role": "member", "password": "short"}),
         error(400).param("password")),
    ]).await;
}

#[tokio::test]
async fn members_cannot_manage_users() {
    let gw = start_gateway().await;
    let mallory = gw.member_manager_key("mallory", None).await;
    create_user(&gw, json!({"name": "victim", "role": "member"})).await;
    let admin_only = || {
        error(403)
            .kind("permission_error")
            .says("needs an administrator")
    };
    #[rustfmt::skip]
    gw.callers().key("mallory", &mallory).check(&[
        ("mallory", "POST /api/users",          json!({"name": "sneaky", "role": "admin"}), admin_only()),
        ("mallory", "GET /api/users",           NONE,                                       admin_only()),
        ("mallory", "GET /api/users/victim",    NONE,                                       admin_only()),
        ("mallory", "PATCH /api/users/victim",  json!({"rpm": 1}),                          admin_only()),
        ("mallory", "DELETE /api/users/victim", NONE,                                       admin_only()),
        // Nor promote themselves.
        ("mallory", "PATCH /api/users/mallory", json!({"role": "admin"}),                   admin_only()),
        // Nothing changed.
        ("admin",   "GET /api/users/sneaky",    NONE, error(404)),
        ("admin",   "GET /api/users/victim",    NONE, status(200).with(json!({"deactivated_at": null, "rpm": null}))),
        ("admin",   "GET /api/users/mallory",   NONE, status(200).with(json!({"role": "member"}))),
    ]).await;
    let names = listed(&gw, ADMIN_KEY, "/api/users", "name").await;
    assert!(!names.contains(&"sneaky".to_owned()));
}

#[tokio::test]
async fn admins_cannot_deactivate_or_demote_themselves() {
    let gw = start_gateway().await;
    let me: Value = gw.get("/api/me", ADMIN_KEY).await.json().await.unwrap();
    let admin = format!("/api/users/{}", me["user"].as_str().unwrap());
    #[rustfmt::skip]
    gw.callers().check(&[
        ("admin", &format!("DELETE {admin}"), NONE,                         error(400).says("deactivate yourself")),
        ("admin", &format!("PATCH {admin}"),  json!({"deactivated": true}), error(400).says("deactivate yourself")),
        ("admin", &format!("PATCH {admin}"),  json!({"role": "member"}),    error(400).says("demote yourself")),
        // Still an active admin.
        ("admin", &format!("GET {admin}"),    NONE, status(200).with(json!({"role": "admin", "deactivated_at": null}))),
        ("admin", "GET /api/users",           NONE, status(200)),
    ]).await;
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
    let dora = gw.member_key("dora", None).await;
    let second = mint_for(&gw, "dora", json!({"name": "second"})).await;
    let t = gw
        .callers()
        .key("dora", &dora)
        .key("dora's second key", second["key"].as_str().unwrap());
    let deactivated = || code(401, "user_deactivated");
    #[rustfmt::skip]
    t.check(&[
        // Warm the auth cache first, so "at once" is really tested.
        ("dora",              CHAT,          chat_to("m"), status(200)),
        ("dora's second key", "GET /api/me", NONE,         status(200)),
        ("admin", "DELETE /api/users/dora",  NONE,         status(204)),
    ]).await;
    let hits = mock.hits("/v1/chat/completions");
    #[rustfmt::skip]
    t.check(&[
        ("dora",              CHAT,             chat_to("m"),    deactivated().kind("authentication_error")),
        ("dora",              "GET /api/me",    NONE,            deactivated()),
        ("dora's second key", "GET /v1/models", NONE,            deactivated()),
        ("dora's second key", CHAT,             chat_to("up/m"), deactivated()),
    ]).await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);
    #[rustfmt::skip]
    t.check(&[
        ("admin", "PATCH /api/users/dora", json!({"deactivated": false}),
         status(200).with(json!({"deactivated_at": null}))),
        ("dora",              CHAT,          chat_to("m"), status(200)),
        ("dora's second key", "GET /api/me", NONE,         status(200)),
    ]).await;
}

#[tokio::test]
async fn unusable_keys_say_why() {
    let clock = ManualClock::new();
    let gw = start_gateway_with(|o| o.clock = Some(clock.clock())).await;
    let created = gw
        .post("/api/keys", ADMIN_KEY, json!({"name": "to-revoke"}))
        .await;
    let created: Value = created.json().await.unwrap();
    let revoke = format!("DELETE /api/keys/{}", created["id"].as_str().unwrap());
    let expires_at = clock.unix_secs() + 60;
    let expiring = gw
        .new_key(json!({"name": "short-lived", "expires_at": expires_at}))
        .await;
    let t = gw
        .callers()
        .key("revoked", created["key"].as_str().unwrap())
        .key("expiring", &expiring)
        .key("never issued", "mg_this_key_was_never_issued_0000000000")
        .key("garbage", "nope");
    let revoked = || code(401, "api_key_revoked");
    let expired = || code(401, "api_key_expired");
    #[rustfmt::skip]
    t.check(&[
        ("revoked",  "GET /api/me", NONE,         status(200)),
        ("admin",    &revoke,       NONE,         status(204)),
        ("revoked",  "GET /api/me", NONE,         revoked().kind("authentication_error")),
        ("revoked",  CHAT,          chat_to("m"), revoked()),
        // Revoking twice is "not found".
        ("admin",    &revoke,       NONE,         error(404)),
        // Expired (used once while valid, so a cached key must expire too).
        ("expiring", "GET /api/me", NONE,         status(200)),
    ]).await;
    clock.advance(Duration::from_secs(61));
    #[rustfmt::skip]
    t.check(&[
        ("expiring",     "GET /api/me", NONE,         expired()),
        ("expiring",     CHAT,          chat_to("m"), expired()),
        // Unknown (well-formed, and garbage).
        ("never issued", "GET /api/me", NONE,         code(401, "invalid_api_key")),
        ("garbage",      "GET /api/me", NONE,         code(401, "invalid_api_key")),
    ]).await;

    // The list tells them apart.
    let keys = data_of(gw.get("/api/keys", ADMIN_KEY).await).await;
    let status_of = |name: &str| {
        let key = keys.iter().find(|k| k["name"] == name).unwrap();
        key["status"].as_str().unwrap().to_owned()
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
    assert_has(
        &fk,
        json!({"user": "frank", "allocation": "frank-budget", "models": ["m"], "status": "active"}),
    );
    let gk = mint_for(&gw, "grace", json!({"name": "grace-ci"})).await;
    let grace_secret = gk["key"].as_str().unwrap().to_owned();

    // The secret is not in any list.
    let text = gw.get("/api/keys", ADMIN_KEY).await.text().await.unwrap();
    assert!(!text.contains(&frank_secret) && !text.contains(&grace_secret));
    let all: Value = serde_json::from_str(&text).unwrap();
    let all = all["data"].as_array().unwrap();
    let item = all.iter().find(|k| k["id"] == fk["id"]).unwrap();
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
    let names = names_of(all, "name");
    assert!(names.contains(&"Frank Laptop".to_owned()) && names.contains(&"grace-ci".to_owned()));
    let only_frank = listed(&gw, ADMIN_KEY, "/api/keys?user=frank", "name").await;
    assert_eq!(only_frank, ["Frank Laptop"]);

    // Members see only their own, even when asking for someone else's.
    let mine = listed(&gw, &frank_secret, "/api/keys", "name").await;
    assert_eq!(mine, ["Frank Laptop"]);
    let mine = listed(&gw, &frank_secret, "/api/keys?user=grace", "user").await;
    assert!(mine.iter().all(|u| u == "frank"), "{mine:?}");
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
    let h = hk["id"].as_str().unwrap();
    let i = ik["id"].as_str().unwrap();

    #[rustfmt::skip]
    let searches: [(&str, &str, &[&str]); 5] = [
        ("a name, in any case", "nIGHTLY",           &[h]),
        ("an id",               &h.to_uppercase(),   &[h]),
        ("a user",              "HEIDI",             &[h]),
        ("an allocation",       "Research-Pool",     &[i]),
        ("nothing",             "zzz-no-such-thing", &[]),
    ];
    for (what, q, ids) in searches {
        let found = listed(&gw, ADMIN_KEY, &format!("/api/keys?q={q}"), "id").await;
        assert_eq!(found, ids, "searching {what}: {q}");
    }
    // A prefix.
    let prefix = ik["prefix"].as_str().unwrap().trim_end_matches('…');
    let found = listed(&gw, ADMIN_KEY, &format!("/api/keys?q={prefix}"), "id").await;
    assert!(found.contains(&i.to_owned()));

    // A member's search stays within their own keys.
    let heidi = hk["key"].as_str().unwrap();
    let items = listed(&gw, heidi, "/api/keys?q=notebook", "id").await;
    assert!(items.is_empty(), "{items:?}");
    assert_eq!(listed(&gw, heidi, "/api/keys?q=nightly", "id").await, [h]);
}

#[tokio::test]
async fn members_cannot_revoke_other_users_keys() {
    let gw = start_gateway().await;
    let judy = gw.member_manager_key("judy", None).await;
    let karl = gw.member_manager_key("karl", None).await;
    let karl_id = listed(&gw, &karl, "/api/keys", "id").await.remove(0);
    let judy_id = listed(&gw, &judy, "/api/keys", "id").await.remove(0);
    #[rustfmt::skip]
    gw.callers().key("judy", &judy).key("karl", &karl).check(&[
        ("judy", &format!("DELETE /api/keys/{karl_id}"), NONE,      error(404).says(&karl_id)),
        // Still works.
        ("karl", "GET /api/me",                          NONE,      status(200)),
        // Members may revoke their own.
        ("judy", &format!("DELETE /api/keys/{judy_id}"), NONE,      status(204)),
        ("judy", "GET /api/me",                          NONE,      code(401, "api_key_revoked")),
        // Members cannot mint keys for others.
        ("karl", "POST /api/users/karl/keys",            json!({}), error(403)),
    ]).await;
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
    assert!(g["created_at"].is_string());
    assert_has(
        &g,
        json!({"name": "ml-team", "members": [], "allocations": []}),
    );
    create_group(&gw, "ops").await;
    let groups = "/api/groups";
    let t = gw.callers().key("liam", &liam).key("mia", &mia);
    #[rustfmt::skip]
    t.check(&[
        ("admin", "POST /api/groups",                    json!({"name": "ml-team"}), error(409)),
        ("admin", "PUT /api/groups/ml-team/members/liam", json!({}),
         status(200).with(json!({"name": "ml-team", "members": ["liam"]}))),
        ("admin", "PUT /api/groups/ml-team/members/mia",  json!({}),
         status(200).with(json!({"members": ["liam", "mia"]}))),
        ("admin", "GET /api/users/liam",                  NONE,      status(200).with(json!({"groups": ["ml-team"]}))),
    ]).await;

    // Admins see every group; members only theirs.
    let all = listed(&gw, ADMIN_KEY, groups, "name").await;
    assert_eq!(all, ["ml-team", "ops"]);
    assert_eq!(listed(&gw, &liam, groups, "name").await, ["ml-team"]);
    #[rustfmt::skip]
    t.check(&[
        ("admin", "DELETE /api/groups/ml-team/members/liam", NONE, status(200).with(json!({"members": ["mia"]}))),
    ]).await;
    assert!(listed(&gw, &liam, groups, "name").await.is_empty());
    assert_eq!(listed(&gw, &mia, groups, "name").await, ["ml-team"]);

    #[rustfmt::skip]
    t.check(&[
        // Members cannot manage groups.
        ("liam",  "POST /api/groups",                        json!({"name": "mine"}), error(403)),
        ("liam",  "PUT /api/groups/ml-team/members/liam",    json!({}),               error(403)),
        ("mia",   "DELETE /api/groups/ml-team/members/mia",  NONE,                    error(403)),
        // Unknown group / user.
        ("admin", "PUT /api/groups/nope/members/liam",       json!({}),               error(404)),
        ("admin", "PUT /api/groups/ops/members/nobody",      json!({}),               error(404)),
    ]).await;
}

#[tokio::test]
async fn creating_providers_needs_the_grant_directly_or_via_a_group() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let nina = gw.member_manager_key("nina", None).await;
    let oscar = gw.member_manager_key("oscar", None).await;
    let provider = |name: &str| provider_body(name, &mock.origin());
    let to_nina = json!({"permission": "aiprovider:create", "user": "nina"});
    let to_builders = json!({"permission": "aiprovider:create", "group": "builders"});
    #[rustfmt::skip]
    gw.callers().key("nina", &nina).key("oscar", &oscar).check(&[
        ("nina",  "POST /api/providers", provider("n1"), error(403).says("aiprovider:create")),
        ("nina",  "GET /api/me",         NONE,           status(200).with(json!({"can_create_providers": false}))),
        // Members cannot grant themselves.
        ("nina",  "PUT /api/grants",     to_nina.clone(), error(403)),
        // Directly.
        ("admin", "PUT /api/grants",     to_nina.clone(), status(200)),
        ("admin", "GET /api/grants",     NONE,            status(200).field("/data", json!([&to_nina]))),
        ("nina",  "POST /api/providers", provider("n1"),  status(201).with(json!({"owner": "nina"}))),
        ("nina",  "GET /api/grants",     NONE,            error(403)),
        // Revoked again.
        ("admin", "DELETE /api/grants",  to_nina.clone(), status(200)),
        ("admin", "GET /api/grants",     NONE,            status(200).field("/data", json!([]))),
        ("nina",  "POST /api/providers", provider("n2"),  error(403)),
        // Via a group.
        ("admin", "POST /api/groups",    json!({"name": "builders"}), status(201)),
        ("admin", "PUT /api/grants",     to_builders,     status(200)),
        ("oscar", "POST /api/providers", provider("o1"),  error(403)),
        ("admin", "PUT /api/groups/builders/members/oscar", json!({}), status(200)),
        ("oscar", "GET /api/me",         NONE,            status(200).with(json!({"can_create_providers": true}))),
        ("oscar", "POST /api/providers", provider("o1"),  status(201)),
        // Leaving the group takes it away.
        ("admin", "DELETE /api/groups/builders/members/oscar", NONE, status(200)),
        ("oscar", "POST /api/providers", provider("o2"),  error(403)),
        // Unknown permissions are refused.
        ("admin", "PUT /api/grants", json!({"permission": "everything", "user": "nina"}),
         error(400).param("permission")),
    ]).await;
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
    let t = gw
        .callers()
        .key("pat", &owner)
        .key("quinn", &peer)
        .key("rita", &outsider);

    let created = gw.add_mock_with_key(&owner, "pats", &mock).await;
    assert_has(&created, json!({"owner": "pat", "shares": []}));

    // Owner and admins see and use it; others do not.
    assert_usable(&gw, &owner, "pats").await;
    assert_usable(&gw, ADMIN_KEY, "pats").await;
    assert_invisible(&gw, &peer, "pats").await;
    assert_invisible(&gw, &outsider, "pats").await;
    #[rustfmt::skip]
    t.check(&[
        ("pat",   CHAT, chat_to("m"), status(200)),
        ("quinn", CHAT, chat_to("m"), code(404, "model_not_found")),
        // The owner shares it with the group.
        ("pat",   "PUT /api/providers/pats/shares", json!({"group": "team"}),
         status(200).field("/data", json!([{"group": "team"}]))),
        ("quinn", CHAT, chat_to("m"), status(200)),
    ]).await;
    assert_usable(&gw, &peer, "pats").await;
    assert_invisible(&gw, &outsider, "pats").await;

    // Shares are shown to the owner and admins only.
    let team = json!([{"group": "team"}]);
    #[rustfmt::skip]
    t.check(&[
        ("pat",   "GET /api/providers/pats",        NONE, status(200).field("/shares", team.clone())),
        ("admin", "GET /api/providers/pats",        NONE, status(200).field("/shares", team.clone())),
        ("quinn", "GET /api/providers/pats",        NONE, status(200).field("/shares", NONE)),
        ("pat",   "GET /api/providers/pats/shares", NONE, status(200).field("/data", team.clone())),
    ]).await;
    let providers = data_of(gw.get("/api/providers", &peer).await).await;
    let item = providers.iter().find(|p| p["name"] == "pats").unwrap();
    assert!(item.get("shares").is_none_or(Value::is_null), "{item}");

    // Shared with the org: everyone.
    #[rustfmt::skip]
    t.check(&[
        ("pat", "PUT /api/providers/pats/shares", json!({"org": true}),
         status(200).field("/data", json!([{"org": true}, {"group": "team"}]))),
    ]).await;
    assert_usable(&gw, &outsider, "pats").await;

    // Removing the org share: back to the group only, on the very next request.
    #[rustfmt::skip]
    t.check(&[
        ("pat",  "DELETE /api/providers/pats/shares", json!({"org": true}), status(200).field("/data", team)),
        ("rita", CHAT, chat_to("pats/m"), code(404, "model_not_found")),
    ]).await;
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
    let t = gw.callers().key("tina", &peer);
    let crew = || json!({"group": "crew"});
    let gone = || code(404, "model_not_found");

    #[rustfmt::skip]
    t.check(&[
        ("admin", "PUT /api/providers/sams/shares", crew(), status(200)),
        // Warm every cache on the peer's path.
        ("tina",  CHAT, chat_to("sams/m"), status(200)),
        ("tina",  CHAT, chat_to("m"),      status(200)),
    ]).await;
    let hits = mock.hits("/v1/chat/completions");
    #[rustfmt::skip]
    t.check(&[
        ("admin", "DELETE /api/providers/sams/shares", crew(), status(200).field("/data", json!([]))),
        ("tina",  CHAT, chat_to("sams/m"), gone()),
        ("tina",  CHAT, chat_to("m"),      gone()),
    ]).await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);
    assert!(model_ids(&gw, &peer).await.is_empty());

    // Removing the peer from the group works just as fast.
    #[rustfmt::skip]
    t.check(&[
        ("admin", "PUT /api/providers/sams/shares",       crew(),            status(200)),
        ("tina",  CHAT,                                   chat_to("sams/m"), status(200)),
        ("admin", "DELETE /api/groups/crew/members/tina", NONE,              status(200)),
        ("tina",  CHAT,                                   chat_to("sams/m"), gone()),
    ]).await;
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
    let only_owner = || error(403).says("Only the owner");
    let g1 = || json!({"group": "g1"});

    #[rustfmt::skip]
    gw.callers().key("uma", &owner).key("vic", &user).key("wes", &stranger).check(&[
        ("uma",   "PUT /api/providers/umas/shares",    g1(),                                status(200)),
        // vic may use it via the share, but not manage it: 403.
        ("vic",   "GET /api/providers/umas/shares",    NONE,                                only_owner()),
        ("vic",   "PUT /api/providers/umas/shares",    json!({"org": true}),                only_owner()),
        ("vic",   "DELETE /api/providers/umas/shares", g1(),                                only_owner()),
        ("vic",   "PATCH /api/providers/umas",         json!({"description": "mine now"}), only_owner()),
        ("vic",   "DELETE /api/providers/umas",        NONE,                                only_owner()),
        // wes cannot even see it: 404, for every verb.
        ("wes",   "GET /api/providers/umas/shares",    NONE,                                error(404)),
        ("wes",   "PUT /api/providers/umas/shares",    json!({"org": true}),                error(404)),
        ("wes",   "DELETE /api/providers/umas/shares", g1(),                                error(404)),
        ("wes",   "PATCH /api/providers/umas",         json!({"description": "x"}),         error(404)),
        ("wes",   "DELETE /api/providers/umas",        NONE,                                error(404)),
        // Nothing changed.
        ("uma",   "GET /api/providers/umas",           NONE,
         status(200).field("/shares", json!([g1()])).field("/description", NONE)),
        // The owner and an admin may.
        ("uma",   "PATCH /api/providers/umas",         json!({"description": "owned"}),     status(200)),
        ("admin", "PUT /api/providers/umas/shares",    json!({"group": "g2"}),              status(200)),
        ("uma",   "GET /api/providers/umas/shares",    NONE,
         status(200).field("/data", json!([g1(), {"group": "g2"}]))),
        // Bad share bodies.
        ("uma",   "PUT /api/providers/umas/shares",    json!({"group": "nope"}),            error(404)),
        ("uma",   "PUT /api/providers/umas/shares",    json!({"group": "g1", "org": true}), error(400)),
        ("uma",   "DELETE /api/providers/umas",        NONE,                                status(204)),
        ("vic",   CHAT,                                chat_to("umas/m"),                   code(404, "model_not_found")),
    ]).await;
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
    assert_eq!(model_ids(&gw, &a).await, ["m", "alphas/m"]);
    assert_eq!(model_ids(&gw, &b).await, ["m", "bravos/m"]);
    assert_eq!(provider_names(&gw, &a).await, ["alphas"]);
    assert_eq!(provider_names(&gw, &b).await, ["bravos"]);
    assert_eq!(gw.chat(&b, "m").await.status(), 200);
    assert_eq!(mock_a.hits("/v1/chat/completions"), 0);
    assert_eq!(mock_b.hits("/v1/chat/completions"), 1);
    assert_invisible(&gw, &b, "alphas").await;
    assert_eq!(mock_a.hits("/v1/chat/completions"), 0);

    let alpha_budget = json!({"allocation": "alpha-budget"});
    #[rustfmt::skip]
    gw.callers().key("alpha", &a).key("bravo", &b).check(&[
        // B cannot touch A's shares.
        ("bravo", "GET /api/providers/alphas/shares", NONE,                 error(404)),
        ("bravo", "PUT /api/providers/alphas/shares", json!({"org": true}), error(404)),
    ]).await;
    assert_invisible(&gw, &b, "alphas").await;
    #[rustfmt::skip]
    gw.callers().key("alpha", &a).key("bravo", &b).check(&[
        // B cannot bind a key to A's allocation...
        ("admin", "POST /api/allocations",
         json!({"name": "alpha-budget", "user": "alpha", "limit_usd": 10.0, "period": "daily"}), status(201)),
        ("bravo", "POST /api/keys",             alpha_budget.clone(), error(404).param("allocation")),
        // (nor can an admin mint B such a key); A can.
        ("admin", "POST /api/users/bravo/keys", alpha_budget.clone(), error(404)),
        ("alpha", "POST /api/keys",             alpha_budget,         status(201)),
        // B cannot read A's usage; A can read their own.
        ("bravo", "GET /api/usage?user=alpha",  NONE, error(403).kind("permission_error")),
        ("alpha", "GET /api/usage?user=alpha",  NONE, status(200)),
        ("admin", "GET /api/usage?user=alpha",  NONE, status(200)),
    ]).await;
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
    let port = url::Url::parse(&mock.origin()).unwrap().port().unwrap();
    let (ip, localhost) = (
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    );
    let restrict = |on: bool| json!({"restrict_private_upstreams": on});
    let t = gw.callers().key("yara", &member);

    #[rustfmt::skip]
    t.check(&[
        ("yara",  CHAT,                    chat_to("early/m"), status(200)),
        ("admin", "GET /api/settings",     NONE,               status(200).with(restrict(false))),
        ("yara",  "PATCH /api/settings",   restrict(true),     error(403)),
        ("admin", "PATCH /api/settings",   restrict(true),     status(200).with(restrict(true))),
        ("admin", "GET /api/settings",     NONE,               status(200).with(restrict(true))),
        // Members cannot create loopback providers any more...
        ("yara",  "POST /api/providers",   provider_body("late", &ip),        error(403).param("endpoint")),
        ("yara",  "POST /api/providers",   provider_body("late", &localhost), error(403).param("endpoint")),
        // ...nor point an existing one there.
        ("yara",  "PATCH /api/providers/early", json!({"endpoint": &localhost}), error(403)),
        // Admins still can.
        ("admin", "POST /api/providers",   provider_body("admins", &ip), status(201)),
        ("admin", CHAT,                    chat_to("admins/m"),          status(200)),
    ]).await;

    // The member's existing provider stops working.
    let hits = mock.hits("/v1/chat/completions");
    let r = gw.chat(&member, "early/m").await;
    let refusal = r.status().as_u16();
    assert!(refusal >= 400, "{refusal}");
    expect_error(r, refusal).await;
    assert_eq!(mock.hits("/v1/chat/completions"), hits);

    // And works again once the setting is off.
    #[rustfmt::skip]
    t.check(&[
        ("admin", "PATCH /api/settings",   restrict(false),                   status(200)),
        ("yara",  CHAT,                    chat_to("early/m"),                status(200)),
        ("yara",  "POST /api/providers",   provider_body("late", &localhost), status(201)),
    ]).await;
}

#[tokio::test]
async fn link_local_endpoints_are_refused_for_everyone() {
    let gw = start_gateway().await;
    let member = creator_key(&gw, "zed").await;
    let refused = || error(400).param("endpoint").says("link-local");
    let (root, latest) = ("http://169.254.169.254/", "http://169.254.169.254/latest");
    #[rustfmt::skip]
    gw.callers().key("zed", &member).check(&[
        ("admin", "POST /api/providers", provider_body("meta-admin", root),    refused()),
        ("admin", "POST /api/providers", provider_body("meta-admin", latest),  refused()),
        ("zed",   "POST /api/providers", provider_body("meta-member", root),   refused()),
        ("zed",   "POST /api/providers", provider_body("meta-member", latest), refused()),
    ]).await;
    assert!(provider_names(&gw, ADMIN_KEY).await.is_empty());
}

// ---------------------------------------------------------------------------------------
// Sign-in sessions
// ---------------------------------------------------------------------------------------

const PASSWORD: &str = "s3cret-passphrase";
const SET_COOKIE: &str = "set-cookie";

/// Signs in; returns the cookie value, the `Set-Cookie` header and the body.
async fn sign_in(gw: &Gw, name: &str, password: &str) -> (String, String, Value) {
    let r = gw
        .http
        .post(gw.url("/api/auth/login"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signing in as {name}");
    let set_cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
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

/// A sign-in request body.
fn login(name: &str, password: &str) -> Value {
    json!({"name": name, "password": password})
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
    assert_has(&body, json!({"user": {"name": "sally", "role": "member"}}));
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert!(!csrf.is_empty());
    assert!(body["expires_at"].is_string());
    // The cookie value itself is never in the body.
    assert!(!body.to_string().contains(&cookie));

    let wrong = "0".repeat(csrf.len());
    let t = gw
        .callers()
        .session("sally's browser", &cookie, None)
        .session("with a wrong token", &cookie, Some(&wrong))
        .session("with an empty token", &cookie, Some(""))
        .session("with her token", &cookie, Some(&csrf));
    let no_csrf = || code(403, "csrf_token_invalid");
    #[rustfmt::skip]
    let answers = t.check(&[
        // Reads work with the cookie alone.
        ("sally's browser",     "GET /api/me",           NONE,
         status(200).with(json!({"user": "sally", "role": "member"}))),
        ("sally's browser",     "GET /api/auth/session", NONE,
         status(200).with(json!({"csrf_token": &csrf, "user": {"name": "sally"}}))),
        // Members' keys draw from an allocation: sally's only one is taken by default.
        ("admin", "POST /api/allocations", json!({"name": "sally-budget", "user": "sally", "limit_usd": 5.0}),
         status(201)),
        // Unsafe requests need the CSRF token: missing, wrong, right.
        ("sally's browser",     "POST /api/keys", json!({}), no_csrf().says("x-csrf-token")),
        ("with a wrong token",  "POST /api/keys", json!({}), no_csrf()),
        ("with an empty token", "POST /api/keys", json!({}), no_csrf()),
        ("with her token",      "POST /api/keys", json!({}),
         status(201).with(json!({"user": "sally", "allocation": "sally-budget"}))),
    ]).await;
    // The key made in the browser works on its own.
    let minted = answers.last().unwrap()["key"].as_str().unwrap();
    #[rustfmt::skip]
    t.key("the key made in the browser", minted).check(&[
        ("the key made in the browser", "GET /api/me", NONE, status(200)),
        // None of the refused attempts made a key.
        ("admin", "GET /api/keys?user=sally", NONE, status(200).length("/data", 1)),
        // Sign out (CSRF-checked too): the cookie stops working.
        ("sally's browser", "POST /api/auth/logout", NONE, no_csrf()),
        ("with her token",  "POST /api/auth/logout", NONE, status(204)),
        ("sally's browser", "GET /api/me",           NONE, error(401)),
        ("sally's browser", "GET /api/auth/session", NONE, error(401)),
    ]).await;
}

#[tokio::test]
async fn session_cookie_is_secure_behind_tls() {
    let gw = start_gateway().await;
    create_user(
        &gw,
        json!({"name": "tls-user", "role": "member", "password": PASSWORD}),
    )
    .await;
    let r = gw
        .http
        .post(gw.url("/api/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&login("tls-user", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()[SET_COOKIE].to_str().unwrap();
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
    let refused = || code(401, "invalid_credentials").without_header(SET_COOKIE);
    let t = gw.callers().anonymous("anyone");
    #[rustfmt::skip]
    let answers = t.check(&[
        ("anyone", "POST /api/auth/login", login("ursula", "not-the-password"), refused()),
        ("anyone", "POST /api/auth/login", login("nobody", PASSWORD),           refused()),
        ("anyone", "POST /api/auth/login", login("nopass", PASSWORD),           refused()),
    ]).await;
    // A wrong password and an unknown user are indistinguishable.
    assert_eq!(
        answers[0]["error"]["message"],
        answers[1]["error"]["message"]
    );

    // A live session, then deactivation: no new sign-in, and the session ends.
    let (cookie, _, _) = sign_in(&gw, "ursula", PASSWORD).await;
    let t = t.session("ursula's browser", &cookie, None);
    #[rustfmt::skip]
    t.check(&[
        ("ursula's browser", "GET /api/me",             NONE, status(200)),
        ("admin",            "DELETE /api/users/ursula", NONE, status(204)),
    ]).await;
    let r = gw
        .http
        .post(gw.url("/api/auth/login"))
        .json(&login("ursula", PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(SET_COOKIE).is_none());
    let refusal = r.status().as_u16();
    assert!((400..500).contains(&refusal), "{refusal}");
    expect_error(r, refusal).await;
    #[rustfmt::skip]
    t.check(&[
        ("ursula's browser", "GET /api/me", NONE, error(401)),
        // Reactivated: may sign in again.
        ("admin", "PATCH /api/users/ursula", json!({"deactivated": false}), status(200)),
    ]).await;
    sign_in(&gw, "ursula", PASSWORD).await;
}
