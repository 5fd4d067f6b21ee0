//! Model resolution on arbitrary references: never panics, and a found target always names
//! a provider the view knows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_registry::resolve::{ModelView, Resolution, resolve};

struct View;

impl ModelView for View {
    fn has_provider(&self, name: &str) -> bool {
        matches!(name, "a" | "b" | "a-b" | "x")
    }
    fn provider_owned_by(&self, name: &str, owner: &str) -> bool {
        self.has_provider(name) && owner == "admin"
    }
    fn providers_serving(&self, model: &str) -> Vec<String> {
        match model {
            "m" | "llama3:8b" => vec!["a".into(), "b".into()],
            "org/m" => vec!["x".into()],
            _ => vec![],
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(reference) = std::str::from_utf8(data) else { return };
    if let Resolution::Found(t) = resolve(reference, &View) {
        assert!(View.has_provider(&t.provider));
        assert!(!t.model.is_empty());
    }
});
