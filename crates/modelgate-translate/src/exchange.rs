//! What every translation shares, so that the table ([`crate::pairs`]) and each pair's
//! module depend on it and not on each other: the two ends ([`Front`], [`Back`]), where a
//! request goes ([`Target`]), stream [`Event`]s, and the two traits a pair implements —
//! [`Exchange`] (a request's answer back, whole or as a stream) and [`EventMapper`] (a
//! stream translator fed one event at a time).

use crate::Translated;
use crate::anthropic_to_openai::Flavor;
use crate::util::UnixSeconds;
use serde_json::Value;
use std::borrow::Cow;

/// The API a client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// OpenAI `POST /v1/chat/completions`.
    Chat,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// OpenAI `POST /v1/responses`.
    Responses,
}

/// The API an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    /// OpenAI chat completions (OpenAI, Azure, every OpenAI-compatible server).
    Chat,
    /// Anthropic Messages.
    Messages,
    /// AWS Bedrock Converse / ConverseStream.
    Converse,
}

/// What a translator must know about where the request goes.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The upstream's model id.
    pub model: &'a str,
    /// How an OpenAI-schema upstream takes its parameters.
    pub flavor: Flavor,
    /// Now, for `created` fields.
    pub now: UnixSeconds,
    /// A unique id for this request (response ids are derived from it).
    pub id: &'a str,
}

/// One stream event, in either direction.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An SSE event (`event:` name if any, and the parsed `data`), or a Bedrock frame (its
    /// `:event-type` as the name, and the payload).
    Data {
        name: Option<Cow<'static, str>>,
        data: Value,
    },
    /// The `[DONE]` terminator of OpenAI chat streams.
    Done,
    /// A Bedrock exception frame (its `:exception-type` and payload).
    Exception { kind: String, data: Value },
}

impl Event {
    /// An unnamed `data:` event.
    pub fn data(data: Value) -> Self {
        Event::Data { name: None, data }
    }

    /// A named event (`event: name`).
    pub fn named(name: &'static str, data: Value) -> Self {
        Event::Data {
            name: Some(Cow::Borrowed(name)),
            data,
        }
    }
}

impl From<crate::openai_to_anthropic::stream::Chunk> for Event {
    /// A chat chunk produced by a translator (or its `[DONE]`).
    fn from(chunk: crate::openai_to_anthropic::stream::Chunk) -> Self {
        match chunk {
            crate::openai_to_anthropic::stream::Chunk::Data(v) => Event::data(v),
            crate::openai_to_anthropic::stream::Chunk::Done => Event::Done,
        }
    }
}

/// A stream translator: fed one upstream event at a time, gives the client's events.
pub trait EventMapper: Send {
    fn on_event(&mut self, event: Event) -> Vec<Event>;
    /// Whether the upstream's stream reached its proper end (an incomplete stream is
    /// ended by the gateway with an error event).
    fn is_complete(&self) -> bool;

    /// The client's events for a stream the gateway must end with a failure (`code`,
    /// `message`): a client schema whose streams end in a typed event of their own sends
    /// it here; none means the gateway's generic error event.
    fn fail(&mut self, _code: &str, _message: &str) -> Vec<Event> {
        Vec::new()
    }
}

/// One request's translation, after the request side: how its answer comes back.
pub trait Exchange: Send + Sync {
    /// A whole (non-streamed) upstream response → the client's.
    fn response(&self, upstream: &Value) -> Value;
    /// The stream translator for this request.
    fn stream(&self) -> Box<dyn EventMapper>;
}

/// A request translation's result: the upstream body, the dropped parameters, and the
/// exchange that maps the answer back.
pub type Translation = Translated<Box<dyn Exchange>>;
