//! OpenAI chat request → Bedrock Converse request.

use super::Context;
use crate::json_mode::{self, JSON_TOOL, JsonChoice};
use crate::openai_to_anthropic::DEFAULT_MAX_TOKENS;
use crate::openai_to_anthropic::request::{EffortThinking, effort_thinking, thinking_conflicts};
use crate::sampling;
use crate::util::{
    ToolChoice, max_tokens, parse_data_url, parse_tool_choice, text_of, tool_call_input,
};
use crate::{Dropped, TranslateError, Translated};
use serde_json::{Map, Value, json};

/// The most stop sequences Converse takes
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html>).
const CONVERSE_MAX_STOPS: usize = 2500;

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
    let (system, mut turns) = convert_messages(messages)?;
    if anthropic {
        sampling::drop_refused_prefill(&mut turns, model, &mut dropped);
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut adjusted: Dropped = Vec::new();
    let mut inference = Map::new();
    inference.insert(
        "maxTokens".into(),
        json!(max_tokens(obj, DEFAULT_MAX_TOKENS)),
    );
    // Converse takes 0–1 temperatures and non-empty stop sequences (at most 2500) for
    // every model; Claude's rules (temperature with top_p, no whitespace-only stop
    // sequences) apply to Claude ids only.
    let sampling = sampling::for_claude(
        obj,
        model,
        sampling::Rules {
            claude: anthropic,
            max_stops: Some(CONVERSE_MAX_STOPS),
        },
        &mut dropped,
        &mut adjusted,
    );
    for (key, v) in [
        ("temperature", sampling.temperature),
        ("topP", sampling.top_p),
        ("stopSequences", sampling.stops),
    ] {
        if let Some(v) = v {
            inference.insert(key.into(), v);
        }
    }
    // Model-specific fields Converse has no slot for (Anthropic models on Bedrock read
    // `top_k` and `thinking` here).
    let mut additional = Map::new();
    for (key, v) in [
        ("top_k", sampling.top_k),
        (
            "thinking",
            obj.get("thinking").filter(|v| !v.is_null()).cloned(),
        ),
    ] {
        if let Some(v) = v {
            additional.insert(key.into(), v);
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
    let client_choice = parse_tool_choice(obj.get("tool_choice"))?;
    // Bedrock has no "none": the tools are taken away instead (the history's tool blocks
    // then become text, below).
    if client_choice == Some(ToolChoice::None) {
        tools.clear();
    }
    let mut choice = match client_choice {
        None | Some(ToolChoice::None) => None,
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Named(name)) => Some(json!({"tool": {"name": name}})),
    };
    let mut context = Context {
        include_usage: obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..Context::default()
    };
    if let Some(schema) = json_mode::schema(obj.get("response_format"))? {
        let json_choice = json_mode::json_choice(client_choice, !tools.is_empty());
        tools.push(json!({"toolSpec": {"name": JSON_TOOL,
            "description": json_mode::description(json_choice != JsonChoice::Forced),
            "inputSchema": {"json": schema}}}));
        choice = Some(match json_choice {
            JsonChoice::Forced => json!({"tool": {"name": JSON_TOOL}}),
            JsonChoice::AnyTool => json!({"any": {}}),
            JsonChoice::Client(name) => json!({"tool": {"name": name}}),
        });
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
                let conflicts = thinking_conflicts(obj);
                for name in &conflicts {
                    match *name {
                        "temperature" => inference.remove("temperature"),
                        "top_p" => inference.remove("topP"),
                        _ => additional.remove(*name),
                    };
                    dropped.push((*name).to_owned());
                }
                if let Some(p) = sampling::top_p_without_temperature(obj, &conflicts) {
                    inference.insert("topP".into(), p);
                    dropped.retain(|d| d != "top_p");
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
    if tools.is_empty() {
        // Converse refuses tool blocks without a `toolConfig`: with no tools to offer, the
        // history's calls and results are told as text.
        if let Some(Value::Array(turns)) = out.get_mut("messages") {
            tool_blocks_as_text(turns);
        }
    } else {
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
        adjusted,
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
                if !text.trim().is_empty() {
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
                let mut text = text_of(content);
                if text.trim().is_empty() {
                    // Converse refuses blank text, and a result needs content.
                    text = EMPTY_TOOL_OUTPUT.to_owned();
                }
                (
                    "user",
                    vec![json!({"toolResult": {"toolUseId": id, "content": [{"text": text}]}})],
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
    // A final assistant turn (a prefill) may not end with whitespace (Claude refuses it);
    // its text is never blank (blank text is left out above).
    if let Some(("assistant", blocks)) = turns.last_mut().map(|(r, b)| (*r, b))
        && let Some(text) = blocks.last_mut().and_then(|b| b.get_mut("text"))
    {
        let trimmed = text.as_str().unwrap_or("").trim_end().to_owned();
        *text = json!(trimmed);
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
        Value::String(s) if s.trim().is_empty() => Ok(vec![]),
        Value::String(s) => Ok(vec![json!({"text": s})]),
        Value::Null => Ok(vec![]),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                !(p.get("type").and_then(Value::as_str) == Some("text")
                    && p.get("text")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t.trim().is_empty()))
            })
            .map(|(j, p)| {
                let at = format!("messages[{i}].content[{j}]");
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        Ok(json!({"text": p.get("text").and_then(Value::as_str).unwrap_or("")}))
                    }
                    Some("file") => document_block(p, &at),
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
    if !text.trim().is_empty() {
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

/// What an empty tool output is sent as (Converse refuses blank text blocks).
const EMPTY_TOOL_OUTPUT: &str = "(no output)";

/// An OpenAI `file` part with inline data → a Converse `document` block. Converse takes
/// a handful of formats, named by extension, and a name of letters, digits, single spaces,
/// hyphens, parentheses and brackets.
fn document_block(part: &Value, at: &str) -> Result<Value, TranslateError> {
    let file = part.get("file").unwrap_or(&Value::Null);
    let (media_type, data) = file
        .get("file_data")
        .and_then(Value::as_str)
        .and_then(parse_data_url)
        .ok_or_else(|| {
            TranslateError::at(at, "files reach Bedrock as base64 data: URLs (file_data)")
        })?;
    let format = match media_type {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "text/html" => "html",
        "text/markdown" => "md",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        other => {
            return Err(TranslateError::at(
                at,
                format!("Bedrock does not take documents of type '{other}'"),
            ));
        }
    };
    let raw = file
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or("document");
    let mut name = String::new();
    for c in raw.rsplit_once('.').map_or(raw, |(stem, _)| stem).chars() {
        let c = if c.is_ascii_alphanumeric() || "-()[]".contains(c) {
            c
        } else {
            ' '
        };
        if !(c == ' ' && (name.is_empty() || name.ends_with(' '))) {
            name.push(c);
        }
    }
    let name = match name.trim_end() {
        "" => "document",
        n => n,
    };
    Ok(json!({"document": {"format": format, "name": name, "source": {"bytes": data}}}))
}

/// Tool calls and results of the history as text blocks, for a request that offers no
/// tools (Converse refuses `toolUse`/`toolResult` blocks without a `toolConfig`).
fn tool_blocks_as_text(turns: &mut [Value]) {
    for turn in turns {
        let Some(blocks) = turn.get_mut("content").and_then(Value::as_array_mut) else {
            continue;
        };
        for block in blocks.iter_mut() {
            let text = if let Some(call) = block.get("toolUse") {
                format!(
                    "[tool call {}: {}({})]",
                    call["toolUseId"].as_str().unwrap_or(""),
                    call["name"].as_str().unwrap_or(""),
                    call["input"]
                )
            } else if let Some(result) = block.get("toolResult") {
                let output: Vec<&str> = result["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("text").and_then(Value::as_str))
                    .collect();
                format!(
                    "[tool result {}]\n{}",
                    result["toolUseId"].as_str().unwrap_or(""),
                    output.join("\n")
                )
            } else {
                continue;
            };
            *block = json!({ "text": text });
        }
    }
}
