//! Tables of refused bodies (with a part of the expected message) and of accepted bodies,
//! per provider.

mod anthropic;
mod bedrock;
mod http;
mod openai;

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

/// A user message with this text.
pub(super) fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}
