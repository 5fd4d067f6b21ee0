//! Anthropic Messages API (`POST /v1/messages`): the rules the real API enforces on a
//! request body, each a small function whose `Err` is the message of Anthropic's
//! `400 invalid_request_error`.
//!
//! The parameter reference is <https://docs.anthropic.com/en/api/messages>; rules stated
//! elsewhere (extended thinking, tool use, vision, PDFs, model migrations) link their page.
//! [`model_rules`] are the ones Claude itself enforces, so Bedrock reuses them for Claude
//! models (see `bedrock.rs`).

mod blocks;
mod tools;

pub(crate) use tools::valid_tool_name;

use super::{
    Rule, as_int, claude_is_adaptive_only, claude_refuses_prefill,
    claude_refuses_temperature_with_top_p, field, is_blank,
};
use blocks::block;
use serde_json::Value;
use tools::{tool_choice, tool_pairing, tools};

const THINKING_DOCS: &str = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking";

/// Every rule, schema first, then the rules across fields and messages.
pub(crate) fn validate(body: &Value) -> Rule {
    let model = model(body)?;
    max_tokens(body)?;
    let messages = messages(body)?;
    roles(messages)?;
    for (i, m) in messages.iter().enumerate() {
        content(messages, i, m)?;
    }
    sampling_ranges(body)?;
    stop_sequences(body)?;
    metadata(body)?;
    tools(body)?;
    tool_choice(body)?;
    tool_pairing(messages)?;
    prefill(messages, model)?;
    model_rules(body, model)
}

/// The rules Claude enforces whoever serves it (Anthropic, or Bedrock for Claude models):
/// sampling for the model, thinking, stop sequences with text.
pub(crate) fn model_rules(body: &Value, model: &str) -> Rule {
    sampling_for_model(body, model)?;
    thinking(body, model)?;
    stop_sequences_have_text(body)
}

/// `model` is a required string. <https://docs.anthropic.com/en/api/messages> (`model`).
fn model(body: &Value) -> Result<&str, String> {
    match field(body, "model") {
        None => Err("model: Field required".into()),
        Some(m) => m
            .as_str()
            .ok_or_else(|| "model: Input should be a valid string".into()),
    }
}

/// `max_tokens` is a required integer, at least 1.
/// <https://docs.anthropic.com/en/api/messages> (`max_tokens`, "x >= 1").
fn max_tokens(body: &Value) -> Rule {
    let Some(v) = field(body, "max_tokens") else {
        return Err("max_tokens: Field required".into());
    };
    match as_int(v) {
        None => Err("max_tokens: Input should be a valid integer".into()),
        Some(n) if n < 1 => Err("max_tokens: Input should be greater than or equal to 1".into()),
        Some(_) => Ok(()),
    }
}

/// `messages` is a required, non-empty array. <https://docs.anthropic.com/en/api/messages>
fn messages(body: &Value) -> Result<&[Value], String> {
    match field(body, "messages") {
        None => Err("messages: Field required".into()),
        Some(Value::Array(a)) if a.is_empty() => {
            Err("messages: at least one message is required".into())
        }
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err("messages: Input should be a valid list".into()),
    }
}

/// Roles are `user` or `assistant` only (the system prompt is the top-level `system`).
/// <https://docs.anthropic.com/en/api/messages> (`messages.role`).
fn roles(messages: &[Value]) -> Rule {
    for (i, m) in messages.iter().enumerate() {
        if !matches!(role(m), "user" | "assistant") {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
    }
    Ok(())
}

pub(super) fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

/// Whether message `i` is the final message and an assistant's (a prefill).
fn is_final_assistant(messages: &[Value], i: usize) -> bool {
    i + 1 == messages.len() && role(&messages[i]) == "assistant"
}

/// A message's content: a string, or an array of blocks. Every message but a final
/// assistant one has content; text (a string content, or a `text` block) is non-empty and
/// has non-whitespace; images, documents and tool results have valid sources and contents.
/// <https://docs.anthropic.com/en/api/messages> (`messages.content`); the text rules are the
/// API's answers "all messages must have non-empty content except for the optional final
/// assistant message", "text content blocks must be non-empty" and "… must contain
/// non-whitespace text".
fn content(messages: &[Value], i: usize, m: &Value) -> Rule {
    let last_assistant = is_final_assistant(messages, i);
    let empty = || {
        format!(
            "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        )
    };
    match m.get("content") {
        Some(Value::String(s)) if s.is_empty() && !last_assistant => Err(empty()),
        // A final assistant's whitespace is the prefill rule's ("trailing whitespace").
        Some(Value::String(s)) if is_blank(s) && !last_assistant => {
            Err("messages: text content blocks must contain non-whitespace text".into())
        }
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) if blocks.is_empty() && !last_assistant => Err(empty()),
        Some(Value::Array(blocks)) => {
            for (j, b) in blocks.iter().enumerate() {
                block(b, &format!("messages.{i}.content.{j}"), !last_assistant)?;
            }
            Ok(())
        }
        None => Err(format!("messages.{i}.content: Field required")),
        Some(_) => Err(format!(
            "messages.{i}.content: Input should be a valid string or a valid list"
        )),
    }
}

/// `temperature` and `top_p` lie in [0, 1], `top_k` is an integer of at least 0.
/// <https://docs.anthropic.com/en/api/messages> (`temperature` "0 < x < 1", `top_p`,
/// `top_k` "x >= 0").
pub(crate) fn sampling_ranges(body: &Value) -> Rule {
    for key in ["temperature", "top_p"] {
        let Some(v) = field(body, key) else { continue };
        match v.as_f64() {
            None => return Err(format!("{key}: Input should be a valid number")),
            Some(x) if x < 0.0 => {
                return Err(format!("{key}: Input should be greater than or equal to 0"));
            }
            Some(x) if x > 1.0 => {
                return Err(format!("{key}: Input should be less than or equal to 1"));
            }
            Some(_) => {}
        }
    }
    match field(body, "top_k").map(|v| (v, as_int(v))) {
        Some((_, None)) => Err("top_k: Input should be a valid integer".into()),
        Some((_, Some(k))) if k < 0 => {
            Err("top_k: Input should be greater than or equal to 0".into())
        }
        _ => Ok(()),
    }
}

/// Sampling the model refuses: Opus 4.7 and later refuse any non-default `temperature`
/// (other than 1), `top_p` (other than 1) or any `top_k`
/// (<https://platform.claude.com/docs/en/about-claude/models/migration-guide#migrating-to-claude-opus-4-7>);
/// Opus 4.1 and every model from 4.5 refuse `temperature` with `top_p`
/// (<https://docs.anthropic.com/en/docs/about-claude/models/migrating-to-claude-4>).
fn sampling_for_model(body: &Value, model: &str) -> Rule {
    if claude_is_adaptive_only(model) {
        let non_default =
            |key: &str| field(body, key).is_some_and(|v| key == "top_k" || v.as_f64() != Some(1.0));
        if let Some(key) = ["temperature", "top_p", "top_k"]
            .into_iter()
            .find(|k| non_default(k))
        {
            return Err(format!("`{key}` is deprecated for this model."));
        }
    }
    if claude_refuses_temperature_with_top_p(model)
        && field(body, "temperature").is_some()
        && field(body, "top_p").is_some()
    {
        return Err(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
                .into(),
        );
    }
    Ok(())
}

/// Extended thinking: `type` is `enabled`, `adaptive` or `disabled`; `enabled` needs a
/// `budget_tokens` of at least 1024 and under `max_tokens`, and is refused by the
/// adaptive-only models (Opus 4.7 on); with thinking on, `temperature` may only be 1,
/// `top_k` must be unset, `top_p` at least 0.95, and `tool_choice` may not force a tool.
/// <https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking>,
/// <https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size>,
/// <https://platform.claude.com/docs/en/about-claude/models/migration-guide#migrating-to-claude-opus-4-7>.
fn thinking(body: &Value, model: &str) -> Rule {
    let Some(t) = field(body, "thinking") else {
        return Ok(());
    };
    let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "enabled" => enabled_thinking(body, t, model)?,
        "adaptive" => {}
        "disabled" => return Ok(()),
        _ => {
            return Err(format!(
                "thinking.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
            ));
        }
    }
    if field(body, "temperature").is_some_and(|v| v.as_f64() != Some(1.0)) {
        return Err(format!(
            "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our documentation at {THINKING_DOCS}"
        ));
    }
    if field(body, "top_k").is_some() {
        return Err(format!(
            "`top_k` must be unset when thinking is enabled. Please consult our documentation at {THINKING_DOCS}"
        ));
    }
    if field(body, "top_p").is_some_and(|v| v.as_f64().is_none_or(|p| p < 0.95)) {
        return Err(format!(
            "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please consult our documentation at {THINKING_DOCS}"
        ));
    }
    let forced = field(body, "tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str);
    if matches!(forced, Some("any" | "tool")) {
        return Err("Thinking may not be enabled when tool_choice forces tool use.".into());
    }
    Ok(())
}

fn enabled_thinking(body: &Value, t: &Value, model: &str) -> Rule {
    if claude_is_adaptive_only(model) {
        return Err("\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.".into());
    }
    let Some(budget) = field(t, "budget_tokens").and_then(as_int) else {
        return Err("thinking.enabled.budget_tokens: Field required".into());
    };
    if budget < 1024 {
        return Err(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into(),
        );
    }
    if field(body, "max_tokens")
        .and_then(as_int)
        .is_some_and(|max| max <= budget)
    {
        return Err("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size".into());
    }
    Ok(())
}

/// `stop_sequences` is an array of non-empty strings. <https://docs.anthropic.com/en/api/messages>
/// (`stop_sequences`; the docs give no maximum count, so none is enforced here).
fn stop_sequences(body: &Value) -> Rule {
    let Some(v) = field(body, "stop_sequences") else {
        return Ok(());
    };
    let Some(list) = v.as_array() else {
        return Err("stop_sequences: Input should be a valid list".into());
    };
    for (i, s) in list.iter().enumerate() {
        match s.as_str() {
            None => {
                return Err(format!(
                    "stop_sequences.{i}: Input should be a valid string"
                ));
            }
            Some("") => return Err("stop_sequences: each stop sequence must be non-empty".into()),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Each stop sequence holds non-whitespace: the API's "stop_sequences: each stop sequence
/// must contain non-whitespace" (Claude's rule, on Bedrock too). Related parameter:
/// <https://docs.anthropic.com/en/api/messages> (`stop_sequences`).
fn stop_sequences_have_text(body: &Value) -> Rule {
    let blank = field(body, "stop_sequences")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().filter_map(Value::as_str).any(is_blank));
    if blank {
        return Err("stop_sequences: each stop sequence must contain non-whitespace".into());
    }
    Ok(())
}

/// `metadata` holds only `user_id`: a string of at most 256 characters that is an opaque
/// id ("a uuid, hash value, or other opaque identifier … Do not include any identifying
/// information such as name, email address, or phone number"); the API refuses one that
/// looks like an email address or a phone number.
/// <https://docs.anthropic.com/en/api/messages#body-metadata-user-id>
fn metadata(body: &Value) -> Rule {
    let Some(meta) = field(body, "metadata") else {
        return Ok(());
    };
    let Some(obj) = meta.as_object() else {
        return Err("metadata: Input should be a valid dictionary".into());
    };
    if let Some(extra) = obj.keys().find(|k| *k != "user_id") {
        return Err(format!("metadata.{extra}: Extra inputs are not permitted"));
    }
    let Some(id) = field(meta, "user_id") else {
        return Ok(());
    };
    let Some(id) = id.as_str() else {
        return Err("metadata.user_id: Input should be a valid string".into());
    };
    if id.chars().count() > 256 {
        return Err("metadata.user_id: String should have at most 256 characters".into());
    }
    if looks_like_email(id) {
        return Err("metadata.user_id: user_id appears to contain an email address. Please send a uuid or hash value instead.".into());
    }
    if looks_like_phone(id) {
        return Err("metadata.user_id: user_id appears to contain a phone number. Please send a uuid or hash value instead.".into());
    }
    Ok(())
}

/// `name@domain.tld` anywhere in the text.
pub(crate) fn looks_like_email(s: &str) -> bool {
    s.split_whitespace().any(|token| {
        token.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain
                    .split_once('.')
                    .is_some_and(|(host, tld)| !host.is_empty() && !tld.is_empty())
        })
    })
}

/// Only digits and phone punctuation (`+ - ( )` and spaces), with 7 to 15 digits.
pub(crate) fn looks_like_phone(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'(' | b')' | b' '))
}

/// A final assistant message (a prefill): refused by Claude 4.6 and later
/// (<https://platform.claude.com/docs/en/about-claude/models/migration-guide>), and its text
/// may not end with whitespace
/// (<https://docs.anthropic.com/en/docs/build-with-claude/prompt-engineering/prefill-claudes-response>:
/// "The prefill content cannot end with trailing whitespace").
fn prefill(messages: &[Value], model: &str) -> Rule {
    let Some(last) = messages.last().filter(|m| role(m) == "assistant") else {
        return Ok(());
    };
    if claude_refuses_prefill(model) {
        return Err("This model does not support assistant message prefill. The conversation must end with a user message.".into());
    }
    let text = match last.get("content") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(blocks)) => blocks
            .last()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str),
        _ => None,
    };
    if text.is_some_and(|t| t.ends_with(char::is_whitespace)) {
        return Err("messages: final assistant content cannot end with trailing whitespace".into());
    }
    Ok(())
}
