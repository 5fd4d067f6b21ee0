//! Sampling, stop and user parameters within the target's rules. An OpenAI client may send
//! values a Claude model (on Anthropic's API or on Bedrock) refuses with 400; rather than
//! forward them, the translators bring them into range and say so:
//!
//! | OpenAI request                         | sent to a Claude-like target             | reported as |
//! |----------------------------------------|------------------------------------------|-------------|
//! | `temperature` above 1 (OpenAI: 0–2)    | clamped to 1 (the target's 0–1)          | adjusted    |
//! | `temperature` and `top_p` together, on a model that refuses both (Claude Opus 4.1, 4.5 and later) | `temperature` kept, `top_p` left out | dropped |
//! | whitespace-only `stop` entries         | left out (Anthropic refuses them)        | adjusted, or dropped when none is left |
//! | more `stop` entries than the target takes | the first ones kept                   | adjusted    |
//! | `user` (often an email address)        | `metadata.user_id` = SHA-256 of it, hex  | —           |
//!
//! Clamping rather than scaling keeps the common values (0–1) exactly as the client meant
//! them; only an out-of-range value changes.

use crate::Dropped;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The sampling parameters to send.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Sampling {
    pub temperature: Option<Value>,
    pub top_p: Option<Value>,
    pub top_k: Option<Value>,
    /// The stop sequences, if any remain.
    pub stops: Option<Value>,
}

/// The rules of one target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// The target is a Claude model (Anthropic's API, or an `anthropic.` id on Bedrock):
    /// whitespace-only stop sequences are refused.
    pub claude: bool,
    /// The most stop sequences the target takes, if it has a limit.
    pub max_stops: Option<usize>,
}

/// `temperature`, `top_p` and `stop` of an OpenAI request for a target that takes
/// temperatures in 0–1 (Anthropic's API, Bedrock) and the model `model`, within the rules
/// of the table above.
pub(crate) fn for_claude(
    obj: &Map<String, Value>,
    model: &str,
    rules: Rules,
    dropped: &mut Dropped,
    adjusted: &mut Dropped,
) -> Sampling {
    let present = |k: &str| obj.get(k).filter(|v| !v.is_null());
    if refuses_sampling(model) {
        for key in ["temperature", "top_p", "top_k"] {
            if present(key).is_some() {
                dropped.push(key.into());
            }
        }
        let stops = stop_sequences(obj, non_blank(rules), rules.max_stops, dropped, adjusted);
        return Sampling {
            stops,
            ..Sampling::default()
        };
    }
    let temperature = present("temperature").map(|t| match t.as_f64() {
        Some(v) if v > 1.0 => {
            adjusted.push("temperature".into());
            json!(1.0)
        }
        _ => t.clone(),
    });
    let mut top_p = present("top_p").cloned();
    if temperature.is_some() && top_p.is_some() && refuses_temperature_with_top_p(model) {
        top_p = None;
        dropped.push("top_p".into());
    }
    let stops = stop_sequences(obj, non_blank(rules), rules.max_stops, dropped, adjusted);
    Sampling {
        temperature,
        top_p,
        top_k: present("top_k").cloned(),
        stops,
    }
}

/// Which stop sequences a target takes: not empty, and for Claude not whitespace-only.
fn non_blank(rules: Rules) -> impl Fn(&str) -> bool {
    move |s: &str| {
        if rules.claude {
            !s.trim().is_empty()
        } else {
            !s.is_empty()
        }
    }
}

/// Claude models that refuse sampling parameters altogether (Opus 4.7 and later:
/// "`temperature` is deprecated for this model").
pub(crate) fn refuses_sampling(model: &str) -> bool {
    claude_version(model).is_some_and(|v| v >= (4, 7))
}

/// Claude models that refuse a prefill (a final assistant turn): 4.6 and later. The turn
/// is left out and named `prefill` in `dropped`.
pub(crate) fn drop_refused_prefill(turns: &mut Vec<Value>, model: &str, dropped: &mut Dropped) {
    let refused = claude_version(model).is_some_and(|v| v >= (4, 6));
    if refused && turns.last().is_some_and(|t| t["role"] == "assistant") {
        turns.pop();
        dropped.push("prefill".into());
    }
}

/// The client's `top_p` once thinking has taken the temperature away (`conflicts`, the
/// parameters thinking removed): [`for_claude`] may have left it out only because the
/// temperature was there.
pub(crate) fn top_p_without_temperature(
    obj: &Map<String, Value>,
    conflicts: &[&str],
) -> Option<Value> {
    let top_p = obj.get("top_p").filter(|v| !v.is_null())?;
    (conflicts.contains(&"temperature") && !conflicts.contains(&"top_p")).then(|| top_p.clone())
}

/// OpenAI `stop` (a string or a list) as a list of the entries `keep` accepts, at most
/// `max` of them; what was removed is reported (adjusted, or dropped when nothing is left).
pub(crate) fn stop_sequences(
    obj: &Map<String, Value>,
    keep: impl Fn(&str) -> bool,
    max: Option<usize>,
    dropped: &mut Dropped,
    adjusted: &mut Dropped,
) -> Option<Value> {
    let all: Vec<&str> = match obj.get("stop").or_else(|| obj.get("stop_sequences")) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let name = if obj.contains_key("stop") {
        "stop"
    } else {
        "stop_sequences"
    };
    let mut kept: Vec<&str> = all.iter().copied().filter(|s| keep(s)).collect();
    if let Some(max) = max {
        kept.truncate(max);
    }
    if kept.is_empty() {
        if !all.is_empty() {
            dropped.push(name.into());
        }
        return None;
    }
    if kept.len() < all.len() {
        adjusted.push(name.into());
    }
    Some(json!(kept))
}

/// Claude models that refuse `temperature` and `top_p` in one request: Opus 4.1, and
/// every model from 4.5 on ("`temperature` and `top_p` cannot both be specified for this
/// model").
pub(crate) fn refuses_temperature_with_top_p(model: &str) -> bool {
    claude_version(model).is_some_and(|v| v == (4, 1) || v >= (4, 5))
}

/// The opaque id sent as Anthropic's `metadata.user_id` for an OpenAI `user`: the hex
/// SHA-256 of it, so an email address or phone number never reaches the provider (which
/// refuses identifying ids) while one user still maps to one id.
pub(crate) fn opaque_user_id(user: &str) -> String {
    let digest = Sha256::digest(user.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Claude model id's version: `claude-opus-4-7` → (4, 7), `claude-sonnet-4-20250514` →
/// (4, 0), `claude-3-5-sonnet-20240620` → (3, 5), with any prefix (`us.anthropic.`) or
/// suffix (`-v1:0`, `@20250929`). None for names without one (gateway aliases).
pub fn claude_version(model: &str) -> Option<(u32, u32)> {
    let rest = &model[model.find("claude-")? + "claude-".len()..];
    let small = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let mut parts = rest.split(['-', '.', '@', ':']);
    let major = parts.by_ref().find_map(small)?;
    Some((major, parts.next().and_then(small).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_versions_from_model_ids() {
        for (id, version) in [
            ("claude-opus-4-7", Some((4, 7))),
            ("claude-sonnet-4-6", Some((4, 6))),
            ("claude-sonnet-4-20250514", Some((4, 0))),
            ("claude-opus-4-1@20250805", Some((4, 1))),
            ("claude-3-5-sonnet-20240620", Some((3, 5))),
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", Some((4, 5))),
            ("anthropic.claude-opus-4-6-v1", Some((4, 6))),
            ("claude-mythos-5", Some((5, 0))),
            ("claude-2.1", Some((2, 1))),
            ("claude-upstream", None),
            ("claude-instant-v1", None),
            ("opus", None),
            ("gpt-5", None),
        ] {
            assert_eq!(claude_version(id), version, "{id}");
        }
    }

    #[test]
    fn which_models_refuse_temperature_with_top_p() {
        for (model, refuses) in [
            ("claude-sonnet-4-5-20250929", true),
            ("claude-opus-4-1-20250805", true),
            ("us.anthropic.claude-haiku-4-5-20251001-v1:0", true),
            ("claude-opus-4-7", true),
            ("claude-sonnet-4-20250514", false),
            ("claude-3-7-sonnet-20250219", false),
            ("meta.llama3-70b-instruct-v1:0", false),
        ] {
            assert_eq!(refuses_temperature_with_top_p(model), refuses, "{model}");
        }
    }

    fn sampled(body: Value, model: &str, max: Option<usize>) -> (Sampling, Dropped, Dropped) {
        let (mut dropped, mut adjusted) = (Vec::new(), Vec::new());
        let rules = Rules {
            claude: !model.starts_with("meta."),
            max_stops: max,
        };
        let s = for_claude(
            body.as_object().unwrap(),
            model,
            rules,
            &mut dropped,
            &mut adjusted,
        );
        (s, dropped, adjusted)
    }

    #[test]
    fn claude_sampling_rules() {
        type Case = (
            Value,
            &'static str,
            Option<usize>,
            Sampling,
            &'static [&'static str],
            &'static [&'static str],
        );
        let cases: Vec<Case> = vec![
            (
                json!({"temperature": 0.7}),
                "claude-sonnet-4-5",
                None,
                Sampling {
                    temperature: Some(json!(0.7)),
                    ..Sampling::default()
                },
                &[],
                &[],
            ),
            (
                json!({"temperature": 1.6}),
                "claude-sonnet-4",
                None,
                Sampling {
                    temperature: Some(json!(1.0)),
                    ..Sampling::default()
                },
                &[],
                &["temperature"],
            ),
            (
                json!({"temperature": 0.2, "top_p": 0.9}),
                "claude-sonnet-4-5",
                None,
                Sampling {
                    temperature: Some(json!(0.2)),
                    ..Sampling::default()
                },
                &["top_p"],
                &[],
            ),
            (
                json!({"temperature": 0.2, "top_p": 0.9}),
                "claude-3-7-sonnet",
                None,
                Sampling {
                    temperature: Some(json!(0.2)),
                    top_p: Some(json!(0.9)),
                    ..Sampling::default()
                },
                &[],
                &[],
            ),
            (
                json!({"temperature": 0.5, "top_p": 0.9, "top_k": 5, "stop": ["END"]}),
                "claude-opus-4-7",
                None,
                Sampling {
                    stops: Some(json!(["END"])),
                    ..Sampling::default()
                },
                &["temperature", "top_p", "top_k"],
                &[],
            ),
            (
                json!({"top_k": 5}),
                "claude-sonnet-4",
                None,
                Sampling {
                    top_k: Some(json!(5)),
                    ..Sampling::default()
                },
                &[],
                &[],
            ),
            (
                json!({"top_p": 0.9}),
                "claude-opus-4-1",
                None,
                Sampling {
                    top_p: Some(json!(0.9)),
                    ..Sampling::default()
                },
                &[],
                &[],
            ),
            (
                json!({"stop": "\n"}),
                "claude-sonnet-4",
                None,
                Sampling::default(),
                &["stop"],
                &[],
            ),
            (
                json!({"stop": ["END", " ", "\n\n"]}),
                "claude-sonnet-4",
                None,
                Sampling {
                    stops: Some(json!(["END"])),
                    ..Sampling::default()
                },
                &[],
                &["stop"],
            ),
            (
                json!({"stop": ["\n", "\t"], "temperature": 2}),
                "meta.llama3",
                None,
                Sampling {
                    temperature: Some(json!(1.0)),
                    stops: Some(json!(["\n", "\t"])),
                    ..Sampling::default()
                },
                &[],
                &["temperature"],
            ),
            (
                json!({"stop": ["a", "b", "c"]}),
                "claude-sonnet-4",
                Some(2),
                Sampling {
                    stops: Some(json!(["a", "b"])),
                    ..Sampling::default()
                },
                &[],
                &["stop"],
            ),
        ];
        for (body, model, max, want, want_dropped, want_adjusted) in cases {
            let (got, dropped, adjusted) = sampled(body.clone(), model, max);
            assert_eq!(got, want, "{body}");
            assert_eq!(dropped, want_dropped, "{body}");
            assert_eq!(adjusted, want_adjusted, "{body}");
        }
    }

    #[test]
    fn user_ids_are_opaque() {
        let id = opaque_user_id("alice@example.com");
        assert_eq!(id.len(), 64);
        assert!(!id.contains('@'));
        assert_eq!(id, opaque_user_id("alice@example.com"));
        assert_ne!(id, opaque_user_id("bob@example.com"));
    }
}
