//! Endpoint normalisation on arbitrary text: never panics; an accepted endpoint is an
//! http(s) URL without query or fragment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::ProviderKind;
use modelgate_providers::endpoint::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(base) = normalize(ProviderKind::OpenaiCompatible, Some(text)) {
        assert!(base.starts_with("http://") || base.starts_with("https://"));
        assert!(!base.contains('?') && !base.contains('#'));
    }
});
