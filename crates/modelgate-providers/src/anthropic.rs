//! The Anthropic Messages adapter (kind `anthropic`): `POST {base}/messages` with
//! `x-api-key` and `anthropic-version`; model discovery through `GET {base}/models`.

use crate::UpstreamError;
use crate::operation::Operation;
use modelgate_core::Secret;
use std::time::Duration;

/// The API version sent when the client names none.
pub const DEFAULT_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct AnthropicUpstream {
    base_url: String,
    api_key: Option<Secret>,
}

impl AnthropicUpstream {
    pub fn new(base_url: String, api_key: Option<Secret>) -> Self {
        Self { base_url, api_key }
    }

    pub fn api_key_text(&self) -> Option<&str> {
        self.api_key.as_ref().map(Secret::expose)
    }

    pub fn url(&self, op: Operation) -> String {
        format!("{}{}", self.base_url, op.path())
    }

    /// A request for `op` with auth and version headers; `version` and `beta` come from the
    /// client when it sent them (Anthropic SDKs and agents do), else the default version.
    pub fn request(
        &self,
        client: &reqwest::Client,
        op: Operation,
        version: Option<&str>,
        beta: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut builder = match op {
            // The default page is 20 models; ask for all of them.
            Operation::Models => client.get(format!("{}?limit=1000", self.url(op))),
            _ => client
                .post(self.url(op))
                .header(http::header::CONTENT_TYPE, "application/json"),
        };
        builder = builder.header("anthropic-version", version.unwrap_or(DEFAULT_VERSION));
        if let Some(beta) = beta {
            builder = builder.header("anthropic-beta", beta);
        }
        match &self.api_key {
            Some(key) if !key.is_empty() => builder.header("x-api-key", key.expose()),
            _ => builder,
        }
    }

    pub async fn discover_models(
        &self,
        provider: &str,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Vec<String>, UpstreamError> {
        let resp = self
            .request(client, Operation::Models, None, None)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| UpstreamError::from_transport(provider, &e))?;
        crate::openai::read_model_list(provider, resp).await
    }
}
