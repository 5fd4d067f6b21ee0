//! OpenAI chat request → Anthropic messages request.

use super::{Context, DEFAULT_MAX_TOKENS};
use crate::json_mode::{self, JSON_TOOL, JsonChoice};
use crate::sampling::{self, claude_version};
use crate::util::{
    ToolChoice, max_tokens, object, parse_data_url, parse_tool_choice, text_of, tool_call_input,
};
use crate::{Dropped, TranslateError, Translated};
use serde_json::{Map, Value, json};

/// Parameters with no Anthropic counterpart: dropped and reported.
const UNSUPPORTED: &[&str] = &[
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "service_tier",
    "prediction",
    "modalities",
    "audio",
    "store",
    "web_search_options",
];

/// Parameters the gateway consumes itself or that map elsewhere.
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
    "parallel_tool_calls",
    "response_format",
    "user",
    "metadata",
    "thinking",
    "reasoning_effort",
    "models",
];

pub fn translate(req: &Value, upstream_model: &str) -> Result<Translated<Context>, TranslateError> {
    let obj = req
        .as_object()
        .ok_or_else(|| TranslateError::new("the request body must be a JSON object"))?;
    let mut dropped: Dropped = Vec::new();
    let mut adjusted: Dropped = Vec::new();
    for key in obj.keys() {
        if UNSUPPORTED.contains(&key.as_str()) {
            if !(key == "n" && obj[key] == json!(1)) {
                dropped.push(key.clone());
            }
        } else if !HANDLED.contains(&key.as_str()) {
            dropped.push(key.clone());
        }
    }

    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::at("messages", "messages must be an array"))?;
    let (system, mut turns) = convert_messages(messages)?;
    sampling::drop_refused_prefill(&mut turns, upstream_model, &mut dropped);

    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    out.insert("messages".into(), Value::Array(turns));
    out.insert(
        "max_tokens".into(),
        json!(max_tokens(obj, DEFAULT_MAX_TOKENS)),
    );
    let sampling = sampling::for_claude(
        obj,
        upstream_model,
        sampling::Rules {
            claude: true,
            max_stops: None,
        },
        &mut dropped,
        &mut adjusted,
    );
    for (key, v) in [
        ("temperature", sampling.temperature),
        ("top_p", sampling.top_p),
        ("top_k", sampling.top_k),
        ("stop_sequences", sampling.stops),
        (
            "thinking",
            obj.get("thinking").filter(|v| !v.is_null()).cloned(),
        ),
    ] {
        if let Some(v) = v {
            out.insert(key.into(), v);
        }
    }
    let stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if stream {
        out.insert("stream".into(), json!(true));
    }
    if let Some(user) = obj.get("user").and_then(Value::as_str) {
        out.insert(
            "metadata".into(),
            json!({"user_id": sampling::opaque_user_id(user)}),
        );
    }

    let mut tools: Vec<Value> = Vec::new();
    if let Some(list) = obj.get("tools").and_then(Value::as_array) {
        for t in list {
            tools.push(convert_tool(t, &mut dropped)?);
        }
    }
    let client_choice = parse_tool_choice(obj.get("tool_choice"))?;
    let mut tool_choice = client_choice.map(convert_tool_choice);
    let mut context = Context {
        include_usage: obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..Context::default()
    };
    if let Some(schema) = json_mode::schema(obj.get("response_format"))? {
        let choice = json_mode::json_choice(client_choice, !tools.is_empty());
        tools.push(json!({
            "name": JSON_TOOL,
            "description": json_mode::description(choice != JsonChoice::Forced),
            "input_schema": schema,
        }));
        tool_choice = Some(match choice {
            JsonChoice::Forced => json!({"type": "tool", "name": JSON_TOOL}),
            JsonChoice::AnyTool => json!({"type": "any"}),
            JsonChoice::Client(name) => json!({"type": "tool", "name": name}),
        });
        context.json_tool = Some(JSON_TOOL.to_owned());
    }
    if obj.get("parallel_tool_calls") == Some(&json!(false)) {
        let choice = tool_choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    let forced_tool = tool_choice
        .as_ref()
        .is_some_and(|c| c["type"] == "any" || c["type"] == "tool");
    if let Some(choice) = tool_choice {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(effort) = obj.get("reasoning_effort").filter(|v| !v.is_null()) {
        match effort_thinking(effort, upstream_model) {
            EffortThinking::Off => {}
            // An explicit `thinking` wins; Anthropic refuses thinking with a forced tool
            // (and JSON mode is one); an unknown level is left out rather than guessed.
            _ if obj.get("thinking").is_some_and(|t| !t.is_null()) || forced_tool => {
                dropped.push("reasoning_effort".into());
            }
            EffortThinking::Unknown => dropped.push("reasoning_effort".into()),
            on => {
                let conflicts = thinking_conflicts(obj);
                for name in &conflicts {
                    out.remove(*name);
                    dropped.push((*name).to_owned());
                }
                // A top_p left out only for the temperature's sake comes back when thinking
                // took the temperature away.
                if let Some(p) = sampling::top_p_without_temperature(obj, &conflicts) {
                    out.insert("top_p".into(), p);
                    dropped.retain(|d| d != "top_p");
                }
                let max = out
                    .get("max_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(DEFAULT_MAX_TOKENS);
                out.insert("max_tokens".into(), json!(on.max_tokens(max)));
                out.insert("thinking".into(), on.thinking());
                if let Some(config) = on.output_config() {
                    out.insert("output_config".into(), config);
                }
            }
        }
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

/// System prompts (every `system`/`developer` message, in order) and the turns, with
/// consecutive same-role turns merged as Anthropic requires.
fn convert_messages(messages: &[Value]) -> Result<(Vec<Value>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        let (role, blocks) = match role {
            "system" | "developer" => {
                let text = text_of(content);
                if !text.trim().is_empty() {
                    system.push(json!({"type": "text", "text": text}));
                }
                continue;
            }
            "user" => ("user", user_blocks(content, i)?),
            "assistant" => ("assistant", assistant_blocks(m, i)?),
            "tool" | "function" => ("user", vec![tool_result(m, i)?]),
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
            Some((last_role, last)) if last_role == role => {
                // Tool results must come first in a user turn.
                if role == "user" && blocks.iter().all(|b| b["type"] == "tool_result") {
                    let at = last
                        .iter()
                        .take_while(|b| b["type"] == "tool_result")
                        .count();
                    for (k, b) in blocks.into_iter().enumerate() {
                        last.insert(at + k, b);
                    }
                } else {
                    last.extend(blocks);
                }
            }
            _ => turns.push((role.to_owned(), blocks)),
        }
    }
    trim_prefill(&mut turns);
    let turns = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    Ok((system, turns))
}

/// A final assistant turn (a prefill the answer continues) may not end with whitespace:
/// Anthropic refuses it, so it is trimmed (and left out if nothing remains).
fn trim_prefill(turns: &mut Vec<(String, Vec<Value>)>) {
    let Some((role, blocks)) = turns.last_mut() else {
        return;
    };
    if role != "assistant" {
        return;
    }
    if let Some(last) = blocks.last_mut().filter(|b| b["type"] == "text") {
        let trimmed = last["text"].as_str().unwrap_or("").trim_end().to_owned();
        if trimmed.is_empty() {
            blocks.pop();
        } else {
            last["text"] = json!(trimmed);
        }
    }
    if blocks.is_empty() {
        turns.pop();
    }
}

/// Whether a block is a text block with nothing but whitespace (Anthropic and Bedrock
/// refuse those).
fn is_blank_text(block: &Value) -> bool {
    block["type"] == "text" && block["text"].as_str().is_none_or(|t| t.trim().is_empty())
}

fn user_blocks(content: &Value, i: usize) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(s) if s.trim().is_empty() => Ok(vec![]),
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let block = content_part(p, i, j)?;
                if !is_blank_text(&block) {
                    blocks.push(block);
                }
            }
            Ok(blocks)
        }
        Value::Null => Ok(vec![]),
        _ => Err(TranslateError::at(
            &format!("messages[{i}].content"),
            "content must be a string or an array of parts",
        )),
    }
}

fn content_part(part: &Value, i: usize, j: usize) -> Result<Value, TranslateError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(
            json!({"type": "text", "text": part.get("text").and_then(Value::as_str).unwrap_or("")}),
        ),
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TranslateError::at(
                        &format!("messages[{i}].content[{j}]"),
                        "image_url.url is required",
                    )
                })?;
            let source = match parse_data_url(url) {
                Some((media_type, data)) => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                None => json!({"type": "url", "url": url}),
            };
            Ok(json!({"type": "image", "source": source}))
        }
        // A file sent inline: PDFs and plain text become Anthropic documents.
        Some("file") => {
            let file = part.get("file").unwrap_or(&Value::Null);
            let data = file.get("file_data").and_then(Value::as_str);
            match data.and_then(parse_data_url) {
                Some((media_type @ ("application/pdf" | "text/plain"), data)) => {
                    let mut doc = json!({"type": "document",
                        "source": {"type": "base64", "media_type": media_type, "data": data}});
                    if let Some(name) = file.get("filename").filter(|n| n.is_string()) {
                        doc["title"] = name.clone();
                    }
                    Ok(doc)
                }
                _ => Err(TranslateError::at(
                    &format!("messages[{i}].content[{j}]"),
                    "files reach Anthropic models as base64 data: URLs of PDF or plain text",
                )),
            }
        }
        other => Err(TranslateError::at(
            &format!("messages[{i}].content[{j}].type"),
            format!(
                "content part type {} cannot be sent to an Anthropic model",
                other.map_or("(missing)".to_owned(), |t| format!("'{t}'"))
            ),
        )),
    }
}

fn assistant_blocks(m: &Value, i: usize) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = Vec::new();
    // Thinking blocks (with signatures) first, as Anthropic returned them.
    if let Some(thinking) = m.get("thinking_blocks").and_then(Value::as_array) {
        blocks.extend(thinking.iter().filter(|b| b.get("type").is_some()).cloned());
    }
    match m.get("content") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            blocks.push(json!({"type": "text", "text": s}))
        }
        Some(Value::Array(parts)) => {
            for p in parts {
                if let Some(t) = p
                    .get("text")
                    .and_then(Value::as_str)
                    .filter(|t| !t.trim().is_empty())
                {
                    blocks.push(json!({"type": "text", "text": t}));
                }
            }
        }
        _ => {}
    }
    if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
        for (k, call) in calls.iter().enumerate() {
            let f = call.get("function").unwrap_or(&Value::Null);
            let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
            let input = tool_call_input(args, i, k)?;
            blocks.push(json!({
                "type": "tool_use",
                "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
                "name": f.get("name").and_then(Value::as_str).unwrap_or(""),
                "input": input,
            }));
        }
    }
    Ok(blocks)
}

fn tool_result(m: &Value, i: usize) -> Result<Value, TranslateError> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TranslateError::at(
                &format!("messages[{i}].tool_call_id"),
                "a tool message needs tool_call_id",
            )
        })?;
    let content = match m.get("content") {
        Some(Value::String(s)) => json!(s),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let block = content_part(p, i, j)?;
                if !is_blank_text(&block) {
                    blocks.push(block);
                }
            }
            Value::Array(blocks)
        }
        _ => json!(""),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

fn convert_tool(t: &Value, dropped: &mut Dropped) -> Result<Value, TranslateError> {
    let f = t
        .get("function")
        .filter(|_| t.get("type").and_then(Value::as_str).unwrap_or("function") == "function")
        .ok_or_else(|| {
            TranslateError::at(
                "tools",
                "only function tools can be sent to an Anthropic model",
            )
        })?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::at("tools", "every tool needs function.name"))?;
    if f.get("strict").is_some() {
        dropped.push("tools.function.strict".into());
    }
    Ok(object(vec![
        ("name", json!(name)),
        (
            "description",
            f.get("description").cloned().unwrap_or(Value::Null),
        ),
        (
            "input_schema",
            f.get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        ),
    ]))
}

fn convert_tool_choice(choice: ToolChoice<'_>) -> Value {
    match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Named(name) => json!({"type": "tool", "name": name}),
    }
}

/// What an OpenAI `reasoning_effort` becomes on a Claude model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EffortThinking {
    /// `none` or `minimal`: no thinking (Anthropic's default).
    Off,
    /// Claude 4.6 and later: `thinking: {type: adaptive}` with `output_config.effort`
    /// (Opus 4.7 and later refuse a fixed budget; 4.6 deprecates it).
    Adaptive(&'static str),
    /// Older (or unrecognised) Claude models: `thinking: {type: enabled}` with this budget.
    Budget(u64),
    /// A level this gateway does not know: left out and reported.
    Unknown,
}

impl EffortThinking {
    /// The `thinking` parameter (for `Adaptive` and `Budget`).
    pub(crate) fn thinking(self) -> Value {
        match self {
            Self::Budget(budget) => json!({"type": "enabled", "budget_tokens": budget}),
            _ => json!({"type": "adaptive"}),
        }
    }

    /// The `output_config` that carries the effort of adaptive thinking.
    pub(crate) fn output_config(self) -> Option<Value> {
        match self {
            Self::Adaptive(effort) => Some(json!({"effort": effort})),
            _ => None,
        }
    }

    /// `max_tokens` for a request asking `max`: Anthropic requires `max_tokens` above
    /// `budget_tokens`, so a budget at or over it is added to it (the answer keeps the room
    /// the client asked for).
    pub(crate) fn max_tokens(self, max: u64) -> u64 {
        match self {
            Self::Budget(budget) if max <= budget => budget + max,
            _ => max,
        }
    }
}

/// OpenAI `reasoning_effort` → Claude thinking for `model`.
///
/// | reasoning_effort  | Claude 4.6+ (adaptive)  | older Claude (`budget_tokens`) |
/// |-------------------|-------------------------|--------------------------------|
/// | `none`, `minimal` | no thinking             | no thinking                    |
/// | `low`             | effort `low`            | 2048                           |
/// | `medium`          | effort `medium`         | 8192                           |
/// | `high`            | effort `high`           | 16384                          |
/// | `xhigh`           | effort `high`           | 32768                          |
///
/// The budgets sit inside the bands `anthropic_to_openai` maps budgets back with (under
/// 4096 low, under 16384 medium, else high), so a round trip keeps the level.
pub(crate) fn effort_thinking(effort: &Value, model: &str) -> EffortThinking {
    let (level, budget) = match effort.as_str() {
        Some("none" | "minimal") => return EffortThinking::Off,
        Some("low") => ("low", 2048),
        Some("medium") => ("medium", 8192),
        Some("high") => ("high", 16384),
        Some("xhigh") => ("high", 32768),
        _ => return EffortThinking::Unknown,
    };
    // Extended thinking starts with Claude 3.7: older models refuse `thinking`, so the
    // effort is dropped (and named) for them like an unknown level.
    if claude_version(model).is_some_and(|v| v < (3, 7)) {
        return EffortThinking::Unknown;
    }
    if claude_version(model).is_some_and(|v| v >= (4, 6)) {
        EffortThinking::Adaptive(level)
    } else {
        EffortThinking::Budget(budget)
    }
}

/// Client sampling parameters Anthropic refuses next to thinking: a temperature other than
/// 1, any `top_k`, a `top_p` under 0.95. Thinking the gateway turned on drops them.
pub(crate) fn thinking_conflicts(obj: &Map<String, Value>) -> Vec<&'static str> {
    let num = |k: &str| obj.get(k).filter(|v| !v.is_null()).map(Value::as_f64);
    let mut out = Vec::new();
    if num("temperature").is_some_and(|t| t != Some(1.0)) {
        out.push("temperature");
    }
    if num("top_p").is_some_and(|p| p.is_none_or(|p| p < 0.95)) {
        out.push("top_p");
    }
    if num("top_k").is_some() {
        out.push("top_k");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_effort_by_claude_version() {
        assert_eq!(
            effort_thinking(&json!("high"), "claude-sonnet-4-6"),
            EffortThinking::Adaptive("high")
        );
        assert_eq!(
            effort_thinking(&json!("high"), "claude-sonnet-4-5"),
            EffortThinking::Budget(16384)
        );
        assert_eq!(
            effort_thinking(&json!("low"), "claude-3-5-sonnet-20241022"),
            EffortThinking::Unknown
        );
        assert_eq!(
            effort_thinking(&json!("low"), "claude-3-7-sonnet-20250219"),
            EffortThinking::Budget(2048)
        );
        assert_eq!(effort_thinking(&json!("none"), "x"), EffortThinking::Off);
        assert_eq!(effort_thinking(&json!(3), "x"), EffortThinking::Unknown);
        assert_eq!(EffortThinking::Budget(2048).max_tokens(2048), 4096);
        assert_eq!(EffortThinking::Budget(2048).max_tokens(2049), 2049);
    }
}
