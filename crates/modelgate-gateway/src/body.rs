//! Request body peeking and splicing for same-schema pass-through. [`peek`] reads only
//! `model`, `stream` and `stream_options` (borrowed, no allocation of the rest);
//! [`rewrite`] replaces the `model` value and, when the gateway needs usage from a stream,
//! sets `stream_options.include_usage` — by splicing bytes, so every other field, unknown
//! ones included, reaches the upstream exactly as the client wrote it. Before any of that,
//! [`check_depth`] refuses a body whose arrays and objects nest deeper than [`MAX_DEPTH`]:
//! `peek` skips the fields it does not read without parsing them, so nesting that would
//! crash an upstream's parser would otherwise be forwarded as is.

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

/// Deepest nesting of arrays and objects a JSON body may have (the top-level object is
/// level 1): serde_json's own limit when it builds a value (`serde_json::Value`, typed
/// fields), which refuses the 128th level. So whatever passes here, the gateway can also
/// parse whole (a translation, the fallback list, the admin API's specs); but serde_json
/// skips the fields it does not read without counting their levels, so only this check
/// bounds what is forwarded.
pub const MAX_DEPTH: usize = 127;

/// What one depth scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DepthScan {
    /// The deepest nesting seen, up to `limit + 1` (the scan stops there).
    deepest: usize,
    /// How far the scan went (it never goes back, so also the bytes it examined): at most
    /// the input's length, one pass.
    examined: usize,
}

/// Counts how deep `[` and `{` nest in `json`, outside strings (a `\` escapes the next
/// byte), in one pass without allocating; stops as soon as the depth exceeds `limit`.
/// Does not validate the JSON: the parser that runs next does.
fn scan_depth(json: &[u8], limit: usize) -> DepthScan {
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while let Some(&b) = json.get(at) {
        at += 1;
        match b {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if depth > limit {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            // To the closing quote, jumping over escaped bytes.
            b'"' => loop {
                let rest = json.get(at..).unwrap_or_default();
                let Some(i) = memchr::memchr2(b'"', b'\\', rest) else {
                    at = json.len();
                    break;
                };
                at += i + 1;
                if json[at - 1] == b'"' {
                    break;
                }
                at += 1;
            },
            _ => {}
        }
    }
    DepthScan {
        deepest,
        examined: at.min(json.len()),
    }
}

/// Refuses (400) a body whose arrays and objects nest deeper than [`MAX_DEPTH`]: linear,
/// and it stops at the first byte past the limit. [`peek`] runs it first; the admin API
/// runs it on its bodies too.
pub fn check_depth(json: &[u8]) -> Result<(), GatewayError> {
    if scan_depth(json, MAX_DEPTH).deepest > MAX_DEPTH {
        return Err(GatewayError::bad_request(format!(
            "The JSON body of your request nests arrays and objects deeper than {MAX_DEPTH} levels."
        )));
    }
    Ok(())
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
    check_depth(body)?;
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

    /// A request body nested `depth` levels deep: the object, then arrays in `x`.
    fn nested(depth: usize) -> String {
        let inner = depth - 1;
        format!(
            "{{\"model\":\"a\",\"x\":{}{}}}",
            "[".repeat(inner),
            "]".repeat(inner)
        )
    }

    #[test]
    fn depth_limit_table() {
        let deep_objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        // (case, body, deepest nesting the scan reports with no limit)
        let cases: &[(&str, String, usize)] = &[
            ("127 levels", nested(MAX_DEPTH), 127),
            ("128 levels", nested(MAX_DEPTH + 1), 128),
            ("127 objects", deep_objects(127), 127),
            ("128 objects", deep_objects(128), 128),
            ("flat", r#"{"model":"a","x":[1,[2],{"b":[]}]}"#.into(), 4),
            (
                "brackets in a string",
                format!(r#"{{"x":"{}"}}"#, "[{".repeat(500)),
                1,
            ),
            (
                "brackets in a key",
                format!(r#"{{"{}":[]}}"#, "[".repeat(500)),
                2,
            ),
            (
                "escaped quote",
                format!(r#"{{"x":"\"{}"}}"#, "[".repeat(500)),
                1,
            ),
            (
                "escaped backslash, then quote",
                r#"{"x":"\\","y":[[1]]}"#.into(),
                3,
            ),
            (
                "backslash, quote, brackets",
                r#"{"x":"a\\\"]]]]","y":[]}"#.into(),
                2,
            ),
            ("unicode escape of [", r#"{"x":"\u005b\u007b"}"#.into(), 1),
            (
                "unterminated string",
                format!(r#"{{"x":"{}"#, "[".repeat(500)),
                1,
            ),
            ("trailing backslash", r#"{"x":"\"#.into(), 1),
            ("closing brackets first", "]]]}}{[".into(), 2),
        ];
        for (case, body, deepest) in cases {
            let scan = scan_depth(body.as_bytes(), usize::MAX);
            assert_eq!(scan.deepest, *deepest, "{case}");
            assert!(scan.examined <= body.len(), "{case}");
            let refused = check_depth(body.as_bytes()).is_err();
            assert_eq!(refused, *deepest > MAX_DEPTH, "{case}");
        }
        assert_eq!(peek(nested(MAX_DEPTH).as_bytes()).unwrap().model, "a");
        let err = peek(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(err.kind, modelgate_core::ErrorKind::BadRequest);
        assert!(
            err.message.contains("deeper than 127 levels"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_limit_is_serde_json_s() {
        // Around the limit, the scan refuses exactly what serde_json cannot build.
        for depth in 100..=160 {
            let body = nested(depth);
            let built = serde_json::from_str::<serde_json::Value>(&body).is_ok();
            assert_eq!(check_depth(body.as_bytes()).is_ok(), built, "depth {depth}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        // serde_json skips a field it does not read without counting its depth: without
        // the scan this body was forwarded as is.
        for body in [
            nested(100_000),
            format!("{{\"model\":\"a\",\"x\":{}}}", "[".repeat(100_000)),
        ] {
            assert!(peek(body.as_bytes()).is_err());
            // The scan stops at the first level past the limit.
            let scan = scan_depth(body.as_bytes(), MAX_DEPTH);
            assert_eq!(scan.deepest, MAX_DEPTH + 1);
            assert_eq!(scan.examined, r#"{"model":"a","x":"#.len() + MAX_DEPTH);
        }
    }

    #[test]
    fn depth_scan_is_one_pass() {
        // Inputs that make a careless scanner go back over bytes: long runs of escapes,
        // strings full of brackets, nesting that goes up and down. Whatever the size, the
        // bytes examined never exceed the input: linear, one pass.
        let families: [fn(usize) -> String; 5] = [
            |n| format!(r#"{{"x":"{}"}}"#, "\\\"".repeat(n)),
            |n| format!(r#"{{"x":"{}"}}"#, "[{]}".repeat(n)),
            |n| format!("[{}]", "[[[[]]]],".repeat(n) + "0"),
            |n| format!("[{}0]", r#""\\\\","#.repeat(n)),
            |n| format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)).repeat(n),
        ];
        for family in families {
            for n in [1, 10, 1_000, 100_000] {
                let body = family(n);
                let scan = scan_depth(body.as_bytes(), MAX_DEPTH);
                assert_eq!(
                    scan.examined,
                    body.len(),
                    "n = {n}: {}",
                    &body[..40.min(body.len())]
                );
            }
        }
    }

    /// How deep a parsed value nests (a scalar is 0, `[]` is 1).
    fn value_depth(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
            serde_json::Value::Object(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// JSON values whose strings and keys are full of brackets, quotes and backslashes.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let text = "[\\[\\]{}\"\\\\a\u{e9}\u{1F389}\\n]{0,12}";
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            text.prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(24, 256, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(text, inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
    proptest! {
        /// The scan finds the depth serde_json finds, on compact and pretty JSON alike.
        #[test]
        fn depth_scan_agrees_with_serde_json(v in json_value()) {
            let depth = value_depth(&v);
            for text in [serde_json::to_vec(&v).unwrap(), serde_json::to_vec_pretty(&v).unwrap()] {
                let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
                prop_assert_eq!(value_depth(&parsed), depth);
                let scan = scan_depth(&text, usize::MAX);
                prop_assert_eq!(scan.deepest, depth);
                prop_assert_eq!(scan.examined, text.len());
                prop_assert_eq!(check_depth(&text).is_ok(), depth <= MAX_DEPTH);
            }
        }

        /// On any bytes the scan never panics and never goes back.
        #[test]
        fn depth_scan_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let scan = scan_depth(&bytes, 8);
            prop_assert!(scan.examined <= bytes.len());
            prop_assert!(scan.deepest <= 9);
        }

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
