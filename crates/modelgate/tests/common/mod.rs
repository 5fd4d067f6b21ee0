//! Shared harness of the black-box tests: a real gateway (the same `start` the binary
//! runs) on 127.0.0.1 port 0 with a temporary data dir, talked to over HTTP; access
//! tables of rules (who, request, expected answer) in [`rules`].
#![allow(dead_code, clippy::unwrap_used)]

pub mod rules;

use modelgate::run::{Running, ServeOptions, start};
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "mg_test_admin_key_0123456789abcdef";

/// The scopes of a key that both calls models and manages (the bootstrap key has both).
pub const MANAGER: &[&str] = &["inference", "management"];

pub struct Gw {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub async fn start_gateway() -> Gw {
    start_gateway_with(|_| {}).await
}

pub async fn start_gateway_with(tweak: impl FnOnce(&mut ServeOptions)) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, tweak).await
}

pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut ServeOptions)) -> Gw {
    let mut opts = ServeOptions::new(dir.path().to_path_buf());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.bootstrap_admin_key = Some(ADMIN_KEY.into());
    // `MODELGATE_TEST_BACKEND=postgres` runs the whole black-box suite on PostgreSQL: each
    // data dir gets its own schema, kept across restarts in the same dir.
    if std::env::var("MODELGATE_TEST_BACKEND").as_deref() == Ok("postgres") {
        let marker = dir.path().join("test-database-url");
        let url = match std::fs::read_to_string(&marker) {
            Ok(url) => url,
            Err(_) => {
                let url = private_schema_url().await;
                std::fs::write(&marker, &url).unwrap();
                url
            }
        };
        opts.database = Some(url);
    }
    tweak(&mut opts);
    let running = start(opts).await.unwrap();
    let (base, http) = if running.tls {
        // The test certificate names localhost; trust its throwaway CA.
        let ca = reqwest::Certificate::from_pem_bundle(&std::fs::read(fixture("ca.pem")).unwrap())
            .unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_merge(ca)
            .build()
            .unwrap();
        (format!("https://localhost:{}", running.addr.port()), http)
    } else {
        (format!("http://{}", running.addr), reqwest::Client::new())
    };
    Gw {
        running: Some(running),
        base,
        http,
        dir,
    }
}

/// A file of `tests/fixtures`.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

impl Gw {
    /// Fires `n` copies of a request at once on `path` (reading each answer to its end,
    /// streams included); returns the statuses.
    pub async fn burst(&self, key: &str, path: &str, body: &Value, n: usize) -> Vec<u16> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (http, url) = (self.http.clone(), self.url(path));
                let (key, body) = (key.to_owned(), body.clone());
                tokio::spawn(async move {
                    let r = http
                        .post(url)
                        .bearer_auth(key)
                        .header("anthropic-version", "2023-06-01")
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    r.bytes().await.unwrap();
                    status
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A request with any method and an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, key, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, key: &str, body: Option<Value>) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, key, body).await
    }

    /// Shares a provider with the whole org.
    pub async fn share_with_org(&self, provider: &str) {
        let r = self
            .put(
                &format!("/api/providers/{provider}/shares"),
                ADMIN_KEY,
                json!({"org": true}),
            )
            .await;
        assert_eq!(r.status(), 200, "sharing {provider}");
    }

    /// A new member `name` with their own allocation `allocation` (`limit_usd`, `period`)
    /// and an inference key bound to it.
    pub async fn budgeted_member(
        &self,
        name: &str,
        allocation: &str,
        limit_usd: f64,
        period: &str,
    ) -> String {
        assert_eq!(self.ensure_member(name).await, 201, "{name} is new");
        let r = self
            .post(
                "/api/allocations",
                ADMIN_KEY,
                json!({"name": allocation, "user": name, "limit_usd": limit_usd, "period": period}),
            )
            .await;
        assert_eq!(r.status(), 201, "creating {allocation}");
        self.member_key(name, Some(allocation)).await
    }

    /// The member `name`, created unless they exist; the status of the creation.
    async fn ensure_member(&self, name: &str) -> u16 {
        let r = self
            .post(
                "/api/users",
                ADMIN_KEY,
                json!({"name": name, "role": "member"}),
            )
            .await;
        let status = r.status().as_u16();
        assert!(status == 201 || status == 409, "creating {name}");
        status
    }

    /// The member `name` (created if new) and an inference key of theirs, minted by the
    /// admin and bound to `allocation` if given: the model API, `/api/me`, own usage.
    pub async fn member_key(&self, name: &str, allocation: Option<&str>) -> String {
        self.member_key_with(name, allocation, &["inference"]).await
    }

    /// As [`member_key`](Self::member_key), with the management scope too: the member
    /// may manage their own keys, providers, tunnels and conversations with it.
    pub async fn member_manager_key(&self, name: &str, allocation: Option<&str>) -> String {
        self.member_key_with(name, allocation, MANAGER).await
    }

    async fn member_key_with(
        &self,
        name: &str,
        allocation: Option<&str>,
        scopes: &[&str],
    ) -> String {
        self.ensure_member(name).await;
        let mut body = json!({"name": format!("{name}-key"), "scopes": scopes});
        if let Some(a) = allocation {
            body["allocation"] = json!(a);
        }
        let r = self
            .post(&format!("/api/users/{name}/keys"), ADMIN_KEY, body)
            .await;
        assert_eq!(r.status(), 201, "minting a key for {name}");
        let v: Value = r.json().await.unwrap();
        v["key"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// Registers the mock as an `openai-compatible` provider (models discovered).
    pub async fn add_mock(&self, name: &str, mock: &MockUpstream) -> Value {
        self.add_mock_with_key(ADMIN_KEY, name, mock).await
    }

    /// As [`add_mock`](Self::add_mock), authenticated with `key`.
    pub async fn add_mock_with_key(&self, key: &str, name: &str, mock: &MockUpstream) -> Value {
        let r = self
            .post(
                "/api/providers",
                key,
                json!({"name": name, "kind": "openai-compatible", "endpoint": mock.origin(), "api_key": format!("sk-upstream-{name}")}),
            )
            .await;
        assert_eq!(r.status(), 201, "creating provider {name}");
        r.json().await.unwrap()
    }

    pub async fn chat(&self, key: &str, model: &str) -> reqwest::Response {
        self.post(
            "/v1/chat/completions",
            key,
            json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
    }

    pub async fn usage(&self, key: &str) -> Value {
        let r = self.get("/api/usage", key).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The organization's latest usage records, newest first (as the admin sees them).
    pub async fn org_records(&self) -> Vec<Value> {
        let r = self.get("/api/usage?scope=org&limit=100", ADMIN_KEY).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["data"].as_array().unwrap().clone()
    }

    pub async fn new_key(&self, body: Value) -> String {
        let r = self.post("/api/keys", ADMIN_KEY, body).await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        v["key"].as_str().unwrap().to_owned()
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }
}

/// Asserts an OpenAI-shaped error with this status and returns the error object.
pub async fn expect_error(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status, "status");
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    let err = v["error"].clone();
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(err["type"].is_string(), "{v}");
    err
}

/// Reads an SSE body into its events: (`event:` name or "", parsed `data`).
pub async fn sse_events(resp: reqwest::Response) -> Vec<(String, Value)> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or(Value::String(d.to_owned()));
                }
            }
            (name, data)
        })
        .collect()
}

/// Reads an SSE body into its `data:` payloads.
pub async fn sse_data(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
        .collect()
}

/// A PostgreSQL URL whose connections use a fresh private schema of the database named by
/// `MODELGATE_TEST_POSTGRES_URL` (default: the local `test` database).
pub async fn private_schema_url() -> String {
    let base = std::env::var("MODELGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = modelgate_core::ids::new_id("gw");
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("PostgreSQL must be reachable (run .ci/services)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// The real `modelgate serve` binary on `dir` (127.0.0.1 port 0, the admin key as
/// bootstrap, `MODELGATE_MASTER_KEY` unset unless `env` sets it, and `env` added), so a
/// test can SIGKILL it; returns the child and its `host:port`.
pub fn spawn_serve(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_modelgate"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("MODELGATE_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
        .env_remove("MODELGATE_MASTER_KEY")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the binary printed its address")
            .unwrap();
        if let Some(a) = line.strip_prefix("modelgate listening on http://") {
            break a.to_owned();
        }
    };
    (child, addr)
}
