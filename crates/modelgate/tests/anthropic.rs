//! The Anthropic side: `/v1/messages` passed through to an Anthropic upstream (headers
//! checked by the mock), translated to an OpenAI-schema upstream and back, OpenAI chat
//! clients reaching an Anthropic upstream, errors in each caller's schema, count_tokens.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{ANSWER, CACHED_TOKENS, MockUpstream, PROMPT_TOKENS};
use serde_json::{Value, json};

async fn add_anthropic(gw: &Gw, name: &str, mock: &MockUpstream) {
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": name, "kind": "anthropic", "endpoint": mock.origin(), "api_key": "sk-ant-upstream-key", "models": ["claude-x", "claude-tool", "claude-truncate", "claude-error-500"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

async fn messages(gw: &Gw, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut req = gw.http.post(gw.url("/v1/messages")).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn messages_pass_through_to_anthropic_with_version_and_beta_headers() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_anthropic(&gw, "claude", &mock).await;
    let body = json!({"model": "claude:claude-x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
        "cache_hint_from_a_future_api": {"x": 1}});
    let r = messages(
        &gw,
        &[
            ("x-api-key", ADMIN_KEY),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "tools-2099-01-01"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-provider"], "claude");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], ANSWER);
    let rec = mock.last("/v1/messages").unwrap();
    assert_eq!(rec.headers["x-api-key"], "sk-ant-upstream-key");
    assert_eq!(rec.headers["anthropic-version"], "2023-06-01");
    assert_eq!(rec.headers["anthropic-beta"], "tools-2099-01-01");
    assert!(
        rec.headers.get("authorization").is_none(),
        "the client's key never reaches the upstream"
    );
    let mut expected = body;
    expected["model"] = json!("claude-x");
    assert_eq!(
        serde_json::from_slice::<Value>(&rec.body).unwrap(),
        expected,
        "unknown fields survive"
    );

    // Bearer auth works too (current SDKs send either); the default version is filled in.
    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"model": "claude-x", "max_tokens": 8, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    assert_eq!(events.first().unwrap().0, "message_start");
    assert_eq!(events.last().unwrap().0, "message_stop");
    assert_eq!(
        mock.last("/v1/messages").unwrap().headers["anthropic-version"],
        "2023-06-01"
    );

    let usage = gw.usage(ADMIN_KEY).await;
    for r in usage["data"].as_array().unwrap() {
        assert_eq!(r["api"], "messages");
        assert_eq!(r["outcome"], "ok");
        assert_eq!(r["usage"]["input_tokens"], PROMPT_TOKENS + CACHED_TOKENS);
        assert_eq!(r["usage"]["cached_tokens"], CACHED_TOKENS);
        assert_eq!(r["usage"]["output_tokens"], 5);
        assert_eq!(r["usage_estimated"], false);
    }
}

#[tokio::test]
async fn openai_clients_reach_an_anthropic_upstream() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_anthropic(&gw, "claude", &mock).await;
    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "claude/claude-x", "seed": 3, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-dropped-params"], "seed");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], ANSWER);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS + CACHED_TOKENS);
    let sent = mock.last_json("/v1/messages").unwrap();
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(sent["model"], "claude-x");

    // Tools, streamed: the tool call arrives as OpenAI tool_call deltas.
    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "claude-tool", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "weather?"}],
                "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = sse_data(r).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    let args: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, vec!["tool_calls"]);
    let usage_chunk = chunks.iter().find(|c| c["choices"] == json!([])).unwrap();
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);

    // Embeddings cannot go to an Anthropic provider: a clear 400.
    let err = expect_error(
        gw.post(
            "/v1/embeddings",
            ADMIN_KEY,
            json!({"model": "claude-x", "input": "a"}),
        )
        .await,
        400,
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("anthropic"));
    assert_eq!(mock.hits("/v1/messages"), 2);
}

#[tokio::test]
async fn anthropic_clients_reach_an_openai_upstream() {
    let mock = MockUpstream::start(&["llama"]).await;
    let gw = start_gateway().await;
    gw.add_mock("vllm", &mock).await;
    let r = messages(
        &gw,
        &[("x-api-key", ADMIN_KEY), ("anthropic-version", "2023-06-01")],
        json!({"model": "vllm/llama", "max_tokens": 100, "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], ANSWER);
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["model"], "vllm/llama");
    assert_eq!(v["usage"]["input_tokens"], PROMPT_TOKENS - CACHED_TOKENS);
    assert_eq!(v["usage"]["cache_read_input_tokens"], CACHED_TOKENS);
    let sent = mock.last_json("/v1/chat/completions").unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["max_tokens"], 100);

    let r = messages(
        &gw,
        &[("x-api-key", ADMIN_KEY)],
        json!({"model": "llama", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(
        &names[names.len() - 2..],
        &["message_delta", "message_stop"]
    );
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "Hello1lo2");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["usage"]["output_tokens"], 3);

    let usage = gw.usage(ADMIN_KEY).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r["outcome"] == "ok"
            && r["usage_estimated"] == false
            && r["api"] == "messages")
    );
}

#[tokio::test]
async fn anthropic_errors_use_anthropic_shape() {
    let mock = MockUpstream::start(&["llama", "break-model"]).await;
    let gw = start_gateway().await;
    gw.add_mock("vllm", &mock).await;
    add_anthropic(&gw, "claude", &mock).await;
    let r = messages(
        &gw,
        &[("x-api-key", "mg_wrong_wrong_wrong_wrong_wrong_wrong")],
        json!({"model": "llama", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "authentication_error", "message": v["error"]["message"]}})
    );
    let r = messages(
        &gw,
        &[("x-api-key", ADMIN_KEY)],
        json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    let r = messages(&gw, &[("x-api-key", ADMIN_KEY)], json!({"max_tokens": 5})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    // An Anthropic upstream's error reaches an OpenAI client in OpenAI's shape.
    let r = gw.chat(ADMIN_KEY, "claude-error-500").await;
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "mock exploded");
    // An OpenAI upstream's error reaches an Anthropic client in Anthropic's shape.
    let r = messages(&gw, &[("x-api-key", ADMIN_KEY)], json!({"model": "vllm:error-500", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["message"], "mock exploded");
    // A broken stream ends with an Anthropic error event.
    let r = messages(&gw, &[("x-api-key", ADMIN_KEY)], json!({"model": "break-model", "max_tokens": 5, "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
    let events = sse_events(r).await;
    assert_eq!(events.last().unwrap().0, "error");
    assert!(events.iter().all(|(n, _)| n != "message_stop"));
    // An Anthropic stream without message_stop is broken too, for an OpenAI client.
    let r = gw.post("/v1/chat/completions", ADMIN_KEY, json!({"model": "claude-truncate", "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
    let events = sse_data(r).await;
    assert!(events.iter().all(|e| e != "[DONE]"));
    assert!(events.last().unwrap().contains("\"error\""));
}

#[tokio::test]
async fn count_tokens_for_both_upstream_schemas() {
    let mock = MockUpstream::start(&["llama"]).await;
    let gw = start_gateway().await;
    gw.add_mock("vllm", &mock).await;
    add_anthropic(&gw, "claude", &mock).await;
    let body = |m: &str| json!({"model": m, "messages": [{"role": "user", "content": "count these tokens please"}]});
    let r = gw
        .http
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", ADMIN_KEY)
        .json(&body("claude-x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"input_tokens": 11})
    );
    let r = gw
        .http
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", ADMIN_KEY)
        .json(&body("llama"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-estimated"], "true");
    assert!(
        r.json::<Value>().await.unwrap()["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn models_carry_the_context_window_and_output_limit_the_catalog_knows() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "claude", "kind": "anthropic", "endpoint": mock.origin(), "api_key": "k",
                "models": ["claude-sonnet-4-5", "private-model"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = gw.get("/v1/models", ADMIN_KEY).await;
    let v: Value = r.json().await.unwrap();
    let entry = |id: &str| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {v}"))
    };
    let known = entry("claude/claude-sonnet-4-5");
    assert_eq!(known["context_window"], 200000);
    assert_eq!(known["max_output_tokens"], 64000);
    assert_eq!(entry("claude-sonnet-4-5")["context_window"], 200000);
    let unknown = entry("claude/private-model");
    assert!(unknown.get("context_window").is_none(), "{unknown}");
}
