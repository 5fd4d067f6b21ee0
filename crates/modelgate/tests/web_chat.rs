//! What the web UI's chat stands on, through real HTTP: a signed-in browser calls the
//! model API with its session cookie (CSRF-checked, charged to the user's allocation),
//! conversations are kept server-side per user and turn read-only when their provider is
//! revoked, and a provider's connection can be tested before it is saved.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Gw, expect_error, sse_data, start_gateway};
use modelgate_testkit::MockUpstream;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: its cookie and CSRF token.
struct Browser<'a> {
    gw: &'a Gw,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    async fn sign_in(gw: &'a Gw, name: &str) -> Browser<'a> {
        let r = reqwest::Client::new()
            .post(gw.url("/api/auth/login"))
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let v: Value = r.json().await.unwrap();
        Browser {
            gw,
            cookie,
            csrf: v["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    fn request(&self, method: Method, path: &str, csrf: bool) -> reqwest::RequestBuilder {
        let mut req = reqwest::Client::new()
            .request(method, self.gw.url(path))
            .header(reqwest::header::COOKIE, &self.cookie);
        if csrf {
            req = req.header("x-csrf-token", &self.csrf);
        }
        req
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.request(Method::POST, path, true)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.request(Method::GET, path, false).send().await.unwrap()
    }
}

async fn user(gw: &Gw, name: &str) {
    let r = gw
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": name, "role": "member", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

async fn allocation(gw: &Gw, name: &str, user: &str) {
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": name, "user": user, "limit_usd": 10, "period": "monthly"}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

fn chat(model: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_signed_in_browser_calls_the_model_api_charged_to_its_allocation() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("shared", &mock).await;
    gw.share_with_org("shared").await;
    // A budgeted caller needs priced models: every model of this provider at one price.
    let r = gw
        .patch(
            "/api/providers/shared",
            ADMIN_KEY,
            json!({"prices": {"*": {"input": 1.0, "output": 1.0}}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    user(&gw, "carol").await;
    allocation(&gw, "carol-main", "carol").await;
    let carol = Browser::sign_in(&gw, "carol").await;

    // Reads need no CSRF token; a model call does (a cross-site form cannot forge it).
    let models = carol.get("/v1/models").await.text().await.unwrap();
    assert!(models.contains("\"m\""), "{models}");
    let r = carol
        .request(Method::POST, "/v1/chat/completions", false)
        .json(&chat("shared/m"))
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 403).await;
    assert_eq!(e["code"], "csrf_token_invalid");
    // With it, the stream arrives, charged to her only allocation.
    let events = sse_data(carol.post("/v1/chat/completions", chat("shared/m")).await).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let records = gw.org_records().await;
    assert_eq!(records[0]["key_id"], "", "a session, not a key");
    let main_id = records[0]["allocation_id"].as_str().unwrap().to_owned();
    let alloc: Value = gw
        .get("/api/allocations/carol-main", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(alloc["used_usd"].is_number(), "{alloc}");

    // With two allocations she must say which (as for a key), by header; listing models
    // charges nothing and needs no choice.
    allocation(&gw, "carol-extra", "carol").await;
    assert_eq!(carol.get("/v1/models").await.status(), 200);
    let e = expect_error(
        carol.post("/v1/chat/completions", chat("shared/m")).await,
        400,
    )
    .await;
    assert_eq!(e["code"], "allocation_required");
    let r = carol
        .request(Method::POST, "/v1/chat/completions", true)
        .header("x-modelgate-allocation", "carol-extra")
        .json(&chat("shared/m"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.text().await;
    let extra_id = gw.org_records().await[0]["allocation_id"].clone();
    assert!(extra_id.is_string() && extra_id != main_id.as_str());
    let r = carol
        .request(Method::POST, "/v1/chat/completions", true)
        .header("x-modelgate-allocation", "someone-elses")
        .json(&chat("shared/m"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404).await;
    // Signed out, the cookie is worth nothing.
    let r = carol
        .request(Method::POST, "/api/auth/logout", true)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let e = expect_error(
        carol.post("/v1/chat/completions", chat("shared/m")).await,
        401,
    )
    .await;
    assert_eq!(e["code"], "session_expired");
}

#[tokio::test]
async fn conversations_are_private_and_turn_read_only_when_the_provider_goes() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    gw.add_mock("lab", &mock).await;
    gw.share_with_org("lab").await;
    user(&gw, "dave").await;
    user(&gw, "erin").await;
    let dave = Browser::sign_in(&gw, "dave").await;
    let erin = Browser::sign_in(&gw, "erin").await;

    let r = dave
        .post(
            "/api/conversations",
            json!({"provider": "lab", "model": "m", "title": "Plans"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["writable"], true);
    let path = format!("/api/conversations/{id}");
    for (role, content) in [("user", "hello"), ("assistant", "Hello **there**")] {
        let r = dave
            .post(
                &format!("{path}/messages"),
                json!({"role": role, "content": content}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = dave
        .post(
            &format!("{path}/messages"),
            json!({"role": "assistant", "content": "partial", "error": "stopped"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let full: Value = dave.get(&path).await.json().await.unwrap();
    let messages = full["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["content"], "Hello **there**");
    assert_eq!(messages[2]["error"], "stopped");
    let listed: Value = dave.get("/api/conversations").await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    // Nobody else reads or writes it.
    assert_eq!(erin.get(&path).await.status(), 404);
    let r = erin
        .post(
            &format!("{path}/messages"),
            json!({"role": "user", "content": "x"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let theirs: Value = erin.get("/api/conversations").await.json().await.unwrap();
    assert_eq!(theirs["data"], json!([]));
    // Bad input is refused plainly.
    let r = dave
        .post(
            &format!("{path}/messages"),
            json!({"role": "system", "content": "x"}),
        )
        .await;
    expect_error(r, 400).await;
    let r = dave
        .post(
            "/api/conversations",
            json!({"provider": "nope", "model": "m"}),
        )
        .await;
    expect_error(r, 404).await;

    // The share is revoked: readable, but no new messages.
    let r = gw
        .delete(
            "/api/providers/lab/shares",
            ADMIN_KEY,
            Some(json!({"org": true})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let full: Value = dave.get(&path).await.json().await.unwrap();
    assert_eq!(full["writable"], false);
    assert_eq!(full["messages"].as_array().unwrap().len(), 3);
    let r = dave
        .post(
            &format!("{path}/messages"),
            json!({"role": "user", "content": "more"}),
        )
        .await;
    let e = expect_error(r, 409).await;
    assert_eq!(e["code"], "conversation_read_only");
    // Rename and delete.
    let r = dave
        .request(Method::PATCH, &path, true)
        .json(&json!({"title": "Old plans"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["title"], "Old plans");
    let r = dave
        .request(Method::DELETE, &path, true)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(dave.get(&path).await.status(), 404);
}

#[tokio::test]
async fn a_provider_connection_is_tested_before_it_is_saved() {
    let mock = MockUpstream::start(&["alpha", "beta"]).await;
    let gw = start_gateway().await;
    let body =
        json!({"kind": "openai-compatible", "endpoint": mock.origin(), "api_key": "sk-test"});
    let r = gw.post("/api/providers/test", ADMIN_KEY, body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["models"], json!(["alpha", "beta"]));
    let sent = mock.last("/v1/models").unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    // Nothing was saved.
    let list: Value = gw
        .get("/api/providers", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
    // An endpoint that does not answer: a plain reason, still 200.
    let r = gw
        .post(
            "/api/providers/test",
            ADMIN_KEY,
            json!({"kind": "openai-compatible", "endpoint": "http://127.0.0.1:9"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("unreachable"), "{v}");
    // A bad spec is a 400; a member without the permission is refused.
    let r = gw
        .post(
            "/api/providers/test",
            ADMIN_KEY,
            json!({"kind": "nonsense"}),
        )
        .await;
    expect_error(r, 400).await;
    let member = gw.member_key("frank", None).await;
    let r = gw
        .post(
            "/api/providers/test",
            &member,
            json!({"kind": "openai-compatible", "endpoint": mock.origin()}),
        )
        .await;
    expect_error(r, 403).await;
    // POST on any other provider name is not a thing.
    let r = gw.post("/api/providers/other", ADMIN_KEY, json!({})).await;
    expect_error(r, 405).await;
}

#[tokio::test]
async fn a_new_password_ends_the_sessions_signed_in_with_the_old_one() {
    let gw = start_gateway().await;
    user(&gw, "pat").await;
    user(&gw, "quin").await;
    let laptop = Browser::sign_in(&gw, "pat").await;
    let phone = Browser::sign_in(&gw, "pat").await;
    let other = Browser::sign_in(&gw, "quin").await;
    assert_eq!(laptop.get("/api/auth/session").await.status(), 200);
    let r = gw
        .patch(
            "/api/users/pat",
            ADMIN_KEY,
            json!({"password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    for browser in [&laptop, &phone] {
        expect_error(browser.get("/api/auth/session").await, 401).await;
    }
    // Other people's sessions, and a change that is not the password, end nothing.
    assert_eq!(other.get("/api/auth/session").await.status(), 200);
    let r = gw
        .patch("/api/users/quin", ADMIN_KEY, json!({"rpm": 100}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(other.get("/api/auth/session").await.status(), 200);
}

#[tokio::test]
async fn sign_in_takes_json_from_this_site_only() {
    let gw = start_gateway().await;
    user(&gw, "rae").await;
    let body = json!({"name": "rae", "password": PASSWORD}).to_string();
    let host = gw.base.trim_start_matches("http://").to_owned();
    let same = format!("http://{host}");
    // (content type, extra headers, expected status, expected code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("application/json", vec![], 200, None),
        (
            "application/json; charset=utf-8",
            vec![("origin", &same)],
            200,
            None,
        ),
        (
            "application/json",
            vec![("sec-fetch-site", "same-origin")],
            200,
            None,
        ),
        ("text/plain", vec![], 400, Some("json_required")),
        (
            "application/x-www-form-urlencoded",
            vec![],
            400,
            Some("json_required"),
        ),
        (
            "application/json",
            vec![("sec-fetch-site", "cross-site")],
            403,
            Some("cross_site_refused"),
        ),
        (
            "application/json",
            vec![("origin", "https://evil.example")],
            403,
            Some("cross_site_refused"),
        ),
        (
            "application/json",
            vec![("origin", "null")],
            403,
            Some("cross_site_refused"),
        ),
    ];
    for (content_type, headers, status, code) in cases {
        let mut req = reqwest::Client::new()
            .post(gw.url("/api/auth/login"))
            .header("content-type", content_type)
            .body(body.clone());
        for (name, value) in &headers {
            req = req.header(*name, *value);
        }
        let r = req.send().await.unwrap();
        let what = format!("{content_type} {headers:?}");
        assert_eq!(r.status().as_u16(), status, "{what}");
        if status != 200 {
            assert!(r.headers().get("set-cookie").is_none(), "{what}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"].as_str(), code, "{what}");
        }
    }
}
