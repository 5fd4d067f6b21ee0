//! Three replicas on loopback sharing one PostgreSQL schema and one Redis (a private key
//! prefix per test): a key made through one works on the others, a revocation or an
//! unshare on one holds on another within a second, and an allocation holds its exact
//! bound under 200 concurrent requests spread over all three.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Gw, expect_error, private_schema_url, start_in};
use modelgate_testkit::MockUpstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One master key for every replica: each must open the secrets the others sealed.
const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn replicas() -> [Gw; 3] {
    let database = private_schema_url().await;
    let redis = std::env::var("MODELGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = modelgate_core::ids::new_id("t");
    let mut out = Vec::new();
    for _ in 0..3 {
        let (database, redis, prefix) = (database.clone(), redis.clone(), prefix.clone());
        out.push(
            start_in(tempfile::tempdir().unwrap(), move |o| {
                o.database = Some(database);
                o.master_key = Some(MASTER_KEY.into());
                o.settings.redis_url = Some(redis);
                o.settings.redis_prefix = prefix;
            })
            .await,
        );
    }
    out.try_into().ok().unwrap()
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Polls `probe` until it is true; returns how long that took (panics after 5 s).
async fn within<F, Fut>(mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !probe().await {
        assert!(started.elapsed() < Duration::from_secs(5), "never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn keys_providers_and_revocations_are_the_same_on_every_replica() {
    let mock = MockUpstream::start(&["m"]).await;
    let [a, b, c] = replicas().await;
    a.add_mock("shared", &mock).await;
    a.share_with_org("shared").await;
    let key = a.member_key("mia", None).await;
    // Made through A, known to B and C (the provider and its share too) within a second.
    for gw in [&b, &c] {
        let took = within(|| async {
            gw.post("/v1/chat/completions", &key, chat("shared/m"))
                .await
                .status()
                == 200
        })
        .await;
        assert!(took < Duration::from_secs(1), "sharing took {took:?}");
    }
    // Unshared on A: B stops serving her within a second.
    let r = a
        .delete(
            "/api/providers/shared/shares",
            ADMIN_KEY,
            Some(json!({"org": true})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let took = within(|| async {
        b.post("/v1/chat/completions", &key, chat("shared/m"))
            .await
            .status()
            == 404
    })
    .await;
    assert!(took < Duration::from_secs(1), "unshare took {took:?}");
    a.share_with_org("shared").await;
    within(|| async {
        c.post("/v1/chat/completions", &key, chat("shared/m"))
            .await
            .status()
            == 200
    })
    .await;
    // Revoked on A while C has it cached: refused on C within a second.
    let keys: Value = a
        .get("/api/keys?q=mia", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    let r = a.delete(&format!("/api/keys/{id}"), ADMIN_KEY, None).await;
    assert_eq!(r.status(), 204);
    let took = within(|| async {
        c.post("/v1/chat/completions", &key, chat("shared/m"))
            .await
            .status()
            == 401
    })
    .await;
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");
    let e = expect_error(
        c.post("/v1/chat/completions", &key, chat("shared/m")).await,
        401,
    )
    .await;
    assert_eq!(e["code"], "api_key_revoked");
}

#[tokio::test]
async fn an_allocation_holds_across_replicas_under_two_hundred_concurrent_requests() {
    let mock = MockUpstream::start(&["m-out"]).await;
    let [a, b, c] = replicas().await;
    // Output-priced so the worst case is the actual cost: 1 token = 100 micro-dollars.
    let r = a
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
                   "models": ["m-out"], "prices": {"m-out": {"input": 0.0, "output": 100.0}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    a.share_with_org("p").await;
    wait_for_provider(&[&b, &c], ADMIN_KEY, "p").await;
    // What one answer costs (as an admin, unbudgeted).
    let r = a
        .post("/v1/chat/completions", ADMIN_KEY, chat("p/m-out"))
        .await;
    let v: Value = r.json().await.unwrap();
    let tokens = v["usage"]["completion_tokens"].as_u64().unwrap();
    let one = tokens as f64 * 100.0 / 1e6;
    let r = a
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "ivy", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = a
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "ivy-budget", "user": "ivy", "limit_usd": one * 10.0, "period": "monthly"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = a.member_key("ivy", Some("ivy-budget")).await;
    // Every replica knows the allocation before the burst.
    for gw in [&b, &c] {
        within(|| async {
            gw.get("/api/allocations/ivy-budget", ADMIN_KEY)
                .await
                .status()
                == 200
        })
        .await;
    }
    let body = json!({"model": "p/m-out", "max_tokens": tokens,
                      "messages": [{"role": "user", "content": "hi"}]});
    let replicas = [&a, &b, &c];
    let requests = (0..200).map(|i| {
        let (gw, key, body) = (replicas[i % 3], key.clone(), body.clone());
        async move {
            gw.post("/v1/chat/completions", &key, body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 402).count();
    assert_eq!(ok + refused, 200, "{statuses:?}");
    assert_eq!(
        ok, 10,
        "exactly the ten the allocation covers, over three replicas"
    );
    // Settled everywhere: spent exactly the limit, nothing left reserved, on any replica.
    let standing = within(|| async {
        let s: Value = c
            .get("/api/allocations/ivy-budget", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
        s["reserved_usd"] == 0.0
    })
    .await;
    assert!(standing < Duration::from_secs(2));
    let s: Value = b
        .get("/api/allocations/ivy-budget", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    let used = s["used_usd"].as_f64().unwrap();
    assert!((used - one * 10.0).abs() < 1e-9, "{s}");
    expect_error(b.post("/v1/chat/completions", &key, body).await, 402).await;
}

/// Waits until every replica lets `key` see provider `name`.
async fn wait_for_provider(replicas: &[&Gw], key: &str, name: &str) {
    for gw in replicas {
        within(|| async {
            gw.get(&format!("/api/providers/{name}"), key)
                .await
                .status()
                == 200
        })
        .await;
    }
}

#[tokio::test]
async fn rate_limits_count_across_replicas() {
    let mock = MockUpstream::start(&["m"]).await;
    let [a, b, c] = replicas().await;
    a.add_mock("p", &mock).await;
    let r = a
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "rita", "role": "member", "rpm": 4}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = a.member_manager_key("rita", None).await; // also reads the providers
    a.share_with_org("p").await;
    wait_for_provider(&[&b, &c], &key, "p").await;
    let mut statuses = Vec::new();
    for gw in [&a, &b, &c, &a, &b, &c] {
        let r = gw.post("/v1/chat/completions", &key, chat("p/m")).await;
        statuses.push(r.status().as_u16());
    }
    // Four per minute for her, wherever the requests land; a minute turning during the
    // run can allow a few more, never all six.
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((4..6).contains(&ok), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// Runs the tunnel agent against `gw` (dropped with the returned handle's abort).
fn agent(gw: &Gw, token: &str, target: &MockUpstream) -> tokio::task::JoinHandle<()> {
    let config = modelgate_tunnel::AgentConfig {
        gateway: gw.base.parse().unwrap(),
        token: token.to_owned(),
        target: target.origin().parse().unwrap(),
        target_api_key: None,
        ca_file: None,
        name: None,
    };
    tokio::spawn(async move {
        let _ = modelgate_tunnel::run(config, std::future::pending()).await;
    })
}

async fn tunnel_status(gw: &Gw, key: &str, name: &str) -> Value {
    gw.get(&format!("/api/tunnels/{name}"), key)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tunnel_on_one_replica_answers_through_the_others() {
    let model_server = MockUpstream::start(&["llama"]).await;
    let [a, b, c] = replicas().await;
    let key = a.member_manager_key("tess", None).await;
    let r = a.post("/api/tunnels", &key, json!({"name": "lab"})).await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_a = agent(&a, &token, &model_server);
    // B and C learn that the tunnel runs (on A) and what it serves.
    for gw in [&b, &c] {
        within(|| async {
            let v = tunnel_status(gw, &key, "lab").await;
            v["status"] == "running" && v["models"] == json!(["llama"])
        })
        .await;
    }
    let r = c
        .post("/v1/chat/completions", &key, chat("lab/llama"))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["x-modelgate-provider"], "lab");
    let mut body = chat("llama");
    body["stream"] = json!(true);
    let events = common::sse_data(b.post("/v1/chat/completions", &key, body).await).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    // The usage is C's and B's to record, as for any provider.
    within(|| async { a.usage(&key).await["totals"]["requests"] == 2 }).await;

    // The agent dies: every replica says stopped; it comes back on B, and C follows.
    on_a.abort();
    within(|| async { tunnel_status(&c, &key, "lab").await["status"] == "stopped" }).await;
    let e = expect_error(
        c.post("/v1/chat/completions", &key, chat("lab/llama"))
            .await,
        503,
    )
    .await;
    assert_eq!(e["code"], "tunnel_stopped");
    let on_b = agent(&b, &token, &model_server);
    within(|| async {
        c.post("/v1/chat/completions", &key, chat("lab/llama"))
            .await
            .status()
            == 200
    })
    .await;
    // The internal channel: a signed request is served once; its replay, and a signed
    // request for a path outside the model API, are refused.
    let id = c
        .get("/api/providers/lab", &key)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let master = modelgate_core::sealing::MasterKey::parse(MASTER_KEY).unwrap();
    let signed = |path: &str| {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let nonce = modelgate_core::ids::new_id("n");
        let mac = master.internal_mac(&format!("{id}|{ts}|{nonce}|GET|{path}"));
        format!("{ts} {nonce} {mac}")
    };
    let internal = |path: &str, header: String| {
        reqwest::Client::new()
            .get(b.url(&format!("/internal/tunnels/{id}{path}")))
            .header("x-modelgate-internal", header)
            .send()
    };
    let header = signed("/v1/models");
    assert_eq!(
        internal("/v1/models", header.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(internal("/v1/models", header).await.unwrap().status(), 401);
    let r = internal("/api/tags", signed("/api/tags")).await.unwrap();
    assert_eq!(r.status(), 403);
    // Deleted through C, the tunnel's agent on B is dropped and stops for good.
    let r = c.delete("/api/tunnels/lab", &key, None).await;
    assert_eq!(r.status(), 204);
    let ended = tokio::time::timeout(Duration::from_secs(15), on_b).await;
    assert!(ended.is_ok(), "the agent on B was not dropped");
    // A forged internal request is refused.
    let r = reqwest::Client::new()
        .post(b.url("/internal/tunnels/prv_x/v1/chat/completions"))
        .header("x-modelgate-internal", "1 n_1 deadbeef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A replica as a real process (so it can be SIGKILLed), on the shared database and Redis.
fn spawn_replica(
    dir: &std::path::Path,
    database: &str,
    redis: &str,
    prefix: &str,
) -> (std::process::Child, String) {
    // Holds of in-flight requests are released after twice this.
    let config = dir.join("modelgate.toml");
    std::fs::write(&config, "request_timeout_secs = 1\n").unwrap();
    let (child, addr) = common::spawn_serve(
        dir,
        &[
            ("MODELGATE_CONFIG", config.to_str().unwrap()),
            ("MODELGATE_DATABASE", database),
            ("MODELGATE_REDIS", redis),
            ("MODELGATE_REDIS_PREFIX", prefix),
            ("MODELGATE_MASTER_KEY", MASTER_KEY),
        ],
    );
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_under_load_loses_no_answered_usage_and_frees_its_holds() {
    let mock = MockUpstream::start(&["m", "m-slow"]).await;
    let database = private_schema_url().await;
    let redis = std::env::var("MODELGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = modelgate_core::ids::new_id("t");
    let b = {
        let (database, redis, prefix) = (database.clone(), redis.clone(), prefix.clone());
        start_in(tempfile::tempdir().unwrap(), move |o| {
            o.database = Some(database);
            o.master_key = Some(MASTER_KEY.into());
            o.settings.redis_url = Some(redis);
            o.settings.redis_prefix = prefix;
        })
        .await
    };
    let r = b
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
                   "models": ["m", "m-slow"],
                   "prices": {"m": {"input": 1.0, "output": 1.0}, "m-slow": {"input": 1.0, "output": 1.0}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    b.share_with_org("p").await;
    let r = b
        .post(
            "/api/users",
            ADMIN_KEY,
            json!({"name": "kai", "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = b
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "kai-budget", "user": "kai", "limit_usd": 100, "period": "monthly"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = b.member_key("kai", Some("kai-budget")).await;

    let dir = tempfile::tempdir().unwrap();
    let (mut a, base) = spawn_replica(dir.path(), &database, &redis, &prefix);
    let http = reqwest::Client::new();
    let send = |model: &str, stream: bool| {
        http.post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(
                &json!({"model": format!("p/{model}"), "stream": stream, "max_tokens": 50,
                          "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
    };
    // Requests in flight when the replica dies: their holds stay behind in Redis.
    let in_flight: Vec<_> = (0..4)
        .map(|_| tokio::spawn(send("m-slow", false)))
        .collect();
    let mut answered = 0;
    for i in 0..30 {
        let r = send("m", i % 2 == 0).await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        answered += 1;
    }
    let held: Value = b
        .get("/api/allocations/kai-budget", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(held["reserved_usd"].as_f64().unwrap() > 0.0, "{held}");
    a.kill().unwrap();
    a.wait().unwrap();
    for f in in_flight {
        assert!(f.await.unwrap().is_err(), "the dead replica answered");
    }
    // Its holds expire within twice its request timeout; B sees them gone.
    let freed = within(|| async {
        let s: Value = b
            .get("/api/allocations/kai-budget", ADMIN_KEY)
            .await
            .json()
            .await
            .unwrap();
        s["reserved_usd"] == 0.0
    })
    .await;
    assert!(
        freed < Duration::from_secs(4),
        "holds freed after {freed:?}"
    );
    // Back on its data dir, the replica stores what its journal holds: every answer counts.
    let (mut again, _) = spawn_replica(dir.path(), &database, &redis, &prefix);
    within(|| async {
        b.get("/api/usage?scope=org&limit=100", ADMIN_KEY)
            .await
            .json::<Value>()
            .await
            .unwrap()["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["model"] == "m")
            .count()
            == answered
    })
    .await;
    again.kill().unwrap();
    again.wait().unwrap();
}
