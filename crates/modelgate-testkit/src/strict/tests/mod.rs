//! Tables of refused bodies (with a part of the expected message) and of accepted bodies,
//! per provider.

mod anthropic;
mod bedrock;
mod http;
mod openai;

use super::claude_version;
use serde_json::{Value, json};

/// `base` with `patch`'s members set (a `null` member removes it).
pub(super) fn with(base: &Value, patch: Value) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            out.as_object_mut().unwrap().remove(&k);
        } else {
            out[k] = v;
        }
    }
    out
}

pub(super) fn refused<E: std::fmt::Debug>(
    name: &str,
    table: Vec<(Value, &str)>,
    check: impl Fn(&Value) -> Result<(), E>,
) {
    for (i, (body, want)) in table.into_iter().enumerate() {
        let got = check(&body);
        let text = format!("{got:?}");
        assert!(
            got.is_err() && text.contains(want),
            "{name} case {i}: expected an error containing {want:?}, got {text}\nbody: {body}"
        );
    }
}

pub(super) fn accepted<E: std::fmt::Debug>(
    name: &str,
    table: Vec<Value>,
    check: impl Fn(&Value) -> Result<(), E>,
) {
    for (i, body) in table.into_iter().enumerate() {
        let got = check(&body);
        assert!(
            got.is_ok(),
            "{name} case {i}: refused with {got:?}\nbody: {body}"
        );
    }
}

#[test]
fn claude_versions_from_model_ids() {
    for (id, v) in [
        ("claude-opus-4-7", Some((4, 7))),
        ("claude-sonnet-4-20250514", Some((4, 0))),
        ("claude-opus-4-1@20250805", Some((4, 1))),
        ("claude-3-5-sonnet-20240620", Some((3, 5))),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", Some((4, 5))),
        ("anthropic.claude-haiku-5-5-v1:0", Some((5, 5))),
        ("claude-x", None),
        ("claude-tool", None),
        ("gpt-4o", None),
    ] {
        assert_eq!(claude_version(id), v, "{id}");
    }
}

/// A user message with this text.
pub(super) fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}
