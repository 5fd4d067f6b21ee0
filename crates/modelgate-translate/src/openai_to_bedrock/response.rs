//! Bedrock Converse response → OpenAI chat completion.

use super::Context;
use crate::json_mode;
use crate::util::UnixSeconds;
use serde_json::{Value, json};

/// Bedrock `stopReason` → OpenAI `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened") | Some("content_filtered") => "content_filter",
        _ => "stop",
    }
}

/// Bedrock usage → OpenAI usage: cache reads and writes count as prompt tokens; reads are
/// `prompt_tokens_details.cached_tokens`, writes `cache_creation_input_tokens` (a field
/// OpenAI has no name for, read back by `anthropic_to_openai` so an Anthropic client sees
/// its cache writes).
pub fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cacheReadInputTokens");
    let written = n("cacheWriteInputTokens");
    let prompt = n("inputTokens") + cached + written;
    let completion = n("outputTokens");
    let mut out = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached}});
    if written > 0 {
        out["cache_creation_input_tokens"] = json!(written);
    }
    out
}

/// Identity of one translated response: its id (Bedrock sends none, so the caller makes
/// one unique per request), the model name to report, and the creation time.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub id: String,
    pub model: String,
    pub created: UnixSeconds,
}

pub fn translate(resp: &Value, meta: &ResponseMeta, ctx: &Context) -> Value {
    let created = meta.created;
    let content = resp
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array);
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_output = None;
    for block in content.into_iter().flatten() {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                let t = rt.get("text").and_then(Value::as_str).unwrap_or("");
                reasoning.push_str(t);
                thinking_blocks.push(json!({"type": "thinking", "thinking": t, "signature": rt.get("signature").cloned().unwrap_or(json!(""))}));
            } else if let Some(data) = r.get("redactedContent") {
                thinking_blocks.push(json!({"type": "redacted_thinking", "data": data}));
            }
        } else if let Some(tu) = block.get("toolUse") {
            let name = tu.get("name").and_then(Value::as_str).unwrap_or("");
            let input = tu.get("input").cloned().unwrap_or_else(|| json!({}));
            if ctx.json_tool.as_deref() == Some(name) {
                json_output = Some(input.to_string());
            } else {
                tool_calls.push(json!({"id": tu.get("toolUseId"), "type": "function",
                    "function": {"name": name, "arguments": input.to_string()}}));
            }
        }
    }
    let mut finish = finish_reason(resp.get("stopReason").and_then(Value::as_str));
    if let Some(j) = json_output {
        text.push_str(&j);
        finish = json_mode::finish_reason(finish, !tool_calls.is_empty());
    }
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) }});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !thinking_blocks.is_empty() {
        message["thinking_blocks"] = Value::Array(thinking_blocks);
    }
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": created,
        "model": meta.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": usage(resp.get("usage").unwrap_or(&Value::Null)),
    })
}
