//! OpenAI chat completions: refused and accepted bodies.

use super::{accepted, refused, user, with};
use crate::strict::openai;
use serde_json::{Value, json};

fn openai_base() -> Value {
    json!({"model": "gpt-4o", "messages": [user("hi")]})
}

fn assistant_calls(ids: &[&str]) -> Value {
    let calls: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "type": "function", "function": {"name": "w", "arguments": "{}"}}))
        .collect();
    json!({"role": "assistant", "content": null, "tool_calls": calls})
}

fn tool_msg(id: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": "sunny"})
}

#[test]
fn openai_refusals() {
    let b = openai_base();
    let table = vec![
        (
            with(&b, json!({"messages": null})),
            "Missing required parameter: 'messages'",
        ),
        (
            with(&b, json!({"messages": []})),
            "Invalid 'messages': empty array",
        ),
        (
            with(&b, json!({"messages": [{"role": "bot", "content": "x"}]})),
            "Invalid value: 'bot'",
        ),
        (
            with(&b, json!({"temperature": 2.5})),
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        ),
        (
            with(&b, json!({"temperature": -1})),
            "decimal below minimum value",
        ),
        (with(&b, json!({"top_p": 1.1})), "Invalid 'top_p'"),
        (
            with(&b, json!({"presence_penalty": 3})),
            "Invalid 'presence_penalty'",
        ),
        (
            with(&b, json!({"frequency_penalty": -2.5})),
            "Invalid 'frequency_penalty'",
        ),
        (
            with(&b, json!({"n": 0})),
            "Invalid 'n': integer below minimum value",
        ),
        (
            with(&b, json!({"stop": ["a", "b", "c", "d", "e"]})),
            "array too long",
        ),
        (with(&b, json!({"stop": [1]})), "Invalid type for 'stop[0]'"),
        (
            with(&b, json!({"tool_choice": "auto"})),
            "'tool_choice' is only allowed when 'tools' are specified",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "video", "video": "x"}]}]}),
            ),
            "Invalid value: 'video'",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf"}}]}]}),
            ),
            "'file_id' or 'file_data'",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}, user("hi")]}),
            ),
            "only allowed for messages with role 'user'",
        ),
        (
            with(&b, json!({"messages": [user("hi"), tool_msg("call_1")]})),
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            with(
                &b,
                json!({"messages": [user("hi"), assistant_calls(&["call_1"]), tool_msg("call_2")]}),
            ),
            "preceeding message with 'tool_calls'",
        ),
        (
            with(
                &b,
                json!({"messages": [user("hi"), assistant_calls(&["call_1", "call_2"]), tool_msg("call_1"), user("and?")]}),
            ),
            "did not have response messages: call_2",
        ),
        (
            with(
                &b,
                json!({"messages": [user("hi"), assistant_calls(&["call_1"])]}),
            ),
            "did not have response messages: call_1",
        ),
    ];
    refused("openai", table, openai::validate);
}

#[test]
fn openai_acceptances() {
    let b = openai_base();
    let table = vec![
        b.clone(),
        with(
            &b,
            json!({"temperature": 2, "top_p": 0, "n": 2, "stop": "END", "presence_penalty": -2, "frequency_penalty": 2}),
        ),
        with(
            &b,
            json!({"temperature": null, "tool_choice": null, "stop": ["a", "b", "c", "d"]}),
        ),
        with(
            &b,
            json!({"tools": [{"type": "function", "function": {"name": "w"}}], "tool_choice": "required"}),
        ),
        with(
            &b,
            json!({"messages": [{"role": "developer", "content": "Be brief."}, user("hi"),
            assistant_calls(&["call_1", "call_2"]), tool_msg("call_2"), tool_msg("call_1"),
            {"role": "assistant", "content": "Sunny."}, user("thanks")]}),
        ),
        with(
            &b,
            json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-abc"}}]}]}),
        ),
        with(
            &b,
            json!({"messages": [{"role": "system", "content": [{"type": "text", "text": "x"}]}, user("hi"),
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}, user("ok")]}),
        ),
    ];
    accepted("openai", table, openai::validate);
}
