//! Translation fidelity through the gateway: requests the real Anthropic and Bedrock APIs
//! would refuse (a temperature above 1, temperature with top_p on Claude 4.5, whitespace
//! stop sequences, an email as user id, blank text blocks, tool history without a
//! toolConfig) reach the testkit's strict mocks in a form they accept, with what changed
//! named in the response headers; content the client sent (images returned by tools, PDFs,
//! tool errors) reaches the upstream.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, MockUpstream};
use serde_json::{Value, json};

const PNG: &str = "iVBORw0KGgo=";
const PDF: &str = "JVBERi0xLjQK";

async fn add_provider(gw: &Gw, body: Value) {
    let r = gw.post("/api/providers", ADMIN_KEY, body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn out_of_range_sampling_reaches_claude_in_range_and_is_named() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    add_provider(
        &gw,
        json!({"name": "claude", "kind": "anthropic", "endpoint": mock.origin(), "api_key": "sk-ant-x",
            "models": ["claude-sonnet-4-5-20250929"]}),
    )
    .await;
    let r = gw
        .post(
            "/v1/chat/completions",
            ADMIN_KEY,
            json!({"model": "claude:claude-sonnet-4-5-20250929", "max_tokens": 50,
                "messages": [{"role": "system", "content": " "}, {"role": "user", "content": "hi"}],
                "temperature": 1.7, "top_p": 0.9, "stop": ["\n", "END"], "user": "alice@example.com",
                "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}],
                "response_format": {"type": "json_object"}}),
        )
        .await;
    assert_eq!(
        r.status(),
        200,
        "{}",
        header(&r, "x-modelgate-dropped-params")
    );
    assert_eq!(
        header(&r, "x-modelgate-adjusted-params"),
        "temperature,stop"
    );
    assert_eq!(header(&r, "x-modelgate-dropped-params"), "top_p");
    let sent = mock.last_json("/v1/messages").unwrap();
    assert_eq!(sent["temperature"], 1.0);
    assert!(sent.get("top_p").is_none());
    assert_eq!(sent["stop_sequences"], json!(["END"]));
    let user_id = sent["metadata"]["user_id"].as_str().unwrap();
    assert_eq!(user_id.len(), 64, "a SHA-256, not the address: {user_id}");
    assert!(sent.get("system").is_none(), "no blank system block");
    // JSON mode keeps the client's tool: both are offered, any tool may be called.
    let tools: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["get_weather", "json_response"]);
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
}

#[tokio::test]
async fn tool_images_documents_and_errors_reach_a_chat_backend() {
    let mock = MockUpstream::start(&["gpt-x"]).await;
    let gw = start_gateway().await;
    gw.add_mock("oai", &mock).await;
    let r = gw
        .post(
            "/v1/messages",
            ADMIN_KEY,
            json!({"model": "oai:gpt-x", "max_tokens": 50, "stop_sequences": ["a", "b", "c", "d", "e"],
                "messages": [
                {"role": "user", "content": [
                    {"type": "document", "title": "report.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
                    {"type": "text", "text": "Read it, and the picture"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/tmp/cat.png"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "/nope"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": "File does not exist."}]}]}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(header(&r, "x-modelgate-adjusted-params"), "stop_sequences");
    let sent = mock.last_json("/v1/chat/completions").unwrap();
    assert_eq!(sent["stop"], json!(["a", "b", "c", "d"]));
    let messages = sent["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool", "user"]);
    assert_eq!(messages[0]["content"][0]["type"], "file");
    assert_eq!(
        messages[0]["content"][0]["file"]["file_data"],
        format!("data:application/pdf;base64,{PDF}")
    );
    assert_eq!(messages[3]["content"], "Error: File does not exist.");
    assert_eq!(
        messages[4]["content"][1]["image_url"]["url"],
        format!("data:image/png;base64,{PNG}")
    );
}

#[tokio::test]
async fn converse_gets_no_blank_blocks_and_no_tool_blocks_without_tools() {
    let mock = MockUpstream::start(&[]).await;
    let gw = start_gateway().await;
    let model = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    add_provider(
        &gw,
        json!({"name": "bedrock", "kind": "aws-bedrock", "region": BEDROCK_REGION, "endpoint": mock.origin(),
            "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": BEDROCK_SECRET_KEY},
            "models": [model]}),
    )
    .await;
    let history = json!([
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "List the files"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": ""},
        {"role": "user", "content": "Which is bigger?"}]);
    for (tools, tool_choice) in [
        (Value::Null, Value::Null),
        (
            json!([{"type": "function", "function": {"name": "ls", "parameters": {"type": "object", "properties": {}}}}]),
            json!("none"),
        ),
    ] {
        let mut body = json!({"model": format!("bedrock:{model}"), "max_tokens": 50, "messages": history,
            "temperature": 0.5, "top_p": 0.5});
        if !tools.is_null() {
            body["tools"] = tools;
            body["tool_choice"] = tool_choice;
        }
        let r = gw.post("/v1/chat/completions", ADMIN_KEY, body).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        assert_eq!(header(&r, "x-modelgate-dropped-params"), "top_p");
        let sent = mock.last_json("/bedrock/converse").unwrap();
        assert!(sent.get("toolConfig").is_none());
        let text = sent["messages"].to_string();
        assert!(text.contains("[tool call call_1: ls({})]"), "{text}");
        assert!(!text.contains("toolUse"), "{text}");
    }
}
