//! Request validation for the mock upstreams, by the rules the real provider APIs enforce,
//! so that a body a real API refuses with a 400 is refused by the mock too (with that
//! provider's error shape; see `mock.rs`).
//!
//! Each provider module is a set of pure functions over the parsed JSON body, one small
//! function per rule, each with a link to the documentation page that states it:
//!
//! - [`anthropic`]: the Messages API (`POST /v1/messages`).
//! - [`bedrock`]: Converse and ConverseStream (`POST /model/{id}/converse[-stream]`).
//! - [`openai`]: Chat Completions (`POST /v1/chat/completions`, and Azure's deployments).
//!
//! The messages are the providers' own where they are known (from their error answers);
//! where a provider's exact wording is not known the message says the same in its style.
//! Rules that depend on the model (Claude generations) read the model id with
//! [`claude_version`].

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod openai;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// A rule's verdict: `Err` holds the message of the provider's 400.
pub(crate) type Rule = Result<(), String>;

/// `obj[key]`, with JSON `null` read as absent (the APIs here take an explicit `null`
/// optional field as not given).
pub(crate) fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An integer, also when written `5.0`.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// Empty or only whitespace.
pub(crate) fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// A Claude model id's version, parsed as the gateway's translators parse it: (4, 7) for
/// `claude-opus-4-7`, `None` for names that are not versioned Claude ids (the test models
/// `claude-x`, `tool-model`, …), so model rules never touch them.
pub(crate) use modelgate_translate::claude_version;

/// Claude models that refuse `temperature` and `top_p` together: Opus 4.1, then every
/// model from 4.5 on (Sonnet 4.5, Haiku 4.5, Opus 4.5, 4.6, …, 5.x).
/// <https://docs.anthropic.com/en/docs/about-claude/models/migrating-to-claude-4> ("Use only
/// temperature OR top_p, not both"), and Bedrock's
/// <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html>
/// ("Claude Sonnet 4.5 and Claude Haiku 4.5 support specifying either the temperature or
/// top_p parameter, but not both"); Opus 4.1 answers the same 400.
pub(crate) fn claude_refuses_temperature_with_top_p(model: &str) -> bool {
    match claude_version(model) {
        Some(v) if v >= (4, 5) => true,
        Some((4, 1)) => model.contains("opus"),
        _ => false,
    }
}

/// Claude 4.6 and later refuse a final assistant message (prefill).
/// <https://platform.claude.com/docs/en/about-claude/models/migration-guide> ("Prefilling
/// assistant messages returns a 400 error on Claude 4.6 models").
pub(crate) fn claude_refuses_prefill(model: &str) -> bool {
    claude_version(model).is_some_and(|v| v >= (4, 6))
}

/// Claude Opus 4.7 and later (Opus 4.8, Sonnet 5, Opus 5, …) refuse non-default sampling
/// parameters and `thinking: {type: "enabled"}` (adaptive thinking only).
/// <https://platform.claude.com/docs/en/about-claude/models/migration-guide#migrating-to-claude-opus-4-7>
pub(crate) fn claude_is_adaptive_only(model: &str) -> bool {
    claude_version(model).is_some_and(|v| v >= (4, 7))
}

/// The ids a set of blocks names, in order, joined as the APIs list them (`a, b`).
pub(crate) fn join_ids(ids: &[&str]) -> String {
    ids.join(", ")
}
