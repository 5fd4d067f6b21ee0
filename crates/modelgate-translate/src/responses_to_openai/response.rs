//! OpenAI chat completion → Responses response object.

use super::tools::call_item;
use super::{Context, reasoning};
use serde_json::{Map, Value, json};

/// Chat usage → Responses usage (cached and reasoning token details included).
pub fn usage(u: &Value) -> Value {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let input = n("/prompt_tokens");
    let output = n("/completion_tokens");
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens")},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": input + output,
    })
}

/// Status and `incomplete_details` for a chat `finish_reason`.
pub fn status(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// A response object with the request's echoed fields and defaults for the rest.
pub fn object(ctx: &Context, status: &str, output: Vec<Value>, extra: Map<String, Value>) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(ctx.id));
    o.insert("object".into(), json!("response"));
    o.insert("created_at".into(), json!(ctx.created_at));
    o.insert("status".into(), json!(status));
    o.insert("error".into(), Value::Null);
    o.insert("incomplete_details".into(), Value::Null);
    o.insert("model".into(), json!(ctx.model));
    o.insert("output".into(), Value::Array(output));
    let defaults = [
        ("instructions", Value::Null),
        ("tools", json!([])),
        ("tool_choice", json!("auto")),
        ("parallel_tool_calls", json!(true)),
        ("temperature", Value::Null),
        ("top_p", Value::Null),
        ("max_output_tokens", Value::Null),
        ("metadata", json!({})),
        ("reasoning", json!({"effort": null, "summary": null})),
        ("text", json!({"format": {"type": "text"}})),
        ("store", json!(true)),
        ("previous_response_id", Value::Null),
        ("truncation", json!("disabled")),
        ("usage", Value::Null),
    ];
    for (k, v) in defaults {
        o.insert(k.into(), ctx.echo.get(k).cloned().unwrap_or(v));
    }
    for (k, v) in &ctx.echo {
        if !o.contains_key(k) {
            o.insert(k.clone(), v.clone());
        }
    }
    o.extend(extra);
    Value::Object(o)
}

/// A message output item with one text part.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

/// Derived item ids: `rs_…`, `msg_…`, `fc_…` followed by the response's own suffix.
pub fn item_id(ctx: &Context, prefix: &str, n: usize) -> String {
    let base = ctx.id.trim_start_matches("resp_");
    format!("{prefix}_{base}_{n}")
}

pub fn translate(resp: &Value, ctx: &Context) -> Value {
    let choice = resp.pointer("/choices/0").unwrap_or(&Value::Null);
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let mut output = Vec::new();
    let thinking = msg
        .get("reasoning_content")
        .or_else(|| msg.get("reasoning"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let blocks = msg
        .get("thinking_blocks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !thinking.is_empty() || !blocks.is_empty() {
        output.push(reasoning::item(&item_id(ctx, "rs", 0), thinking, blocks));
    }
    let text = msg.get("content").and_then(Value::as_str).unwrap_or("");
    if let Some(refusal) = msg.get("refusal").and_then(Value::as_str) {
        output.push(
            json!({"type": "message", "id": item_id(ctx, "msg", output.len()),
            "status": "completed", "role": "assistant",
            "content": [{"type": "refusal", "refusal": refusal}]}),
        );
    } else if !text.is_empty() {
        output.push(message_item(
            &item_id(ctx, "msg", output.len()),
            text,
            "completed",
        ));
    }
    for call in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |p: &str| call.pointer(p).and_then(Value::as_str).unwrap_or("");
        let id = item_id(ctx, "fc", output.len());
        let call_id = match s("/id") {
            "" => format!("call_{id}"),
            given => given.to_owned(),
        };
        output.push(call_item(
            &ctx.tools,
            &id,
            &call_id,
            s("/function/name"),
            s("/function/arguments"),
            "completed",
        ));
    }
    let (status, incomplete) = status(choice.get("finish_reason").and_then(Value::as_str));
    let mut extra = Map::new();
    extra.insert(
        "usage".into(),
        usage(resp.get("usage").unwrap_or(&Value::Null)),
    );
    extra.insert("incomplete_details".into(), incomplete);
    object(ctx, status, output, extra)
}
