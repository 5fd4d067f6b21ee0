//! Stream mappers: the translate crate's state machines wrapped as
//! [`StreamMapper`](crate::stream::StreamMapper)s that take upstream SSE `data` and give
//! the client's SSE bytes.

use crate::stream::StreamMapper;
use bytes::Bytes;
use modelgate_translate::{anthropic_to_openai as a2o, openai_to_anthropic as o2a};

/// Anthropic upstream → OpenAI chat client.
pub struct AnthropicToOpenAi(pub o2a::stream::StreamTranslator);

impl StreamMapper for AnthropicToOpenAi {
    fn map(&mut self, data: &[u8]) -> Vec<Bytes> {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
            return Vec::new();
        };
        self.0
            .on_event(&value)
            .into_iter()
            .map(|c| match c {
                o2a::stream::Chunk::Data(v) => Bytes::from(format!("data: {v}\n\n")),
                o2a::stream::Chunk::Done => Bytes::from_static(b"data: [DONE]\n\n"),
            })
            .collect()
    }
}

/// OpenAI-schema upstream → Anthropic messages client.
pub struct OpenAiToAnthropic(pub a2o::stream::StreamTranslator);

impl StreamMapper for OpenAiToAnthropic {
    fn map(&mut self, data: &[u8]) -> Vec<Bytes> {
        let events = if data == b"[DONE]" {
            self.0.on_done()
        } else {
            match serde_json::from_slice::<serde_json::Value>(data) {
                Ok(value) => self.0.on_chunk(&value),
                Err(_) => return Vec::new(),
            }
        };
        events
            .into_iter()
            .map(|e| Bytes::from(format!("event: {}\ndata: {}\n\n", e.name, e.data)))
            .collect()
    }
}
