//! [`StreamMeter`]: the usage bookkeeping every streamed response shares — the record's
//! [`UsageGuard`], the usage the upstream reported, and an estimate built from the text
//! seen, used when the upstream reports none. Its record is sent once: when the stream
//! ends or breaks, or from `Drop` when the client goes away mid-stream. The record is
//! journaled before the stream's last bytes go out.

use crate::error_events::{FrontSchema, error_event};
use crate::estimate;
use bytes::Bytes;
use modelgate_core::usage::{Outcome, TokenUsage};
use modelgate_metering::meter::UsageGuard;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// A watchdog on the time between upstream reads. One timer per stream, re-armed only when
/// it fires (each read just notes the time), so reads cost no timer work.
struct IdleWatch {
    limit: Duration,
    last: Instant,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl IdleWatch {
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            let deadline = self.last + self.limit;
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            self.sleep.as_mut().reset(deadline.into());
        }
    }
}

/// The events a stream's translator sends its client when the stream fails (`code`,
/// `message`); none means the generic error event of the client's schema.
pub type Failure<'a> = &'a mut dyn FnMut(&str, &str) -> Vec<Bytes>;

/// No translator: the generic error event.
pub fn no_failure(_: &str, _: &str) -> Vec<Bytes> {
    Vec::new()
}

pub struct StreamMeter {
    guard: UsageGuard,
    request_body: Bytes,
    provider: String,
    front: FrontSchema,
    saw_usage: bool,
    estimated_output: u64,
    finished: bool,
    idle: Option<IdleWatch>,
}

impl StreamMeter {
    pub fn new(
        guard: UsageGuard,
        request_body: Bytes,
        provider: String,
        front: FrontSchema,
    ) -> Self {
        Self {
            guard,
            request_body,
            provider,
            front,
            saw_usage: false,
            estimated_output: 0,
            finished: false,
            idle: None,
        }
    }

    /// Ends the stream if the upstream sends nothing for `limit`.
    pub fn watch_idle(&mut self, limit: Option<Duration>) {
        self.idle = limit.map(|limit| IdleWatch {
            limit,
            last: Instant::now(),
            sleep: Box::pin(tokio::time::sleep(limit)),
        });
    }

    /// The upstream sent something.
    pub fn upstream_read(&mut self) {
        if let Some(w) = &mut self.idle {
            w.last = Instant::now();
        }
    }

    /// Called when the upstream has nothing yet: breaks the stream (error event in the
    /// client's schema) once it has been silent too long. True if it did.
    pub fn check_idle(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Bytes>,
        fail: Failure<'_>,
    ) -> bool {
        let expired = match &mut self.idle {
            Some(w) if !self.finished => w.poll_expired(cx).is_ready(),
            _ => false,
        };
        if expired {
            let msg = format!(
                "provider '{}' stopped sending in the middle of the stream",
                self.provider
            );
            self.break_stream(out, &msg, "stream_idle_timeout", fail);
        }
        expired
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Generated text of `len` bytes was seen (the first one marks time to first token).
    pub fn text(&mut self, len: usize) {
        if len > 0 {
            self.guard.mark_first_byte();
        }
        self.estimated_output += estimate::chunk_tokens(len);
    }

    /// The usage the upstream reported, to update in place.
    pub fn reported_usage(&mut self) -> &mut TokenUsage {
        self.saw_usage = true;
        &mut self.guard.usage
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sends the record (estimating usage if the upstream reported none). Once.
    pub fn finish(&mut self, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        if !self.saw_usage {
            self.guard.usage = TokenUsage {
                input_tokens: estimate::prompt_tokens(&self.request_body),
                output_tokens: self.estimated_output,
                ..TokenUsage::default()
            };
            self.guard.usage_estimated = true;
        } else if outcome != Outcome::Ok {
            // A stream cut short may have reported only its start (Anthropic's
            // `message_start` counts one output token): it is billed the larger of what
            // the upstream reported and what the gateway relayed.
            let usage = &mut self.guard.usage;
            if usage.output_tokens < self.estimated_output {
                usage.output_tokens = self.estimated_output;
                self.guard.usage_estimated = true;
            }
            if usage.input_tokens == 0 {
                usage.input_tokens = estimate::prompt_tokens(&self.request_body);
                self.guard.usage_estimated = true;
            }
        }
        self.guard.finish(outcome);
    }

    /// Ends the stream with an error event in the client's schema: the translator's own
    /// (a Responses client gets `response.failed` in its sequence), else the generic one.
    pub fn break_stream(
        &mut self,
        out: &mut VecDeque<Bytes>,
        message: &str,
        code: &str,
        fail: Failure<'_>,
    ) {
        modelgate_metering::telemetry::upstream_failure(
            &self.provider,
            modelgate_core::ErrorKind::UpstreamInvalid,
        );
        let own = fail(code, message);
        if own.is_empty() {
            out.push_back(error_event(self.front, message, code));
        } else {
            out.extend(own);
        }
        self.finish(Outcome::StreamBroken);
    }

    /// The upstream ended: complete, failed with an error of its own, or cut short.
    pub fn end(
        &mut self,
        out: &mut VecDeque<Bytes>,
        complete: bool,
        upstream_error: bool,
        fail: Failure<'_>,
    ) {
        if complete {
            self.finish(Outcome::Ok);
        } else if upstream_error {
            self.finish(Outcome::UpstreamError);
        } else {
            let msg = format!(
                "provider '{}' ended the stream before it was complete",
                self.provider
            );
            self.break_stream(out, &msg, "stream_incomplete", fail);
        }
    }
}

impl Drop for StreamMeter {
    fn drop(&mut self) {
        // The client went away mid-stream: record what was seen so far.
        self.finish(Outcome::ClientDisconnected);
    }
}
