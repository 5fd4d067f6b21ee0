//! Model resolution: turns the `model` a client sent into a provider and the
//! model id that provider should receive. Pure: it reads a [`ModelView`] of the providers
//! the caller may use and does no I/O. Why it never guesses:
//! `docs/decisions/0004-model-references-never-guess.md`.
//!
//! Interpretations, each taken only if it names an existing visible provider:
//! 1. `provider:model` (an unknown model under a known provider passes through);
//! 2. `owner:provider/model` (fully qualified, the owner's user name first);
//! 3. `provider/model`;
//! 4. a bare id that visible providers advertise.
//!
//! Model ids may contain `:` and `/` themselves. One distinct interpretation resolves; none
//! is "not found"; several is "ambiguous", answered with the candidates, never a guess.

/// What resolution needs to know about the caller's visible providers.
pub trait ModelView {
    /// Whether a visible provider has this name.
    fn has_provider(&self, name: &str) -> bool;
    /// Whether a visible provider has this name and is owned by the user `owner`.
    fn provider_owned_by(&self, name: &str, owner: &str) -> bool;
    /// Visible providers that advertise `model`, in a stable order.
    fn providers_serving(&self, model: &str) -> Vec<String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found(Target),
    NotFound,
    /// Several interpretations remain; each is given as `provider/model`.
    Ambiguous(Vec<String>),
}

pub fn resolve(reference: &str, view: &dyn ModelView) -> Resolution {
    let mut found: Vec<Target> = Vec::new();
    let mut push = |provider: &str, model: &str| {
        let t = Target {
            provider: provider.to_owned(),
            model: model.to_owned(),
        };
        if !found.contains(&t) {
            found.push(t);
        }
    };
    if let Some((provider, model)) = reference.split_once(':') {
        if !model.is_empty() && view.has_provider(provider) {
            push(provider, model);
        }
        if let Some((p, m)) = model.split_once('/')
            && !m.is_empty()
            && view.provider_owned_by(p, provider)
        {
            push(p, m);
        }
    }
    if let Some((provider, model)) = reference.split_once('/')
        && !model.is_empty()
        && view.has_provider(provider)
    {
        push(provider, model);
    }
    for provider in view.providers_serving(reference) {
        push(&provider, reference);
    }
    match found.len() {
        0 => Resolution::NotFound,
        1 => Resolution::Found(found.remove(0)),
        _ => Resolution::Ambiguous(
            found
                .into_iter()
                .map(|t| format!("{}/{}", t.provider, t.model))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct View {
        owners: HashMap<&'static str, &'static str>,
        models: HashMap<&'static str, Vec<&'static str>>,
    }

    impl ModelView for View {
        fn has_provider(&self, name: &str) -> bool {
            self.owners.contains_key(name)
        }
        fn provider_owned_by(&self, name: &str, owner: &str) -> bool {
            self.owners.get(name) == Some(&owner)
        }
        fn providers_serving(&self, model: &str) -> Vec<String> {
            let mut v: Vec<String> = self
                .models
                .iter()
                .filter(|(_, ms)| ms.contains(&model))
                .map(|(p, _)| p.to_string())
                .collect();
            v.sort();
            v
        }
    }

    fn view() -> View {
        View {
            owners: HashMap::from([
                ("openai", "admin"),
                ("my-vllm", "alice"),
                ("ollama", "bob"),
                ("llama3", "bob"),
                ("mirror", "bob"),
            ]),
            models: HashMap::from([
                ("openai", vec!["gpt-4o", "shared-model"]),
                ("my-vllm", vec!["meta-llama/Llama-3.1-8B", "shared-model"]),
                ("ollama", vec!["llama3:8b", "qwen2:7b"]),
                ("llama3", vec![]),
                ("mirror", vec!["qwen2:7b"]),
            ]),
        }
    }

    fn found(p: &str, m: &str) -> Resolution {
        Resolution::Found(Target {
            provider: p.into(),
            model: m.into(),
        })
    }

    #[test]
    fn table() {
        let v = view();
        let cases: Vec<(&str, Resolution)> = vec![
            ("openai:gpt-4o", found("openai", "gpt-4o")),
            ("openai:gpt-5-unknown", found("openai", "gpt-5-unknown")),
            ("my-vllm:llama3:8b", found("my-vllm", "llama3:8b")),
            (
                "alice:my-vllm/meta-llama/Llama-3.1-8B",
                found("my-vllm", "meta-llama/Llama-3.1-8B"),
            ),
            (
                "my-vllm/meta-llama/Llama-3.1-8B",
                found("my-vllm", "meta-llama/Llama-3.1-8B"),
            ),
            (
                "meta-llama/Llama-3.1-8B",
                found("my-vllm", "meta-llama/Llama-3.1-8B"),
            ),
            ("gpt-4o", found("openai", "gpt-4o")),
            ("ollama/llama3:8b", found("ollama", "llama3:8b")),
            ("nope", Resolution::NotFound),
            ("nope:gpt-4o", Resolution::NotFound),
            ("bob:my-vllm/x", Resolution::NotFound),
            ("openai:", Resolution::NotFound),
            ("openai/", Resolution::NotFound),
            (
                "shared-model",
                Resolution::Ambiguous(vec![
                    "my-vllm/shared-model".into(),
                    "openai/shared-model".into(),
                ]),
            ),
            // `llama3` names a provider AND `llama3:8b` is advertised by ollama.
            (
                "llama3:8b",
                Resolution::Ambiguous(vec!["llama3/8b".into(), "ollama/llama3:8b".into()]),
            ),
            (
                "qwen2:7b",
                Resolution::Ambiguous(vec!["mirror/qwen2:7b".into(), "ollama/qwen2:7b".into()]),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(resolve(input, &v), want, "{input}");
        }
    }
}
