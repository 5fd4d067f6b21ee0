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

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        self.0.fail(code, message).iter().map(write).collect()
    }
}

/// One event as SSE bytes (`event:` line when named, `data:` line, blank line).
pub fn write(event: &Event) -> Bytes {
    let (name, data) = match event {
        Event::Data { name, data } => (name.as_deref(), data),
        Event::Exception { data, .. } => (None, data),
        Event::Done => return Bytes::from_static(b"data: [DONE]\n\n"),
    };
    let mut buf = Vec::with_capacity(256);
    if let Some(name) = name {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"data: ");
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut buf, data);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_written_as_sse() {
        let named = Event::named("response.created", json!({"a": 1}));
        assert_eq!(
            &write(&named)[..],
            b"event: response.created\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(&write(&Event::data(json!([1])))[..], b"data: [1]\n\n");
        assert_eq!(&write(&Event::Done)[..], b"data: [DONE]\n\n");
    }
}
