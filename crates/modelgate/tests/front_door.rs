//! The OpenAI front door over an OpenAI-compatible upstream: chat (stream and not),
//! completions, embeddings, models, both path prefixes, model resolution, pass-through
//! fidelity and usage records.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{ANSWER, CACHED_TOKENS, MockUpstream, PROMPT_TOKENS};
use serde_json::{Value, json};

#[tokio::test]
async fn chat_non_stream_passes_through_and_is_metered() {
    let mock = MockUpstream::start(&["llama3:8b"]).await;
    let gw = start_gateway().await;
    gw.add_mock("vllm", &mock).await;
    let body = json!({
        "model": "vllm:llama3:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "top_k": 5, "guided_json": {"type": "object"}, "chat_template_kwargs": {"x": [1, 2]}
    });
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_KEY)
        .header("x-request-id", "client-chosen-id")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "client-chosen-id");
    assert_eq!(resp.headers()["x-modelgate-provider"], "vllm");
    assert_eq!(resp.headers()["x-modelgate-model"], "llama3:8b");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], ANSWER);

    // The upstream got the client's fields untouched, the upstream model id, its own key.
    let sent = mock.last_json("/v1/chat/completions").unwrap();
    let mut expected = body.clone();
    expected["model"] = json!("llama3:8b");
    assert_eq!(sent, expected);
    let rec = mock.last("/v1/chat/completions").unwrap();
    assert_eq!(rec.headers["authorization"], "Bearer sk-upstream-vllm");

    let usage = gw.usage(ADMIN_KEY).await;
    let r = &usage["data"][0];
    assert_eq!(r["request_id"], "client-chosen-id");
    assert_eq!(r["provider"], "vllm");
    assert_eq!(r["model"], "llama3:8b");
    assert_eq!(r["api"], "chat.completions");
    assert_eq!(r["usage"]["input_tokens"], PROMPT_TOKENS);
    assert_eq!(r["usage"]["cached_tokens"], CACHED_TOKENS);
    assert_eq!(r["usage"]["output_tokens"], 5);
    assert_eq!(r["usage_estimated"], false);
    assert_eq!(r["outcome"], "ok");
    assert_eq!(r["status"], 200);
    assert!(r["latency_ms"].as_i64().unwrap() >= 0);
}

#[tokio::test]
async fn stream_hides_the_forced_usage_chunk_and_meters_it() {
    let mock = MockUpstream::start(&["m1"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "m1", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_data(resp).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert!(
        events.iter().all(|e| !e.contains("\"usage\"")),
        "usage chunk leaked: {events:?}"
    );
    let contents: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(contents, "Hello1lo2");
    // The gateway asked the upstream for usage even though the client did not.
    let sent = mock.last_json("/v1/chat/completions").unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let usage = gw.usage(ADMIN_KEY).await;
    let r = &usage["data"][0];
    assert_eq!(r["stream"], true);
    assert_eq!(r["usage"]["input_tokens"], PROMPT_TOKENS);
    assert_eq!(r["usage"]["output_tokens"], 3);
    assert_eq!(r["usage_estimated"], false);
    assert_eq!(r["outcome"], "ok");
    assert!(r["ttft_ms"].is_number());
}

#[tokio::test]
async fn stream_with_include_usage_keeps_the_usage_chunk() {
    let mock = MockUpstream::start(&["m1"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "m1", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let events = sse_data(resp).await;
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], PROMPT_TOKENS);
}

#[tokio::test]
async fn stream_without_upstream_usage_is_counted_not_zero() {
    let mock = MockUpstream::start_with_chunks(&["no-usage-model"], 6).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "no-usage-model", "stream": true, "messages": [{"role": "user", "content": "count these words please"}]}),
        )
        .await;
    let events = sse_data(resp).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let usage = gw.usage(ADMIN_KEY).await;
    let r = &usage["data"][0];
    assert_eq!(r["usage_estimated"], true);
    assert_eq!(r["usage"]["output_tokens"], 6);
    assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(r["outcome"], "ok");
}

#[tokio::test]
async fn completions_embeddings_and_the_api_prefix() {
    let mock = MockUpstream::start(&["emb", "base"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    for prefix in ["/v1", "/api/openai/v1"] {
        let r = gw
            .post(
                &format!("{prefix}/completions"),
                ADMIN_KEY,
                json!({"model": "base", "prompt": "Say"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{prefix}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["choices"][0]["text"], ANSWER);

        let r = gw
            .post(
                &format!("{prefix}/embeddings"),
                ADMIN_KEY,
                json!({"model": "up/emb", "input": ["a", "b"]}),
            )
            .await;
        assert_eq!(r.status(), 200, "{prefix}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 2);

        let r = gw.get(&format!("{prefix}/models"), ADMIN_KEY).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&"up/emb") && ids.contains(&"emb") && ids.contains(&"base"),
            "{ids:?}"
        );
    }
    let r = gw
        .post(
            "/v1/completions",
            ADMIN_KEY,
            json!({"model": "base", "prompt": "x", "stream": true}),
        )
        .await;
    let events = sse_data(r).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert_eq!(mock.hits("/v1/embeddings"), 2);
    let usage = gw.usage(ADMIN_KEY).await;
    let apis: Vec<&str> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["api"].as_str().unwrap())
        .collect();
    assert_eq!(apis.iter().filter(|a| **a == "embeddings").count(), 2);
    assert_eq!(apis.iter().filter(|a| **a == "completions").count(), 3);
    let r = gw.get("/v1/models/up/emb", ADMIN_KEY).await;
    assert_eq!(r.status(), 200);
    let r = gw.get("/v1/models/nope", ADMIN_KEY).await;
    expect_error(r, 404).await;
}

#[tokio::test]
async fn model_resolution_forms_and_ambiguity() {
    let a = MockUpstream::start(&["meta-llama/Llama-3.1-8B", "shared", "llama3:8b"]).await;
    let b = MockUpstream::start(&["shared"]).await;
    let gw = start_gateway().await;
    gw.add_mock("vllm", &a).await;
    gw.add_mock("other", &b).await;
    let cases = [
        ("vllm:llama3:8b", "vllm", "llama3:8b"),
        (
            "admin:vllm/meta-llama/Llama-3.1-8B",
            "vllm",
            "meta-llama/Llama-3.1-8B",
        ),
        (
            "vllm/meta-llama/Llama-3.1-8B",
            "vllm",
            "meta-llama/Llama-3.1-8B",
        ),
        ("meta-llama/Llama-3.1-8B", "vllm", "meta-llama/Llama-3.1-8B"),
        ("llama3:8b", "vllm", "llama3:8b"),
        ("other:shared", "other", "shared"),
        ("vllm:not-advertised", "vllm", "not-advertised"),
    ];
    for (model, provider, upstream_model) in cases {
        let r = gw.chat(ADMIN_KEY, model).await;
        assert_eq!(r.status(), 200, "{model}");
        assert_eq!(r.headers()["x-modelgate-provider"], provider, "{model}");
        assert_eq!(r.headers()["x-modelgate-model"], upstream_model, "{model}");
    }
    let err = expect_error(gw.chat(ADMIN_KEY, "shared").await, 400).await;
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("vllm/shared") && msg.contains("other/shared"),
        "{msg}"
    );
    assert_eq!(err["code"], "model_ambiguous");
    let err = expect_error(gw.chat(ADMIN_KEY, "gpt-nothing").await, 404).await;
    assert_eq!(err["code"], "model_not_found");
    expect_error(gw.chat(ADMIN_KEY, "nobody:shared").await, 404).await;
}

#[tokio::test]
async fn listed_models_skip_discovery_and_key_allow_lists_apply() {
    let mock = MockUpstream::start(&["discovered"]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "fixed", "kind": "openai-compatible", "endpoint": format!("{}/v1/chat/completions", mock.origin()), "models": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["models"], json!(["a", "b"]));
    assert_eq!(v["models_source"], "listed");
    assert_eq!(v["endpoint"], mock.base_url());
    assert_eq!(mock.hits("/v1/models"), 0);

    let limited = gw
        .new_key(json!({"name": "only-a", "models": ["fixed/a"]}))
        .await;
    assert_eq!(gw.chat(&limited, "a").await.status(), 200);
    let err = expect_error(gw.chat(&limited, "b").await, 403).await;
    assert_eq!(err["code"], "model_not_allowed");
    let v: Value = gw.get("/v1/models", &limited).await.json().await.unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a", "fixed/a"]);
}

#[tokio::test]
async fn responses_api_passes_through_and_is_metered() {
    let mock = MockUpstream::start(&["r1"]).await;
    let gw = start_gateway().await;
    gw.add_mock("up", &mock).await;
    let r = gw
        .post(
            "/v1/responses",
            ADMIN_KEY,
            json!({"model": "r1", "input": "hi", "store": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["output"][0]["content"][0]["text"], ANSWER);
    assert_eq!(
        mock.last_json("/v1/responses").unwrap(),
        json!({"model": "r1", "input": "hi", "store": false})
    );

    let r = gw
        .post(
            "/api/openai/v1/responses",
            ADMIN_KEY,
            json!({"model": "up/r1", "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("event: response.completed"));
    assert!(
        !text.contains("\"error\""),
        "a complete Responses stream is not broken: {text}"
    );
    // The gateway does not add stream_options to the Responses API.
    assert!(
        mock.last_json("/v1/responses")
            .unwrap()
            .get("stream_options")
            .is_none()
    );

    let usage = gw.usage(ADMIN_KEY).await;
    for r in usage["data"].as_array().unwrap() {
        assert_eq!(r["api"], "responses");
        assert_eq!(r["outcome"], "ok");
        assert_eq!(r["usage"]["input_tokens"], PROMPT_TOKENS);
        assert_eq!(r["usage"]["output_tokens"], 5);
        assert_eq!(r["usage"]["cached_tokens"], CACHED_TOKENS);
        assert_eq!(r["usage_estimated"], false);
    }
    assert_eq!(usage["totals"]["requests"], 2);
}

#[tokio::test]
async fn catalog_vendors_need_only_a_key_and_usage_is_priced() {
    let mock = MockUpstream::start(&["gpt-4o"]).await;
    let gw = start_gateway().await;
    // A catalog vendor with its default base URL (never called here): only name, kind, key.
    let r = gw.post("/api/providers", ADMIN_KEY, json!({"name": "groq", "kind": "groq", "api_key": "gsk-x", "models": ["llama-3.1-8b-instant"]})).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["endpoint"], "https://api.groq.com/openai/v1");
    assert_eq!(v["kind"], "groq");
    // OpenAI, pointed at the mock: its catalog prices apply to the usage record.
    let r = gw.post("/api/providers", ADMIN_KEY, json!({"name": "oai", "kind": "openai", "endpoint": mock.base_url(), "api_key": "sk-x"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(gw.chat(ADMIN_KEY, "oai:gpt-4o").await.status(), 200);
    let usage = gw.usage(ADMIN_KEY).await;
    // gpt-4o: 5 uncached input at $2.50/M, 2 cached at $1.25/M, 5 output at $10/M.
    assert_eq!(usage["data"][0]["cost_micros"], 65);
    assert_eq!(usage["totals"]["cost_usd"], 0.000065);
    // An unknown kind is refused with the list of every kind and catalog vendor.
    let err = expect_error(
        gw.post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "x", "kind": "nonsense", "api_key": "k"}),
        )
        .await,
        400,
    )
    .await;
    let msg = err["message"].as_str().unwrap();
    for kind in [
        "aws-bedrock",
        "azure-openai",
        "anthropic",
        "groq",
        "gemini",
        "ollama",
    ] {
        assert!(msg.contains(kind), "{kind} missing from: {msg}");
    }
    // Bedrock without its region and SigV4 credentials is refused too.
    expect_error(
        gw.post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "br", "kind": "aws-bedrock", "api_key": "k"}),
        )
        .await,
        400,
    )
    .await;
    let catalog: Value = gw
        .get("/api/catalog", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert!(catalog["vendors"].as_array().unwrap().len() >= 20);
    assert!(catalog["prices_as_of"].is_string());
}
