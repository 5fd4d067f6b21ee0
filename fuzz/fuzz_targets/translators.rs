//! Every translator on arbitrary JSON: requests, responses and stream state machines never
//! panic, and whatever they accept produces JSON objects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_translate::{anthropic_to_openai as a2o, openai_to_anthropic as o2a, openai_to_bedrock as o2b};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(t) = o2a::request::translate(&v, "m") {
        assert!(t.body.is_object());
    }
    if let Ok(t) = a2o::request::translate(&v, "m", a2o::Flavor::Compatible) {
        assert!(t.body.is_object());
    }
    if let Ok(t) = o2b::request::translate(&v) {
        assert!(t.body.is_object());
    }
    let _ = o2a::response::translate(&v, &o2a::Context::default(), 0);
    let _ = a2o::response::translate(&v, &a2o::Context::default());
    let meta = o2b::response::ResponseMeta { id: "id".into(), model: "m".into(), created: 0 };
    let _ = o2b::response::translate(&v, &meta, &o2a::Context::default());
    let mut s1 = o2a::stream::StreamTranslator::new(o2a::Context::default(), 0);
    let mut s2 = a2o::stream::StreamTranslator::new(a2o::Context::default());
    let mut s3 = o2b::stream::StreamTranslator::new(o2a::Context::default(), meta);
    for item in v.as_array().into_iter().flatten() {
        let _ = s1.on_event(item);
        let _ = s2.on_chunk(item);
        let kind = item.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let _ = s3.on_event(kind, item);
    }
    let _ = s2.on_done();
});
