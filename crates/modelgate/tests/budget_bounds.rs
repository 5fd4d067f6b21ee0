//! Budgets bound spend on every provider kind out of the box, with figures: concurrent
//! requests against a small allocation on Azure OpenAI (priced by the catalog through its
//! deployment), Bedrock (catalog, signed), Anthropic (catalog) and an OpenAI-compatible
//! server (its own prices) end with spend at most the limit, and the refused requests never
//! reach the upstream. Then the one overspend left, measured: an upstream that ignores
//! `max_tokens` answers more than the worst case reserved, and an allocation's
//! `max_in_flight` bounds the excess. The figures printed here are in the README.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, MockUpstream};
use serde_json::{Value, json};

async fn allocation(gw: &Gw, user: &str, limit_usd: f64, max_in_flight: Option<u64>) -> String {
    let name = format!("{user}-budget");
    let key = gw.budgeted_member(user, &name, limit_usd, "none").await;
    if let Some(n) = max_in_flight {
        let r = gw
            .patch(
                &format!("/api/allocations/{name}"),
                ADMIN_KEY,
                json!({"max_in_flight": n}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    key
}

async fn used_and_reserved(gw: &Gw, user: &str) -> (f64, f64) {
    let r = gw
        .get(&format!("/api/allocations/{user}-budget"), ADMIN_KEY)
        .await;
    let v: Value = r.json().await.unwrap();
    (
        v["used_usd"].as_f64().unwrap(),
        v["reserved_usd"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn concurrent_requests_never_overspend_on_any_provider_kind() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    let origin = mock.origin();
    let providers = [
        json!({"name": "azure", "kind": "azure-openai", "endpoint": origin, "api_key": "k",
            "deployments": {"gpt-4o": "prod-4o"}}),
        json!({"name": "bedrock", "kind": "aws-bedrock", "region": BEDROCK_REGION, "endpoint": origin,
            "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": BEDROCK_SECRET_KEY},
            "models": ["anthropic.claude-3-5-haiku-20241022-v1:0"]}),
        json!({"name": "claude", "kind": "anthropic", "endpoint": origin, "api_key": "sk-ant-x",
            "models": ["claude-haiku-4-5"]}),
        json!({"name": "vllm", "kind": "openai-compatible", "endpoint": origin, "models": ["m"],
            "prices": {"m": {"input": 1.0, "output": 4.0}}}),
    ];
    for p in providers {
        let name = p["name"].as_str().unwrap().to_owned();
        let r = gw.post("/api/providers", ADMIN_KEY, p).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        gw.share_with_org(&name).await;
    }
    let ask = |model: &str| json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    // (user, path, body, upstream path the mock records)
    let cases = [
        (
            "az",
            "/v1/chat/completions",
            ask("azure:gpt-4o"),
            "/azure/prod-4o/chat/completions",
        ),
        (
            "br",
            "/v1/chat/completions",
            ask("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"),
            "/bedrock/converse",
        ),
        (
            "an",
            "/v1/messages",
            ask("claude:claude-haiku-4-5"),
            "/v1/messages",
        ),
        (
            "oc",
            "/v1/chat/completions",
            ask("vllm:m"),
            "/v1/chat/completions",
        ),
    ];
    for (user, path, body, upstream) in cases {
        // A limit of $0.002: a few dozen of these requests' worst cases, far fewer than
        // the 150 sent at once.
        let limit = 0.002;
        let key = allocation(&gw, user, limit, None).await;
        let hits = mock.hits(upstream);
        let statuses = gw.burst(&key, path, &body, 150).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 402).count();
        assert_eq!(ok + refused, 150, "{user}: only 200 and 402: {statuses:?}");
        assert!(
            ok > 0 && refused > 0,
            "{user}: {ok} answered, {refused} refused"
        );
        assert_eq!(
            mock.hits(upstream) - hits,
            ok as u64,
            "{user}: the refused never reached the upstream"
        );
        let (used, reserved) = used_and_reserved(&gw, user).await;
        assert!(used > 0.0, "{user}: priced");
        assert!(used <= limit + 1e-12, "{user}: spent {used} of {limit}");
        assert_eq!(reserved, 0.0, "{user}: no reservation left behind");
        println!(
            "figure {user}: 150 concurrent, {ok} answered, {refused} refused before the upstream, spent ${used:.6} of ${limit}"
        );
    }
}

/// The mock answers a fixed number of output tokens whatever `max_tokens` says, so asking
/// for one output token reserves less than the answer costs: the overspend an upstream
/// that ignores `max_tokens` can cause. Without a bound every request admitted before the
/// first settles adds its excess; with `max_in_flight` at most that many do at a time.
#[tokio::test]
async fn an_upstream_that_ignores_max_tokens_overspends_by_at_most_max_in_flight_excesses() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    // Output only, $100 per million: one token = 100 micro-dollars.
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(), "models": ["m"],
                "prices": {"m": {"input": 0.0, "output": 100.0}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    gw.share_with_org("p").await;
    let body =
        json!({"model": "p:m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]});
    // What one answer really costs (the admin's key is not budgeted).
    let r = gw
        .post("/v1/chat/completions", ADMIN_KEY, body.clone())
        .await;
    let answer: Value = r.json().await.unwrap();
    let tokens = answer["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(tokens > 1, "the mock ignores max_tokens");
    let (worst, actual) = (100e-6, tokens as f64 * 100e-6);
    let excess = actual - worst;
    let limit = 40.0 * worst;
    for (user, bound) in [("unbounded", None), ("bounded", Some(4u64))] {
        let key = allocation(&gw, user, limit, bound).await;
        let statuses = gw.burst(&key, "/v1/chat/completions", &body, 200).await;
        assert!(
            statuses.iter().all(|s| [200, 402, 429].contains(s)),
            "{statuses:?}"
        );
        let (used, reserved) = used_and_reserved(&gw, user).await;
        assert_eq!(reserved, 0.0);
        let over = (used - limit).max(0.0);
        if let Some(n) = bound {
            let most = n as f64 * excess;
            assert!(
                over <= most + 1e-9,
                "{user}: overspent ${over:.6}, more than {n} x ${excess:.6}"
            );
            let busy = statuses.iter().filter(|s| **s == 429).count();
            println!(
                "figure {user}: limit ${limit:.6}, answers cost {tokens} tokens for 1 reserved; overspend ${over:.6} (bound {n} x ${excess:.6} = ${most:.6}); {busy} refused as busy"
            );
        } else {
            // Without a bound the excess is still finite: each admitted request reserved
            // its worst case, so at most limit / worst requests ran, each over by `excess`.
            assert!(over <= (limit / worst) * excess + 1e-9);
            println!(
                "figure {user}: limit ${limit:.6}, answers cost {tokens} tokens for 1 reserved; overspend ${over:.6}"
            );
        }
    }
}
