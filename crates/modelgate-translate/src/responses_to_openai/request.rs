//! Responses request → OpenAI chat request.

use super::tools::{self, TOOL_SEARCH, ToolNames};
use super::{CUSTOM_INPUT, Context, reasoning};
use crate::anthropic_to_openai::Flavor;
use crate::util::{copy_fields, insert_output_limit, text_of};
use crate::{Dropped, TranslateError, Translated};
use serde_json::{Map, Value, json};

/// Fields this translator maps, honours itself (`store`, `metadata`, `include` are kept by
/// the gateway and echoed) or that the gateway consumed before (`models`,
/// `previous_response_id`). Anything else is dropped and named.
const HANDLED: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "metadata",
    "store",
    "include",
    "user",
    "safety_identifier",
    "models",
    "previous_response_id",
    "truncation",
    "prompt_cache_key",
    "service_tier",
];

/// Fields that change what the request means: refused rather than dropped.
const REFUSED: &[(&str, &str)] = &[
    (
        "background",
        "background responses are not available on this provider",
    ),
    (
        "conversation",
        "conversations are not available on this provider; use previous_response_id",
    ),
    (
        "prompt",
        "stored prompt templates are not available on this provider",
    ),
];

/// Fields a response object repeats from its request.
const ECHOED: &[&str] = &[
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "metadata",
    "reasoning",
    "text",
    "store",
    "previous_response_id",
    "truncation",
    "user",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
];

/// Translates a Responses request. `id` is the new response's id (`resp_…`).
pub fn translate(
    req: &Value,
    upstream_model: &str,
    flavor: Flavor,
    id: &str,
    created_at: i64,
) -> Result<Translated<Context>, TranslateError> {
    let obj = req
        .as_object()
        .ok_or_else(|| TranslateError::new("the request body must be a JSON object"))?;
    for (key, why) in REFUSED {
        if obj
            .get(*key)
            .is_some_and(|v| !v.is_null() && *v != json!(false))
        {
            return Err(TranslateError::at(key, *why));
        }
    }
    let mut dropped: Dropped = obj
        .keys()
        .filter(|k| !HANDLED.contains(&k.as_str()) && !REFUSED.iter().any(|(r, _)| r == k))
        .cloned()
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));

    let mut messages = Vec::new();
    if let Some(text) = obj
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        messages.push(json!({"role": system_role(flavor), "content": text}));
    }
    let keep_thinking = flavor == Flavor::Intermediate;
    let mut loaded = Vec::new();
    match obj.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => Turns::new(flavor, keep_thinking, &mut dropped).convert(
            items,
            &mut messages,
            &mut loaded,
        )?,
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(TranslateError::at(
                "input",
                "input must be a string or an array of items",
            ));
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::at("input", "input must not be empty"));
    }
    out.insert("messages".into(), Value::Array(messages));

    let mut names = ToolNames::default();
    let mut chat_tools = Vec::new();
    if let Some(list) = obj.get("tools").and_then(Value::as_array) {
        tools::translate(list, "tools", &mut names, &mut chat_tools, &mut dropped)?;
    }
    // Tools a client-run tool search loaded earlier in the conversation.
    tools::translate(&loaded, "input", &mut names, &mut chat_tools, &mut dropped)?;
    if !chat_tools.is_empty() {
        out.insert("tools".into(), Value::Array(chat_tools));
    }
    tool_choice(obj, &mut out, &mut dropped)?;
    if let Some(v) = obj
        .get("parallel_tool_calls")
        .filter(|v| v.is_boolean() && out.contains_key("tools"))
    {
        out.insert("parallel_tool_calls".into(), v.clone());
    }
    text_options(obj, flavor, &mut out, &mut dropped)?;
    if let Some(effort) = obj
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
    {
        out.insert("reasoning_effort".into(), json!(effort));
    }
    let limit = obj.get("max_output_tokens").and_then(Value::as_u64);
    insert_output_limit(&mut out, limit, flavor);
    copy_fields(obj, &mut out, &["temperature", "top_p"]);
    if let Some(user) = obj
        .get("safety_identifier")
        .or_else(|| obj.get("user"))
        .and_then(Value::as_str)
    {
        out.insert("user".into(), json!(user));
    }
    for key in ["prompt_cache_key", "service_tier"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            if flavor == Flavor::OpenAi {
                out.insert(key.into(), v.clone());
            } else {
                dropped.push(key.into());
            }
        }
    }
    if obj.get("truncation").and_then(Value::as_str) == Some("auto") {
        dropped.push("truncation".into());
    }
    if let Some(include) = obj.get("include").and_then(Value::as_array)
        && include
            .iter()
            .any(|i| i.as_str() != Some("reasoning.encrypted_content"))
    {
        dropped.push("include".into());
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }

    let echo = ECHOED
        .iter()
        .filter_map(|k| obj.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    Ok(Translated {
        body: Value::Object(out),
        dropped,
        adjusted: Vec::new(),
        context: Context {
            id: id.to_owned(),
            model: obj
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or(upstream_model)
                .to_owned(),
            created_at,
            tools: names,
            echo,
        },
    })
}

fn system_role(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenAi => "developer",
        Flavor::Compatible | Flavor::Intermediate => "system",
    }
}

/// Input items → chat messages. Consecutive assistant items (reasoning, text, function
/// calls) become one assistant message, as chat upstreams expect.
struct Turns<'a> {
    flavor: Flavor,
    keep_thinking: bool,
    dropped: &'a mut Dropped,
    assistant: Option<Map<String, Value>>,
}

impl<'a> Turns<'a> {
    fn new(flavor: Flavor, keep_thinking: bool, dropped: &'a mut Dropped) -> Self {
        Self {
            flavor,
            keep_thinking,
            dropped,
            assistant: None,
        }
    }

    fn convert(
        mut self,
        items: &[Value],
        out: &mut Vec<Value>,
        loaded: &mut Vec<Value>,
    ) -> Result<(), TranslateError> {
        for (i, item) in items.iter().enumerate() {
            if item.get("type").and_then(Value::as_str) == Some("tool_search_output") {
                loaded.extend(
                    item.get("tools")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
            self.item(i, item, out)?;
        }
        self.flush(out);
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<Value>) {
        if let Some(mut m) = self.assistant.take() {
            if !m.contains_key("content") {
                m.insert("content".into(), Value::Null);
            }
            out.push(Value::Object(m));
        }
    }

    fn assistant(&mut self) -> &mut Map<String, Value> {
        self.assistant.get_or_insert_with(|| {
            let mut m = Map::new();
            m.insert("role".into(), json!("assistant"));
            m
        })
    }

    fn item(&mut self, i: usize, item: &Value, out: &mut Vec<Value>) -> Result<(), TranslateError> {
        let at = |field: &str| format!("input[{i}].{field}");
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        let str_of = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                let content = item.get("content").unwrap_or(&Value::Null);
                match role {
                    "user" => {
                        self.flush(out);
                        out.push(json!({"role": "user", "content": user_content(content, i)?}));
                    }
                    "system" | "developer" => {
                        self.flush(out);
                        let role = if role == "developer" {
                            system_role(self.flavor)
                        } else {
                            "system"
                        };
                        out.push(json!({"role": role, "content": text_of(content)}));
                    }
                    "assistant" => {
                        let text = assistant_text(content);
                        let m = self.assistant();
                        let joined = match m.get("content").and_then(Value::as_str) {
                            Some(before) if !before.is_empty() => format!("{before}\n\n{text}"),
                            _ => text,
                        };
                        m.insert("content".into(), json!(joined));
                    }
                    _ => {
                        return Err(TranslateError::at(
                            &at("role"),
                            "role must be user, assistant, system or developer",
                        ));
                    }
                }
            }
            "function_call" | "custom_tool_call" | "tool_search_call" => {
                let (name, arguments) = match kind {
                    "custom_tool_call" => (
                        tools::chat_name(item),
                        json!({CUSTOM_INPUT: str_of("input")}).to_string(),
                    ),
                    "tool_search_call" => (
                        TOOL_SEARCH.to_owned(),
                        match item.get("arguments") {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => "{}".to_owned(),
                        },
                    ),
                    _ => (tools::chat_name(item), str_of("arguments").to_owned()),
                };
                let call = json!({"id": str_of("call_id"), "type": "function",
                    "function": {"name": name, "arguments": arguments}});
                let m = self.assistant();
                match m.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    Some(calls) => calls.push(call),
                    None => {
                        m.insert("tool_calls".into(), json!([call]));
                    }
                }
            }
            "tool_search_output" => {
                self.flush(out);
                // The loaded tools join the request's tools; the model is told which.
                let loaded: Vec<&str> = item
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .collect();
                let content = format!("Loaded tools: {}", loaded.join(", "));
                out.push(
                    json!({"role": "tool", "tool_call_id": str_of("call_id"), "content": content}),
                );
            }
            "function_call_output" | "custom_tool_call_output" => {
                self.flush(out);
                let output =
                    match item.get("output") {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ Value::Array(_)) => {
                            if v.as_array().into_iter().flatten().any(|p| {
                                p.get("type").and_then(Value::as_str) != Some("input_text")
                            }) {
                                self.drop_once("function_call_output.image");
                            }
                            text_of(v)
                        }
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                out.push(
                    json!({"role": "tool", "tool_call_id": str_of("call_id"), "content": output}),
                );
            }
            "reasoning" => {
                // Reasoning starts a new assistant turn only where it is carried on (towards
                // Anthropic and Bedrock, which merge the turns back); for a chat upstream it is
                // dropped, and splitting would leave tool calls without their results next.
                let has_answer = self
                    .assistant
                    .as_ref()
                    .is_some_and(|m| m.contains_key("content") || m.contains_key("tool_calls"));
                if self.keep_thinking && has_answer {
                    self.flush(out);
                }
                let blocks = reasoning::open(str_of("encrypted_content"));
                if self.keep_thinking && !blocks.is_empty() {
                    let m = self.assistant();
                    match m.get_mut("thinking_blocks").and_then(Value::as_array_mut) {
                        Some(b) => b.extend(blocks),
                        None => {
                            m.insert("thinking_blocks".into(), Value::Array(blocks));
                        }
                    }
                }
            }
            "item_reference" => {
                return Err(TranslateError::at(
                    &at("type"),
                    "item references are not available on this provider; send the items themselves, or use previous_response_id",
                ));
            }
            other => {
                return Err(TranslateError::at(
                    &at("type"),
                    format!(
                        "input items of type '{other}' (a built-in tool) cannot be used on this provider"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn drop_once(&mut self, name: &str) {
        if !self.dropped.iter().any(|d| d == name) {
            self.dropped.push(name.to_owned());
        }
    }
}

/// A user message's content: a string, or input parts → chat parts.
fn user_content(content: &Value, i: usize) -> Result<Value, TranslateError> {
    let parts = match content {
        Value::String(s) => return Ok(json!(s)),
        Value::Array(parts) => parts,
        _ => {
            return Err(TranslateError::at(
                &format!("input[{i}].content"),
                "content must be a string or an array of parts",
            ));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("input[{i}].content[{j}]");
        let str_of = |k: &str| part.get(k).and_then(Value::as_str);
        match part.get("type").and_then(Value::as_str).unwrap_or("") {
            "input_text" | "output_text" | "text" => {
                out.push(json!({"type": "text", "text": str_of("text").unwrap_or("")}))
            }
            "input_image" => {
                let Some(url) = str_of("image_url") else {
                    return Err(TranslateError::at(
                        &at,
                        "images by file_id need OpenAI's Files API; send image_url (a URL or a data: URL)",
                    ));
                };
                let mut image = json!({"url": url});
                if let Some(d) = str_of("detail") {
                    image["detail"] = json!(d);
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            "input_file" => {
                let Some(data) = str_of("file_data") else {
                    return Err(TranslateError::at(
                        &at,
                        "files by file_id or file_url are not available on this provider; send file_data",
                    ));
                };
                let mut file = json!({"file_data": data});
                if let Some(name) = str_of("filename") {
                    file["filename"] = json!(name);
                }
                out.push(json!({"type": "file", "file": file}));
            }
            other => {
                return Err(TranslateError::at(
                    &at,
                    format!("content parts of type '{other}' are not supported"),
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

/// An assistant message's text (output_text and refusal parts).
fn assistant_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").or_else(|| p.get("refusal")))
            .filter_map(Value::as_str)
            .collect(),
        _ => String::new(),
    }
}

fn tool_choice(
    obj: &Map<String, Value>,
    out: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<(), TranslateError> {
    let choice = match obj.get("tool_choice") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => json!(s),
        Some(c) => match c.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                json!({"type": "function", "function": {"name": tools::chat_name(c)}})
            }
            Some("allowed_tools") => {
                dropped.push("tool_choice.allowed_tools".into());
                json!(c.get("mode").and_then(Value::as_str).unwrap_or("auto"))
            }
            other => {
                return Err(TranslateError::at(
                    "tool_choice",
                    format!(
                        "the built-in tool '{}' cannot run on this provider",
                        other.unwrap_or("")
                    ),
                ));
            }
        },
    };
    if out.contains_key("tools") || choice == json!("none") {
        out.insert("tool_choice".into(), choice);
    }
    Ok(())
}

/// `text.format` → `response_format`; `text.verbosity` → `verbosity` on OpenAI.
fn text_options(
    obj: &Map<String, Value>,
    flavor: Flavor,
    out: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<(), TranslateError> {
    let Some(text) = obj.get("text").filter(|t| t.is_object()) else {
        return Ok(());
    };
    if let Some(format) = text.get("format").filter(|f| f.is_object()) {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut schema = json!({
                    "name": format.get("name").cloned().unwrap_or(json!("response")),
                    "schema": format.get("schema").cloned().unwrap_or(json!({})),
                });
                for key in ["strict", "description"] {
                    if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                        schema[key] = v.clone();
                    }
                }
                out.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": schema}),
                );
            }
            Some("json_object") => {
                out.insert("response_format".into(), json!({"type": "json_object"}));
            }
            Some("text") | None => {}
            Some(other) => {
                return Err(TranslateError::at(
                    "text.format",
                    format!("text.format of type '{other}' is not supported"),
                ));
            }
        }
    }
    if let Some(v) = text.get("verbosity").filter(|v| !v.is_null()) {
        if flavor == Flavor::OpenAi {
            out.insert("verbosity".into(), v.clone());
        } else {
            dropped.push("text.verbosity".into());
        }
    }
    Ok(())
}
