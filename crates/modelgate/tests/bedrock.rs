//! AWS Bedrock: Converse and ConverseStream through the OpenAI and Anthropic front doors,
//! against a mock that recomputes every request's SigV4 signature with the test
//! credentials (a wrong secret is refused) and answers in AWS event-stream frames.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{
    ANSWER, BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, CACHED_TOKENS, MockUpstream,
    PROMPT_TOKENS,
};
use serde_json::{Value, json};

const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

async fn add_bedrock(gw: &Gw, name: &str, mock: &MockUpstream, secret: &str, token: Option<&str>) {
    let mut auth = json!({"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": secret});
    if let Some(t) = token {
        auth["session_token"] = json!(t);
    }
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": name, "kind": "aws-bedrock", "region": BEDROCK_REGION, "endpoint": mock.origin(),
                "auth": auth, "models": [CLAUDE, "meta.tool-model", "meta.exception-model", "meta.truncate-model"]}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn openai_clients_reach_bedrock_signed() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_bedrock(
        &gw,
        "bedrock",
        &mock,
        BEDROCK_SECRET_KEY,
        Some("session-token-1"),
    )
    .await;
    let listed: Value = gw
        .get("/api/providers/bedrock", ADMIN_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["aws"],
        json!({"region": BEDROCK_REGION, "access_key_id": BEDROCK_ACCESS_KEY})
    );
    assert!(!listed.to_string().contains(BEDROCK_SECRET_KEY));

    let r = gw.chat(ADMIN_KEY, &format!("bedrock:{CLAUDE}")).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = gw.post("/v1/chat/completions", ADMIN_KEY, json!({"model": CLAUDE, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], "max_tokens": 77})).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], ANSWER);
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS + CACHED_TOKENS);
    let sent = mock.last_json("/bedrock/converse").unwrap();
    assert_eq!(sent["system"], json!([{"text": "Be brief."}]));
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 77);
    let rec = mock.last("/bedrock/converse").unwrap();
    assert_eq!(rec.headers["x-amz-security-token"], "session-token-1");

    // Streamed, with a tool call assembled from event-stream deltas.
    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "meta.tool-model", "stream": true, "messages": [{"role": "user", "content": "weather?"}],
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
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello");
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
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert_eq!(mock.hits("/bedrock/converse-stream"), 1);

    let usage = gw.usage(ADMIN_KEY).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r["outcome"], "ok");
        assert_eq!(r["usage_estimated"], false);
        assert_eq!(r["usage"]["input_tokens"], PROMPT_TOKENS + CACHED_TOKENS);
        assert_eq!(r["usage"]["output_tokens"], 5);
    }
    expect_error(
        gw.post(
            "/v1/embeddings",
            ADMIN_KEY,
            json!({"model": CLAUDE, "input": "x"}),
        )
        .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn anthropic_clients_reach_bedrock() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_bedrock(&gw, "bedrock", &mock, BEDROCK_SECRET_KEY, None).await;
    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"model": CLAUDE, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], ANSWER);
    assert_eq!(v["stop_reason"], "end_turn");

    let r = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"model": "meta.tool-model", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(
        text.contains(r#"\"city\":\"Paris\""#) || text.contains(r#"{\"city\":\"Paris\"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn bad_signatures_and_broken_streams() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_bedrock(&gw, "wrong", &mock, "not-the-secret", None).await;
    let r = gw.chat(ADMIN_KEY, &format!("wrong:{CLAUDE}")).await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );
    assert!(!v.to_string().contains("not-the-secret"));

    add_bedrock(&gw, "ok", &mock, BEDROCK_SECRET_KEY, None).await;
    for (model, code) in [
        // Bedrock's exception name is the code; its kind the type (throttling).
        ("ok:meta.exception-model", "rate_limit_error"),
        ("ok:meta.truncate-model", "upstream_error"),
    ] {
        let r = gw.post("/v1/chat/completions", ADMIN_KEY, json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
        assert_eq!(r.status(), 200);
        let events = sse_data(r).await;
        assert!(events.iter().all(|e| e != "[DONE]"), "{model}: {events:?}");
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert_eq!(last["error"]["type"], code, "{model}");
        if model.contains("exception") {
            assert_eq!(last["error"]["code"], "throttlingException");
        }
    }
    let usage = gw.usage(ADMIN_KEY).await;
    let outcomes: Vec<&str> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"upstream_error") && outcomes.contains(&"stream_broken"),
        "{outcomes:?}"
    );
}
