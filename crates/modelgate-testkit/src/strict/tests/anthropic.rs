//! Anthropic Messages: refused and accepted bodies.

use super::{accepted, refused, user, with};
use crate::strict::anthropic;
use serde_json::{Value, json};

fn anthropic_base() -> Value {
    json!({"model": "claude-x", "max_tokens": 100, "messages": [user("hi")]})
}

fn tool_def(name: &str) -> Value {
    json!({"name": name, "input_schema": {"type": "object"}})
}

fn tool_turns(result_id: &str) -> Value {
    json!([
        user("weather?"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": result_id, "content": "sunny"}]}
    ])
}

#[test]
fn anthropic_refusals() {
    let b = anthropic_base();
    let table = vec![
        (with(&b, json!({"model": null})), "model: Field required"),
        (
            with(&b, json!({"max_tokens": null})),
            "max_tokens: Field required",
        ),
        (
            with(&b, json!({"max_tokens": 0})),
            "greater than or equal to 1",
        ),
        (with(&b, json!({"messages": []})), "at least one message"),
        (
            with(
                &b,
                json!({"messages": [{"role": "system", "content": "x"}]}),
            ),
            "messages.0.role",
        ),
        (
            with(&b, json!({"messages": [user("")]})),
            "non-empty content except",
        ),
        (
            with(&b, json!({"messages": [user("  \n")]})),
            "non-whitespace text",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            ),
            "must be non-empty",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]}),
            ),
            "non-whitespace text",
        ),
        (
            with(&b, json!({"temperature": 1.5})),
            "temperature: Input should be less than or equal to 1",
        ),
        (
            with(&b, json!({"temperature": -0.1})),
            "greater than or equal to 0",
        ),
        (
            with(&b, json!({"top_p": 2})),
            "top_p: Input should be less than or equal to 1",
        ),
        (
            with(&b, json!({"top_k": -1})),
            "top_k: Input should be greater than or equal to 0",
        ),
        (
            with(
                &b,
                json!({"model": "claude-sonnet-4-5-20250929", "temperature": 0.5, "top_p": 0.9}),
            ),
            "cannot both be specified",
        ),
        (
            with(
                &b,
                json!({"model": "claude-opus-4-1", "temperature": 0.5, "top_p": 0.9}),
            ),
            "cannot both be specified",
        ),
        (
            with(
                &b,
                json!({"model": "claude-haiku-4-5", "temperature": 0.5, "top_p": 0.9}),
            ),
            "cannot both be specified",
        ),
        (
            with(&b, json!({"model": "claude-opus-4-7", "temperature": 0.5})),
            "`temperature` is deprecated",
        ),
        (
            with(&b, json!({"model": "claude-sonnet-5-5", "top_k": 5})),
            "`top_k` is deprecated",
        ),
        (
            with(&b, json!({"stop_sequences": ["\n"]})),
            "must contain non-whitespace",
        ),
        (
            with(&b, json!({"stop_sequences": [""]})),
            "must be non-empty",
        ),
        (with(&b, json!({"stop_sequences": "END"})), "valid list"),
        (
            with(&b, json!({"metadata": {"user_id": "jane@example.com"}})),
            "email address",
        ),
        (
            with(&b, json!({"metadata": {"user_id": "+1 (555) 123-4567"}})),
            "phone number",
        ),
        (
            with(&b, json!({"metadata": {"user_id": "a".repeat(257)}})),
            "at most 256",
        ),
        (
            with(&b, json!({"metadata": {"user": "x"}})),
            "metadata.user: Extra inputs",
        ),
        (
            with(&b, json!({"tool_choice": {"type": "auto"}})),
            "while providing tools",
        ),
        (
            with(
                &b,
                json!({"tools": [tool_def("w")], "tool_choice": {"type": "required"}}),
            ),
            "expected tags",
        ),
        (
            with(
                &b,
                json!({"tools": [tool_def("w")], "tool_choice": {"type": "tool", "name": "v"}}),
            ),
            "'v' was not found",
        ),
        (
            with(&b, json!({"tools": [tool_def("get.weather")]})),
            "tools.0.custom.name: String should match pattern",
        ),
        (
            with(&b, json!({"tools": [tool_def(&"n".repeat(129))]})),
            "at most 128 characters",
        ),
        (
            with(&b, json!({"tools": [{"name": "w"}]})),
            "input_schema: Field required",
        ),
        (
            with(
                &b,
                json!({"messages": tool_turns("toolu_2"), "tools": [tool_def("w")]}),
            ),
            "without `tool_result` blocks",
        ),
        (
            with(
                &b,
                json!({"messages": [user("a"), {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "y"}]}]}),
            ),
            "unexpected `tool_use_id`",
        ),
        (
            with(
                &b,
                json!({"messages": [user("weather?"),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "text", "text": "here"}, {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}),
            ),
            "at the beginning of this message",
        ),
        (
            with(
                &b,
                json!({"messages": [user("a"), {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "tool_use", "id": "z"}]}]}]}),
            ),
            "tool_result.content.0",
        ),
        (
            with(
                &b,
                json!({"thinking": {"type": "enabled", "budget_tokens": 512}, "max_tokens": 4000}),
            ),
            "greater than or equal to 1024",
        ),
        (
            with(
                &b,
                json!({"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 2048}),
            ),
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            with(
                &b,
                json!({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4000, "temperature": 0.5}),
            ),
            "may only be set to 1",
        ),
        (
            with(&b, json!({"thinking": {"type": "adaptive"}, "top_k": 10})),
            "`top_k` must be unset",
        ),
        (
            with(&b, json!({"thinking": {"type": "adaptive"}, "top_p": 0.9})),
            "0.95",
        ),
        (
            with(
                &b,
                json!({"thinking": {"type": "adaptive"}, "tools": [tool_def("w")], "tool_choice": {"type": "any"}}),
            ),
            "forces tool use",
        ),
        (
            with(
                &b,
                json!({"model": "claude-opus-4-8", "thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 4000}),
            ),
            "thinking.type.enabled",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}]}]}),
            ),
            "image/webp",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "ftp", "url": "x"}}]}]}),
            ),
            "image.source",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": "x"}}]}]}),
            ),
            "application/pdf",
        ),
        (
            with(
                &b,
                json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "html", "data": "x"}}]}]}),
            ),
            "document.source",
        ),
        (
            with(
                &b,
                json!({"messages": [user("hi"), {"role": "assistant", "content": "The answer is "}]}),
            ),
            "trailing whitespace",
        ),
        (
            with(
                &b,
                json!({"model": "claude-sonnet-4-6", "messages": [user("hi"), {"role": "assistant", "content": "Sure"}]}),
            ),
            "does not support assistant message prefill",
        ),
    ];
    refused("anthropic", table, anthropic::validate);
}

#[test]
fn anthropic_acceptances() {
    let b = anthropic_base();
    let table = vec![
        b.clone(),
        with(
            &b,
            json!({"temperature": 0, "top_p": 1, "top_k": 0, "stop_sequences": ["END", " x"]}),
        ),
        with(
            &b,
            json!({"model": "claude-sonnet-4-20250514", "temperature": 0.5, "top_p": 0.9}),
        ),
        with(
            &b,
            json!({"model": "claude-sonnet-4-5", "temperature": 0.5, "top_p": null}),
        ),
        with(&b, json!({"model": "claude-opus-4-7", "temperature": 1})),
        with(
            &b,
            json!({"metadata": {"user_id": "5f2b6c1e-3a4d-4e8f-9a1b-2c3d4e5f6a7b"}}),
        ),
        with(&b, json!({"metadata": {"user_id": "a3f9c2d41b7e"}})),
        with(&b, json!({"metadata": {}})),
        with(
            &b,
            json!({"messages": tool_turns("toolu_1"), "tools": [tool_def("w")], "tool_choice": {"type": "tool", "name": "w"}}),
        ),
        with(
            &b,
            json!({"tools": [tool_def("w"), {"type": "web_search_20250305", "name": "web_search"}], "tool_choice": {"type": "none"}}),
        ),
        // Consecutive user messages are one turn: the results may sit in either.
        with(
            &b,
            json!({"messages": [user("a"),
            {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}, {"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]}]},
            user("and now?")]}),
        ),
        with(
            &b,
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048, "temperature": 1, "top_p": 0.95}),
        ),
        with(
            &b,
            json!({"model": "claude-opus-4-7", "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
        ),
        with(
            &b,
            json!({"thinking": {"type": "disabled"}, "temperature": 0.2}),
        ),
        with(
            &b,
            json!({"messages": [user("hi"), {"role": "assistant", "content": "The answer is"}]}),
        ),
        with(
            &b,
            json!({"messages": [user("hi"), {"role": "assistant", "content": ""}]}),
        ),
        with(
            &b,
            json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
            {"type": "text", "text": "Describe these."}]}]}),
        ),
    ];
    accepted("anthropic", table, anthropic::validate);
}
