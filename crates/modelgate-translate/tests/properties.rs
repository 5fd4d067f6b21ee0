//! Property tests (normal suite): translators never panic on arbitrary JSON, and stream
//! translation is insensitive to how the upstream splits text and tool arguments.
#![allow(clippy::unwrap_used)]

use modelgate_translate::{anthropic_to_openai as a2o, openai_to_anthropic as o2a};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z_ ]{0,8}".prop_map(Value::from),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("tool"),
            Just("system"),
            Just("text"),
            Just("image_url"),
            Just("tool_use"),
            Just("tool_result"),
            Just("function")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("role".to_owned()),
                    Just("content".to_owned()),
                    Just("type".to_owned()),
                    Just("messages".to_owned()),
                    Just("tools".to_owned()),
                    Just("tool_calls".to_owned()),
                    Just("function".to_owned()),
                    Just("arguments".to_owned()),
                    Just("tool_choice".to_owned()),
                    Just("response_format".to_owned()),
                    Just("stop".to_owned()),
                    Just("source".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Splits `s` at the given cut points (on char boundaries).
fn split(s: &str, cuts: &[usize]) -> Vec<String> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| c % (s.len() + 1))
        .filter(|c| s.is_char_boundary(*c))
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for p in points {
        out.push(s[prev..p].to_owned());
        prev = p;
    }
    out.push(s[prev..].to_owned());
    out
}

proptest! {
    #[test]
    fn requests_never_panic(v in arb_json()) {
        let _ = o2a::request::translate(&v, "m");
        let _ = a2o::request::translate(&v, "m", a2o::Flavor::Compatible);
        let _ = o2a::response::translate(&v, &o2a::Context::default(), 0);
        let _ = a2o::response::translate(&v, &a2o::Context::default());
        let mut s1 = o2a::stream::StreamTranslator::new(o2a::Context::default(), 0);
        let _ = s1.on_event(&v);
        let mut s2 = a2o::stream::StreamTranslator::new(a2o::Context::default());
        let _ = s2.on_chunk(&v);
        let _ = s2.on_done();
    }

    /// However OpenAI-schema upstreams split and interleave tool arguments, each Anthropic
    /// tool_use block carries the complete input.
    #[test]
    fn tool_arguments_arrive_whole(cuts_a in prop::collection::vec(any::<usize>(), 0..6),
                                   cuts_b in prop::collection::vec(any::<usize>(), 0..6),
                                   interleave in any::<bool>()) {
        let args_a = r#"{"city":"Zürich","days":[1,2,3]}"#;
        let args_b = r#"{"q":"naïve \"quoted\" text"}"#;
        let a = split(args_a, &cuts_a);
        let b = split(args_b, &cuts_b);
        let mut chunks = vec![
            json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "fa", "arguments": ""}}]}}]}),
            json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "fb", "arguments": ""}}]}}]}),
        ];
        let piece = |i: usize, p: &str| json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": p}}]}}]});
        if interleave {
            let n = a.len().max(b.len());
            for k in 0..n {
                if let Some(p) = a.get(k) { chunks.push(piece(0, p)); }
                if let Some(p) = b.get(k) { chunks.push(piece(1, p)); }
            }
        } else {
            chunks.extend(a.iter().map(|p| piece(0, p)));
            chunks.extend(b.iter().map(|p| piece(1, p)));
        }
        let mut t = a2o::stream::StreamTranslator::new(a2o::Context::default());
        let mut events = Vec::new();
        for c in &chunks { events.extend(t.on_chunk(c)); }
        events.extend(t.on_done());
        let inputs: Vec<Value> = events
            .iter()
            .filter(|e| e.data["delta"]["type"] == "input_json_delta")
            .map(|e| serde_json::from_str(e.data["delta"]["partial_json"].as_str().unwrap()).unwrap())
            .collect();
        prop_assert_eq!(inputs, vec![serde_json::from_str::<Value>(args_a).unwrap(), serde_json::from_str::<Value>(args_b).unwrap()]);
        prop_assert_eq!(events[0].name, "message_start");
    }

    /// Text split anywhere reaches the OpenAI client whole and in order.
    #[test]
    fn text_deltas_concatenate(cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let text = "Grüße, 世界! 🎉 done.";
        let mut t = o2a::stream::StreamTranslator::new(o2a::Context::default(), 0);
        let mut out = String::new();
        let mut feed = |ev: Value, out: &mut String| {
            for c in t.on_event(&ev) {
                if let o2a::stream::Chunk::Data(v) = c
                    && let Some(s) = v["choices"][0]["delta"]["content"].as_str()
                {
                    out.push_str(s);
                }
            }
        };
        feed(json!({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}}), &mut out);
        feed(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}), &mut out);
        for p in split(text, &cuts) {
            feed(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}), &mut out);
        }
        feed(json!({"type": "message_stop"}), &mut out);
        prop_assert_eq!(out, text);
    }
}
