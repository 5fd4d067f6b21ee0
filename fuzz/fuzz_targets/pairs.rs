//! Every pair of the translation table (the Responses pairs and the chains included) on
//! arbitrary JSON, as the gateway runs them: the request side, then the answer and every
//! stream event through the pair's exchange. Nothing panics; requests that translate give
//! JSON objects; a finished Responses stream's events carry increasing sequence numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_translate::anthropic_to_openai::Flavor;
use modelgate_translate::pairs::{Event, PAIRS, Target};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    // The request is the first element when the input is an array, the rest are events.
    let (req, events) = match &v {
        Value::Array(a) if !a.is_empty() => (&a[0], &a[1..]),
        other => (other, &[][..]),
    };
    for flavor in [Flavor::OpenAi, Flavor::Compatible] {
        let target = Target { model: "anthropic.claude-sonnet-4-5", flavor, now: 0, id: "fuzz" };
        for pair in PAIRS {
            let Ok(t) = pair.request(req, &target) else { continue };
            assert!(t.body.is_object());
            for ev in events {
                let _ = t.context.response(ev);
            }
            let mut stream = t.context.stream();
            let mut last_seq = None;
            for ev in events {
                let name = ev.get("type").and_then(Value::as_str).map(|n| n.to_owned().into());
                for out in stream.on_event(Event::Data { name, data: ev.clone() }) {
                    if let Event::Data { data, .. } = out
                        && let Some(n) = data.get("sequence_number").and_then(Value::as_u64)
                    {
                        assert!(last_seq.is_none_or(|l| n > l));
                        last_seq = Some(n);
                    }
                }
            }
            let _ = stream.on_event(Event::Done);
        }
    }
});
