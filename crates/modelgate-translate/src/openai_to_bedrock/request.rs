//! OpenAI chat request → Bedrock Converse request.

use super::Context;
use crate::openai_to_anthropic::request::{
    EffortThinking, effort_thinking, json_mode_schema, thinking_conflicts,
};
use crate::openai_to_anthropic::{DEFAULT_MAX_TOKENS, JSON_TOOL};
use crate::util::{
    ToolChoice, max_tokens, parse_data_url, parse_tool_choice, stop_list, text_of, tool_call_input,
};
use crate::{Dropped, TranslateError, Translated};
use serde_json::{Map, Value, json};

const HANDLED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "response_format",
    "thinking",
    "reasoning_effort",
    "output_config",
    "models",
];

/// [`translate_for_model`] with the request's own `model` as the Bedrock model id (right
/// when the body names the upstream model, as the Anthropic → OpenAI → Bedrock chain's
/// does).
pub fn translate(req: &Value) -> Result<Translated<Context>, TranslateError> {
    let model = req.get("model").and_then(Value::as_str).unwrap_or("");
    translate_for_model(req, model)
}

/// OpenAI chat request → Converse request for the Bedrock model id `model` (which decides
/// whether Anthropic-only fields — thinking from `reasoning_effort`, `output_config` — can
/// be sent: only to ids containing `anthropic.`).
pub fn translate_for_model(
    req: &Value,
    model: &str,
) -> Result<Translated<Context>, TranslateError> {
    let anthropic = model.contains("anthropic.");
    let obj = req
        .as_object()
        .ok_or_else(|| TranslateError::new("the request body must be a JSON object"))?;
    let mut dropped: Dropped = obj
        .keys()
        .filter(|k| {
            !(HANDLED.contains(&k.as_str()) || (k.as_str() == "n" && obj[k.as_str()] == json!(1)))
        })
        .cloned()
        .collect();
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::at("messages", "messages must be an array"))?;
    let (system, turns) = convert_messages(messages)?;
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    inference.insert(
        "maxTokens".into(),
        json!(max_tokens(obj, DEFAULT_MAX_TOKENS)),
    );
    if let Some(t) = obj.get("temperature").filter(|v| !v.is_null()) {
        inference.insert("temperature".into(), t.clone());
    }
    if let Some(p) = obj.get("top_p").filter(|v| !v.is_null()) {
        inference.insert("topP".into(), p.clone());
    }
    if let Some(stops) = stop_list(obj) {
        inference.insert("stopSequences".into(), stops);
    }
    // Model-specific fields Converse has no slot for (Anthropic models on Bedrock read
    // `top_k` and `thinking` here).
    let mut additional = Map::new();
    for key in ["top_k", "thinking"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            additional.insert(key.into(), v.clone());
        }
    }

    let mut tools: Vec<Value> = Vec::new();
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = t.get("function").ok_or_else(|| {
            TranslateError::at("tools", "only function tools can be sent to Bedrock")
        })?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::at("tools", "every tool needs function.name"))?;
        let mut spec = json!({"name": name, "inputSchema": {"json": f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}))}});
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            spec["description"] = json!(d);
        }
        tools.push(json!({"toolSpec": spec}));
    }
    let mut choice = match parse_tool_choice(obj.get("tool_choice"))? {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Named(name)) => Some(json!({"tool": {"name": name}})),
        // Bedrock has no "none": the tools stay (history may use them), the choice is dropped.
        Some(ToolChoice::None) => {
            dropped.push("tool_choice".into());
            None
        }
    };
    let mut context = Context {
        include_usage: obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..Context::default()
    };
    if let Some(schema) = json_mode_schema(obj.get("response_format"))? {
        tools.push(json!({"toolSpec": {"name": JSON_TOOL, "description": "Respond with the answer as JSON matching this schema.", "inputSchema": {"json": schema}}}));
        choice = Some(json!({"tool": {"name": JSON_TOOL}}));
        context.json_tool = Some(JSON_TOOL.to_owned());
    }
    let forced_tool = !tools.is_empty()
        && choice
            .as_ref()
            .is_some_and(|c| c.get("any").is_some() || c.get("tool").is_some());
    // `output_config.effort` (carried by the Anthropic chain: adaptive thinking's level, or
    // the overall effort) is Anthropic's; other fields of it have no Converse slot.
    match obj.get("output_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            for (k, v) in config {
                if k == "effort" && anthropic {
                    additional.insert("output_config".into(), json!({"effort": v}));
                } else {
                    dropped.push(format!("output_config.{k}"));
                }
            }
        }
        Some(_) => dropped.push("output_config".into()),
    }
    if let Some(effort) = obj.get("reasoning_effort").filter(|v| !v.is_null()) {
        match effort_thinking(effort, model) {
            EffortThinking::Off => {}
            // Only Anthropic models take `thinking`; an explicit one wins; thinking cannot
            // be combined with a forced tool (JSON mode is one).
            _ if !anthropic || obj.get("thinking").is_some_and(|t| !t.is_null()) || forced_tool => {
                dropped.push("reasoning_effort".into());
            }
            EffortThinking::Unknown => dropped.push("reasoning_effort".into()),
            on => {
                for name in thinking_conflicts(obj) {
                    match name {
                        "temperature" => inference.remove("temperature"),
                        "top_p" => inference.remove("topP"),
                        _ => additional.remove(name),
                    };
                    dropped.push(name.to_owned());
                }
                let max = inference
                    .get("maxTokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(DEFAULT_MAX_TOKENS);
                inference.insert("maxTokens".into(), json!(on.max_tokens(max)));
                additional.insert("thinking".into(), on.thinking());
                if let Some(config) = on.output_config() {
                    additional.insert("output_config".into(), config);
                }
            }
        }
    }
    out.insert("inferenceConfig".into(), Value::Object(inference));
    if !additional.is_empty() {
        out.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if !tools.is_empty() {
        let mut config = json!({"tools": tools});
        if let Some(c) = choice {
            config["toolChoice"] = c;
        }
        out.insert("toolConfig".into(), config);
    }
    dropped.sort();
    dropped.dedup();
    Ok(Translated {
        body: Value::Object(out),
        dropped,
        context,
    })
}

fn convert_messages(messages: &[Value]) -> Result<(Vec<Value>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let content = m.get("content").unwrap_or(&Value::Null);
        let (role, blocks) = match m.get("role").and_then(Value::as_str).unwrap_or("") {
            "system" | "developer" => {
                let text = text_of(content);
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
                continue;
            }
            "user" => ("user", user_blocks(content, i)?),
            "assistant" => ("assistant", assistant_blocks(m, i)?),
            "tool" | "function" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::at(
                            &format!("messages[{i}].tool_call_id"),
                            "a tool message needs tool_call_id",
                        )
                    })?;
                (
                    "user",
                    vec![
                        json!({"toolResult": {"toolUseId": id, "content": [{"text": text_of(content)}]}}),
                    ],
                )
            }
            other => {
                return Err(TranslateError::at(
                    &format!("messages[{i}].role"),
                    format!("unknown message role '{other}'"),
                ));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((r, last)) if *r == role => last.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok((
        system,
        turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect(),
    ))
}

fn user_blocks(content: &Value, i: usize) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(s) => Ok(vec![json!({"text": s})]),
        Value::Null => Ok(vec![]),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let at = format!("messages[{i}].content[{j}]");
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        Ok(json!({"text": p.get("text").and_then(Value::as_str).unwrap_or("")}))
                    }
                    Some("image_url") => {
                        let url = p
                            .get("image_url")
                            .and_then(|u| u.get("url").or(Some(u)))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let (media_type, data) = parse_data_url(url).ok_or_else(|| {
                            TranslateError::at(
                                &at,
                                "Bedrock takes images as base64 data URLs only, not links",
                            )
                        })?;
                        let format = media_type.strip_prefix("image/").unwrap_or(media_type);
                        let format = if format == "jpg" { "jpeg" } else { format };
                        Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
                    }
                    other => Err(TranslateError::at(
                        &at,
                        format!(
                            "content part type {} cannot be sent to Bedrock",
                            other.map_or("(missing)".to_owned(), |t| format!("'{t}'"))
                        ),
                    )),
                }
            })
            .collect(),
        _ => Err(TranslateError::at(
            &format!("messages[{i}].content"),
            "content must be a string or an array of parts",
        )),
    }
}

fn assistant_blocks(m: &Value, i: usize) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = Vec::new();
    for b in m
        .get("thinking_blocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match b.get("type").and_then(Value::as_str) {
            Some("thinking") => blocks.push(json!({"reasoningContent": {"reasoningText": {
                "text": b.get("thinking").cloned().unwrap_or(json!("")),
                "signature": b.get("signature").cloned().unwrap_or(json!("")),
            }}})),
            Some("redacted_thinking") => blocks.push(json!({"reasoningContent": {"redactedContent": b.get("data").cloned().unwrap_or(json!(""))}})),
            _ => {}
        }
    }
    let text = text_of(m.get("content").unwrap_or(&Value::Null));
    if !text.is_empty() {
        blocks.push(json!({"text": text}));
    }
    for (k, call) in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = call.get("function").unwrap_or(&Value::Null);
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
        let input = tool_call_input(args, i, k)?;
        blocks.push(json!({"toolUse": {"toolUseId": call.get("id").cloned().unwrap_or(json!("")), "name": f.get("name").cloned().unwrap_or(json!("")), "input": input}}));
    }
    Ok(blocks)
}
