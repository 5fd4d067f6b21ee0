//! The stream side of a translation-table pair as a
//! [`StreamMapper`](crate::stream::StreamMapper): each upstream SSE event's `data` (and
//! `event:` name) goes into the pair's [`EventMapper`], whose events are written as the
//! client's SSE bytes.

use crate::stream::StreamMapper;
use bytes::Bytes;
use modelgate_translate::pairs::{Event, EventMapper};
use std::borrow::Cow;

/// A pair's stream translator fed with SSE events.
pub struct SseMapper(pub Box<dyn EventMapper>);

impl StreamMapper for SseMapper {
    fn map(&mut self, name: Option<&[u8]>, data: &[u8]) -> Vec<Bytes> {
        let event = if data == b"[DONE]" {
            Event::Done
        } else {
            match serde_json::from_slice(data) {
                Ok(data) => Event::Data {
                    name: name.map(|n| Cow::Owned(String::from_utf8_lossy(n).into_owned())),
                    data,
                },
                Err(_) => return Vec::new(),
            }
        };
        self.0.on_event(event).iter().map(write).collect()
    }
}

/// One event as SSE bytes.
pub fn write(event: &Event) -> Bytes {
    match event {
        Event::Data {
            name: Some(name),
            data,
        } => Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
        Event::Data { name: None, data } => Bytes::from(format!("data: {data}\n\n")),
        Event::Done => Bytes::from_static(b"data: [DONE]\n\n"),
        Event::Exception { data, .. } => Bytes::from(format!("data: {data}\n\n")),
    }
}
