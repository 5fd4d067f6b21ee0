//! Request-body peeking and splicing on arbitrary bytes: never panics; whatever it accepts,
//! the rewritten body is valid JSON with the new model and the same other fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_gateway::body::{peek, rewrite};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = peek(data) else { return };
    for force in [false, true] {
        let out = rewrite(data, &p, "fuzzed/model", force);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("rewrite produced invalid JSON");
        assert_eq!(v["model"], "fuzzed/model");
        if force && p.stream {
            assert_eq!(v["stream_options"]["include_usage"], true);
        }
    }
});
