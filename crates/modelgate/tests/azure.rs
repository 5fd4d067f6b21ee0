//! Azure OpenAI: deployment paths, `api-version`, the model → deployment map, `api-key`
//! auth, and Entra ID client credentials with a cached token — against a mock that checks
//! the path, the query and the credentials it receives, and a mock token endpoint.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{ANSWER, MockUpstream};
use serde_json::{Value, json};

#[tokio::test]
async fn api_key_auth_deployment_paths_and_api_version() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "azure", "kind": "azure-openai", "endpoint": format!("{}/", mock.origin()),
                "api_key": "az-key-canary-1", "api_version": "2024-10-21",
                "deployments": {"gpt-4o": "prod-4o", "text-embedding-3-small": "emb"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["models"], json!(["gpt-4o", "text-embedding-3-small"]));
    assert_eq!(v["azure"]["api_version"], "2024-10-21");
    assert!(!v.to_string().contains("az-key-canary-1"));

    let r = gw.chat(ADMIN_KEY, "azure:gpt-4o").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["choices"][0]["message"]["content"],
        ANSWER
    );
    let rec = mock.last("/azure/prod-4o/chat/completions").unwrap();
    assert_eq!(rec.headers["api-key"], "az-key-canary-1");
    assert!(rec.headers.get("authorization").is_none());
    assert_eq!(rec.query.as_deref(), Some("api-version=2024-10-21"));

    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(sse_data(r).await.last().unwrap(), "[DONE]");
    let r = gw
        .post(
            "/v1/embeddings",
            ADMIN_KEY,
            json!({"model": "text-embedding-3-small", "input": "x"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.hits("/azure/emb/embeddings"), 1);
    // A model without a mapping is its own deployment name, percent-encoded.
    assert_eq!(gw.chat(ADMIN_KEY, "azure:gpt-4o-mini").await.status(), 200);
    assert_eq!(mock.hits("/azure/gpt-4o-mini/chat/completions"), 1);
    // The Responses API is translated to chat completions on the deployment.
    let before = mock.hits("/azure/prod-4o/chat/completions");
    let r = gw
        .post(
            "/v1/responses",
            ADMIN_KEY,
            json!({"model": "azure:gpt-4o", "input": "x"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(mock.hits("/azure/prod-4o/chat/completions"), before + 1);

    let usage = gw.usage(ADMIN_KEY).await;
    assert_eq!(usage["totals"]["requests"], 5);

    // Azure-only fields are refused elsewhere, and an Azure provider needs its endpoint.
    expect_error(gw.post("/api/providers", ADMIN_KEY, json!({"name": "x", "kind": "openai-compatible", "endpoint": mock.origin(), "api_version": "1"})).await, 400).await;
    expect_error(
        gw.post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "y", "kind": "azure-openai", "api_key": "k"}),
        )
        .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn entra_id_tokens_are_fetched_once_and_cached() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "az", "kind": "azure-openai", "endpoint": mock.origin(),
                "auth": {"type": "azure-entra", "tenant_id": "t1", "client_id": "app-1", "client_secret": "entra-secret-canary",
                    "token_url": format!("{}/entra/t1/oauth2/v2.0/token", mock.origin())},
                "deployments": {"gpt-4o": "d1"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["auth"]["type"], "azure-entra");
    assert_eq!(v["azure"]["entra"]["client_id"], "app-1");
    assert!(!v.to_string().contains("entra-secret-canary"));

    for _ in 0..3 {
        assert_eq!(gw.chat(ADMIN_KEY, "az:gpt-4o").await.status(), 200);
    }
    assert_eq!(mock.hits("/entra/token"), 1, "the token is cached");
    let form = String::from_utf8(mock.last("/entra/token").unwrap().body.to_vec()).unwrap();
    assert!(form.contains("client_id=app-1") && form.contains("client_secret=entra-secret-canary"));
    let rec = mock.last("/azure/d1/chat/completions").unwrap();
    assert_eq!(rec.headers["authorization"], "Bearer entra-token-1");
    assert!(rec.headers.get("api-key").is_none());
    assert_eq!(rec.query.as_deref(), Some("api-version=2025-01-01-preview"));

    // A token endpoint that refuses: 502, and the provider's secret is not echoed.
    let r = gw
        .http
        .patch(gw.url("/api/providers/az"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"auth": {"type": "azure-entra", "tenant_id": "t1", "client_id": "app-1", "client_secret": "s",
            "token_url": format!("{}/entra/t1/oauth2/v2.0/nope", mock.origin())}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let err = expect_error(gw.chat(ADMIN_KEY, "az:gpt-4o").await, 502).await;
    assert!(err["message"].as_str().unwrap().contains("Entra"));
}

#[tokio::test]
async fn the_responses_api_goes_native_on_azure_when_its_api_version_serves_it() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    for (name, version, mode) in [
        ("az-new", "2025-04-01-preview", "native"),
        ("az-old", "2024-10-21", "auto"),
        ("az-default", "2024-10-21", "default"),
    ] {
        let mut body = json!({"name": name, "kind": "azure-openai", "endpoint": mock.origin(),
            "api_key": "az-key", "api_version": version, "deployments": {"gpt-4o": "prod-4o"}});
        if mode != "default" {
            body["responses_api"] = json!(mode);
        }
        let r = gw.post("/api/providers", ADMIN_KEY, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        let shown = if mode == "default" { "translate" } else { mode };
        assert_eq!(v["responses_api"], shown);
    }
    // native: Azure's own /openai/responses, the deployment named in the body.
    let r = gw
        .post(
            "/v1/responses",
            ADMIN_KEY,
            json!({"model": "az-new:gpt-4o", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["output"][0]["content"][0]["text"], ANSWER);
    assert_eq!(mock.hits("/azure/responses"), 1);
    let sent = mock.last("/azure/responses").unwrap();
    assert_eq!(
        sent.query.as_deref(),
        Some("api-version=2025-04-01-preview")
    );
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent["model"], "prod-4o");
    // auto on an api-version without it: Azure's 404, then chat on the deployment.
    let r = gw
        .post(
            "/v1/responses",
            ADMIN_KEY,
            json!({"model": "az-old:gpt-4o", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.hits("/azure/responses"), 2);
    assert_eq!(mock.hits("/azure/prod-4o/chat/completions"), 1);
    // The default translates straight away.
    let r = gw
        .post(
            "/v1/responses",
            ADMIN_KEY,
            json!({"model": "az-default:gpt-4o", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.hits("/azure/responses"), 2);
    assert_eq!(mock.hits("/azure/prod-4o/chat/completions"), 2);
}
