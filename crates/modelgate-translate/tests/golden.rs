//! Golden-file tests: each file in `tests/golden/` holds a translator's input and the
//! exact output expected. `UPDATE_GOLDEN=1 cargo test -p modelgate-translate` rewrites the
//! expectations (review the diff before committing).
#![allow(clippy::unwrap_used)]

use modelgate_translate::{
    anthropic_to_openai as a2o, openai_to_anthropic as o2a, openai_to_bedrock as o2b,
};
use serde_json::{Value, json};
use std::path::Path;

/// The output with the adjusted parameters, when there are any.
fn with_adjusted(mut out: Value, adjusted: &[String]) -> Value {
    if !adjusted.is_empty() {
        out["adjusted"] = json!(adjusted);
    }
    out
}

fn meta() -> o2b::response::ResponseMeta {
    o2b::response::ResponseMeta {
        id: "chatcmpl-golden".into(),
        model: "bedrock-model".into(),
        created: 1_700_000_000,
    }
}

/// A pair of the translation table, end to end: `request` translated (body and dropped
/// parameters), then the upstream's `response` and `stream` events through the exchange.
/// Stream events are `"[DONE]"`, `{"event"?, "data"}` (SSE), or `["eventType", payload]`
/// / `["exception:kind", payload]` (Bedrock frames).
fn run_pair(case: &Value) -> Value {
    use modelgate_translate::pairs::{self, Back, Event, Front};
    let front = match case["front"].as_str().unwrap() {
        "chat" => Front::Chat,
        "messages" => Front::Messages,
        _ => Front::Responses,
    };
    let back = match case["back"].as_str().unwrap() {
        "chat" => Back::Chat,
        "messages" => Back::Messages,
        _ => Back::Converse,
    };
    let flavor = match case["flavor"].as_str() {
        Some("openai") => a2o::Flavor::OpenAi,
        _ => a2o::Flavor::Compatible,
    };
    let target = pairs::Target {
        model: case["upstream_model"].as_str().unwrap_or("upstream-model"),
        flavor,
        now: 1_700_000_000,
        id: "golden",
    };
    let pair = pairs::find(front, back).unwrap();
    let t = match pair.request(&case["request"], &target) {
        Ok(t) => t,
        Err(e) => return json!({"error": e.message, "param": e.param}),
    };
    let mut out = json!({"body": t.body, "dropped": t.dropped});
    if !t.adjusted.is_empty() {
        out["adjusted"] = json!(t.adjusted);
    }
    if !case["response"].is_null() {
        out["response"] = t.context.response(&case["response"]);
    }
    if let Some(events) = case["stream"].as_array() {
        let mut mapper = t.context.stream();
        let mut sent = Vec::new();
        for ev in events {
            let event = match ev {
                Value::String(s) if s == "[DONE]" => Event::Done,
                Value::Array(pair) => {
                    let name = pair[0].as_str().unwrap().to_owned();
                    match name.strip_prefix("exception:") {
                        Some(kind) => Event::Exception {
                            kind: kind.to_owned(),
                            data: pair[1].clone(),
                        },
                        None => Event::Data {
                            name: Some(name.into()),
                            data: pair[1].clone(),
                        },
                    }
                }
                other => Event::Data {
                    name: other["event"].as_str().map(|n| n.to_owned().into()),
                    data: other["data"].clone(),
                },
            };
            for e in mapper.on_event(event) {
                sent.push(match e {
                    Event::Data { name, data } => json!({"event": name, "data": data}),
                    Event::Done => json!("[DONE]"),
                    Event::Exception { kind, data } => json!({"exception": kind, "data": data}),
                });
            }
        }
        out["stream"] = json!({"events": sent, "complete": mapper.is_complete()});
    }
    out
}

/// A real client's captured request (`tests/agents/fixtures/`, recorded from Codex CLI and
/// Claude Code) through a pair, summarised: the translated body's fields, its messages'
/// roles, its tools' names, and what was dropped.
fn run_fixture(case: &Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(case["fixture"].as_str().unwrap());
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut case = case.clone();
    case["request"] = fixture["body"].clone();
    let out = run_pair(&case);
    if out.get("error").is_some() {
        return out;
    }
    let body = &out["body"];
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    let roles: Vec<&Value> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| &m["role"])
        .collect();
    let tools: Vec<Value> = body["tools"]
        .as_array()
        .or_else(|| body.pointer("/toolConfig/tools").and_then(Value::as_array))
        .into_iter()
        .flatten()
        .map(|t| {
            t.pointer("/function/name")
                .or_else(|| t.get("name"))
                .or_else(|| t.pointer("/toolSpec/name"))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    let mut summary =
        json!({"fields": keys, "roles": roles, "tools": tools, "dropped": out["dropped"]});
    for key in [
        "reasoning_effort",
        "thinking",
        "output_config",
        "max_tokens",
        "system",
    ] {
        if let Some(v) = body.get(key) {
            summary[key] = match key {
                "system" => json!(v.as_array().map_or(1, Vec::len)),
                _ => v.clone(),
            };
        }
    }
    summary
}

fn run(case: &Value) -> Value {
    let input = &case["input"];
    match case["kind"].as_str().unwrap() {
        "pair" => run_pair(case),
        "pair_fixture" => run_fixture(case),
        "openai_to_anthropic.request" => match o2a::request::translate(input, "claude-upstream") {
            Ok(t) => with_adjusted(
                json!({"body": t.body, "dropped": t.dropped, "json_tool": t.context.json_tool, "include_usage": t.context.include_usage}),
                &t.adjusted,
            ),
            Err(e) => json!({"error": e.message, "param": e.param}),
        },
        "openai_to_anthropic.response" => {
            let ctx = o2a::Context {
                json_tool: case["json_tool"].as_str().map(str::to_owned),
                include_usage: false,
            };
            o2a::response::translate(input, &ctx, 1_700_000_000)
        }
        "openai_to_anthropic.stream" => {
            let ctx = o2a::Context {
                json_tool: case["json_tool"].as_str().map(str::to_owned),
                include_usage: true,
            };
            let mut t = o2a::stream::StreamTranslator::new(ctx, 1_700_000_000);
            let mut out = Vec::new();
            for ev in input.as_array().unwrap() {
                for c in t.on_event(ev) {
                    out.push(match c {
                        o2a::stream::Chunk::Data(v) => v,
                        o2a::stream::Chunk::Done => json!("[DONE]"),
                    });
                }
            }
            json!({"chunks": out, "complete": t.is_complete()})
        }
        "anthropic_to_openai.request" => {
            let flavor = if case["flavor"] == "openai" {
                a2o::Flavor::OpenAi
            } else {
                a2o::Flavor::Compatible
            };
            match a2o::request::translate(input, "upstream-model", flavor) {
                Ok(t) => with_adjusted(json!({"body": t.body, "dropped": t.dropped}), &t.adjusted),
                Err(e) => json!({"error": e.message, "param": e.param}),
            }
        }
        "anthropic_to_openai.response" => a2o::response::translate(
            input,
            &a2o::Context {
                model: "client-model".into(),
            },
        ),
        "anthropic_to_openai.stream" => {
            let mut t = a2o::stream::StreamTranslator::new(a2o::Context {
                model: "client-model".into(),
            });
            let mut out = Vec::new();
            for chunk in input.as_array().unwrap() {
                let events = if chunk == "[DONE]" {
                    t.on_done()
                } else {
                    t.on_chunk(chunk)
                };
                out.extend(
                    events
                        .into_iter()
                        .map(|e| json!({"event": e.name, "data": e.data})),
                );
            }
            json!({"events": out, "complete": t.is_complete()})
        }
        "anthropic_to_bedrock.request" => {
            // The gateway's chain: Anthropic → OpenAI (keeping thinking) → Converse.
            match a2o::request::translate(input, "upstream-model", a2o::Flavor::Intermediate)
                .and_then(|first| o2b::request::translate(&first.body))
            {
                Ok(t) => with_adjusted(json!({"body": t.body, "dropped": t.dropped}), &t.adjusted),
                Err(e) => json!({"error": e.message, "param": e.param}),
            }
        }
        "openai_to_bedrock.request" => match o2b::request::translate(input) {
            Ok(t) => with_adjusted(
                json!({"body": t.body, "dropped": t.dropped, "json_tool": t.context.json_tool}),
                &t.adjusted,
            ),
            Err(e) => json!({"error": e.message, "param": e.param}),
        },
        "openai_to_bedrock.response" => {
            let ctx = o2a::Context {
                json_tool: case["json_tool"].as_str().map(str::to_owned),
                include_usage: false,
            };
            o2b::response::translate(input, &meta(), &ctx)
        }
        "openai_to_bedrock.stream" => {
            let ctx = o2a::Context {
                json_tool: None,
                include_usage: true,
            };
            let mut t = o2b::stream::StreamTranslator::new(ctx, meta());
            let mut out = Vec::new();
            for ev in input.as_array().unwrap() {
                let name = ev[0].as_str().unwrap();
                let chunks = match name.strip_prefix("exception:") {
                    Some(kind) => t.on_exception(kind, &ev[1]),
                    None => t.on_event(name, &ev[1]),
                };
                for c in chunks {
                    out.push(match c {
                        o2a::stream::Chunk::Data(v) => v,
                        o2a::stream::Chunk::Done => json!("[DONE]"),
                    });
                }
            }
            json!({"chunks": out, "complete": t.is_complete()})
        }
        // The same translators with the upstream model id named by the case (it decides
        // the thinking form for Claude models and whether Bedrock gets Anthropic fields).
        "openai_to_anthropic.request_for_model" => {
            match o2a::request::translate(input, case["upstream_model"].as_str().unwrap()) {
                Ok(t) => with_adjusted(json!({"body": t.body, "dropped": t.dropped}), &t.adjusted),
                Err(e) => json!({"error": e.message, "param": e.param}),
            }
        }
        "openai_to_bedrock.request_for_model" => {
            match o2b::request::translate_for_model(input, case["upstream_model"].as_str().unwrap())
            {
                Ok(t) => with_adjusted(json!({"body": t.body, "dropped": t.dropped}), &t.adjusted),
                Err(e) => json!({"error": e.message, "param": e.param}),
            }
        }
        "anthropic_to_bedrock.request_for_model" => {
            // Both steps' dropped names, as the gateway reports them.
            let model = case["upstream_model"].as_str().unwrap();
            match a2o::request::translate(input, model, a2o::Flavor::Intermediate).and_then(
                |first| o2b::request::translate(&first.body).map(|second| (first, second)),
            ) {
                Ok((first, second)) => {
                    let mut dropped = first.dropped;
                    dropped.extend(
                        second
                            .dropped
                            .into_iter()
                            .filter(|d| d != "stream_options" && d != "user"),
                    );
                    json!({"body": second.body, "dropped": dropped})
                }
                Err(e) => json!({"error": e.message, "param": e.param}),
            }
        }
        other => panic!("unknown golden kind {other}"),
    }
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "golden files missing");
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut case: Value = serde_json::from_str(&text).unwrap();
        let got = run(&case);
        if update {
            case["expected"] = got;
            std::fs::write(&path, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
        } else if case["expected"] != got {
            failures.push(format!(
                "{}:\nexpected {}\n     got {}",
                path.display(),
                serde_json::to_string_pretty(&case["expected"]).unwrap(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
