//! The OpenAI-schema adapter (kinds `openai` and `openai-compatible`): operation URLs
//! under the provider's base URL, `Authorization: Bearer` auth, and model discovery
//! through `GET {base}/models`.

use crate::UpstreamError;
use crate::client::ReadError;
pub use crate::operation::Operation;
use modelgate_core::{ErrorKind, Secret};
use std::time::Duration;

/// One OpenAI-schema upstream: a normalised base URL and an optional API key. Operation
/// URLs are parsed once, here, not on every request.
#[derive(Debug, Clone)]
pub struct OpenAiUpstream {
    base_url: String,
    api_key: Option<Secret>,
    urls: std::sync::Arc<[Option<reqwest::Url>; 5]>,
}

const OPENAI_OPERATIONS: [Operation; 5] = [
    Operation::ChatCompletions,
    Operation::Completions,
    Operation::Embeddings,
    Operation::Responses,
    Operation::Models,
];

impl OpenAiUpstream {
    pub fn new(base_url: String, api_key: Option<Secret>) -> Self {
        let urls = std::sync::Arc::new(
            OPENAI_OPERATIONS
                .map(|op| reqwest::Url::parse(&format!("{base_url}{}", op.path())).ok()),
        );
        Self {
            base_url,
            api_key,
            urls,
        }
    }

    fn parsed_url(&self, op: Operation) -> Option<reqwest::Url> {
        let i = OPENAI_OPERATIONS.iter().position(|o| *o == op)?;
        self.urls[i].clone()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key's text, for scrubbing it out of echoed upstream errors.
    pub fn api_key_text(&self) -> Option<&str> {
        self.api_key.as_ref().map(Secret::expose)
    }

    pub fn url(&self, op: Operation) -> String {
        format!("{}{}", self.base_url, op.path())
    }

    /// A request for `op` with auth applied; the caller adds the body and sends it.
    pub fn request(&self, client: &reqwest::Client, op: Operation) -> reqwest::RequestBuilder {
        let url = self.parsed_url(op);
        let builder = match (op, url) {
            (Operation::Models, Some(u)) => client.get(u),
            (Operation::Models, None) => client.get(self.url(op)),
            (_, Some(u)) => client.post(u),
            (_, None) => client.post(self.url(op)),
        };
        let builder = if op == Operation::Models {
            builder
        } else {
            builder.header(http::header::CONTENT_TYPE, "application/json")
        };
        match &self.api_key {
            Some(key) if !key.is_empty() => builder.bearer_auth(key.expose()),
            _ => builder,
        }
    }

    /// Lists the upstream's model ids (`GET {base}/models`).
    pub async fn discover_models(
        &self,
        provider: &str,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Vec<String>, UpstreamError> {
        let resp = self
            .request(client, Operation::Models)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| UpstreamError::from_transport(provider, &e))?;
        read_model_list(provider, resp).await
    }
}

/// Largest model list read from an upstream, in bytes. A provider anyone may create (a
/// tunnel, a server of one's own) must not make the gateway hold an unbounded body; the
/// largest real lists are a few hundred KiB (OpenRouter's, with descriptions and prices).
pub const MAX_MODEL_LIST_BYTES: usize = 4 * 1024 * 1024;

/// Most models one provider may list. Past it the list is refused, not cut: which
/// models a cut would keep depends on the upstream's order, and a refusal shows on the
/// provider (its `models_error`), which keeps its last good list; an admin can list the
/// models a provider serves instead (its `models` setting skips discovery).
pub const MAX_MODELS: usize = 10_000;

/// Reads a model-list response (OpenAI and Anthropic share the `data[].id` shape), within
/// [`MAX_MODEL_LIST_BYTES`] and [`MAX_MODELS`].
pub async fn read_model_list(
    provider: &str,
    resp: reqwest::Response,
) -> Result<Vec<String>, UpstreamError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(UpstreamError::new(
            ErrorKind::UpstreamInvalid,
            format!("provider '{provider}' answered {status} to the model list"),
        ));
    }
    let body = match crate::client::read_limited(resp, MAX_MODEL_LIST_BYTES).await {
        Ok(body) => body,
        Err(ReadError::TooLarge) => {
            return Err(UpstreamError::new(
                ErrorKind::UpstreamInvalid,
                format!(
                    "provider '{provider}' sent a model list larger than {} MiB",
                    MAX_MODEL_LIST_BYTES >> 20
                ),
            ));
        }
        Err(ReadError::Transport(e)) => return Err(UpstreamError::from_transport(provider, &e)),
    };
    match parse_model_list(&body) {
        Some(ids) if ids.len() > MAX_MODELS => Err(UpstreamError::new(
            ErrorKind::UpstreamInvalid,
            format!(
                "provider '{provider}' listed more than the {MAX_MODELS} models a provider may have; list the ones it serves in its models setting"
            ),
        )),
        Some(ids) => Ok(ids),
        None => Err(UpstreamError::new(
            ErrorKind::UpstreamInvalid,
            format!("provider '{provider}' sent a model list that is not OpenAI-shaped"),
        )),
    }
}

/// Reads `{"data":[{"id":...}, ...]}` (also accepts a bare array of objects or strings,
/// as some servers send); stops after `MAX_MODELS + 1` ids (one more says "too many").
pub fn parse_model_list(body: &[u8]) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let items = match &value {
        serde_json::Value::Object(o) => o.get("data")?.as_array()?,
        serde_json::Value::Array(a) => a,
        _ => return None,
    };
    let ids = items
        .iter()
        .filter_map(|item| match item {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o.get("id")?.as_str().map(str::to_owned),
            _ => None,
        })
        .take(MAX_MODELS + 1)
        .collect();
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists() {
        assert_eq!(
            parse_model_list(br#"{"object":"list","data":[{"id":"a"},{"id":"b:1"}]}"#),
            Some(vec!["a".into(), "b:1".into()])
        );
        assert_eq!(parse_model_list(br#"["x"]"#), Some(vec!["x".into()]));
        assert_eq!(parse_model_list(br#"{"nope":1}"#), None);
        assert_eq!(parse_model_list(b"<html>"), None);
    }

    fn response(body: reqwest::Body) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(body))
    }

    fn list_of(n: usize) -> String {
        let items: Vec<String> = (0..n).map(|i| format!(r#"{{"id":"m{i}"}}"#)).collect();
        format!(r#"{{"object":"list","data":[{}]}}"#, items.join(","))
    }

    #[tokio::test]
    async fn model_lists_are_capped_in_count() {
        let ok = read_model_list("p", response(list_of(MAX_MODELS).into())).await;
        assert_eq!(ok.unwrap().len(), MAX_MODELS);
        let err = read_model_list("p", response(list_of(MAX_MODELS + 1).into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamInvalid);
        assert!(
            err.message.contains("more than the 10000 models"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn model_lists_are_capped_in_bytes() {
        // Exactly the limit (a short list padded with spaces) is read.
        let mut at_limit = list_of(3).into_bytes();
        at_limit.resize(MAX_MODEL_LIST_BYTES, b' ');
        let ok = read_model_list("p", response(at_limit.into())).await;
        assert_eq!(ok.unwrap().len(), 3);
        // One byte more, with its length declared: refused before reading it.
        let mut over = list_of(3).into_bytes();
        over.resize(MAX_MODEL_LIST_BYTES + 1, b' ');
        let err = read_model_list("p", response(over.into()))
            .await
            .unwrap_err();
        assert!(err.message.contains("larger than 4 MiB"), "{}", err.message);
        // No declared length, 64 KiB chunks without end: read stops past the limit.
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pulled.clone();
        let endless = futures_util::stream::repeat_with(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 64 * 1024]))
        });
        let err = read_model_list("p", response(reqwest::Body::wrap_stream(endless)))
            .await
            .unwrap_err();
        assert!(err.message.contains("larger than 4 MiB"), "{}", err.message);
        let chunks = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(chunks, MAX_MODEL_LIST_BYTES / (64 * 1024) + 1);
    }

    #[test]
    fn urls() {
        let u = OpenAiUpstream::new("http://h/v1".into(), None);
        assert_eq!(
            u.url(Operation::ChatCompletions),
            "http://h/v1/chat/completions"
        );
        assert_eq!(u.url(Operation::Models), "http://h/v1/models");
    }
}
