//! OpenAI Chat Completions (`POST /v1/chat/completions`, and Azure OpenAI's
//! `/openai/deployments/{d}/chat/completions`): the rules the real API enforces on a
//! request body, each a small function whose `Err` is OpenAI's `400
//! invalid_request_error` (its `message` and `param`).
//!
//! The reference is <https://platform.openai.com/docs/api-reference/chat/create>; every
//! rule here is stated there unless its comment links another page.

use super::{as_int, field, join_ids};
use serde_json::Value;

/// A refusal: OpenAI's `error.message` and `error.param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub message: String,
    pub param: Option<String>,
}

type Rule = Result<(), Refusal>;

fn refuse(message: impl Into<String>, param: impl Into<String>) -> Rule {
    Err(Refusal {
        message: message.into(),
        param: Some(param.into()),
    })
}

/// Every rule, parameters first, then the messages.
pub(crate) fn validate(body: &Value) -> Rule {
    range(body, "temperature", 0.0, 2.0)?;
    range(body, "top_p", 0.0, 1.0)?;
    range(body, "presence_penalty", -2.0, 2.0)?;
    range(body, "frequency_penalty", -2.0, 2.0)?;
    n(body)?;
    stop(body)?;
    tool_choice(body)?;
    let messages = messages(body)?;
    for (i, m) in messages.iter().enumerate() {
        role(i, m)?;
        content_parts(i, m)?;
    }
    tool_messages(messages)
}

/// `temperature` in [0, 2], `top_p` in [0, 1], `presence_penalty` and
/// `frequency_penalty` in [-2, 2].
/// <https://platform.openai.com/docs/api-reference/chat/create> ("between 0 and 2", "between
/// -2.0 and 2.0").
fn range(body: &Value, key: &str, min: f64, max: f64) -> Rule {
    let Some(v) = field(body, key) else {
        return Ok(());
    };
    let Some(x) = v.as_f64() else {
        return refuse(
            format!(
                "Invalid type for '{key}': expected a decimal, but got {} instead.",
                kind(v)
            ),
            key,
        );
    };
    let shown = |b: f64| {
        if b.fract() == 0.0 {
            format!("{b:.0}")
        } else {
            b.to_string()
        }
    };
    if x > max {
        return refuse(
            format!(
                "Invalid '{key}': decimal above maximum value. Expected a value <= {}, but got {v} instead.",
                shown(max)
            ),
            key,
        );
    }
    if x < min {
        return refuse(
            format!(
                "Invalid '{key}': decimal below minimum value. Expected a value >= {}, but got {v} instead.",
                shown(min)
            ),
            key,
        );
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `n` (how many choices) is an integer of at least 1.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`n`).
fn n(body: &Value) -> Rule {
    let Some(v) = field(body, "n") else {
        return Ok(());
    };
    match as_int(v) {
        None => refuse(
            format!(
                "Invalid type for 'n': expected an integer, but got {} instead.",
                kind(v)
            ),
            "n",
        ),
        Some(n) if n < 1 => refuse(
            format!(
                "Invalid 'n': integer below minimum value. Expected a value >= 1, but got {n} instead."
            ),
            "n",
        ),
        Some(_) => Ok(()),
    }
}

/// `stop` is a string, or an array of at most 4 strings.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`stop`: "Up to 4 sequences").
fn stop(body: &Value) -> Rule {
    match field(body, "stop") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(list)) if list.len() > 4 => refuse(
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.",
                list.len()
            ),
            "stop",
        ),
        Some(Value::Array(list)) => match list.iter().position(|s| !s.is_string()) {
            Some(i) => refuse(
                format!(
                    "Invalid type for 'stop[{i}]': expected a string, but got {} instead.",
                    kind(&list[i])
                ),
                format!("stop[{i}]"),
            ),
            None => Ok(()),
        },
        Some(v) => refuse(
            format!(
                "Invalid type for 'stop': expected one of a string or array of strings, but got {} instead.",
                kind(v)
            ),
            "stop",
        ),
    }
}

/// `tool_choice` is only allowed with `tools`.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`tool_choice`: "none is the
/// default when no tools are present"); the API's answer is "Invalid value for
/// 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
fn tool_choice(body: &Value) -> Rule {
    let has_tools = field(body, "tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if field(body, "tool_choice").is_some() && !has_tools {
        return refuse(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
        );
    }
    Ok(())
}

/// `messages` is a required, non-empty array.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`messages`, "Required").
fn messages(body: &Value) -> Result<&[Value], Refusal> {
    let refusal = |message: String| Refusal {
        message,
        param: Some("messages".into()),
    };
    match field(body, "messages") {
        None => Err(refusal("Missing required parameter: 'messages'.".into())),
        Some(Value::Array(a)) if a.is_empty() => Err(refusal(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."
                .into(),
        )),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(refusal(format!(
            "Invalid type for 'messages': expected an array of objects, but got {} instead.",
            kind(v)
        ))),
    }
}

fn role_of(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

/// A message's role is `system`, `developer`, `user`, `assistant`, `tool` or `function`.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`messages`: the six message
/// kinds).
fn role(i: usize, m: &Value) -> Rule {
    let r = role_of(m);
    if matches!(
        r,
        "system" | "developer" | "user" | "assistant" | "tool" | "function"
    ) {
        return Ok(());
    }
    refuse(
        format!(
            "Invalid value: '{r}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
        ),
        format!("messages[{i}].role"),
    )
}

/// Content parts are `text`, `image_url`, `input_audio` or `file` (and an assistant's
/// `refusal`); images, audio and files only in user messages; a `file` part carries a
/// `file_id` or `file_data`, an `image_url` part its `url`, a `text` part its `text`.
/// <https://platform.openai.com/docs/api-reference/chat/create> (`messages` → user message →
/// content parts; `file`: "file_data … file_id").
fn content_parts(i: usize, m: &Value) -> Rule {
    let Some(Value::Array(parts)) = field(m, "content") else {
        return Ok(());
    };
    let r = role_of(m);
    for (j, p) in parts.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        let t = p.get("type").and_then(Value::as_str).unwrap_or("");
        match t {
            "text" | "image_url" | "input_audio" | "file" | "refusal" => {}
            _ => {
                return refuse(
                    format!(
                        "Invalid value: '{t}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'."
                    ),
                    format!("{at}.type"),
                );
            }
        }
        if matches!(t, "image_url" | "input_audio" | "file") && r != "user" {
            let what = match t {
                "image_url" => "Image URLs",
                "input_audio" => "Audio content parts",
                _ => "File content parts",
            };
            return refuse(
                format!(
                    "Invalid 'messages[{i}]'. {what} are only allowed for messages with role 'user', but this message with role '{r}' contains one."
                ),
                format!("messages[{i}]"),
            );
        }
        part_fields(p, t, &at)?;
    }
    Ok(())
}

/// The member each part kind needs.
fn part_fields(p: &Value, t: &str, at: &str) -> Rule {
    let missing = |name: &str| {
        refuse(
            format!("Missing required parameter: '{at}.{name}'."),
            format!("{at}.{name}"),
        )
    };
    match t {
        "text" if !p.get("text").is_some_and(Value::is_string) => missing("text"),
        "refusal" if !p.get("refusal").is_some_and(Value::is_string) => missing("refusal"),
        "image_url"
            if field(p, "image_url")
                .and_then(|u| field(u, "url"))
                .is_none() =>
        {
            missing("image_url.url")
        }
        "input_audio" if field(p, "input_audio").is_none() => missing("input_audio"),
        "file" => {
            let file = field(p, "file");
            let has = |k: &str| file.and_then(|f| field(f, k)).is_some();
            if has("file_id") || has("file_data") {
                Ok(())
            } else {
                refuse(
                    format!(
                        "Invalid '{at}.file': expected an object with either 'file_id' or 'file_data'."
                    ),
                    format!("{at}.file"),
                )
            }
        }
        _ => Ok(()),
    }
}

/// A `tool` message answers a `tool_call_id` of the assistant message's `tool_calls` just
/// before it (other tool messages between), and each of those calls is answered before the
/// next message that is not a tool message (or the end).
/// <https://platform.openai.com/docs/api-reference/chat/create> (tool message:
/// "tool_call_id: Tool call that this message is responding to") and
/// <https://platform.openai.com/docs/guides/function-calling>; the API's answers are
/// "Invalid parameter: messages with role 'tool' must be a response to a preceeding message
/// with 'tool_calls'." and "An assistant message with 'tool_calls' must be followed by tool
/// messages responding to each 'tool_call_id'. The following tool_call_ids did not have
/// response messages: …".
fn tool_messages(messages: &[Value]) -> Rule {
    // The open assistant message: its index and its call ids not yet answered.
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (i, m) in messages.iter().enumerate() {
        if role_of(m) == "tool" {
            let Some(id) = field(m, "tool_call_id").and_then(Value::as_str) else {
                return refuse(
                    format!("Missing required parameter: 'messages[{i}].tool_call_id'."),
                    format!("messages[{i}].tool_call_id"),
                );
            };
            let answered = open.as_mut().is_some_and(|(_, ids)| {
                ids.iter()
                    .position(|x| *x == id)
                    .map(|p| ids.remove(p))
                    .is_some()
            });
            if !answered {
                return refuse(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    format!("messages.[{i}].role"),
                );
            }
            continue;
        }
        unanswered(&open)?;
        open = field(m, "tool_calls")
            .and_then(Value::as_array)
            .filter(|_| role_of(m) == "assistant")
            .map(|calls| {
                let ids = calls
                    .iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_str))
                    .collect();
                (i, ids)
            });
    }
    unanswered(&open)
}

fn unanswered(open: &Option<(usize, Vec<&str>)>) -> Rule {
    match open {
        Some((i, ids)) if !ids.is_empty() => refuse(
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                join_ids(ids)
            ),
            format!("messages.[{i}].role"),
        ),
        _ => Ok(()),
    }
}
