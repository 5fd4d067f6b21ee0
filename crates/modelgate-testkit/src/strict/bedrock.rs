//! AWS Bedrock Converse and ConverseStream (`POST /model/{modelId}/converse[-stream]`):
//! the rules the real service enforces on a request body, each a small function whose
//! `Err` is the `message` of Bedrock's `400 ValidationException`.
//!
//! The request reference is
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>; its
//! members' pages (Message, ContentBlock, ToolConfiguration, InferenceConfiguration, …)
//! are linked by the rules they state. For Claude models Bedrock also passes on Claude's
//! own refusals ("The model returned the following errors: …"), checked here by
//! [`anthropic::model_rules`] on the Anthropic-shaped view of the request.

use super::{
    Rule, anthropic, as_int, claude_refuses_prefill, claude_version, field, is_blank, join_ids,
};
use serde_json::{Map, Value, json};

/// How Bedrock prefixes a refusal of the model behind it.
const MODEL_ERROR: &str = "The model returned the following errors: ";

/// Every rule: the request's shape, then the conversation, tools and inference settings,
/// then (for Claude models) Claude's own.
pub(crate) fn validate(model: &str, body: &Value) -> Rule {
    let messages = messages(body)?;
    for (i, m) in messages.iter().enumerate() {
        role(i, m)?;
        content(i, m)?;
    }
    conversation_order(messages)?;
    system(body)?;
    tool_config_present(body, messages)?;
    tool_config(body)?;
    tool_pairing(messages)?;
    inference_config(body)?;
    if is_claude(model) {
        claude(model, body, messages).map_err(|e| format!("{MODEL_ERROR}{e}"))?;
    }
    Ok(())
}

/// Anthropic's models on Bedrock (`anthropic.claude-…`, inference profiles
/// `us.anthropic.claude-…`).
fn is_claude(model: &str) -> bool {
    model.contains("anthropic.claude") || claude_version(model).is_some()
}

/// `messages` is required (an array).
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>
/// (`messages`).
fn messages(body: &Value) -> Result<&[Value], String> {
    match field(body, "messages") {
        None => Err("1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null".into()),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err("Malformed input request: messages must be an array".into()),
    }
}

fn role_of(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

/// A message's `role` is `user` or `assistant`.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html>
/// (`role`: "Valid Values: user | assistant").
fn role(i: usize, m: &Value) -> Rule {
    let r = role_of(m);
    if matches!(r, "user" | "assistant") {
        return Ok(());
    }
    Err(format!(
        "1 validation error detected: Value '{r}' at 'messages.{}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]",
        i + 1
    ))
}

/// A message has content: a non-empty array of content blocks.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html>
/// (`content`: "Required: Yes").
fn content(i: usize, m: &Value) -> Rule {
    let blocks = match field(m, "content") {
        Some(Value::Array(b)) if !b.is_empty() => b,
        _ => {
            return Err(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            ));
        }
    };
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        let (name, value) = one_member(b, "ContentBlock", &at)?;
        match name {
            "text" => text(value, "ContentBlock", &at)?,
            "toolResult" => tool_result(value, &at)?,
            _ => {}
        }
    }
    Ok(())
}

/// A content block is a union: exactly one member is set.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html>
/// ("This data type is a UNION, so only one of the following members can be specified").
fn one_member<'a>(b: &'a Value, kind: &str, at: &str) -> Result<(&'a str, &'a Value), String> {
    let set: Vec<(&String, &Value)> = b
        .as_object()
        .map(|o| o.iter().filter(|(_, v)| !v.is_null()).collect())
        .unwrap_or_default();
    match set.as_slice() {
        [(name, value)] => Ok((name.as_str(), value)),
        _ => Err(format!(
            "The {kind} object at {at} must set exactly one member, but it sets {}. Set exactly one member and try again.",
            set.len()
        )),
    }
}

/// A `text` member holds non-blank text (in messages, the system prompt and tool results).
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html>
/// (`text`); the service's answer is "The text field in the ContentBlock object at
/// messages.N.content.M is blank. Add text to the text field, and try again."
fn text(value: &Value, kind: &str, at: &str) -> Rule {
    if value.as_str().is_none_or(is_blank) {
        return Err(format!(
            "The text field in the {kind} object at {at} is blank. Add text to the text field, and try again."
        ));
    }
    Ok(())
}

/// A `toolResult`'s content blocks are unions whose text is not blank, and an `error`
/// result says what went wrong (its content is not empty).
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html>
/// and <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultContentBlock.html>.
fn tool_result(value: &Value, at: &str) -> Rule {
    let inner: &[Value] = field(value, "content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if inner.is_empty() && value.get("status").and_then(Value::as_str) == Some("error") {
        return Err(format!(
            "The content field at {at}.toolResult cannot be empty when status value is error."
        ));
    }
    for (k, c) in inner.iter().enumerate() {
        let at = format!("{at}.toolResult.content.{k}");
        let (name, v) = one_member(c, "ToolResultContentBlock", &at)?;
        if name == "text" {
            text(v, "ToolResultContentBlock", &at)?;
        }
    }
    Ok(())
}

/// A conversation starts with a user message and alternates user and assistant. The
/// service's answers: "A conversation must start with a user message. …", "A conversation
/// must alternate between user and assistant roles. …"; the shape is the one of
/// <https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html>.
fn conversation_order(messages: &[Value]) -> Rule {
    if messages.first().is_none_or(|m| role_of(m) != "user") {
        return Err("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
    }
    if messages
        .windows(2)
        .any(|w| role_of(&w[0]) == role_of(&w[1]))
    {
        return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
    }
    Ok(())
}

/// The system prompt is an array of `SystemContentBlock` unions whose text is not blank.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SystemContentBlock.html>
fn system(body: &Value) -> Rule {
    let Some(sys) = field(body, "system") else {
        return Ok(());
    };
    let Some(blocks) = sys.as_array() else {
        return Err("Malformed input request: system must be an array".into());
    };
    for (i, b) in blocks.iter().enumerate() {
        let at = format!("system.{i}");
        let (name, v) = one_member(b, "SystemContentBlock", &at)?;
        if name == "text" {
            text(v, "SystemContentBlock", &at)?;
        }
    }
    Ok(())
}

/// The blocks of `messages` with a member named `name`: (message, block, member value).
fn blocks_named<'a>(m: &'a Value, name: &str) -> Vec<(usize, &'a Value)> {
    field(m, "content")
        .and_then(Value::as_array)
        .map(|bs| {
            bs.iter()
                .enumerate()
                .filter_map(|(j, b)| field(b, name).map(|v| (j, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A request whose messages hold `toolUse` or `toolResult` blocks defines `toolConfig`.
/// <https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html>; the
/// service's answer is "The toolConfig field must be defined when using toolUse and
/// toolResult content blocks."
fn tool_config_present(body: &Value, messages: &[Value]) -> Rule {
    let uses_tools = messages.iter().any(|m| {
        !blocks_named(m, "toolUse").is_empty() || !blocks_named(m, "toolResult").is_empty()
    });
    if uses_tools && field(body, "toolConfig").is_none() {
        return Err(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
                .into(),
        );
    }
    Ok(())
}

/// `toolConfig.tools` has at least one tool, each `toolSpec` named by `[a-zA-Z0-9_-]+` (1
/// to 64 characters); `toolChoice` is a union of `auto`, `any` and `tool`, and a `tool`
/// choice names a defined tool.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolConfiguration.html>,
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolSpecification.html>,
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html>,
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SpecificToolChoice.html>.
fn tool_config(body: &Value) -> Rule {
    let Some(config) = field(body, "toolConfig") else {
        return Ok(());
    };
    let tools: &[Value] = field(config, "tools")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if tools.is_empty() {
        return Err("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1".into());
    }
    let mut names = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let Some(spec) = field(t, "toolSpec") else {
            continue; // cachePoint and system tools.
        };
        let name = spec.get("name").and_then(Value::as_str).unwrap_or("");
        if !(1..=64).contains(&name.len()) || !anthropic::valid_tool_name(name) {
            return Err(format!(
                "1 validation error detected: Value '{name}' at 'toolConfig.tools.{}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and have length between 1 and 64",
                i + 1
            ));
        }
        names.push(name);
    }
    let Some(choice) = field(config, "toolChoice") else {
        return Ok(());
    };
    let (kind, value) = one_member(choice, "ToolChoice", "toolConfig.toolChoice")?;
    match kind {
        "auto" | "any" => Ok(()),
        "tool" => {
            let name = value.get("name").and_then(Value::as_str).unwrap_or("");
            if names.contains(&name) {
                Ok(())
            } else {
                Err(format!(
                    "The tool {name} named in toolConfig.toolChoice is not defined in toolConfig.tools."
                ))
            }
        }
        other => Err(format!(
            "Malformed input request: toolConfig.toolChoice has no member {other}; use auto, any or tool"
        )),
    }
}

/// Every `toolUse` of an assistant message is answered by a `toolResult` with its
/// `toolUseId` in the next (user) message, which holds no more results than the uses it
/// answers. <https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html>
/// (results go back in the next user message); the service's answers are "Expected
/// toolResult blocks at messages.N.content for the following Ids: …" and "The number of
/// toolResult blocks at messages.N.content exceeds the number of toolUse blocks of previous
/// turn."
fn tool_pairing(messages: &[Value]) -> Rule {
    let id = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    for (i, m) in messages.iter().enumerate() {
        let uses: Vec<String> = if i > 0 {
            blocks_named(&messages[i - 1], "toolUse")
                .iter()
                .map(|(_, u)| id(u, "toolUseId"))
                .collect()
        } else {
            Vec::new()
        };
        let results: Vec<String> = blocks_named(m, "toolResult")
            .iter()
            .map(|(_, r)| id(r, "toolUseId"))
            .collect();
        if results.len() > uses.len() {
            return Err(format!(
                "The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
            ));
        }
        let missing: Vec<&str> = uses
            .iter()
            .filter(|u| !results.contains(u))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
                join_ids(&missing)
            ));
        }
    }
    Ok(())
}

/// `inferenceConfig`: `maxTokens` at least 1, `temperature` and `topP` in [0, 1], at most
/// 2500 `stopSequences`, each at least one character long.
/// <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html>
fn inference_config(body: &Value) -> Rule {
    let Some(config) = field(body, "inferenceConfig") else {
        return Ok(());
    };
    let violation = |at: &str, v: &Value, constraint: &str| {
        Err(format!(
            "1 validation error detected: Value '{v}' at 'inferenceConfig.{at}' failed to satisfy constraint: Member must {constraint}"
        ))
    };
    if let Some(v) = field(config, "maxTokens")
        && as_int(v).is_none_or(|n| n < 1)
    {
        return violation("maxTokens", v, "have value greater than or equal to 1");
    }
    for key in ["temperature", "topP"] {
        let Some(v) = field(config, key) else {
            continue;
        };
        match v.as_f64() {
            Some(x) if x < 0.0 => {
                return violation(key, v, "have value greater than or equal to 0");
            }
            Some(x) if x > 1.0 => return violation(key, v, "have value less than or equal to 1"),
            Some(_) => {}
            None => return violation(key, v, "be a number"),
        }
    }
    if let Some(v) = field(config, "stopSequences") {
        let list: &[Value] = v.as_array().map_or(&[], Vec::as_slice);
        if list.len() > 2500 {
            return violation("stopSequences", v, "have length less than or equal to 2500");
        }
        if list.iter().any(|s| s.as_str().is_none_or(str::is_empty)) {
            return violation(
                "stopSequences",
                v,
                "satisfy constraint: [Member must have length greater than or equal to 1]",
            );
        }
    }
    Ok(())
}

/// Claude's own rules, which Bedrock passes on: a prefill (final assistant message) is
/// refused by Claude 4.6 and later and may not end with whitespace; the sampling, thinking
/// and stop-sequence rules of [`anthropic::model_rules`].
/// <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html>
/// and the Claude pages linked there.
fn claude(model: &str, body: &Value, messages: &[Value]) -> Rule {
    if let Some(last) = messages.last().filter(|m| role_of(m) == "assistant") {
        if claude_refuses_prefill(model) {
            return Err("This model does not support assistant message prefill. The conversation must end with a user message.".into());
        }
        let tail = field(last, "content")
            .and_then(Value::as_array)
            .and_then(|b| b.last())
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str);
        if tail.is_some_and(|t| t.ends_with(char::is_whitespace)) {
            return Err(
                "messages: final assistant content cannot end with trailing whitespace".into(),
            );
        }
    }
    anthropic::model_rules(&as_anthropic(body), model)
}

/// The Anthropic request Bedrock makes of a Converse request, as far as Claude's model
/// rules read it: `inferenceConfig` and `additionalModelRequestFields` (`top_k`,
/// `thinking`, …), and a forced `toolChoice`.
fn as_anthropic(body: &Value) -> Value {
    let mut out: Map<String, Value> = field(body, "additionalModelRequestFields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let config = field(body, "inferenceConfig")
        .cloned()
        .unwrap_or(Value::Null);
    for (from, to) in [
        ("maxTokens", "max_tokens"),
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("stopSequences", "stop_sequences"),
    ] {
        if let Some(v) = field(&config, from) {
            out.insert(to.into(), v.clone());
        }
    }
    let choice = field(body, "toolConfig").and_then(|c| field(c, "toolChoice"));
    if let Some(kind) = choice
        .and_then(Value::as_object)
        .and_then(|o| o.keys().next())
    {
        out.insert("tool_choice".into(), json!({"type": kind}));
    }
    Value::Object(out)
}
