//! OpenAI chat completion chunks → the Responses event stream, one chunk at a time:
//! `response.created`, `response.in_progress`, then per output item `output_item.added`,
//! its parts and deltas (`reasoning_summary_*`, `content_part.*` + `output_text.*`,
//! `function_call_arguments.*`) and `output_item.done`, then `response.completed` (or
//! `response.incomplete`) carrying the whole response and its usage. An upstream error
//! ends the stream with `response.failed`. Every event has a `sequence_number`.

use super::response::{item_id, message_item, object, status, usage};
use super::tools::call_item;
use super::{Context, reasoning};
use crate::exchange::{Event, EventMapper};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug)]
struct OpenReasoning {
    index: usize,
    id: String,
    text: String,
    blocks: Vec<Value>,
}

#[derive(Debug)]
struct OpenMessage {
    index: usize,
    id: String,
    text: String,
}

#[derive(Debug)]
struct OpenCall {
    index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
    /// Arguments stream as deltas (not for custom inputs and tool searches).
    streams: bool,
}

#[derive(Debug)]
pub struct StreamTranslator {
    ctx: Context,
    seq: u64,
    started: bool,
    next_index: usize,
    /// Finished items by output index.
    output: BTreeMap<usize, Value>,
    reasoning: Option<OpenReasoning>,
    message: Option<OpenMessage>,
    /// Open function calls by the chat chunk's tool call index.
    calls: BTreeMap<u64, OpenCall>,
    finish: Option<String>,
    usage: Value,
    done: bool,
    failed: bool,
}

impl StreamTranslator {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            seq: 0,
            started: false,
            next_index: 0,
            output: BTreeMap::new(),
            reasoning: None,
            message: None,
            calls: BTreeMap::new(),
            finish: None,
            usage: Value::Null,
            done: false,
            failed: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<Event>, name: &'static str, mut data: Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.push(Event::named(name, data));
    }

    fn start(&mut self, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = object(&self.ctx, "in_progress", Vec::new(), Map::new());
        self.emit(
            out,
            "response.created",
            json!({"response": response.clone()}),
        );
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    fn take_index(&mut self) -> usize {
        let i = self.next_index;
        self.next_index += 1;
        i
    }

    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<Event>) {
        self.start(out);
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            self.fail_with(err, out);
            return;
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = u.clone();
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        let thinking = delta
            .get("reasoning_content")
            .or_else(|| delta.get("reasoning"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let blocks = delta.get("thinking_blocks").and_then(Value::as_array);
        if !thinking.is_empty() || blocks.is_some() {
            self.reasoning_delta(thinking, blocks.map(Vec::as_slice).unwrap_or_default(), out);
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.text_delta(text, out);
        }
        for (position, call) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            self.call_delta(call, position, out);
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
    }

    fn reasoning_delta(&mut self, text: &str, blocks: &[Value], out: &mut Vec<Event>) {
        if self.reasoning.is_none() {
            self.close_message(out);
            let index = self.take_index();
            let id = item_id(&self.ctx, "rs", index);
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
            );
            self.reasoning = Some(OpenReasoning {
                index,
                id,
                text: String::new(),
                blocks: Vec::new(),
            });
        }
        let Some(r) = self.reasoning.as_mut() else {
            return;
        };
        r.blocks.extend(blocks.iter().cloned());
        if text.is_empty() {
            return;
        }
        let first = r.text.is_empty();
        r.text.push_str(text);
        let (id, index) = (r.id.clone(), r.index);
        if first {
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
            );
        }
        self.emit(
            out,
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}),
        );
    }

    fn close_reasoning(&mut self, out: &mut Vec<Event>) {
        let Some(r) = self.reasoning.take() else {
            return;
        };
        if !r.text.is_empty() {
            let base = json!({"item_id": r.id, "output_index": r.index, "summary_index": 0});
            let mut done = base.clone();
            done["text"] = json!(r.text);
            self.emit(out, "response.reasoning_summary_text.done", done);
            let mut part = base;
            part["part"] = json!({"type": "summary_text", "text": r.text});
            self.emit(out, "response.reasoning_summary_part.done", part);
        }
        let item = reasoning::item(&r.id, &r.text, &r.blocks);
        self.item_done(r.index, item, out);
    }

    fn text_delta(&mut self, text: &str, out: &mut Vec<Event>) {
        if self.message.is_none() {
            self.close_reasoning(out);
            let index = self.take_index();
            let id = item_id(&self.ctx, "msg", index);
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": index, "item": {"type": "message", "id": id,
                    "status": "in_progress", "role": "assistant", "content": []}}),
            );
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
            );
            self.message = Some(OpenMessage {
                index,
                id,
                text: String::new(),
            });
        }
        let Some(m) = self.message.as_mut() else {
            return;
        };
        m.text.push_str(text);
        let (id, index) = (m.id.clone(), m.index);
        self.emit(
            out,
            "response.output_text.delta",
            json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
        );
    }

    fn close_message(&mut self, out: &mut Vec<Event>) {
        let Some(m) = self.message.take() else {
            return;
        };
        let base = json!({"item_id": m.id, "output_index": m.index, "content_index": 0});
        let mut done = base.clone();
        done["text"] = json!(m.text);
        done["logprobs"] = json!([]);
        self.emit(out, "response.output_text.done", done);
        let mut part = base;
        part["part"] =
            json!({"type": "output_text", "text": m.text, "annotations": [], "logprobs": []});
        self.emit(out, "response.content_part.done", part);
        let item = message_item(&m.id, &m.text, "completed");
        self.item_done(m.index, item, out);
    }

    fn call_delta(&mut self, call: &Value, position: usize, out: &mut Vec<Event>) {
        // Servers that leave `index` out send each call whole in one chunk: a call with an
        // id of its own is a new call, placed after the ones seen.
        let key = match call.get("index").and_then(Value::as_u64) {
            Some(i) => i,
            None if call.get("id").and_then(Value::as_str).is_some() => self
                .calls
                .keys()
                .next_back()
                .map_or(position as u64, |k| k + 1),
            None => self.calls.keys().next_back().copied().unwrap_or(0),
        };
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !self.calls.contains_key(&key) {
            self.close_reasoning(out);
            self.close_message(out);
            let index = self.take_index();
            let id = item_id(&self.ctx, "fc", index);
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let call_id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{id}"), str::to_owned);
            let streams = self.ctx.tools.streams_arguments(&name);
            let item = call_item(&self.ctx.tools, &id, &call_id, &name, "", "in_progress");
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            );
            self.calls.insert(
                key,
                OpenCall {
                    index,
                    id,
                    call_id,
                    name,
                    arguments: String::new(),
                    streams,
                },
            );
        }
        let Some(c) = self.calls.get_mut(&key) else {
            return;
        };
        if args.is_empty() {
            return;
        }
        c.arguments.push_str(args);
        // A custom tool's input is one JSON string argument, a tool search's arguments an
        // object: both are sent whole at the end.
        if !c.streams {
            return;
        }
        let (id, index) = (c.id.clone(), c.index);
        self.emit(
            out,
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": args}),
        );
    }

    fn close_calls(&mut self, out: &mut Vec<Event>) {
        for c in std::mem::take(&mut self.calls).into_values() {
            let item = call_item(
                &self.ctx.tools,
                &c.id,
                &c.call_id,
                &c.name,
                &c.arguments,
                "completed",
            );
            match item.get("type").and_then(Value::as_str) {
                Some("custom_tool_call") => {
                    let input = item.get("input").cloned().unwrap_or(json!(""));
                    self.emit(
                        out,
                        "response.custom_tool_call_input.done",
                        json!({"item_id": c.id, "output_index": c.index, "input": input}),
                    );
                }
                Some("function_call") => {
                    let name = item.get("name").cloned().unwrap_or(json!(""));
                    self.emit(
                        out,
                        "response.function_call_arguments.done",
                        json!({"item_id": c.id, "output_index": c.index, "name": name, "arguments": c.arguments}),
                    );
                }
                _ => {}
            }
            self.item_done(c.index, item, out);
        }
    }

    fn item_done(&mut self, index: usize, item: Value, out: &mut Vec<Event>) {
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        self.output.insert(index, item);
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        self.start(out);
        self.close_reasoning(out);
        self.close_message(out);
        self.close_calls(out);
        self.done = true;
        let (status, incomplete) = status(self.finish.as_deref());
        let mut extra = Map::new();
        extra.insert("usage".into(), usage(&self.usage));
        extra.insert("incomplete_details".into(), incomplete);
        let output = std::mem::take(&mut self.output).into_values().collect();
        let response = object(&self.ctx, status, output, extra);
        let name = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.emit(out, name, json!({"response": response}));
    }

    fn fail_with(&mut self, err: &Value, out: &mut Vec<Event>) {
        self.failed = true;
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the upstream reported an error");
        let code = err
            .get("code")
            .and_then(Value::as_str)
            .or_else(|| err.get("type").and_then(Value::as_str))
            .unwrap_or("upstream_error");
        let mut extra = Map::new();
        extra.insert("error".into(), json!({"code": code, "message": message}));
        let output = std::mem::take(&mut self.output).into_values().collect();
        let response = object(&self.ctx, "failed", output, extra);
        self.emit(out, "response.failed", json!({"response": response}));
    }
}

impl EventMapper for StreamTranslator {
    /// Feeds one upstream event (a chat chunk or `[DONE]`).
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let mut out = Vec::new();
        if self.done || self.failed {
            return out;
        }
        match event {
            Event::Done => self.finish(&mut out),
            Event::Data { data, .. } => self.on_chunk(&data, &mut out),
            Event::Exception { .. } => {}
        }
        out
    }

    /// Whether `response.completed` (or `response.incomplete`) was sent.
    fn is_complete(&self) -> bool {
        self.done && !self.failed
    }

    /// Ends the stream with `response.failed` for a failure the gateway saw (a broken or
    /// silent upstream): `response.created` first if nothing was sent yet, so clients that
    /// expect it still read the error.
    fn fail(&mut self, code: &str, message: &str) -> Vec<Event> {
        let mut out = Vec::new();
        if self.done || self.failed {
            return out;
        }
        self.start(&mut out);
        self.fail_with(&json!({"code": code, "message": message}), &mut out);
        out
    }
}
