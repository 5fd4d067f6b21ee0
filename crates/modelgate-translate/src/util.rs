//! Small helpers shared by the translators.

use crate::TranslateError;
use serde_json::{Map, Value, json};

/// The text of an OpenAI `content` that is a string or an array of text parts.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// `{"k": v, ...}` from pairs, skipping nulls.
pub fn object(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    }
    Value::Object(m)
}

/// Splits a `data:` URL into media type and base64 payload.
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// Current time in Unix seconds (for `created`), passed in by callers to stay pure.
pub type UnixSeconds = i64;

/// An OpenAI `tool_choice`, schema-neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice<'a> {
    Auto,
    None,
    Required,
    Named(&'a str),
}

/// Parses an OpenAI `tool_choice` (`"auto"`, `"none"`, `"required"` or a named function).
pub fn parse_tool_choice(choice: Option<&Value>) -> Result<Option<ToolChoice<'_>>, TranslateError> {
    Ok(match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(TranslateError::at(
                    "tool_choice",
                    format!("unknown tool_choice '{other}'"),
                ));
            }
        }),
        Some(obj) => Some(ToolChoice::Named(
            obj.get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TranslateError::at("tool_choice", "tool_choice.function.name is required")
                })?,
        )),
    })
}

/// An OpenAI tool call's `arguments` string as a JSON value (empty means `{}`).
pub fn tool_call_input(
    arguments: &str,
    message: usize,
    call: usize,
) -> Result<Value, TranslateError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments).map_err(|_| {
        TranslateError::at(
            &format!("messages[{message}].tool_calls[{call}].function.arguments"),
            "tool call arguments must be a JSON object",
        )
    })
}

/// `max_completion_tokens`, else `max_tokens`, else `default`.
pub fn max_tokens(obj: &Map<String, Value>, default: u64) -> u64 {
    obj.get("max_completion_tokens")
        .or_else(|| obj.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(default)
}

/// The output limit in the field an OpenAI-schema upstream of this flavor takes.
pub fn insert_output_limit(
    out: &mut Map<String, Value>,
    limit: Option<u64>,
    flavor: crate::anthropic_to_openai::Flavor,
) {
    use crate::anthropic_to_openai::Flavor;
    if let Some(n) = limit {
        let key = match flavor {
            Flavor::OpenAi => "max_completion_tokens",
            Flavor::Compatible | Flavor::Intermediate => "max_tokens",
        };
        out.insert(key.into(), json!(n));
    }
}

/// Copies the given fields, when present and not null.
pub fn copy_fields(from: &Map<String, Value>, out: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(v) = from.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).into(), v.clone());
        }
    }
}
