//! Request-body peeking and splicing on arbitrary bytes: never panics; whatever it accepts,
//! the rewritten body is valid JSON with the new model and the same other fields; the
//! depth check passes exactly what serde_json can build a value of as far as nesting goes
//! (at most 127 levels), and `peek` refuses whatever the depth check refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_gateway::body::{check_depth, peek, rewrite};

fuzz_target!(|data: &[u8]| {
    let depth_ok = check_depth(data).is_ok();
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(_) => assert!(depth_ok, "serde_json built a value the depth check refuses"),
        Err(e) if e.to_string().contains("recursion limit") => {
            assert!(!depth_ok, "the depth check passed what serde_json finds too deep")
        }
        Err(_) => {}
    }
    let peeked = peek(data);
    if !depth_ok {
        assert!(peeked.is_err(), "peek accepted a body nested too deep");
    }
    let Ok(p) = peeked else { return };
    for force in [false, true] {
        let out = rewrite(data, &p, "fuzzed/model", force);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("rewrite produced invalid JSON");
        assert_eq!(v["model"], "fuzzed/model");
        if force && p.stream {
            assert_eq!(v["stream_options"]["include_usage"], true);
        }
    }
});
