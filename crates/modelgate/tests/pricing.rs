//! Every request on a budgeted key has a price or is refused: Azure deployments priced by
//! the OpenAI model they serve, Bedrock model ids and inference profiles by the catalog,
//! dated snapshots by their family, a provider's default price (`prices["*"]`), and models
//! nobody priced refused before any upstream call unless the org allows them.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{
    BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, CUT_LONG_DELTAS, MockUpstream,
};
use serde_json::{Value, json};

/// A member with a $1 allocation and a key bound to it.
async fn budgeted_member(gw: &Gw) -> String {
    gw.budgeted_member("ann", "ann-budget", 1.0, "monthly")
        .await
}

async fn add(gw: &Gw, body: Value) {
    let name = body["name"].as_str().unwrap().to_owned();
    let r = gw.post("/api/providers", ADMIN_KEY, body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    gw.share_with_org(&name).await;
}

async fn spent(gw: &Gw) -> f64 {
    let r = gw.get("/api/allocations/ann-budget", ADMIN_KEY).await;
    let v: Value = r.json().await.unwrap();
    v["used_usd"].as_f64().unwrap()
}

#[tokio::test]
async fn azure_bedrock_and_dated_ids_are_priced_by_the_catalog() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add(
        &gw,
        json!({"name": "azure", "kind": "azure-openai", "endpoint": mock.origin(), "api_key": "k",
        "deployments": {"gpt-4o": "prod-4o", "gpt-4o-2024-11-20": "prod-4o-new"}}),
    )
    .await;
    add(&gw, json!({"name": "bedrock", "kind": "aws-bedrock", "region": BEDROCK_REGION, "endpoint": mock.origin(),
        "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": BEDROCK_SECRET_KEY},
        "models": ["anthropic.claude-3-5-sonnet-20240620-v1:0", "us.anthropic.claude-sonnet-4-20250514-v1:0", "amazon.nova-pro-v1:0"]})).await;
    let key = budgeted_member(&gw).await;
    let mut before = 0.0;
    for model in [
        "azure:gpt-4o",
        "azure:gpt-4o-2024-11-20",
        "bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0",
        "bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0",
        "bedrock:amazon.nova-pro-v1:0",
    ] {
        let r = gw
            .post(
                "/v1/chat/completions",
                &key,
                json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.status(), 200, "{model}: {}", r.text().await.unwrap());
        let now = spent(&gw).await;
        assert!(now > before, "{model} was charged nothing ({now})");
        before = now;
    }
    // The member's usage view shows what it cost.
    let usage = gw.usage(&key).await;
    assert_eq!(usage["totals"]["requests"], 5);
    assert!(
        usage["totals"]["cost_usd"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
}

#[tokio::test]
async fn unpriced_models_are_refused_on_budgeted_keys_before_any_upstream_call() {
    let mock = MockUpstream::start(&["private-llm"]).await;
    let gw = start_gateway().await;
    add(
        &gw,
        json!({"name": "lab", "kind": "openai-compatible", "endpoint": mock.origin()}),
    )
    .await;
    add(
        &gw,
        json!({"name": "azure", "kind": "azure-openai", "endpoint": mock.origin(), "api_key": "k"}),
    )
    .await;
    let key = budgeted_member(&gw).await;
    let body = |m: &str| json!({"model": m, "messages": [{"role": "user", "content": "hi"}]});
    for model in ["lab/private-llm", "azure:my-own-deployment"] {
        let r = gw.post("/v1/chat/completions", &key, body(model)).await;
        let err = expect_error(r, 402).await;
        assert_eq!(err["code"], "model_unpriced", "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("prices") && message.contains("allow_unpriced"),
            "{message}"
        );
    }
    // The Anthropic front door gets its own error shape.
    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "lab/private-llm", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(
        mock.hits("/v1/chat/completions"),
        0,
        "refused before any upstream call"
    );
    assert_eq!(mock.hits("/azure/my-own-deployment/chat/completions"), 0);

    // An unbudgeted key (an admin's) keeps working on unpriced models.
    let r = gw
        .post("/v1/chat/completions", ADMIN_KEY, body("lab/private-llm"))
        .await;
    assert_eq!(r.status(), 200);

    // A default price for the provider's models prices it; zero declares it free.
    let r = gw
        .patch(
            "/api/providers/lab",
            ADMIN_KEY,
            json!({"prices": {"*": {"input": 0.0, "output": 0.0}}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = gw
        .post("/v1/chat/completions", &key, body("lab/private-llm"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(spent(&gw).await, 0.0);

    // Or the organization allows unpriced models (metered at zero).
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            body("azure:my-own-deployment"),
        )
        .await;
    expect_error(r, 402).await;
    let r = gw
        .patch("/api/settings", ADMIN_KEY, json!({"allow_unpriced": true}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["allow_unpriced"], true);
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            body("azure:my-own-deployment"),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_unpriced_candidate_is_skipped_for_a_priced_fallback() {
    let mock = MockUpstream::start(&["private-llm"]).await;
    let gw = start_gateway().await;
    add(
        &gw,
        json!({"name": "lab", "kind": "openai-compatible", "endpoint": mock.origin()}),
    )
    .await;
    add(
        &gw,
        json!({"name": "priced", "kind": "openai-compatible", "endpoint": mock.origin(),
        "prices": {"private-llm": {"input": 1.0, "output": 1.0}}}),
    )
    .await;
    let key = budgeted_member(&gw).await;
    let r = gw
        .post(
            "/v1/chat/completions",
            &key,
            json!({"model": "lab/private-llm", "models": ["priced/private-llm"],
                "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-provider"], "priced");
    assert_eq!(mock.hits("/v1/chat/completions"), 1);
}

#[tokio::test]
async fn a_key_minted_before_its_owner_had_an_allocation_draws_from_the_one_they_get() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    add(
        &gw,
        json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(),
        "prices": {"m": {"input": 100.0, "output": 100.0}}}),
    )
    .await;
    // No allocation yet: the key is unbudgeted, and works.
    let key = gw.member_key("bob", None).await;
    let body =
        json!({"model": "p/m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/chat/completions", &key, body.clone()).await;
    assert_eq!(r.status(), 200);
    // An allocation arrives: the same key now draws from it, and its limit holds.
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "bob-budget", "user": "bob", "limit_usd": 0.01, "period": "none"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = gw.post("/v1/chat/completions", &key, body.clone()).await;
    assert_eq!(r.status(), 200);
    let r = gw.get("/api/allocations/bob-budget", ADMIN_KEY).await;
    let v: Value = r.json().await.unwrap();
    assert!(v["used_usd"].as_f64().unwrap() > 0.0, "{v}");
    let big = json!({"model": "p/m", "max_tokens": 100_000, "messages": [{"role": "user", "content": "hi"}]});
    expect_error(gw.post("/v1/chat/completions", &key, big).await, 402).await;
    // Two allocations: the old key must say which, like a new key.
    let r = gw
        .post(
            "/api/allocations",
            ADMIN_KEY,
            json!({"name": "bob-other", "user": "bob", "limit_usd": 1.0, "period": "none"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let err = expect_error(gw.post("/v1/chat/completions", &key, body).await, 400).await;
    assert_eq!(err["code"], "allocation_required");
}

#[tokio::test]
async fn the_worst_case_counts_every_answer_and_content_sent_by_reference() {
    let mock = MockUpstream::start(&["m"]).await;
    let gw = start_gateway().await;
    // $1 per million tokens: a token is a micro-dollar. A context of 10,000 tokens.
    add(
        &gw,
        json!({"name": "p", "kind": "openai-compatible", "endpoint": mock.origin(), "models": ["m"],
            "prices": {"m": {"input": 1.0, "output": 1.0, "context": 10000, "max_output": 100}}}),
    )
    .await;
    // $0.005: 5,000 tokens of worst case.
    let key = gw.budgeted_member("cy", "cy-budget", 0.005, "none").await;
    let image = |url: &str| {
        json!([{"role": "user", "content": [{"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": url}}]}])
    };
    let text = json!([{"role": "user", "content": "hi"}]);
    // (what, messages, n, max_tokens, admitted)
    let cases = [
        ("one answer of 100 tokens", text.clone(), 1, 100, true),
        (
            "n = 30: 3,000 output tokens fit",
            text.clone(),
            30,
            100,
            true,
        ),
        (
            "n = 60: 6,000 output tokens do not",
            text.clone(),
            60,
            100,
            false,
        ),
        (
            "an inline image is counted by its bytes",
            image("data:image/png;base64,iVBORw0KGgo="),
            1,
            100,
            true,
        ),
        (
            "an image by URL may fill the 10,000-token context",
            image("https://example.com/cat.png"),
            1,
            100,
            false,
        ),
    ];
    for (what, messages, n, max_tokens, admitted) in cases {
        let hits = mock.hits("/v1/chat/completions");
        let r = gw
            .post(
                "/v1/chat/completions",
                &key,
                json!({"model": "p:m", "messages": messages, "n": n, "max_tokens": max_tokens}),
            )
            .await;
        if admitted {
            assert_eq!(r.status(), 200, "{what}: {}", r.text().await.unwrap());
        } else {
            let err = expect_error(r, 402).await;
            assert_eq!(err["code"], "budget_exceeded", "{what}");
            assert_eq!(
                mock.hits("/v1/chat/completions"),
                hits,
                "{what}: no upstream call"
            );
        }
    }
}

#[tokio::test]
async fn an_azure_deployment_is_priced_by_the_model_azure_reports() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    // The deployment is used by its own name: the map names no model for it.
    add(
        &gw,
        json!({"name": "azure", "kind": "azure-openai", "endpoint": mock.origin(), "api_key": "k",
            "models": ["unmapped-prod"]}),
    )
    .await;
    let key = budgeted_member(&gw).await;
    let ask = json!({"model": "azure:unmapped-prod", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    // Nothing prices it yet: refused on a budgeted key, before the upstream.
    let err = expect_error(
        gw.post("/v1/chat/completions", &key, ask.clone()).await,
        402,
    )
    .await;
    assert_eq!(err["code"], "model_unpriced");
    // An unbudgeted request's answer says the deployment serves gpt-4o-2024-11-20: that
    // request is priced, and so is every later one.
    let r = gw
        .post("/v1/chat/completions", ADMIN_KEY, ask.clone())
        .await;
    assert_eq!(r.status(), 200);
    let admin_cost = gw.usage(ADMIN_KEY).await["totals"]["cost_usd"]
        .as_f64()
        .unwrap();
    assert!(
        admin_cost > 0.0,
        "the answer that named the model is priced"
    );
    let r = gw.post("/v1/chat/completions", &key, ask).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(spent(&gw).await > 0.0);
}

#[tokio::test]
async fn a_stream_cut_short_is_billed_for_what_was_relayed() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add(
        &gw,
        json!({"name": "claude", "kind": "anthropic", "endpoint": mock.origin(), "api_key": "sk-ant-x",
            "models": ["claude-cut-long"], "prices": {"claude-cut-long": {"input": 0.0, "output": 1.0}}}),
    )
    .await;
    let key = budgeted_member(&gw).await;
    let r = gw
        .post(
            "/v1/messages",
            &key,
            json!({"model": "claude:claude-cut-long", "max_tokens": 2000, "stream": true,
                "messages": [{"role": "user", "content": "write at length"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    let relayed: usize = events
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .map(str::len)
        .sum();
    assert!(relayed >= CUT_LONG_DELTAS * 27, "{relayed} bytes relayed");
    assert_eq!(
        events.last().unwrap().0,
        "error",
        "the cut stream ends with an error"
    );
    let usage = gw.usage(&key).await;
    let record = &usage["data"][0];
    assert_eq!(record["outcome"], "stream_broken");
    // The upstream reported 1 output token; about 4 bytes a token were relayed.
    let billed = record["usage"]["output_tokens"].as_u64().unwrap();
    assert!(
        billed as usize >= relayed / 4,
        "billed {billed} tokens for {relayed} bytes relayed"
    );
    assert_eq!(record["usage_estimated"], true);
    assert!((spent(&gw).await - billed as f64 * 1e-6).abs() < 1e-9);
}
