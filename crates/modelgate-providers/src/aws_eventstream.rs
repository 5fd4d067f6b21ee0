//! AWS event-stream framing (Bedrock ConverseStream), decoded with the official
//! `aws-smithy-eventstream` codec: length-prefixed, CRC-checked binary frames whose
//! headers say what each one is (`:message-type` event or exception, `:event-type`).

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEvent {
    /// `:event-type` for events (`messageStart`, `contentBlockDelta`, …), or
    /// `:exception-type` for exceptions.
    pub kind: String,
    pub exception: bool,
    /// The JSON payload.
    pub payload: Bytes,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed AWS event-stream frame: {0}")]
pub struct FrameError(String);

/// Incremental decoder: `push` bytes as they arrive, then drain `next_event`.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    decoder: MessageFrameDecoder,
}

/// Largest frame accepted (the format allows 16 MiB; Bedrock's are small).
const MAX_FRAME: usize = 16 * 1024 * 1024;

impl EventStreamDecoder {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    pub fn next_event(&mut self) -> Result<Option<AwsEvent>, FrameError> {
        if self.buf.len() > MAX_FRAME + 16 {
            return Err(FrameError("frame too large".into()));
        }
        match self.decoder.decode_frame(&mut self.buf) {
            Ok(DecodedFrame::Incomplete) => Ok(None),
            Ok(DecodedFrame::Complete(message)) => Ok(Some(event_of(&message))),
            Err(e) => Err(FrameError(e.to_string())),
        }
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn event_of(message: &Message) -> AwsEvent {
    let exception = header(message, ":message-type") == Some("exception");
    let kind = if exception {
        header(message, ":exception-type").unwrap_or("exception")
    } else {
        header(message, ":event-type").unwrap_or("")
    };
    AwsEvent {
        kind: kind.to_owned(),
        exception,
        payload: message.payload().clone(),
    }
}

/// Encodes one frame (used by mocks and tests).
pub fn encode(kind: &str, exception: bool, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::Header;
    let (message_type, type_header) = if exception {
        ("exception", ":exception-type")
    } else {
        ("event", ":event-type")
    };
    let message = Message::new(Bytes::copy_from_slice(payload))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_owned().into()),
        ))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".to_owned().into()),
        ));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail for frames under the size limit.
    let _ = aws_smithy_eventstream::frame::write_message_to(&message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_split() {
        let mut wire = encode("messageStart", false, br#"{"role":"assistant"}"#);
        wire.extend(encode(
            "contentBlockDelta",
            false,
            br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
        ));
        wire.extend(encode(
            "throttlingException",
            true,
            br#"{"message":"slow down"}"#,
        ));
        for cut in 0..wire.len() {
            let mut d = EventStreamDecoder::default();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                d.push(part);
                while let Some(e) = d.next_event().unwrap() {
                    got.push(e);
                }
            }
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(got[0].kind, "messageStart");
            assert_eq!(
                got[1].payload,
                Bytes::from_static(br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#)
            );
            assert!(got[2].exception);
            assert_eq!(got[2].kind, "throttlingException");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn corrupted_frames_are_errors() {
        let mut wire = encode("messageStart", false, b"{}");
        let last = wire.len() - 1;
        wire[last] ^= 0xff; // break the message CRC
        let mut d = EventStreamDecoder::default();
        d.push(&wire);
        assert!(d.next_event().is_err());
    }
}
