//! The SSE splitter on arbitrary bytes cut at arbitrary places: never panics, loses or
//! invents no byte, yields the same events whatever the chunking, and examines each byte
//! once (plus one per call, for a chunk-ending `\r`).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use modelgate_providers::sse::{SseSplitter, parse_event};

fn split(chunks: &[&[u8]]) -> Vec<Bytes> {
    let mut s = SseSplitter::new(1 << 20);
    let mut out = Vec::new();
    let mut calls = 0u64;
    for c in chunks {
        s.push(Bytes::copy_from_slice(c));
        calls += 1;
        while let Ok(Some(e)) = s.next_event() {
            calls += 1;
            let _ = parse_event(&e);
            out.push(e);
        }
    }
    let pushed: usize = chunks.iter().map(|c| c.len()).sum();
    assert!(s.examined() <= pushed as u64 + calls);
    out.extend(s.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let at = usize::from(cut) % (input.len() + 1);
    let whole = split(&[input]);
    let parted = split(&[&input[..at], &input[at..]]);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(whole, split(&bytewise));
    assert_eq!(whole, parted);
    let joined: Vec<u8> = whole.concat();
    // Only trailing whitespace may be dropped at the end of the stream.
    assert!(input.starts_with(&joined));
    assert!(input[joined.len()..].iter().all(u8::is_ascii_whitespace));
});
