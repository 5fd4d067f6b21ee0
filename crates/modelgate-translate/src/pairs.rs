//! The translation table: every (front schema, back schema) pair the gateway translates,
//! as one [`Pair`] value with its request, response, stream and error mappings.
//!
//! A pair is either direct (one module of this crate) or a chain of two pairs through the
//! OpenAI chat schema (Anthropic clients reach Bedrock through `anthropic_to_openai` then
//! `openai_to_bedrock`; Responses clients reach Anthropic and Bedrock through
//! `responses_to_openai` then the chat pair). Adding a pair is one module and one line in
//! [`PAIRS`]; the gateway only ever calls [`find`] and the traits below.
//!
//! Streams are uniform: each upstream event is an [`Event`] (an SSE event's name and
//! parsed `data`, `[DONE]`, or a decoded Bedrock frame), each output is an [`Event`] the
//! gateway writes as SSE. A chain feeds the first stage's output to the second.

use crate::anthropic_to_openai::Flavor;
use crate::{TranslateError, Translated};
use serde_json::Value;

pub use crate::exchange::{Back, Event, EventMapper, Exchange, Front, Target, Translation};

type RequestFn = fn(&Value, &Target<'_>) -> Result<Translation, TranslateError>;

/// How a pair translates.
#[derive(Clone, Copy)]
enum Steps {
    Direct(RequestFn),
    /// Through OpenAI chat: the first pair (in its intermediate flavor), then the second.
    Chain(&'static Pair, &'static Pair),
}

/// One (front, back) pair.
#[derive(Clone, Copy)]
pub struct Pair {
    pub front: Front,
    pub back: Back,
    steps: Steps,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pair({:?} → {:?})", self.front, self.back)
    }
}

impl Pair {
    const fn direct(front: Front, back: Back, request: RequestFn) -> Self {
        Self {
            front,
            back,
            steps: Steps::Direct(request),
        }
    }

    const fn chain(first: &'static Pair, second: &'static Pair) -> Self {
        Self {
            front: first.front,
            back: second.back,
            steps: Steps::Chain(first, second),
        }
    }

    /// Translates a request body for this pair.
    pub fn request(
        &self,
        body: &Value,
        target: &Target<'_>,
    ) -> Result<Translation, TranslateError> {
        match self.steps {
            Steps::Direct(f) => f(body, target),
            Steps::Chain(first, second) => {
                let step = Target {
                    flavor: Flavor::Intermediate,
                    ..target.clone()
                };
                let a = first.request(body, &step)?;
                let b = second.request(&a.body, target)?;
                let mut dropped = a.dropped;
                // The intermediate request is ours: what the second step drops of it that the
                // first added for its own sake is not the client's loss.
                for d in b.dropped {
                    if !INTERMEDIATE_ONLY.contains(&d.as_str()) && !dropped.contains(&d) {
                        dropped.push(d);
                    }
                }
                let mut adjusted = a.adjusted;
                for d in b.adjusted {
                    if !adjusted.contains(&d) {
                        adjusted.push(d);
                    }
                }
                Ok(Translated {
                    body: b.body,
                    dropped,
                    adjusted,
                    context: Box::new(Chained {
                        first: a.context,
                        second: b.context,
                    }),
                })
            }
        }
    }
}

/// Fields the first step of a chain writes for the second that the second may not take.
const INTERMEDIATE_ONLY: &[&str] = &["stream_options", "user"];

/// A chained exchange: the upstream's answer goes through the second pair, then the first.
struct Chained {
    first: Box<dyn Exchange>,
    second: Box<dyn Exchange>,
}

impl Exchange for Chained {
    fn response(&self, upstream: &Value) -> Value {
        self.first.response(&self.second.response(upstream))
    }

    fn stream(&self) -> Box<dyn EventMapper> {
        Box::new(ChainedStream {
            upstream: self.second.stream(),
            client: self.first.stream(),
        })
    }
}

struct ChainedStream {
    /// Upstream events → intermediate chat chunks.
    upstream: Box<dyn EventMapper>,
    /// Intermediate chat chunks → the client's events.
    client: Box<dyn EventMapper>,
}

impl EventMapper for ChainedStream {
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let mut out = Vec::new();
        for mid in self.upstream.on_event(event) {
            out.extend(self.client.on_event(mid));
        }
        out
    }

    fn is_complete(&self) -> bool {
        self.upstream.is_complete() && self.client.is_complete()
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Event> {
        self.client.fail(code, message)
    }
}

pub const CHAT_TO_MESSAGES: Pair = Pair::direct(
    Front::Chat,
    Back::Messages,
    crate::openai_to_anthropic::exchange::request,
);
pub const MESSAGES_TO_CHAT: Pair = Pair::direct(
    Front::Messages,
    Back::Chat,
    crate::anthropic_to_openai::exchange::request,
);
pub const CHAT_TO_CONVERSE: Pair = Pair::direct(
    Front::Chat,
    Back::Converse,
    crate::openai_to_bedrock::exchange::request,
);
pub const RESPONSES_TO_CHAT: Pair = Pair::direct(
    Front::Responses,
    Back::Chat,
    crate::responses_to_openai::exchange::request,
);

/// Every pair the gateway translates.
pub static PAIRS: &[Pair] = &[
    CHAT_TO_MESSAGES,
    MESSAGES_TO_CHAT,
    CHAT_TO_CONVERSE,
    Pair::chain(&MESSAGES_TO_CHAT, &CHAT_TO_CONVERSE),
    RESPONSES_TO_CHAT,
    Pair::chain(&RESPONSES_TO_CHAT, &CHAT_TO_MESSAGES),
    Pair::chain(&RESPONSES_TO_CHAT, &CHAT_TO_CONVERSE),
];

/// The pair for a front and a back schema, if the gateway translates between them.
pub fn find(front: Front, back: Back) -> Option<&'static Pair> {
    PAIRS.iter().find(|p| p.front == front && p.back == back)
}

/// An upstream error body in the client's schema.
pub fn error_body(front: Front, status: u16, upstream: &Value) -> Value {
    match front {
        Front::Chat | Front::Responses => crate::errors::to_openai(status, upstream),
        Front::Messages => crate::errors::to_anthropic(status, upstream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_found_and_unique() {
        for p in PAIRS {
            let found = find(p.front, p.back).map(|f| (f.front, f.back));
            assert_eq!(found, Some((p.front, p.back)));
            let same = PAIRS
                .iter()
                .filter(|q| q.front == p.front && q.back == p.back)
                .count();
            assert_eq!(same, 1, "{p:?} is listed twice");
        }
        assert!(find(Front::Chat, Back::Chat).is_none());
    }
}
