//! The metered stream: forwards an upstream's SSE events to the client as they arrive
//! (each event is a zero-copy slice of what the upstream sent), while reading usage from
//! them. It hides the usage-only chunk when the gateway, not the client, asked for usage;
//! estimates tokens when the upstream sends none; and ends a broken stream with an error
//! event — never with a clean end the client would mistake for a complete answer. Its
//! usage record is sent when the stream ends, breaks, or is dropped by a disconnecting
//! client (which also drops, and so cancels, the upstream request).

pub use crate::error_events::{FrontSchema, error_event};
use crate::stream_meter::StreamMeter;
use bytes::Bytes;
use futures_util::Stream;
use modelgate_core::usage::TokenUsage;
use modelgate_metering::meter::UsageGuard;
use modelgate_providers::sse::{SseSplitter, parse_event};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Usage as OpenAI-schema upstreams report it (chat, completions, responses).
#[derive(Debug, Default, Deserialize)]
pub struct UsagePeek {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: u64,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: u64,
    #[serde(default, alias = "input_tokens_details")]
    pub prompt_tokens_details: Option<CachedPeek>,
    #[serde(default, alias = "output_tokens_details")]
    pub completion_tokens_details: Option<ReasoningPeek>,
    /// Cache writes, where the upstream reports them (the gateway's own translations of
    /// Anthropic and Bedrock answers, LiteLLM-style servers).
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct CachedPeek {
    #[serde(default)]
    pub cached_tokens: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningPeek {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl From<&UsagePeek> for TokenUsage {
    fn from(u: &UsagePeek) -> Self {
        TokenUsage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cached_tokens: u
                .prompt_tokens_details
                .as_ref()
                .map_or(0, |d| d.cached_tokens),
            cache_write_tokens: u.cache_creation_input_tokens,
            reasoning_tokens: u
                .completion_tokens_details
                .as_ref()
                .map_or(0, |d| d.reasoning_tokens),
        }
    }
}

#[derive(Deserialize)]
struct ChunkPeek<'a> {
    #[serde(borrow, default)]
    choices: Option<Vec<ChoicePeek<'a>>>,
    #[serde(default)]
    usage: Option<UsagePeek>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ChoicePeek<'a> {
    #[serde(borrow, default)]
    delta: Option<DeltaPeek<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct DeltaPeek<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolCallPeek<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallPeek<'a> {
    #[serde(borrow, default)]
    function: Option<FunctionPeek<'a>>,
}

#[derive(Deserialize)]
struct FunctionPeek<'a> {
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

fn text_len(choices: &[ChoicePeek<'_>]) -> usize {
    let len = |s: &Option<Cow<'_, str>>| s.as_ref().map_or(0, |s| s.len());
    choices
        .iter()
        .map(|c| {
            len(&c.text)
                + c.delta.as_ref().map_or(0, |d| {
                    len(&d.content)
                        + len(&d.reasoning_content)
                        + d.tool_calls.as_ref().map_or(0, |calls| {
                            calls
                                .iter()
                                .map(|t| t.function.as_ref().map_or(0, |f| len(&f.arguments)))
                                .sum()
                        })
                })
        })
        .sum()
}

/// One event of the Responses API stream (`response.output_text.delta`,
/// `response.completed`, …).
#[derive(Deserialize)]
struct ResponsesEventPeek<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<ResponseObjectPeek>,
}

#[derive(Deserialize)]
struct ResponseObjectPeek {
    #[serde(default)]
    usage: Option<UsagePeek>,
}

/// Which OpenAI streaming dialect the upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDialect {
    /// Chat and text completions: `data:` chunks, usage in a final chunk, `[DONE]`.
    Completions,
    /// The Responses API: typed events, usage in `response.completed`, no `[DONE]`.
    Responses,
    /// Anthropic Messages: `message_start` … `message_stop`, usage in `message_start` and
    /// `message_delta`.
    Anthropic,
}

/// Turns the upstream's events into the client's schema (when the two differ). It gets
/// each event's `data` bytes, and returns the bytes to send.
pub trait StreamMapper: Send {
    /// One event: its `event:` name, if any, and its `data`.
    fn map(&mut self, name: Option<&[u8]>, data: &[u8]) -> Vec<Bytes>;

    /// The client's own events for a stream that fails (none: the generic error event).
    fn fail(&mut self, _code: &str, _message: &str) -> Vec<Bytes> {
        Vec::new()
    }
}

/// The failure events of a stream's mapper, if it has one.
fn mapper_failure(
    mapper: &mut Option<Box<dyn StreamMapper>>,
    code: &str,
    message: &str,
) -> Vec<Bytes> {
    mapper
        .as_mut()
        .map_or_else(Vec::new, |m| m.fail(code, message))
}

#[derive(Deserialize)]
struct AnthropicEventPeek<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default)]
    message: Option<AnthropicMessagePeek>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(borrow, default)]
    delta: Option<AnthropicDeltaPeek<'a>>,
}

#[derive(Deserialize)]
struct AnthropicMessagePeek {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicDeltaPeek<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
}

/// Anthropic's usage object; input tokens exclude cache reads and writes.
#[derive(Debug, Default, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Merges into `into` the fields this usage reports.
    pub fn apply(&self, into: &mut TokenUsage) {
        if self.input_tokens.is_some() || self.cache_read_input_tokens.is_some() {
            let cached = self.cache_read_input_tokens.unwrap_or(0);
            let written = self.cache_creation_input_tokens.unwrap_or(0);
            into.input_tokens = self.input_tokens.unwrap_or(0) + cached + written;
            into.cached_tokens = cached;
            into.cache_write_tokens = written;
        }
        if let Some(out) = self.output_tokens {
            into.output_tokens = out;
        }
    }
}

/// Joins queued output into one frame (no copy when there is only one piece).
pub fn coalesce(out: &mut VecDeque<Bytes>) -> Bytes {
    if out.len() == 1 {
        return out.pop_front().unwrap_or_default();
    }
    let mut joined = bytes::BytesMut::with_capacity(out.iter().map(Bytes::len).sum());
    for piece in out.drain(..) {
        joined.extend_from_slice(&piece);
    }
    joined.freeze()
}

pub struct MeteredStream {
    upstream: ByteStream,
    splitter: SseSplitter,
    meter: StreamMeter,
    hide_usage_chunk: bool,
    dialect: StreamDialect,
    mapper: Option<Box<dyn StreamMapper>>,
    out: VecDeque<Bytes>,
    saw_done: bool,
    saw_error: bool,
    upstream_ended: bool,
}

/// How a metered stream reads its upstream and writes to its client.
pub struct StreamPlan {
    /// The upstream's dialect (for usage and completion).
    pub dialect: StreamDialect,
    /// The client's schema (for error events).
    pub front: FrontSchema,
    /// Drop the usage-only chunk the gateway asked for (pass-through only).
    pub hide_usage_chunk: bool,
    /// Translates events when the schemas differ; `None` forwards them untouched.
    pub mapper: Option<Box<dyn StreamMapper>>,
}

impl MeteredStream {
    pub fn new(
        upstream: ByteStream,
        guard: UsageGuard,
        request_body: Bytes,
        plan: StreamPlan,
        provider: String,
    ) -> Self {
        let StreamPlan {
            dialect,
            front,
            hide_usage_chunk,
            mapper,
        } = plan;
        Self {
            upstream,
            splitter: SseSplitter::default(),
            meter: StreamMeter::new(guard, request_body, provider, front),
            hide_usage_chunk,
            dialect,
            mapper,
            out: VecDeque::new(),
            saw_done: false,
            saw_error: false,
            upstream_ended: false,
        }
    }

    /// Ends the stream with an error event if the upstream is silent for `limit`.
    pub fn with_idle_timeout(mut self, limit: Option<std::time::Duration>) -> Self {
        self.meter.watch_idle(limit);
        self
    }

    /// Meters one event and queues what the client gets for it.
    fn on_event(&mut self, event: Bytes) {
        let forward = self.meter_event(&event);
        match &mut self.mapper {
            None => {
                if forward {
                    self.out.push_back(event);
                }
            }
            Some(mapper) => {
                let parsed = parse_event(&event);
                if let Some(data) = parsed.data {
                    self.out.extend(mapper.map(parsed.event, &data));
                }
            }
        }
    }

    /// Reads usage and completion from one upstream event; false if the event is to be
    /// hidden from the client.
    fn meter_event(&mut self, event: &[u8]) -> bool {
        let parsed = parse_event(event);
        let Some(data) = parsed.data else {
            return true;
        };
        if data.as_ref() == b"[DONE]" {
            self.saw_done = true;
            return true;
        }
        match self.dialect {
            StreamDialect::Responses => {
                self.on_responses_event(&data);
                return true;
            }
            StreamDialect::Anthropic => {
                self.on_anthropic_event(&data);
                return true;
            }
            StreamDialect::Completions => {}
        }
        let Ok(chunk) = serde_json::from_slice::<ChunkPeek<'_>>(&data) else {
            return true;
        };
        if chunk.error.is_some() {
            self.saw_error = true;
        }
        if let Some(choices) = &chunk.choices {
            self.meter.text(text_len(choices));
        }
        if let Some(usage) = &chunk.usage {
            *self.meter.reported_usage() = usage.into();
            let usage_only = chunk.choices.as_ref().is_some_and(Vec::is_empty);
            if self.hide_usage_chunk && usage_only {
                return false;
            }
        }
        true
    }

    /// Reads an Anthropic event: usage at start and in `message_delta`, text deltas,
    /// `message_stop` and `error`.
    fn on_anthropic_event(&mut self, data: &[u8]) {
        let Ok(ev) = serde_json::from_slice::<AnthropicEventPeek<'_>>(data) else {
            return;
        };
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(u) = ev.message.and_then(|m| m.usage) {
                    u.apply(self.meter.reported_usage());
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    u.apply(self.meter.reported_usage());
                }
            }
            "content_block_delta" => {
                let len = ev.delta.map_or(0, |d| {
                    d.text.map_or(0, |t| t.len())
                        + d.thinking.map_or(0, |t| t.len())
                        + d.partial_json.map_or(0, |t| t.len())
                });
                self.meter.text(len);
            }
            "message_stop" => self.saw_done = true,
            "error" => self.saw_error = true,
            _ => {}
        }
    }

    /// Reads a Responses API event: text deltas, the terminal events and their usage.
    fn on_responses_event(&mut self, data: &[u8]) {
        let Ok(ev) = serde_json::from_slice::<ResponsesEventPeek<'_>>(data) else {
            return;
        };
        if let Some(delta) = ev.delta.as_deref().filter(|_| ev.kind.ends_with(".delta")) {
            self.meter.text(delta.len());
        }
        match ev.kind.as_ref() {
            "response.completed" | "response.incomplete" => self.saw_done = true,
            "response.failed" | "error" => self.saw_error = true,
            _ => {}
        }
        if let Some(usage) = ev.response.and_then(|r| r.usage) {
            *self.meter.reported_usage() = (&usage).into();
        }
    }
}

impl Stream for MeteredStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // Everything the upstream has sent so far goes out as one frame: one write to
            // the client per upstream read, not one per event.
            if !this.meter.is_finished() {
                match this.splitter.next_event() {
                    Ok(Some(event)) => {
                        this.on_event(event);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let mut fail = |c: &str, m: &str| mapper_failure(&mut this.mapper, c, m);
                        this.meter.break_stream(
                            &mut this.out,
                            &e.to_string(),
                            "stream_event_too_large",
                            &mut fail,
                        );
                    }
                }
            }
            if !this.out.is_empty() {
                return Poll::Ready(Some(Ok(coalesce(&mut this.out))));
            }
            if this.meter.is_finished() {
                return Poll::Ready(None);
            }
            if this.upstream_ended {
                if let Some(rest) = this.splitter.finish() {
                    this.on_event(rest);
                }
                let mut fail = |c: &str, m: &str| mapper_failure(&mut this.mapper, c, m);
                this.meter
                    .end(&mut this.out, this.saw_done, this.saw_error, &mut fail);
                continue;
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    let mut fail = |c: &str, m: &str| mapper_failure(&mut this.mapper, c, m);
                    if this.meter.check_idle(cx, &mut this.out, &mut fail) {
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    this.meter.upstream_read();
                    this.splitter.push(chunk);
                }
                Poll::Ready(Some(Err(_))) => {
                    let msg = format!("the stream from provider '{}' broke", this.meter.provider());
                    let mut fail = |c: &str, m: &str| mapper_failure(&mut this.mapper, c, m);
                    this.meter
                        .break_stream(&mut this.out, &msg, "stream_broken", &mut fail);
                }
                Poll::Ready(None) => this.upstream_ended = true,
            }
        }
    }
}
