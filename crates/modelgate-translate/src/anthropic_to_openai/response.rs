//! OpenAI chat completion → Anthropic message.

use super::Context;
use serde_json::{Value, json};

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage → Anthropic usage: cached prompt tokens are cache reads, and
/// `cache_creation_input_tokens` (written by the Bedrock and Anthropic translators, and by
/// OpenAI-compatible servers that report it) cache writes; neither counts in
/// `input_tokens`.
pub fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = u
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let written = n("cache_creation_input_tokens");
    json!({
        "input_tokens": n("prompt_tokens").saturating_sub(cached + written),
        "output_tokens": n("completion_tokens"),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    })
}

/// A tool call's `arguments` string as the object Anthropic expects.
pub fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({"_raw_arguments": arguments}),
    }
}

pub fn translate(resp: &Value, ctx: &Context) -> Value {
    let choice = resp
        .get("choices")
        .and_then(|c| c.get(0))
        .unwrap_or(&Value::Null);
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    // Thinking blocks with their signatures (from Anthropic models behind another schema)
    // come back as they were; bare reasoning text becomes an unsigned thinking block.
    match msg.get("thinking_blocks").and_then(Value::as_array) {
        Some(blocks) if !blocks.is_empty() => content.extend(blocks.iter().cloned()),
        _ => {
            if let Some(r) = msg
                .get("reasoning_content")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
            }
        }
    }
    if let Some(t) = msg
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": t}));
    }
    for call in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = call.get("function").unwrap_or(&Value::Null);
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id"),
            "name": f.get("name"),
            "input": tool_input(f.get("arguments").and_then(Value::as_str).unwrap_or("")),
        }));
    }
    let id = resp.get("id").and_then(Value::as_str).unwrap_or("");
    json!({
        "id": format!("msg_{}", id.trim_start_matches("chatcmpl-")),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason").and_then(Value::as_str)),
        "stop_sequence": null,
        "usage": usage(resp.get("usage").unwrap_or(&Value::Null)),
    })
}
