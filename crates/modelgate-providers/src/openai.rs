//! The OpenAI-schema adapter (kinds `openai` and `openai-compatible`): operation URLs
//! under the provider's base URL, `Authorization: Bearer` auth, and model discovery
//! through `GET {base}/models`.

use crate::UpstreamError;
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

/// Reads a model-list response (OpenAI and Anthropic share the `data[].id` shape).
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
    let body = resp
        .bytes()
        .await
        .map_err(|e| UpstreamError::from_transport(provider, &e))?;
    parse_model_list(&body).ok_or_else(|| {
        UpstreamError::new(
            ErrorKind::UpstreamInvalid,
            format!("provider '{provider}' sent a model list that is not OpenAI-shaped"),
        )
    })
}

/// Reads `{"data":[{"id":...}, ...]}` (also accepts a bare array of objects or strings,
/// as some servers send).
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
