//! Server-sent events framing over `Bytes`, zero-copy: [`SseSplitter`] cuts an arbitrary
//! chunking of an SSE byte stream into whole events (each a slice of the input, terminator
//! included, so pass-through forwards the upstream's exact bytes), and [`parse_event`]
//! reads an event's `event:` and `data:` fields. Handles `\n`, `\r\n` and `\r` line
//! endings, multi-line `data`, comments, `data:` with or without a space, and events split
//! anywhere, including inside a multi-byte UTF-8 character (bytes are never decoded here).

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// Default cap on one event still waiting for its terminator.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an upstream SSE event exceeded {0} bytes")]
pub struct EventTooLarge(pub usize);

/// Incremental splitter: `push` chunks as they arrive, then drain `next_event`.
#[derive(Debug)]
pub struct SseSplitter {
    buf: Bytes,
    max_event_bytes: usize,
}

impl Default for SseSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseSplitter {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: Bytes::new(),
            max_event_bytes,
        }
    }

    /// Adds a chunk. When nothing is pending the chunk is kept without copying.
    pub fn push(&mut self, chunk: Bytes) {
        if self.buf.is_empty() {
            self.buf = chunk;
        } else {
            let mut joined = BytesMut::with_capacity(self.buf.len() + chunk.len());
            joined.extend_from_slice(&self.buf);
            joined.extend_from_slice(&chunk);
            self.buf = joined.freeze();
        }
    }

    /// The next complete event (with its terminating blank line), if one is buffered.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, EventTooLarge> {
        match event_len(&self.buf) {
            Some(n) => Ok(Some(self.buf.split_to(n))),
            None if self.buf.len() > self.max_event_bytes => {
                Err(EventTooLarge(self.max_event_bytes))
            }
            None => Ok(None),
        }
    }

    /// At end of stream: whatever is left, if it holds more than whitespace. An upstream
    /// that omits the final blank line still gets its last event delivered.
    pub fn finish(&mut self) -> Option<Bytes> {
        let rest = std::mem::take(&mut self.buf);
        if rest.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(rest)
        }
    }

    /// Bytes buffered but not yet returned as an event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Length of the first complete event in `buf`, up to and including the empty line that
/// ends it. `None` if no event is complete yet (a trailing `\r` waits for a possible `\n`).
fn event_len(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    let mut pos = 0;
    loop {
        let idx = pos + memchr::memchr2(b'\n', b'\r', &buf[pos..])?;
        let term = if buf[idx] == b'\r' {
            match buf.get(idx + 1) {
                Some(b'\n') => 2,
                Some(_) => 1,
                None => return None,
            }
        } else {
            1
        };
        if idx == line_start {
            return Some(idx + term);
        }
        line_start = idx + term;
        pos = line_start;
    }
}

/// The fields of one event that the gateway reads.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, if any.
    pub event: Option<&'a [u8]>,
    /// The `data:` lines joined by `\n`; `None` when the event has no data line
    /// (a comment or keep-alive).
    pub data: Option<Cow<'a, [u8]>>,
}

/// Reads `event:` and `data:` fields of one raw event.
pub fn parse_event(raw: &[u8]) -> SseEvent<'_> {
    let mut event = None;
    let mut data: Option<Cow<'_, [u8]>> = None;
    for line in lines(raw) {
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => continue, // comment
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(prev) => {
                        let mut joined = prev.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        Cow::Owned(joined)
                    }
                })
            }
            b"event" => event = Some(value),
            _ => {}
        }
    }
    SseEvent { event, data }
}

/// Lines of an event, without terminators; empty lines are skipped.
fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|b| *b == b'\n' || *b == b'\r')
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<Bytes> {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(Bytes::copy_from_slice(c));
            while let Some(e) = s.next_event().unwrap() {
                out.push(e);
            }
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn splits_on_every_line_ending() {
        let input =
            b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n: ping\n\nevent: x\ndata: e";
        let events = split_all(&[input]);
        let datas: Vec<_> = events
            .iter()
            .map(|e| parse_event(e).data.map(|d| d.into_owned()))
            .collect();
        assert_eq!(
            datas,
            vec![
                Some(b"a".to_vec()),
                Some(b"b".to_vec()),
                Some(b"c".to_vec()),
                Some(b"d".to_vec()),
                None,
                Some(b"e".to_vec())
            ]
        );
        assert_eq!(parse_event(&events[5]).event, Some(&b"x"[..]));
        // Pass-through keeps the exact bytes.
        assert_eq!(events.concat(), input.to_vec());
    }

    #[test]
    fn multi_line_data_and_no_space() {
        let e = parse_event(b"data:{\"a\":\ndata: 1}\n\n");
        assert_eq!(e.data.as_deref(), Some(&b"{\"a\":\n1}"[..]));
    }

    #[test]
    fn trailing_cr_waits_for_more() {
        let mut s = SseSplitter::default();
        s.push(Bytes::from_static(b"data: a\r\n\r"));
        assert_eq!(s.next_event().unwrap(), None);
        s.push(Bytes::from_static(b"\ndata: b\n\n"));
        assert_eq!(
            s.next_event().unwrap().as_deref(),
            Some(&b"data: a\r\n\r\n"[..])
        );
        assert_eq!(
            s.next_event().unwrap().as_deref(),
            Some(&b"data: b\n\n"[..])
        );
    }

    #[test]
    fn oversized_partial_event_is_an_error() {
        let mut s = SseSplitter::new(16);
        s.push(Bytes::from(vec![b'x'; 17]));
        assert_eq!(s.next_event(), Err(EventTooLarge(16)));
    }

    const RECORDED: &str = "data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"héllo 世界 🎉\"}}]}\n\n\
        : keep-alive\n\n\
        data: {\"id\":\"1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\r\n\r\n\
        data: [DONE]\n\n";

    proptest! {
        /// G8: any partition of a recorded stream yields the same events, byte for byte.
        #[test]
        fn any_chunking_gives_the_same_events(cuts in proptest::collection::vec(0usize..RECORDED.len(), 0..12)) {
            let bytes = RECORDED.as_bytes();
            let mut cuts = cuts;
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&bytes[prev..c]); prev = c; }
            chunks.push(&bytes[prev..]);
            let whole = split_all(&[bytes]);
            let parted = split_all(&chunks);
            prop_assert_eq!(&whole, &parted);
            prop_assert_eq!(whole.len(), 4);
        }
    }

    #[test]
    fn one_byte_chunks() {
        let bytes = RECORDED.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split_all(&chunks), split_all(&[bytes]));
    }
}
