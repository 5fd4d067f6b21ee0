//! Anthropic messages request → OpenAI chat request.

use super::{Context, Flavor};
use crate::sampling;
use crate::util::{copy_fields, insert_output_limit};
use crate::{Dropped, TranslateError, Translated};
use serde_json::{Map, Value, json};

/// The most stop sequences OpenAI's chat API takes.
const OPENAI_MAX_STOPS: usize = 4;

const HANDLED: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
    "output_config",
];

pub fn translate(
    req: &Value,
    upstream_model: &str,
    flavor: Flavor,
) -> Result<Translated<Context>, TranslateError> {
    let obj = req
        .as_object()
        .ok_or_else(|| TranslateError::new("the request body must be a JSON object"))?;
    let mut dropped: Dropped = obj
        .keys()
        .filter(|k| !HANDLED.contains(&k.as_str()))
        .cloned()
        .collect();
    // Prompt-caching hints have no OpenAI-schema slot (OpenAI caches on its own); named
    // once, wherever they sit.
    if has_cache_control(obj) {
        dropped.push("cache_control".into());
    }
    let mut messages = Vec::new();
    match obj.get("system") {
        Some(Value::String(s)) if !s.is_empty() => {
            messages.push(json!({"role": "system", "content": s}))
        }
        Some(Value::Array(blocks)) => {
            let text = system_text(blocks);
            if !text.is_empty() {
                messages.push(json!({"role": "system", "content": text}));
            }
        }
        _ => {}
    }
    let turns = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::at("messages", "messages must be an array"))?;
    let keep_thinking = flavor == Flavor::Intermediate;
    for (i, m) in turns.iter().enumerate() {
        convert_turn(m, i, keep_thinking, &mut messages, &mut dropped)?;
    }

    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    // `output_config`: only `effort` has a counterpart (`format` and the rest are named).
    let mut effort = None;
    match obj.get("output_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            for (k, v) in config {
                match k.as_str() {
                    "effort" if !v.is_null() => effort = Some(v),
                    "effort" => {}
                    _ => dropped.push(format!("output_config.{k}")),
                }
            }
        }
        Some(_) => dropped.push("output_config".into()),
    }
    let thinking = obj.get("thinking").filter(|t| !t.is_null());
    if flavor == Flavor::Intermediate {
        // Carried on for openai_to_bedrock, which hands both to Anthropic models as they
        // are (adaptive thinking included: Bedrock takes it, and Opus 4.7+ take nothing else).
        if let Some(t) = thinking {
            out.insert("thinking".into(), t.clone());
        }
        if let Some(e) = effort {
            out.insert("output_config".into(), json!({"effort": e}));
        }
    } else if let Some(level) = reasoning_effort(thinking, effort, &mut dropped) {
        out.insert("reasoning_effort".into(), json!(level));
    }
    out.insert("messages".into(), Value::Array(messages));
    let limit = obj.get("max_tokens").and_then(Value::as_u64);
    insert_output_limit(&mut out, limit, flavor);
    copy_fields(obj, &mut out, &["temperature", "top_p"]);
    if let Some(v) = obj.get("top_k").filter(|v| !v.is_null()) {
        match flavor {
            Flavor::Compatible | Flavor::Intermediate => {
                out.insert("top_k".into(), v.clone());
            }
            Flavor::OpenAi => dropped.push("top_k".into()),
        }
    }
    // OpenAI (and most OpenAI-compatible servers: Groq, Gemini's) take at most 4 stop
    // sequences; Bedrock, behind the intermediate step, takes them all.
    let max_stops = (flavor != Flavor::Intermediate).then_some(OPENAI_MAX_STOPS);
    let mut adjusted = Vec::new();
    if let Some(stops) =
        sampling::stop_sequences(obj, |_| true, max_stops, &mut dropped, &mut adjusted)
    {
        out.insert("stop".into(), stops);
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = obj
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
    {
        out.insert("user".into(), json!(user));
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        let mut converted = Vec::new();
        for t in tools {
            // Server tools (web search, code execution…) have a `type` and no schema.
            match t.get("input_schema") {
                Some(schema) => converted.push(json!({"type": "function", "function": {
                    "name": t.get("name").cloned().unwrap_or(Value::Null),
                    "description": t.get("description").cloned().unwrap_or(json!("")),
                    "parameters": schema,
                }})),
                None => dropped.push(format!(
                    "tools.{}",
                    t.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("server_tool")
                )),
            }
        }
        if !converted.is_empty() {
            out.insert("tools".into(), Value::Array(converted));
        }
    }
    if let Some(choice) = obj.get("tool_choice").filter(|c| !c.is_null()) {
        let converted = match choice.get("type").and_then(Value::as_str) {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice.get("name")}}),
            _ => {
                return Err(TranslateError::at(
                    "tool_choice",
                    "tool_choice.type must be auto, any, tool or none",
                ));
            }
        };
        out.insert("tool_choice".into(), converted);
        if choice.get("disable_parallel_tool_use") == Some(&json!(true)) {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    dropped.sort();
    dropped.dedup();
    Ok(Translated {
        body: Value::Object(out),
        dropped,
        adjusted,
        context: Context {
            model: obj
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        },
    })
}

/// One Anthropic turn → OpenAI messages: tool results become `tool` messages (first, in
/// order), other user blocks one user message; an assistant turn one message with text and
/// tool calls. Thinking blocks cannot be sent to an OpenAI-schema model and are dropped.
fn convert_turn(
    m: &Value,
    i: usize,
    keep_thinking: bool,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), TranslateError> {
    let role = m.get("role").and_then(Value::as_str).unwrap_or("");
    if role == "system" {
        // Claude Code 2.x puts system entries among the turns: a system message in place.
        let text = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => system_text(blocks),
            _ => {
                return Err(TranslateError::at(
                    &format!("messages[{i}].content"),
                    "content must be a string or an array",
                ));
            }
        };
        if !text.is_empty() {
            out.push(json!({"role": "system", "content": text}));
        }
        return Ok(());
    }
    if role != "user" && role != "assistant" {
        return Err(TranslateError::at(
            &format!("messages[{i}].role"),
            "role must be user, assistant or system",
        ));
    }
    let blocks = match m.get("content") {
        Some(Value::String(s)) => {
            out.push(json!({"role": role, "content": s}));
            return Ok(());
        }
        Some(Value::Array(b)) => b,
        _ => {
            return Err(TranslateError::at(
                &format!("messages[{i}].content"),
                "content must be a string or an array",
            ));
        }
    };
    let mut parts = Vec::new();
    // Images and documents returned by tools: a tool message takes only text, so they
    // follow the tool messages in a user message of their own.
    let mut tool_media = Vec::new();
    let mut tool_calls = Vec::new();
    let mut thinking = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = || format!("messages[{i}].content[{j}]");
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": b.get("text").and_then(Value::as_str).unwrap_or("")})),
            Some("image") => parts.push(image_part(b.get("source").unwrap_or(&Value::Null)).ok_or_else(|| TranslateError::at(&at(), "unsupported image source"))?),
            Some("document") => parts.extend(document_parts(b, &at())?),
            Some("tool_use") if role == "assistant" => tool_calls.push(json!({
                "id": b.get("id"), "type": "function",
                "function": {"name": b.get("name"), "arguments": b.get("input").cloned().unwrap_or_else(|| json!({})).to_string()},
            })),
            Some("tool_result") if role == "user" => {
                let (text, media) = tool_result_content(b, &at())?;
                if !media.is_empty() {
                    let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                    tool_media.push(json!({"type": "text", "text": format!("[content returned by tool call {id}]")}));
                    tool_media.extend(media);
                }
                out.push(json!({"role": "tool", "tool_call_id": b.get("tool_use_id"), "content": text}));
            }
            Some("thinking" | "redacted_thinking") if keep_thinking => thinking.push(b.clone()),
            Some("thinking" | "redacted_thinking") => dropped.push("thinking".into()),
            Some(other) => return Err(TranslateError::at(&at(), format!("content block '{other}' cannot be sent to this model"))),
            None => return Err(TranslateError::at(&at(), "every content block needs a type")),
        }
    }
    if role == "assistant" {
        let text: String = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        if text.is_empty() && tool_calls.is_empty() && thinking.is_empty() {
            return Ok(());
        }
        let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
        if !tool_calls.is_empty() {
            msg["tool_calls"] = Value::Array(tool_calls);
        }
        if !thinking.is_empty() {
            msg["thinking_blocks"] = Value::Array(thinking);
        }
        out.push(msg);
    } else if !parts.is_empty() || !tool_media.is_empty() {
        tool_media.extend(parts);
        let parts = tool_media;
        let all_text = parts.iter().all(|p| p["type"] == "text");
        let content = if all_text && parts.len() == 1 {
            parts[0]["text"].clone()
        } else {
            Value::Array(parts)
        };
        out.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

fn image_part(source: &Value) -> Option<Value> {
    let url = match source.get("type").and_then(Value::as_str)? {
        "base64" => format!(
            "data:{};base64,{}",
            source.get("media_type")?.as_str()?,
            source.get("data")?.as_str()?
        ),
        "url" => source.get("url")?.as_str()?.to_owned(),
        _ => return None,
    };
    Some(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A `tool_result` block → the tool message's text, and the images and documents it
/// returned as chat content parts (Claude Code's Read tool on a picture or a PDF). An
/// error result (`is_error`) says so in its text, as a chat tool message has no flag.
fn tool_result_content(block: &Value, at: &str) -> Result<(String, Vec<Value>), TranslateError> {
    let mut texts = Vec::new();
    let mut media = Vec::new();
    match block.get("content") {
        Some(Value::String(s)) => texts.push(s.as_str()),
        Some(Value::Array(blocks)) => {
            for (k, b) in blocks.iter().enumerate() {
                let at = format!("{at}.content[{k}]");
                match b.get("type").and_then(Value::as_str) {
                    Some("image") => media.push(
                        image_part(b.get("source").unwrap_or(&Value::Null))
                            .ok_or_else(|| TranslateError::at(&at, "unsupported image source"))?,
                    ),
                    Some("document") => media.extend(document_parts(b, &at)?),
                    _ => texts.extend(b.get("text").and_then(Value::as_str)),
                }
            }
        }
        _ => {}
    }
    let mut text = texts.join("\n");
    if text.is_empty() && !media.is_empty() {
        text = "(the tool returned the images or documents in the next message)".to_owned();
    }
    if block.get("is_error") == Some(&json!(true)) {
        text = if text.is_empty() {
            "Error: the tool call failed".to_owned()
        } else {
            format!("Error: {text}")
        };
    }
    Ok((text, media))
}

/// A `document` block → chat content parts: a base64 PDF becomes a `file` part (a data
/// URL, as OpenAI takes inline files), plain text and a document's own content blocks
/// become text. A document behind a URL or a file id has no chat counterpart and is
/// refused rather than silently lost.
fn document_parts(block: &Value, at: &str) -> Result<Vec<Value>, TranslateError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let title = block.get("title").and_then(Value::as_str);
    let str_of = |k: &str| source.get(k).and_then(Value::as_str);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = str_of("media_type").unwrap_or("application/pdf");
            let data = str_of("data").unwrap_or("");
            let extension = if media_type == "application/pdf" {
                "pdf"
            } else {
                "bin"
            };
            let filename = title.map_or_else(|| format!("document.{extension}"), str::to_owned);
            Ok(vec![json!({"type": "file", "file": {
                "filename": filename,
                "file_data": format!("data:{media_type};base64,{data}"),
            }})])
        }
        Some("text") => Ok(vec![
            json!({"type": "text", "text": str_of("data").unwrap_or("")}),
        ]),
        Some("content") => Ok(source
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .map(|t| json!({"type": "text", "text": t}))
            .collect()),
        _ => Err(TranslateError::at(
            at,
            "only documents sent inline (base64, text or content) can reach this model",
        )),
    }
}

/// The text of system blocks, one line apart (blocks without text are skipped).
fn system_text(blocks: &[Value]) -> String {
    blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether any system block, message content block (tool results' included) or tool
/// carries a `cache_control`.
fn has_cache_control(obj: &Map<String, Value>) -> bool {
    fn list(v: Option<&Value>) -> &[Value] {
        v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
    let marked = |v: &Value| v.get("cache_control").is_some();
    let in_blocks = |blocks: &[Value]| {
        blocks
            .iter()
            .any(|b| marked(b) || list(b.get("content")).iter().any(marked))
    };
    in_blocks(list(obj.get("system")))
        || list(obj.get("tools")).iter().any(marked)
        || list(obj.get("messages"))
            .iter()
            .any(|m| in_blocks(list(m.get("content"))))
}

/// The chat `reasoning_effort` for Anthropic's `thinking` and `output_config.effort`:
///
/// - `output_config.effort` wins: `low`, `medium`, `high` as they are; `xhigh` and `max`
///   become `high`, the most every OpenAI reasoning model takes.
/// - Else `thinking` `enabled` with `budget_tokens` N: under 4096 `low`, under 16384
///   `medium`, else `high` (openai_to_anthropic's budgets 2048/8192/16384 fall inside).
/// - Else `thinking` `adaptive` (and `enabled` without a budget): `medium`, OpenAI's own
///   default, so adaptive thinking costs what an unmarked OpenAI request does.
/// - `thinking` `disabled` or absent: none. An unknown `thinking` or effort is named in
///   `dropped`.
fn reasoning_effort(
    thinking: Option<&Value>,
    effort: Option<&Value>,
    dropped: &mut Dropped,
) -> Option<&'static str> {
    let from_thinking = match thinking.map(|t| (t.get("type").and_then(Value::as_str), t)) {
        None | Some((Some("disabled"), _)) => None,
        Some((Some("adaptive"), _)) => Some("medium"),
        Some((Some("enabled"), t)) => Some(match t.get("budget_tokens").and_then(Value::as_u64) {
            Some(n) if n < 4096 => "low",
            Some(n) if n < 16384 => "medium",
            Some(_) => "high",
            None => "medium",
        }),
        Some(_) => {
            dropped.push("thinking".into());
            None
        }
    };
    let from_effort = effort.and_then(|e| match e.as_str() {
        Some("low") => Some("low"),
        Some("medium") => Some("medium"),
        Some("high" | "xhigh" | "max") => Some("high"),
        _ => {
            dropped.push("output_config.effort".into());
            None
        }
    });
    from_effort.or(from_thinking)
}
