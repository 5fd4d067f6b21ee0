//! Anthropic stream events → OpenAI chat completion chunks: a state machine fed one
//! event (`event` name and parsed `data`) at a time, returning the chunks to send.

use super::Context;
use super::response::{finish_reason, usage};
use crate::json_mode;
use crate::util::UnixSeconds;
use serde_json::{Value, json};

/// One output of the translation: an OpenAI chunk, or the `[DONE]` terminator.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Data(Value),
    Done,
}

#[derive(Debug)]
pub struct StreamTranslator {
    ctx: Context,
    created: UnixSeconds,
    id: Value,
    model: Value,
    /// Anthropic content block index → OpenAI tool call index (for `tool_use` blocks).
    tool_index: Vec<(u64, usize)>,
    json_block: Option<u64>,
    thinking: String,
    usage: Value,
    finish: Option<&'static str>,
    done: bool,
    /// An `error` event arrived: the stream is over and incomplete.
    failed: bool,
}

impl StreamTranslator {
    pub fn new(ctx: Context, created: UnixSeconds) -> Self {
        Self {
            ctx,
            created,
            id: Value::Null,
            model: Value::Null,
            tool_index: Vec::new(),
            json_block: None,
            thinking: String::new(),
            usage: json!({}),
            finish: None,
            done: false,
            failed: false,
        }
    }

    /// Whether `message_stop` was seen (and no error before it).
    pub fn is_complete(&self) -> bool {
        self.done && !self.failed
    }

    /// Whether the upstream sent an `error` event.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// The usage seen so far, in OpenAI's shape.
    pub fn usage(&self) -> Value {
        usage(&self.usage)
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Chunk {
        Chunk::Data(json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        }))
    }

    /// Feeds one event; returns what to send to the client.
    pub fn on_event(&mut self, data: &Value) -> Vec<Chunk> {
        if self.failed || self.done {
            return vec![];
        }
        let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "message_start" => {
                let msg = data.get("message").unwrap_or(&Value::Null);
                self.id = msg.get("id").cloned().unwrap_or(Value::Null);
                self.model = msg.get("model").cloned().unwrap_or(Value::Null);
                if let Some(u) = msg.get("usage") {
                    merge(&mut self.usage, u);
                }
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => self.block_start(data),
            "content_block_delta" => self.block_delta(data),
            "content_block_stop" => vec![],
            "message_delta" => {
                if let Some(u) = data.get("usage") {
                    merge(&mut self.usage, u);
                }
                let reason = data
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                self.finish = finish_reason(reason).map(|f| match self.json_block {
                    Some(_) => json_mode::finish_reason(f, !self.tool_index.is_empty()),
                    None => f,
                });
                vec![]
            }
            "message_stop" => {
                self.done = true;
                let mut out = vec![self.chunk(json!({}), Some(self.finish.unwrap_or("stop")))];
                if self.ctx.include_usage {
                    out.push(Chunk::Data(json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": self.usage(),
                    })));
                }
                out.push(Chunk::Done);
                out
            }
            "error" => {
                self.failed = true;
                let err = data.get("error").unwrap_or(&Value::Null);
                vec![Chunk::Data(json!({"error": {
                    "message": err.get("message").cloned().unwrap_or(json!("upstream error")),
                    "type": err.get("type").cloned().unwrap_or(json!("api_error")),
                    "param": null, "code": null,
                }}))]
            }
            _ => vec![], // ping and future event types
        }
    }

    fn block_start(&mut self, data: &Value) -> Vec<Chunk> {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = data.get("content_block").unwrap_or(&Value::Null);
        match block.get("type").and_then(Value::as_str) {
            Some("tool_use") => {
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                if self.ctx.json_tool.as_deref() == Some(name) {
                    self.json_block = Some(index);
                    return vec![];
                }
                let tool = self.tool_index.len();
                self.tool_index.push((index, tool));
                vec![self.chunk(
                    json!({"tool_calls": [{"index": tool, "id": block.get("id"), "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                )]
            }
            Some("thinking") => {
                self.thinking.clear();
                vec![]
            }
            Some("redacted_thinking") => {
                vec![self.chunk(json!({"thinking_blocks": [block]}), None)]
            }
            Some("text") => match block
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                Some(t) => vec![self.chunk(json!({"content": t}), None)],
                None => vec![],
            },
            _ => vec![],
        }
    }

    fn block_delta(&mut self, data: &Value) -> Vec<Chunk> {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let delta = data.get("delta").unwrap_or(&Value::Null);
        let str_of = |k: &str| {
            delta
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => vec![self.chunk(json!({"content": str_of("text")}), None)],
            Some("thinking_delta") => {
                let t = str_of("thinking");
                self.thinking.push_str(&t);
                vec![self.chunk(json!({"reasoning_content": t}), None)]
            }
            Some("signature_delta") => {
                let block = json!({"type": "thinking", "thinking": self.thinking, "signature": str_of("signature")});
                vec![self.chunk(json!({"thinking_blocks": [block]}), None)]
            }
            Some("input_json_delta") => {
                let partial = str_of("partial_json");
                if self.json_block == Some(index) {
                    return vec![self.chunk(json!({"content": partial}), None)];
                }
                match self.tool_index.iter().find(|(i, _)| *i == index) {
                    Some((_, tool)) => vec![self.chunk(
                        json!({"tool_calls": [{"index": tool, "function": {"arguments": partial}}]}),
                        None,
                    )],
                    None => vec![],
                }
            }
            _ => vec![],
        }
    }
}

/// Adds the fields of `from` into `into` (later usage values win).
fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            if !v.is_null() {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}
