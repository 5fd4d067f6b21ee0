//! The AWS event-stream decoder on arbitrary bytes cut anywhere: never panics, and the
//! frames it decodes do not depend on the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_providers::aws_eventstream::EventStreamDecoder;

fn decode(chunks: &[&[u8]]) -> Vec<(String, bool, Vec<u8>)> {
    let mut d = EventStreamDecoder::default();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        loop {
            match d.next_event() {
                Ok(Some(e)) => out.push((e.kind, e.exception, e.payload.to_vec())),
                Ok(None) | Err(_) => break,
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let at = usize::from(cut) % (input.len() + 1);
    let whole = decode(&[input]);
    let parted = decode(&[&input[..at], &input[at..]]);
    // A corrupt frame stops decoding at the same frame either way.
    assert_eq!(whole, parted);
});
