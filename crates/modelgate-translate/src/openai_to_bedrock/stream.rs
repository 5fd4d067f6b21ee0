//! Bedrock ConverseStream events (already decoded from AWS event-stream frames: the
//! `:event-type` and the JSON payload) → OpenAI chat completion chunks.

use super::Context;
use super::response::{ResponseMeta, finish_reason, usage};
use crate::json_mode;
use crate::openai_to_anthropic::stream::Chunk;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct StreamTranslator {
    ctx: Context,
    meta: ResponseMeta,
    /// Bedrock content block index → OpenAI tool call index.
    tools: Vec<(u64, usize)>,
    json_block: Option<u64>,
    reasoning: String,
    finish: Option<&'static str>,
    usage: Value,
    done: bool,
    failed: bool,
}

impl StreamTranslator {
    pub fn new(ctx: Context, meta: ResponseMeta) -> Self {
        Self {
            ctx,
            meta,
            tools: Vec::new(),
            json_block: None,
            reasoning: String::new(),
            finish: None,
            usage: Value::Null,
            done: false,
            failed: false,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.done && !self.failed
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Chunk {
        Chunk::Data(
            json!({"id": self.meta.id, "object": "chat.completion.chunk",
            "created": self.meta.created, "model": self.meta.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]}),
        )
    }

    /// An exception frame (`:message-type = exception`): an error chunk whose `type` says
    /// what kind of failure it is (so that a client of another schema can be told it was
    /// throttling or overload) and whose `code` is Bedrock's exception name.
    pub fn on_exception(&mut self, kind: &str, payload: &Value) -> Vec<Chunk> {
        self.failed = true;
        let error_type = match kind {
            "throttlingException" => "rate_limit_error",
            "serviceUnavailableException" => "overloaded_error",
            "validationException" => "invalid_request_error",
            _ => "api_error",
        };
        vec![Chunk::Data(json!({"error": {
            "message": payload.get("message").and_then(Value::as_str).unwrap_or("Bedrock stream error"),
            "type": error_type, "param": null, "code": kind}}))]
    }

    /// One event (`:event-type` and payload).
    pub fn on_event(&mut self, event_type: &str, p: &Value) -> Vec<Chunk> {
        if self.done || self.failed {
            return vec![];
        }
        let index = p
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match event_type {
            "messageStart" => vec![self.chunk(json!({"role": "assistant", "content": ""}), None)],
            // A thinking block that ended without a signature leaves no text for the next.
            "contentBlockStop" => {
                self.reasoning.clear();
                vec![]
            }
            "contentBlockStart" => {
                let Some(tu) = p.get("start").and_then(|s| s.get("toolUse")) else {
                    return vec![];
                };
                let name = tu.get("name").and_then(Value::as_str).unwrap_or("");
                if self.ctx.json_tool.as_deref() == Some(name) {
                    self.json_block = Some(index);
                    return vec![];
                }
                let tool = self.tools.len();
                self.tools.push((index, tool));
                vec![self.chunk(json!({"tool_calls": [{"index": tool, "id": tu.get("toolUseId"), "type": "function",
                    "function": {"name": name, "arguments": ""}}]}), None)]
            }
            "contentBlockDelta" => {
                let d = p.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    return vec![self.chunk(json!({"content": t}), None)];
                }
                if let Some(input) = d
                    .get("toolUse")
                    .and_then(|t| t.get("input"))
                    .and_then(Value::as_str)
                {
                    if self.json_block == Some(index) {
                        return vec![self.chunk(json!({"content": input}), None)];
                    }
                    return match self.tools.iter().find(|(i, _)| *i == index) {
                        Some((_, tool)) => vec![self.chunk(json!({"tool_calls": [{"index": tool, "function": {"arguments": input}}]}), None)],
                        None => vec![],
                    };
                }
                if let Some(r) = d.get("reasoningContent") {
                    if let Some(t) = r.get("text").and_then(Value::as_str) {
                        self.reasoning.push_str(t);
                        return vec![self.chunk(json!({"reasoning_content": t}), None)];
                    }
                    if let Some(sig) = r.get("signature") {
                        // The signature closes this thinking block: the next one starts empty.
                        let thinking = std::mem::take(&mut self.reasoning);
                        let block =
                            json!({"type": "thinking", "thinking": thinking, "signature": sig});
                        return vec![self.chunk(json!({"thinking_blocks": [block]}), None)];
                    }
                    if let Some(data) = r.get("redactedContent") {
                        let block = json!({"type": "redacted_thinking", "data": data});
                        return vec![self.chunk(json!({"thinking_blocks": [block]}), None)];
                    }
                }
                vec![]
            }
            "messageStop" => {
                let reason = finish_reason(p.get("stopReason").and_then(Value::as_str));
                let reason = match self.json_block {
                    Some(_) => json_mode::finish_reason(reason, !self.tools.is_empty()),
                    None => reason,
                };
                // Sent with the closing `metadata`, so a stream that never completes does
                // not show a finish reason before its error.
                self.finish = Some(reason);
                vec![]
            }
            "metadata" => {
                self.usage = p.get("usage").cloned().unwrap_or(Value::Null);
                self.done = true;
                let mut out = vec![self.chunk(json!({}), Some(self.finish.unwrap_or("stop")))];
                if self.ctx.include_usage {
                    out.push(Chunk::Data(json!({"id": self.meta.id, "object": "chat.completion.chunk", "created": self.meta.created, "model": self.meta.model,
                        "choices": [], "usage": usage(&self.usage)})));
                }
                out.push(Chunk::Done);
                out
            }
            _ => vec![],
        }
    }
}
