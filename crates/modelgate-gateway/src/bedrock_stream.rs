//! The Bedrock stream: decodes ConverseStream's AWS event-stream frames as they arrive,
//! meters usage (the `metadata` event) and text, and translates each event to the client's
//! schema with the stream side of a translation-table pair (chat chunks, or Anthropic or
//! Responses events through a chain). Ends a broken or incomplete stream with an error
//! event; records usage once, also when the client goes away.

use crate::error_events::FrontSchema;
use crate::stream::coalesce;
use crate::stream_meter::StreamMeter;
use bytes::Bytes;
use futures_util::Stream;
use modelgate_core::usage::TokenUsage;
use modelgate_metering::meter::UsageGuard;
use modelgate_providers::aws_eventstream::{AwsEvent, EventStreamDecoder};
use modelgate_translate::pairs::{Event, EventMapper};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Bedrock's usage object → token usage (cache reads and writes are input tokens).
pub fn bedrock_usage(u: &Value) -> Option<TokenUsage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let input = n("inputTokens")?;
    let cached = n("cacheReadInputTokens").unwrap_or(0);
    let written = n("cacheWriteInputTokens").unwrap_or(0);
    Some(TokenUsage {
        input_tokens: input + cached + written,
        output_tokens: n("outputTokens").unwrap_or(0),
        cached_tokens: cached,
        cache_write_tokens: written,
        reasoning_tokens: 0,
    })
}

pub struct BedrockStream {
    upstream: ByteStream,
    decoder: EventStreamDecoder,
    /// Bedrock events → the client's events.
    translator: Box<dyn EventMapper>,
    meter: StreamMeter,
    out: VecDeque<Bytes>,
    saw_error: bool,
    upstream_ended: bool,
}

impl BedrockStream {
    /// Ends the stream with an error event if the upstream is silent for `limit`.
    pub fn with_idle_timeout(mut self, limit: Option<std::time::Duration>) -> Self {
        self.meter.watch_idle(limit);
        self
    }

    pub fn new(
        upstream: ByteStream,
        translator: Box<dyn EventMapper>,
        front: FrontSchema,
        guard: UsageGuard,
        request_body: Bytes,
        provider: String,
    ) -> Self {
        Self {
            upstream,
            decoder: EventStreamDecoder::default(),
            translator,
            meter: StreamMeter::new(guard, request_body, provider, front),
            out: VecDeque::new(),
            saw_error: false,
            upstream_ended: false,
        }
    }

    fn on_event(&mut self, ev: AwsEvent) {
        let payload: Value = serde_json::from_slice(&ev.payload).unwrap_or(Value::Null);
        let event = if ev.exception {
            self.saw_error = true;
            Event::Exception {
                kind: ev.kind,
                data: payload,
            }
        } else {
            match ev.kind.as_str() {
                "metadata" => {
                    if let Some(u) = payload.get("usage").and_then(bedrock_usage) {
                        *self.meter.reported_usage() = u;
                    }
                }
                "contentBlockDelta" => {
                    let d = payload.get("delta").unwrap_or(&Value::Null);
                    let len = d.get("text").and_then(Value::as_str).map_or(0, str::len)
                        + d.pointer("/toolUse/input")
                            .and_then(Value::as_str)
                            .map_or(0, str::len)
                        + d.pointer("/reasoningContent/text")
                            .and_then(Value::as_str)
                            .map_or(0, str::len);
                    self.meter.text(len);
                }
                _ => {}
            }
            Event::Data {
                name: Some(Cow::Owned(ev.kind)),
                data: payload,
            }
        };
        let out = self.translator.on_event(event);
        self.out.extend(out.iter().map(crate::mappers::write));
    }
}

/// The translator's own failure events, as SSE.
fn failure(translator: &mut Box<dyn EventMapper>, code: &str, message: &str) -> Vec<Bytes> {
    translator
        .fail(code, message)
        .iter()
        .map(crate::mappers::write)
        .collect()
}

impl Stream for BedrockStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if !this.meter.is_finished() {
                match this.decoder.next_event() {
                    Ok(Some(ev)) => {
                        this.on_event(ev);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let mut fail = |c: &str, m: &str| failure(&mut this.translator, c, m);
                        this.meter.break_stream(
                            &mut this.out,
                            &e.to_string(),
                            "stream_malformed",
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
            if this.saw_error || this.upstream_ended {
                let complete = this.translator.is_complete();
                let mut fail = |c: &str, m: &str| failure(&mut this.translator, c, m);
                this.meter
                    .end(&mut this.out, complete, this.saw_error, &mut fail);
                continue;
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    let mut fail = |c: &str, m: &str| failure(&mut this.translator, c, m);
                    if this.meter.check_idle(cx, &mut this.out, &mut fail) {
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    this.meter.upstream_read();
                    this.decoder.push(&chunk);
                }
                Poll::Ready(Some(Err(_))) => {
                    let msg = format!("the stream from provider '{}' broke", this.meter.provider());
                    let mut fail = |c: &str, m: &str| failure(&mut this.translator, c, m);
                    this.meter
                        .break_stream(&mut this.out, &msg, "stream_broken", &mut fail);
                }
                Poll::Ready(None) => this.upstream_ended = true,
            }
        }
    }
}
