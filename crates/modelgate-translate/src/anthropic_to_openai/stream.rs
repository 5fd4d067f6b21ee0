//! OpenAI chat completion chunks → Anthropic stream events. `message_start` always comes
//! first; text and thinking stream live as content blocks; tool calls are collected and
//! emitted whole at the end (each as a `tool_use` block whose complete input arrives in
//! one `input_json_delta`), so interleaved or split argument deltas can never produce a
//! wrong or empty input; `message_delta` carries the stop reason and usage, then
//! `message_stop`.

use super::Context;
use super::response::{stop_reason, usage};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One Anthropic SSE event: `event: {name}` and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub data: Value,
}

impl Event {
    fn new(name: &'static str, data: Value) -> Self {
        Self { name, data }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug)]
pub struct StreamTranslator {
    ctx: Context,
    started: bool,
    open: Option<(u64, BlockKind)>,
    next_index: u64,
    tools: BTreeMap<u64, ToolCall>,
    finish: Option<String>,
    usage: Value,
    finished: bool,
}

impl StreamTranslator {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            started: false,
            open: None,
            next_index: 0,
            tools: BTreeMap::new(),
            finish: None,
            usage: Value::Null,
            finished: false,
        }
    }

    /// Whether the closing events were produced.
    pub fn is_complete(&self) -> bool {
        self.finished
    }

    /// Usage seen so far, in OpenAI's shape (for metering).
    pub fn openai_usage(&self) -> &Value {
        &self.usage
    }

    fn start(&mut self, id: &str, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        // The input count when the upstream gave usage with its first chunk (servers that
        // report usage on every chunk), else 0 until `message_delta`.
        let usage = if self.usage.is_null() {
            json!({"input_tokens": 0, "output_tokens": 0})
        } else {
            usage(&self.usage)
        };
        out.push(Event::new(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": format!("msg_{}", id.trim_start_matches("chatcmpl-")),
                "type": "message", "role": "assistant", "model": self.ctx.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": usage,
            }}),
        ));
    }

    fn ensure_block(&mut self, kind: BlockKind, out: &mut Vec<Event>) -> u64 {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
            out.push(stop(index));
        }
        let index = self.next_index;
        self.next_index += 1;
        let block = match kind {
            BlockKind::Text => json!({"type": "text", "text": ""}),
            BlockKind::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
        };
        out.push(Event::new(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        self.open = Some((index, kind));
        index
    }

    /// Feeds one parsed chunk; returns the events to send.
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        if let Some(err) = chunk.get("error") {
            out.push(error_event(err));
            return out;
        }
        let id = chunk
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = u.clone();
        }
        self.start(&id, &mut out);
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return out;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        let text_of = |k: &str| {
            delta
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(r) = text_of("reasoning_content").or_else(|| text_of("reasoning")) {
            let index = self.ensure_block(BlockKind::Thinking, &mut out);
            out.push(delta_event(
                index,
                json!({"type": "thinking_delta", "thinking": r}),
            ));
        }
        // A signed thinking block (an Anthropic model behind another schema): its signature
        // closes the thinking block being streamed.
        for block in delta
            .get("thinking_blocks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if block.get("type").and_then(Value::as_str) == Some("redacted_thinking") {
                // Whole in one piece: its own block, opened and closed.
                if let Some((index, _)) = self.open.take() {
                    out.push(stop(index));
                }
                let index = self.next_index;
                self.next_index += 1;
                out.push(Event::new(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index, "content_block": block}),
                ));
                out.push(stop(index));
            } else if let Some(sig) = block.get("signature").and_then(Value::as_str) {
                let index = self.ensure_block(BlockKind::Thinking, &mut out);
                out.push(delta_event(
                    index,
                    json!({"type": "signature_delta", "signature": sig}),
                ));
            }
        }
        if let Some(t) = text_of("content") {
            let index = self.ensure_block(BlockKind::Text, &mut out);
            out.push(delta_event(index, json!({"type": "text_delta", "text": t})));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let acc = self.tools.entry(index).or_default();
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                acc.id = id.to_owned();
            }
            let f = call.get("function").unwrap_or(&Value::Null);
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                // Most servers send the name once; some repeat it whole in every delta
                // (or send it growing), a few split it: only the last appends.
                if acc.name.is_empty() || name.starts_with(acc.name.as_str()) {
                    acc.name = name.to_owned();
                } else if !acc.name.ends_with(name) {
                    acc.name.push_str(name);
                }
            }
            if let Some(args) = f.get("arguments").and_then(Value::as_str) {
                acc.arguments.push_str(args);
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
        out
    }

    /// The upstream's `[DONE]`: closes blocks, emits tool calls, the stop reason, usage.
    pub fn on_done(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.start("", &mut out);
        if let Some((index, _)) = self.open.take() {
            out.push(stop(index));
        }
        for call in std::mem::take(&mut self.tools).into_values() {
            let index = self.next_index;
            self.next_index += 1;
            out.push(Event::new(
                "content_block_start",
                json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
            ));
            let input = super::response::tool_input(&call.arguments);
            out.push(delta_event(
                index,
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            ));
            out.push(stop(index));
        }
        let u = usage(&self.usage);
        out.push(Event::new(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
                "usage": u}),
        ));
        out.push(Event::new("message_stop", json!({"type": "message_stop"})));
        self.finished = true;
        out
    }
}

fn stop(index: u64) -> Event {
    Event::new(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn delta_event(index: u64, delta: Value) -> Event {
    Event::new(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

/// An OpenAI error object as an Anthropic `error` event, typed so that Anthropic clients
/// retry what is worth retrying: throttling → `rate_limit_error`, overload or an
/// unavailable service → `overloaded_error`, Anthropic's own types as they are, anything
/// else `api_error`.
pub fn error_event(err: &Value) -> Event {
    Event::new(
        "error",
        json!({"type": "error", "error": {
            "type": anthropic_error_type(err),
            "message": err.get("message").and_then(Value::as_str).unwrap_or("upstream error"),
        }}),
    )
}

fn anthropic_error_type(err: &Value) -> &'static str {
    const ANTHROPIC: &[&str] = &[
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    ];
    let text = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("");
    let (kind, code) = (text("type"), text("code"));
    if let Some(known) = ANTHROPIC.iter().find(|t| **t == kind) {
        return known;
    }
    let named = |needles: &[&str]| {
        [kind, code].iter().any(|s| {
            let s = s.to_ascii_lowercase();
            needles.iter().any(|n| s.contains(n))
        })
    };
    if named(&["rate_limit", "throttl", "too_many_requests"]) {
        "rate_limit_error"
    } else if named(&["overloaded", "unavailable", "capacity"]) {
        "overloaded_error"
    } else {
        "api_error"
    }
}
