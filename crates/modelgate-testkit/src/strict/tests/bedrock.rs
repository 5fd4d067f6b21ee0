//! Bedrock Converse: refused and accepted bodies, per model.

use super::with;
use crate::strict::bedrock;
use serde_json::{Value, json};

fn bedrock_base() -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
}

fn bedrock_tools() -> Value {
    json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]})
}

fn bedrock_tool_turns(result_id: &str) -> Value {
    json!([
        {"role": "user", "content": [{"text": "weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tu1", "name": "get_weather", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": result_id, "content": [{"text": "sunny"}]}}]}
    ])
}

#[test]
fn bedrock_refusals() {
    let b = bedrock_base();
    let m = "meta.llama3-70b-instruct-v1:0";
    let claude45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let table = vec![
        (m, json!({}), "at 'messages' failed to satisfy constraint"),
        (m, json!({"messages": []}), "must start with a user message"),
        (
            m,
            json!({"messages": [{"role": "system", "content": [{"text": "x"}]}]}),
            "Member must satisfy enum value set",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": []}]}),
            "The content field in the Message object at messages.0 is empty",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}),
            "exactly one member",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}),
            "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again.",
        ),
        (
            m,
            with(&b, json!({"system": [{"text": ""}]})),
            "SystemContentBlock object at system.0 is blank",
        ),
        (
            m,
            json!({"messages": [{"role": "assistant", "content": [{"text": "a"}]}]}),
            "must start with a user message",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]}),
            "must alternate",
        ),
        (
            m,
            json!({"messages": bedrock_tool_turns("tu1")}),
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        ),
        (
            m,
            json!({"messages": bedrock_tool_turns("tu2"), "toolConfig": bedrock_tools()}),
            "Expected toolResult blocks at messages.2.content for the following Ids: tu1",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "x", "content": [{"text": "y"}]}}]}], "toolConfig": bedrock_tools()}),
            "exceeds the number of toolUse blocks",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tu1", "name": "get_weather", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tu1", "content": [{"text": ""}]}}]}], "toolConfig": bedrock_tools()}),
            "ToolResultContentBlock object at messages.2.content.0.toolResult.content.0 is blank",
        ),
        (
            m,
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tu1", "name": "get_weather", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tu1", "content": [], "status": "error"}}]}], "toolConfig": bedrock_tools()}),
            "cannot be empty when status value is error",
        ),
        (
            m,
            with(&b, json!({"toolConfig": {"tools": []}})),
            "at 'toolConfig.tools' failed to satisfy constraint",
        ),
        (
            m,
            with(
                &b,
                json!({"toolConfig": {"tools": [{"toolSpec": {"name": "a.b", "inputSchema": {"json": {}}}}]}}),
            ),
            "toolSpec.name",
        ),
        (
            m,
            with(
                &b,
                json!({"toolConfig": {"tools": bedrock_tools()["tools"], "toolChoice": {"tool": {"name": "other"}}}}),
            ),
            "is not defined in toolConfig.tools",
        ),
        (
            m,
            with(
                &b,
                json!({"toolConfig": {"tools": bedrock_tools()["tools"], "toolChoice": {"auto": {}, "any": {}}}}),
            ),
            "exactly one member",
        ),
        (
            m,
            with(&b, json!({"inferenceConfig": {"maxTokens": 0}})),
            "'inferenceConfig.maxTokens' failed to satisfy constraint",
        ),
        (
            m,
            with(&b, json!({"inferenceConfig": {"temperature": 1.2}})),
            "'inferenceConfig.temperature'",
        ),
        (
            m,
            with(&b, json!({"inferenceConfig": {"topP": -0.5}})),
            "'inferenceConfig.topP'",
        ),
        (
            m,
            with(&b, json!({"inferenceConfig": {"stopSequences": [""]}})),
            "'inferenceConfig.stopSequences'",
        ),
        (
            m,
            with(
                &b,
                json!({"inferenceConfig": {"stopSequences": vec!["x"; 2501]}}),
            ),
            "less than or equal to 2500",
        ),
        (
            claude45,
            with(
                &b,
                json!({"inferenceConfig": {"temperature": 0.5, "topP": 0.9}}),
            ),
            "The model returned the following errors: `temperature` and `top_p` cannot both be specified",
        ),
        (
            "anthropic.claude-opus-4-7",
            with(&b, json!({"inferenceConfig": {"temperature": 0.2}})),
            "`temperature` is deprecated",
        ),
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            with(&b, json!({"inferenceConfig": {"stopSequences": ["\n\n"]}})),
            "each stop sequence must contain non-whitespace",
        ),
        (
            "us.anthropic.claude-opus-4-6-v1",
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "assistant", "content": [{"text": "b"}]}]}),
            "does not support assistant message prefill",
        ),
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "assistant", "content": [{"text": "b "}]}]}),
            "trailing whitespace",
        ),
        (
            claude45,
            with(
                &b,
                json!({"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 500}}}),
            ),
            "greater than or equal to 1024",
        ),
    ];
    for (i, (model, body, want)) in table.into_iter().enumerate() {
        let got = bedrock::validate(model, &body);
        let text = format!("{got:?}");
        assert!(
            got.is_err() && text.contains(want),
            "bedrock case {i}: expected {want:?}, got {text}\nbody: {body}"
        );
    }
}

#[test]
fn bedrock_acceptances() {
    let b = bedrock_base();
    let m = "meta.tool-model";
    let claude = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    let table = vec![
        (m, b.clone()),
        (
            m,
            with(
                &b,
                json!({"system": [{"text": "Be brief."}], "inferenceConfig": {"maxTokens": 77, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]}}),
            ),
        ),
        (
            m,
            json!({"messages": bedrock_tool_turns("tu1"), "toolConfig": bedrock_tools()}),
        ),
        (
            m,
            with(
                &b,
                json!({"toolConfig": {"tools": bedrock_tools()["tools"], "toolChoice": {"tool": {"name": "get_weather"}}}}),
            ),
        ),
        (
            m,
            with(
                &b,
                json!({"toolConfig": {"tools": [bedrock_tools()["tools"][0].clone(), {"cachePoint": {"type": "default"}}], "toolChoice": {"any": {}}}}),
            ),
        ),
        (
            claude,
            with(
                &b,
                json!({"inferenceConfig": {"temperature": 0.5, "topP": 0.9}}),
            ),
        ),
        (
            claude,
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "assistant", "content": [{"text": "b"}]}]}),
        ),
        (
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            with(
                &b,
                json!({"inferenceConfig": {"maxTokens": 4000},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}}}),
            ),
        ),
    ];
    for (i, (model, body)) in table.into_iter().enumerate() {
        let got = bedrock::validate(model, &body);
        assert!(
            got.is_ok(),
            "bedrock case {i}: refused with {got:?}\nbody: {body}"
        );
    }
}
