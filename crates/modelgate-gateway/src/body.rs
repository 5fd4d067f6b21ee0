//! Request body peeking and splicing for same-schema pass-through. [`peek`] reads only
//! `model`, `stream` and `stream_options` (borrowed, no allocation of the rest);
//! [`rewrite`] replaces the `model` value and, when the gateway needs usage from a stream,
//! sets `stream_options.include_usage` — by splicing bytes, so every other field, unknown
//! ones included, reaches the upstream exactly as the client wrote it.

use bytes::{Bytes, BytesMut};
use modelgate_core::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::ops::Range;

/// What the gateway reads from an OpenAI-schema request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peeked {
    pub model: String,
    model_span: Range<usize>,
    pub stream: bool,
    stream_options_span: Option<Range<usize>>,
    /// The client's own `stream_options.include_usage`.
    pub include_usage: bool,
    /// The output limit the request sets (`max_tokens`, `max_completion_tokens` or
    /// `max_output_tokens`), when it is a non-negative integer.
    pub max_tokens: Option<u64>,
    /// Answers asked for: the larger of `n` and `best_of` (1 when neither is set).
    pub choices: u64,
}

#[derive(Deserialize)]
struct PeekFields<'a> {
    #[serde(borrow, default)]
    n: Option<&'a RawValue>,
    #[serde(borrow, default)]
    best_of: Option<&'a RawValue>,
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    stream_options: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_completion_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_output_tokens: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamOptionsPeek {
    #[serde(default)]
    include_usage: Option<bool>,
}

fn span_of(body: &[u8], raw: &RawValue) -> Range<usize> {
    let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
    start..start + raw.get().len()
}

/// Parses the fields the gateway needs. `require_model` is false only for operations
/// that have no model (none today, kept explicit).
pub fn peek(body: &[u8]) -> Result<Peeked, GatewayError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        return Err(GatewayError::bad_request(
            "The request body is empty; send a JSON object.",
        ));
    }
    if first != Some(&b'{') {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object.",
        ));
    }
    let fields: PeekFields<'_> = serde_json::from_slice(body).map_err(|e| {
        GatewayError::bad_request(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
    })?;
    let raw_model = fields.model.ok_or_else(|| {
        GatewayError::bad_request("You must provide a model parameter.").with_param("model")
    })?;
    let model: String = match serde_json::from_str::<serde_json::Value>(raw_model.get()) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) => {
            return Err(
                GatewayError::bad_request("You must provide a model parameter.")
                    .with_param("model"),
            );
        }
        _ => {
            return Err(
                GatewayError::bad_request("The model parameter must be a string.")
                    .with_param("model"),
            );
        }
    };
    if model.trim().is_empty() {
        return Err(
            GatewayError::bad_request("You must provide a model parameter.").with_param("model"),
        );
    }
    let mut include_usage = false;
    let mut stream_options_span = None;
    if let Some(raw) = fields.stream_options.filter(|r| r.get() != "null") {
        let opts: StreamOptionsPeek = serde_json::from_str(raw.get()).map_err(|_| {
            GatewayError::bad_request("stream_options must be an object.")
                .with_param("stream_options")
        })?;
        include_usage = opts.include_usage.unwrap_or(false);
        stream_options_span = Some(span_of(body, raw));
    }
    // Validation of the value is the upstream's; a limit that is not an integer is
    // simply not used for the budget's worst case (the largest of several counts).
    let max_tokens = [
        fields.max_completion_tokens,
        fields.max_tokens,
        fields.max_output_tokens,
    ]
    .into_iter()
    .flatten()
    .filter_map(|raw| raw.get().parse::<u64>().ok())
    .max();
    let choices = [fields.n, fields.best_of]
        .into_iter()
        .flatten()
        .filter_map(|raw| raw.get().parse::<u64>().ok())
        .fold(1, u64::max);
    Ok(Peeked {
        model,
        model_span: span_of(body, raw_model),
        stream: fields.stream.unwrap_or(false),
        stream_options_span,
        include_usage,
        max_tokens,
        choices,
    })
}

/// Whether a request body refers to content it does not carry, which the upstream fetches
/// and bills as input: a `previous_response_id` (not null), a `file_id`, or a URL in
/// `url`, `image_url` or `file_url` (images and documents by link). Scans the bytes,
/// with any whitespace around the colon; a false positive only reserves more.
pub fn refers_to_content(body: &[u8]) -> bool {
    use memchr::memmem;
    let value_after = |key: &[u8], at: usize| {
        let rest = &body[at + key.len()..];
        let rest = rest.trim_ascii_start().strip_prefix(b":").unwrap_or(rest);
        rest.trim_ascii_start()
    };
    let any_value = |key: &[u8], wanted: &dyn Fn(&[u8]) -> bool| {
        memmem::find_iter(body, key).any(|at| wanted(value_after(key, at)))
    };
    any_value(b"\"previous_response_id\"", &|v| !v.starts_with(b"null"))
        || any_value(b"\"file_id\"", &|v| v.starts_with(b"\""))
        || [&b"\"url\""[..], b"\"image_url\"", b"\"file_url\""]
            .iter()
            .any(|key| any_value(key, &|v| v.starts_with(b"\"http")))
}

/// Most fallback models a request may list in `models`.
pub use modelgate_org::virtual_models::MAX_FALLBACKS;

/// Takes the fallback list (`models`, tried after `model`, in order) out of a request
/// body: upstreams must not see it. A body without a top-level `models` is returned as
/// is (the common case costs one substring search).
pub fn take_fallbacks(body: Bytes) -> Result<(Bytes, Vec<String>), GatewayError> {
    if memchr::memmem::find(&body, b"\"models\"").is_none() {
        return Ok((body, Vec::new()));
    }
    let mut value: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&body)
    {
        Ok(v) => v,
        // Not an object: `peek` reports it.
        Err(_) => return Ok((body, Vec::new())),
    };
    let Some(models) = value.remove("models") else {
        return Ok((body, Vec::new()));
    };
    let bad = || {
        GatewayError::bad_request(format!(
            "models must be a list of at most {MAX_FALLBACKS} model names, tried in order after model"
        ))
        .with_param("models")
    };
    let list: Vec<String> = match models {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|m| match m {
                serde_json::Value::String(s) if !s.trim().is_empty() => Ok(s),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    if list.len() > MAX_FALLBACKS {
        return Err(bad());
    }
    let body = serde_json::to_vec(&value)
        .map_err(|e| GatewayError::internal(format!("could not re-encode the body: {e}")))?;
    Ok((Bytes::from(body), list))
}

/// The body with `model` replaced by `upstream_model` and, when `force_usage`, with
/// `stream_options.include_usage` set to true. All other bytes are copied unchanged.
pub fn rewrite(body: &[u8], peeked: &Peeked, upstream_model: &str, force_usage: bool) -> Bytes {
    let model_json = serde_json::Value::String(upstream_model.to_owned()).to_string();
    let mut edits: Vec<(Range<usize>, String)> = vec![(peeked.model_span.clone(), model_json)];
    if force_usage && !peeked.include_usage {
        match &peeked.stream_options_span {
            Some(span) => {
                let mut opts: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&body[span.clone()]).unwrap_or_default();
                opts.insert("include_usage".into(), serde_json::Value::Bool(true));
                edits.push((span.clone(), serde_json::Value::Object(opts).to_string()));
            }
            None => {
                let at = peeked.model_span.end;
                edits.push((
                    at..at,
                    r#","stream_options":{"include_usage":true}"#.to_owned(),
                ));
            }
        }
    }
    edits.sort_by_key(|(r, _)| r.start);
    let extra: usize = edits.iter().map(|(_, s)| s.len()).sum();
    let mut out = BytesMut::with_capacity(body.len() + extra);
    let mut pos = 0;
    for (range, text) in edits {
        out.extend_from_slice(&body[pos..range.start]);
        out.extend_from_slice(text.as_bytes());
        pos = range.end;
    }
    out.extend_from_slice(&body[pos..]);
    out.freeze()
}

#[cfg(test)]
mod fallback_tests {
    use super::*;

    #[test]
    fn fallbacks_are_taken_out() {
        let body = Bytes::from_static(
            br#"{"model":"a","messages":[{"role":"user","content":"\"models\""}]}"#,
        );
        let (same, list) = take_fallbacks(body.clone()).unwrap();
        assert_eq!(same, body);
        assert!(list.is_empty());
        let (rest, list) = take_fallbacks(Bytes::from_static(
            br#"{"model":"a","models":["b","c"],"x":1}"#,
        ))
        .unwrap();
        assert_eq!(list, ["b", "c"]);
        let v: serde_json::Value = serde_json::from_slice(&rest).unwrap();
        assert_eq!(v, serde_json::json!({"model": "a", "x": 1}));
        assert!(take_fallbacks(Bytes::from_static(br#"{"model":"a","models":"b"}"#)).is_err());
        assert!(take_fallbacks(Bytes::from_static(br#"{"model":"a","models":[1]}"#)).is_err());
        let many = format!(r#"{{"model":"a","models":[{}]}}"#, ["\"m\""; 11].join(","));
        assert!(take_fallbacks(Bytes::from(many)).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn replaces_only_the_model() {
        let body = br#"{ "messages":[{"role":"user","content":"hi"}], "model" : "my-vllm:llama3:8b", "top_k": 5, "guided_json": {"a": [1, 2.50]} }"#;
        let p = peek(body).unwrap();
        assert_eq!(p.model, "my-vllm:llama3:8b");
        assert!(!p.stream);
        let out = rewrite(body, &p, "llama3:8b", false);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{ "messages":[{"role":"user","content":"hi"}], "model" : "llama3:8b", "top_k": 5, "guided_json": {"a": [1, 2.50]} }"#
        );
    }

    #[test]
    fn content_referenced_rather_than_sent() {
        for (body, referenced) in [
            (r#"{"previous_response_id":"resp_1","input":"hi"}"#, true),
            (r#"{"previous_response_id": null,"input":"hi"}"#, false),
            (
                r#"{"content":[{"type":"file","file":{"file_id": "file-abc"}}]}"#,
                true,
            ),
            (
                r#"{"content":[{"type":"image_url","image_url":{"url": "https://x/cat.png"}}]}"#,
                true,
            ),
            (
                r#"{"content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]}"#,
                false,
            ),
            (
                r#"{"input":[{"type":"input_image","image_url" : "http://x/a.png"}]}"#,
                true,
            ),
            (
                r#"{"source":{"type":"url","url":"https://x/doc.pdf"}}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user","content":"see \"url\": \"http://x\""}]}"#,
                false,
            ),
            (r#"{"model":"m","messages":[]}"#, false),
        ] {
            assert_eq!(refers_to_content(body.as_bytes()), referenced, "{body}");
        }
    }

    #[test]
    fn choices_from_n_and_best_of() {
        for (body, choices) in [
            (r#"{"model":"m"}"#, 1),
            (r#"{"model":"m","n":4}"#, 4),
            (r#"{"model":"m","n":2,"best_of":5}"#, 5),
            (r#"{"model":"m","n":"x"}"#, 1),
            (r#"{"model":"m","n":0}"#, 1),
        ] {
            assert_eq!(peek(body.as_bytes()).unwrap().choices, choices, "{body}");
        }
    }

    #[test]
    fn forces_usage_on_streams() {
        let body = br#"{"model":"m","stream":true,"x":1}"#;
        let p = peek(body).unwrap();
        assert!(p.stream && !p.include_usage);
        let out = rewrite(body, &p, "u", true);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"u","stream_options":{"include_usage":true},"stream":true,"x":1}"#
        );

        let body = br#"{"stream_options":{"include_usage":false,"continuous":true},"model":"m","stream":true}"#;
        let p = peek(body).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&rewrite(body, &p, "u", true)).unwrap();
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["stream_options"]["continuous"], true);
        assert_eq!(out["model"], "u");

        let body = br#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#;
        let p = peek(body).unwrap();
        assert!(p.include_usage);
        assert_eq!(&rewrite(body, &p, "m", true)[..], &body[..]);
    }

    #[test]
    fn escaped_models_round_trip() {
        let body = br#"{"model":"a\"b\u00e9"}"#;
        let p = peek(body).unwrap();
        assert_eq!(p.model, "a\"bé");
        let out = rewrite(body, &p, "x\"y", false);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "x\"y");
    }

    #[test]
    fn bad_bodies() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"[1,2]",
            b"\"model\"",
            b"{not json",
            br#"{"model": 5}"#,
            br#"{"model": null}"#,
            br#"{"model": ""}"#,
            br#"{"messages": []}"#,
            br#"{"model":"a","model":"b"}"#,
            br#"{"model":"a"} trailing"#,
            br#"{"model":"a","stream":"yes"}"#,
            br#"{"model":"a","stream_options":5}"#,
            b"{\"model\":\"a\xff\"}",
        ];
        for body in cases {
            let err = peek(body).unwrap_err();
            assert_eq!(
                err.kind,
                modelgate_core::ErrorKind::BadRequest,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn deep_nesting_in_other_fields_is_skipped_without_recursion() {
        // serde_json skips unknown fields iteratively: no stack overflow, linear time; the
        // field passes through untouched like any other unknown field.
        let deep = format!(
            "{{\"model\":\"a\",\"x\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(peek(deep.as_bytes()).unwrap().model, "a");
        let unbalanced = format!("{{\"model\":\"a\",\"x\":{}}}", "[".repeat(100_000));
        assert!(peek(unbalanced.as_bytes()).is_err());
    }

    proptest! {
        /// Whatever the other fields, rewriting keeps them and only changes model.
        #[test]
        fn rewrite_preserves_other_fields(extra in proptest::collection::btree_map("[a-z_]{1,8}", any::<i32>(), 0..6), model in "\\PC{0,19}[a-z]", new in "\\PC{1,20}") {
            let mut obj = serde_json::Map::new();
            for (k, v) in &extra { obj.insert(k.clone(), (*v).into()); }
            obj.insert("model".into(), model.clone().into());
            let body = serde_json::to_vec(&obj).unwrap();
            let p = peek(&body).unwrap();
            prop_assert_eq!(&p.model, &model);
            let out: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&rewrite(&body, &p, &new, false)).unwrap();
            obj.insert("model".into(), new.into());
            prop_assert_eq!(out, obj);
        }
    }
}
