//! Property tests (normal suite): translators never panic on arbitrary JSON, and stream
//! translation is insensitive to how the upstream splits text and tool arguments.
#![allow(clippy::unwrap_used)]

use modelgate_translate::{
    anthropic_to_openai as a2o, openai_to_anthropic as o2a, openai_to_bedrock as o2b,
};
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

/// An Anthropic content block: text (sometimes with `cache_control`), other block kinds, or
/// junk.
fn arb_block() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ("[a-z ]{0,6}", any::<bool>()).prop_map(|(text, cache)| {
            let mut b = json!({"type": "text", "text": text});
            if cache {
                b["cache_control"] = json!({"type": "ephemeral"});
            }
            b
        }),
        1 => Just(json!({"type": "thinking", "thinking": "hm", "signature": "s"})),
        1 => Just(json!({"type": "tool_use", "id": "t", "name": "f", "input": {}})),
        1 => Just(json!({"type": "tool_result", "tool_use_id": "t", "content": "ok"})),
        1 => Just(json!({"type": "image", "source": {"type": "url", "url": "https://x/y.png"}})),
        1 => Just(json!({"type": "document"})),
        1 => Just(json!({"text": "no type"})),
        1 => Just(json!(7)),
    ]
}

/// A `messages` entry with role user, assistant or system and string, block or odd content.
fn arb_message() -> impl Strategy<Value = Value> {
    let content = prop_oneof![
        3 => "[a-z ]{0,6}".prop_map(Value::from),
        3 => prop::collection::vec(arb_block(), 0..4).prop_map(Value::Array),
        1 => Just(Value::Null),
    ];
    (
        prop_oneof![Just("user"), Just("assistant"), Just("system")],
        content,
    )
        .prop_map(|(role, content)| json!({"role": role, "content": content}))
}

/// A well-formed `messages` entry: those roles with a string or text blocks.
fn arb_text_message() -> impl Strategy<Value = Value> {
    let block = ("[a-z ]{0,6}", any::<bool>()).prop_map(|(text, cache)| {
        let mut b = json!({"type": "text", "text": text});
        if cache {
            b["cache_control"] = json!({"type": "ephemeral", "ttl": "1h"});
        }
        b
    });
    let content = prop_oneof![
        "[a-z ]{0,6}".prop_map(Value::from),
        prop::collection::vec(block, 0..3).prop_map(Value::Array),
    ];
    (
        prop_oneof![Just("user"), Just("assistant"), Just("system")],
        content,
    )
        .prop_map(|(role, content)| json!({"role": role, "content": content}))
}

/// The request parameters Claude Code 2.x sends next to its messages.
fn arb_reasoning() -> impl Strategy<Value = (Value, Value)> {
    let thinking = prop_oneof![
        Just(Value::Null),
        Just(json!({"type": "adaptive"})),
        Just(json!({"type": "disabled"})),
        (0u64..40_000).prop_map(|n| json!({"type": "enabled", "budget_tokens": n})),
        Just(json!({"type": 3})),
    ];
    let effort = prop_oneof![
        Just(Value::Null),
        prop_oneof![
            Just("low"),
            Just("medium"),
            Just("high"),
            Just("xhigh"),
            Just("max"),
            Just("odd")
        ]
        .prop_map(|e| json!({"effort": e})),
        Just(json!({"format": {"type": "json_schema"}})),
        Just(json!("not an object")),
    ];
    (thinking, effort)
}

const FLAVORS: [a2o::Flavor; 3] = [
    a2o::Flavor::OpenAi,
    a2o::Flavor::Compatible,
    a2o::Flavor::Intermediate,
];

proptest! {
    /// Any mix of user, assistant and system entries, with string, block or odd content,
    /// either translates or is refused with a TranslateError naming a field — on every
    /// flavor and through the chain to Bedrock — and never panics.
    #[test]
    fn mixed_role_messages_translate_or_refuse(
        messages in prop::collection::vec(arb_message(), 0..8),
        (thinking, output_config) in arb_reasoning(),
    ) {
        let req = json!({
            "model": "claude-opus-4-7", "max_tokens": 100, "messages": messages,
            "thinking": thinking, "output_config": output_config,
        });
        for flavor in FLAVORS {
            match a2o::request::translate(&req, "us.anthropic.claude-opus-4-7", flavor) {
                Ok(t) => {
                    prop_assert!(t.body["messages"].is_array());
                    if flavor == a2o::Flavor::Intermediate {
                        let _ = o2b::request::translate(&t.body);
                    }
                }
                Err(e) => prop_assert!(e.param.is_some_and(|p| p.starts_with("messages["))),
            }
        }
        // The same entries seen by the OpenAI-client translators.
        let _ = o2a::request::translate(&req, "claude-opus-4-7");
        let _ = o2b::request::translate(&req);
    }

    /// Well-formed entries always translate, and each system entry with text becomes a
    /// system message in its place (after the top-level system) — hoisted into Converse's
    /// `system` on the way to Bedrock; cache_control is reported once.
    #[test]
    fn system_entries_keep_their_place(
        messages in prop::collection::vec(arb_text_message(), 0..8),
        (thinking, output_config) in arb_reasoning(),
    ) {
        let req = json!({
            "model": "claude-opus-4-7", "max_tokens": 100, "system": "top",
            "messages": messages, "thinking": thinking, "output_config": output_config,
        });
        let text = |c: &Value| match c {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .map(|b| b["text"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => unreachable!(),
        };
        let mut expected = vec!["top".to_owned()];
        expected.extend(
            messages
                .iter()
                .filter(|m| m["role"] == "system")
                .map(|m| text(&m["content"]))
                .filter(|t| !t.is_empty()),
        );
        let cached = messages.iter().any(|m| {
            m["content"].as_array().is_some_and(|b| b.iter().any(|b| b.get("cache_control").is_some()))
        });
        for flavor in FLAVORS {
            let t = a2o::request::translate(&req, "us.anthropic.claude-opus-4-7", flavor).unwrap();
            let system: Vec<String> = t.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "system")
                .map(|m| m["content"].as_str().unwrap().to_owned())
                .collect();
            prop_assert_eq!(&system, &expected);
            prop_assert_eq!(
                t.dropped.iter().filter(|d| *d == "cache_control").count(),
                usize::from(cached)
            );
            if flavor == a2o::Flavor::Intermediate {
                let b = o2b::request::translate(&t.body).unwrap();
                let hoisted: Vec<String> = b.body["system"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["text"].as_str().unwrap().to_owned())
                    .collect();
                // Converse refuses blank text: whitespace-only system entries are left out.
                let non_blank: Vec<String> =
                    expected.iter().filter(|t| !t.trim().is_empty()).cloned().collect();
                prop_assert_eq!(&hoisted, &non_blank);
            }
        }
    }
}

/// Every pair of the translation table, as the gateway runs it.
fn pair_target() -> modelgate_translate::pairs::Target<'static> {
    modelgate_translate::pairs::Target {
        model: "anthropic.claude-sonnet-4-5-v1:0",
        flavor: a2o::Flavor::Compatible,
        now: 0,
        id: "prop",
    }
}

/// A Responses input item: messages of every role (string or part content), function
/// calls and their outputs, reasoning items, or junk.
fn arb_responses_item() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop_oneof![
                Just("user"),
                Just("assistant"),
                Just("developer"),
                Just("system"),
                Just("tool")
            ],
            "[a-z ]{0,12}",
            any::<bool>()
        )
            .prop_map(|(role, text, parts)| {
                let kind = if role == "assistant" {
                    "output_text"
                } else {
                    "input_text"
                };
                let content = if parts {
                    json!([{"type": kind, "text": text}])
                } else {
                    json!(text)
                };
                json!({"type": "message", "role": role, "content": content})
            }),
        ("[a-z]{1,6}", "[a-z]{1,4}").prop_map(|(name, id)| json!({"type": "function_call",
            "call_id": id, "name": name, "arguments": "{}"})),
        "[a-z]{1,4}".prop_map(
            |id| json!({"type": "function_call_output", "call_id": id, "output": "ok"})
        ),
        "[a-z ]{0,12}".prop_map(|t| json!({"type": "reasoning", "summary": [],
            "encrypted_content": format!("modelgate.thinking.v1:[{{\"type\":\"thinking\",\"thinking\":\"{t}\",\"signature\":\"s\"}}]")})),
        arb_json(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any body on any pair translates to a JSON object or is refused, never a panic; the
    /// answer side and the stream side take arbitrary upstream JSON the same way.
    #[test]
    fn every_pair_takes_arbitrary_json(req in arb_json(), answer in arb_json()) {
        use modelgate_translate::pairs::{Event, PAIRS};
        for pair in PAIRS {
            if let Ok(t) = pair.request(&req, &pair_target()) {
                prop_assert!(t.body.is_object());
                let _ = t.context.response(&answer);
                let mut stream = t.context.stream();
                for item in answer.as_array().into_iter().flatten() {
                    let _ = stream.on_event(Event::data(item.clone()));
                    let name = item.get("type").and_then(Value::as_str).unwrap_or("x");
                    let _ = stream.on_event(Event::Data { name: Some(name.to_owned().into()), data: item.clone() });
                }
                let _ = stream.on_event(Event::Done);
            }
        }
    }

    /// Responses input of any shape translates for every backend or is refused with a
    /// named field; what translates keeps the user's words in order.
    #[test]
    fn responses_items_translate_or_refuse(items in prop::collection::vec(arb_responses_item(), 1..8)) {
        use modelgate_translate::pairs::{Back, Front, find};
        let req = json!({"model": "m", "input": items, "instructions": "be brief"});
        for back in [Back::Chat, Back::Messages, Back::Converse] {
            let pair = find(Front::Responses, back).unwrap();
            match pair.request(&req, &pair_target()) {
                Ok(t) => prop_assert!(t.body.is_object()),
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
    }

    /// Text and tool arguments split anywhere reach a Responses client whole: the deltas
    /// concatenate to the final text, sequence numbers count up from 0, and the stream ends
    /// with `response.completed` carrying the same output.
    #[test]
    fn responses_stream_is_whole_and_ordered(cuts in prop::collection::vec(any::<usize>(), 0..8),
                                             arg_cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        use modelgate_translate::pairs::{Back, Event, Front, find};
        let text = "Grüße, 世界! 🎉 done.";
        let args = "{\"city\": \"Zürich\"}";
        let pair = find(Front::Responses, Back::Chat).unwrap();
        let t = pair.request(&json!({"model": "m", "input": "hi", "stream": true}), &pair_target()).unwrap();
        let mut s = t.context.stream();
        let mut out = Vec::new();
        let chunk = |delta: Value| Event::data(json!({"choices": [{"index": 0, "delta": delta, "finish_reason": null}]}));
        out.extend(s.on_event(chunk(json!({"role": "assistant", "content": ""}))));
        for p in split(text, &cuts) {
            out.extend(s.on_event(chunk(json!({"content": p}))));
        }
        out.extend(s.on_event(chunk(json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "w", "arguments": ""}}]}))));
        for p in split(args, &arg_cuts) {
            out.extend(s.on_event(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}))));
        }
        out.extend(s.on_event(Event::Done));
        prop_assert!(s.is_complete());
        let mut deltas = String::new();
        let mut arg_deltas = String::new();
        for (i, e) in out.iter().enumerate() {
            let Event::Data { name: Some(name), data } = e else { panic!("unnamed event") };
            prop_assert_eq!(&data["sequence_number"], &json!(i));
            prop_assert_eq!(data["type"].as_str(), Some(name.as_ref()));
            match name.as_ref() {
                "response.output_text.delta" => deltas.push_str(data["delta"].as_str().unwrap()),
                "response.function_call_arguments.delta" => arg_deltas.push_str(data["delta"].as_str().unwrap()),
                _ => {}
            }
        }
        prop_assert_eq!(&deltas, text);
        prop_assert_eq!(&arg_deltas, args);
        let Some(Event::Data { name: Some(last), data }) = out.last() else { panic!("no events") };
        prop_assert_eq!(last.as_ref(), "response.completed");
        prop_assert_eq!(&data["response"]["output"][0]["content"][0]["text"], &json!(text));
        prop_assert_eq!(&data["response"]["output"][1]["arguments"], &json!(args));
    }
}
