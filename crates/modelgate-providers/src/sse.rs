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
///
/// Linear in the bytes pushed, however they are chunked: the search for an event's end
/// resumes where the previous one stopped (each byte is examined once, the `\r` that
/// ends a chunk twice), and chunks are joined into a buffer that grows by doubling.
#[derive(Debug)]
pub struct SseSplitter {
    buf: Pending,
    /// Where the search for the end of the first buffered event resumes: no line of it
    /// ends before.
    resume: usize,
    /// Where the line the search is in starts.
    line_start: usize,
    examined: u64,
    max_event_bytes: usize,
}

/// The bytes not yet returned as events: the last chunk as received while nothing else
/// is pending (no copy), or chunks joined.
#[derive(Debug)]
enum Pending {
    Chunk(Bytes),
    Joined(BytesMut),
}

impl Pending {
    fn as_slice(&self) -> &[u8] {
        match self {
            Pending::Chunk(b) => b,
            Pending::Joined(b) => b,
        }
    }

    fn split_to(&mut self, n: usize) -> Bytes {
        let event = match self {
            Pending::Chunk(b) => b.split_to(n),
            Pending::Joined(b) => b.split_to(n).freeze(),
        };
        if self.as_slice().is_empty() {
            *self = Pending::Chunk(Bytes::new());
        }
        event
    }
}

impl Default for SseSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseSplitter {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: Pending::Chunk(Bytes::new()),
            resume: 0,
            line_start: 0,
            examined: 0,
            max_event_bytes,
        }
    }

    /// Adds a chunk. When nothing is pending the chunk is kept without copying.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        match &mut self.buf {
            Pending::Chunk(b) if b.is_empty() => *b = chunk,
            Pending::Chunk(b) => {
                let mut joined = BytesMut::with_capacity(2 * (b.len() + chunk.len()));
                joined.extend_from_slice(b);
                joined.extend_from_slice(&chunk);
                self.buf = Pending::Joined(joined);
            }
            Pending::Joined(b) => b.extend_from_slice(&chunk),
        }
    }

    /// The next complete event (with its terminating blank line), if one is buffered.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, EventTooLarge> {
        let buf = self.buf.as_slice();
        match find_event_end(
            buf,
            &mut self.resume,
            &mut self.line_start,
            &mut self.examined,
        ) {
            Some(n) => {
                self.resume = 0;
                self.line_start = 0;
                Ok(Some(self.buf.split_to(n)))
            }
            None if buf.len() > self.max_event_bytes => Err(EventTooLarge(self.max_event_bytes)),
            None => Ok(None),
        }
    }

    /// At end of stream: whatever is left, if it holds more than whitespace. An upstream
    /// that omits the final blank line still gets its last event delivered.
    pub fn finish(&mut self) -> Option<Bytes> {
        let rest = std::mem::replace(&mut self.buf, Pending::Chunk(Bytes::new()));
        (self.resume, self.line_start) = (0, 0);
        let rest = match rest {
            Pending::Chunk(b) => b,
            Pending::Joined(b) => b.freeze(),
        };
        if rest.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(rest)
        }
    }

    /// Bytes buffered but not yet returned as an event.
    pub fn pending(&self) -> usize {
        self.buf.as_slice().len()
    }

    /// Bytes examined so far in search of events' ends: at most the bytes pushed plus one
    /// per call of [`next_event`](Self::next_event) (a chunk's last `\r` is looked at
    /// again, in case a `\n` follows). Tests and the fuzz target check that bound.
    pub fn examined(&self) -> u64 {
        self.examined
    }
}

/// Searches `buf` for the end of its first event (the empty line that ends it, included)
/// from `resume`, the line in progress starting at `line_start`; both are left where the
/// next search must resume when no event is complete yet (a trailing `\r` waits for a
/// possible `\n`). Adds the bytes it looks at to `examined`.
fn find_event_end(
    buf: &[u8],
    resume: &mut usize,
    line_start: &mut usize,
    examined: &mut u64,
) -> Option<usize> {
    loop {
        let rest = &buf[*resume..];
        let Some(i) = memchr::memchr2(b'\n', b'\r', rest) else {
            *examined += rest.len() as u64;
            *resume = buf.len();
            return None;
        };
        *examined += i as u64 + 1;
        let idx = *resume + i;
        let term = if buf[idx] == b'\r' {
            match buf.get(idx + 1) {
                Some(b'\n') => 2,
                Some(_) => 1,
                None => {
                    *resume = idx;
                    return None;
                }
            }
        } else {
            1
        };
        *examined += term as u64 - 1;
        if idx == *line_start {
            return Some(idx + term);
        }
        *line_start = idx + term;
        *resume = *line_start;
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
        split_counting(chunks).0
    }

    /// The events, the bytes examined, and the calls of `next_event`.
    fn split_counting(chunks: &[&[u8]]) -> (Vec<Bytes>, u64, u64) {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        let mut calls = 0;
        for c in chunks {
            s.push(Bytes::copy_from_slice(c));
            calls += 1;
            while let Some(e) = s.next_event().unwrap() {
                out.push(e);
                calls += 1;
            }
        }
        let examined = s.examined();
        out.extend(s.finish());
        (out, examined, calls)
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
        // Sent a byte at a time, it is refused at the first byte past the cap.
        let mut s = SseSplitter::new(1024);
        let line = Bytes::from(format!("data: {}", "x".repeat(2048)));
        let refused_at = (1..=line.len()).find(|&i| {
            s.push(line.slice(i - 1..i));
            s.next_event().is_err()
        });
        assert_eq!(refused_at, Some(1025));
    }

    /// What the splitter examines for one `size`-byte event pushed a byte at a time, and
    /// the calls made (pushes + events).
    fn one_byte_frames(size: usize) -> (u64, u64) {
        let mut text = b"data: ".to_vec();
        text.resize(size - 2, b'x');
        text.extend_from_slice(b"\n\n");
        let text = Bytes::from(text);
        let mut s = SseSplitter::default();
        let (mut calls, mut events) = (0u64, Vec::new());
        for i in 0..text.len() {
            s.push(text.slice(i..i + 1));
            calls += 1;
            while let Some(e) = s.next_event().unwrap() {
                events.push(e);
                calls += 1;
            }
        }
        assert_eq!(events, [text]);
        (s.examined(), calls)
    }

    #[test]
    fn a_large_event_in_one_byte_frames_is_linear() {
        // Up to the largest event the default cap lets through, a byte per frame: each
        // byte is examined once. Re-scanning the pending bytes on every frame, as the
        // splitter did, examines size²/2 bytes: 35 trillion at 8 MiB.
        for size in [64 * 1024, 1024 * 1024, DEFAULT_MAX_EVENT_BYTES] {
            let (examined, calls) = one_byte_frames(size);
            assert_eq!(examined, size as u64, "{size}");
            assert_eq!(calls, size as u64 + 1);
        }
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
            let (parted, examined, calls) = split_counting(&chunks);
            prop_assert_eq!(&whole, &parted);
            prop_assert_eq!(whole.len(), 4);
            // Linear: each byte once, plus a chunk-ending `\r` looked at again.
            prop_assert!(examined <= bytes.len() as u64 + calls);
        }

        /// On any bytes and chunking: the same events as in one piece, and the work
        /// bound holds.
        #[test]
        fn any_bytes_any_chunking(
            input in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b':')], 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..20),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&input[prev..c]); prev = c; }
            chunks.push(&input[prev..]);
            let (parted, examined, calls) = split_counting(&chunks);
            prop_assert_eq!(&parted, &split_all(&[&input]));
            prop_assert_eq!(parted.concat(), input[..parted.concat().len()].to_vec());
            prop_assert!(examined <= input.len() as u64 + calls);
        }
    }

    #[test]
    fn one_byte_chunks() {
        let bytes = RECORDED.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split_all(&chunks), split_all(&[bytes]));
    }
}
