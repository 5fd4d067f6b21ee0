//! The Azure OpenAI adapter (kind `azure-openai`): OpenAI schema on deployment paths,
//! `{endpoint}/openai/deployments/{deployment}/{operation}?api-version=…`, a model →
//! deployment map (a model without an entry is used as the deployment name), and auth by
//! `api-key` header or Entra ID bearer token. Azure's Responses API is not under the
//! deployment: `{endpoint}/openai/responses?api-version=…` (2025-03-01-preview and later),
//! with the deployment name as the body's `model`.

use crate::UpstreamError;
use crate::azure_entra::EntraTokenSource;
use crate::endpoint::encode_segment;
use crate::operation::Operation;
use modelgate_core::{ErrorKind, Secret};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The api-version used when none is configured (the one Envoy AI Gateway lists).
pub const DEFAULT_API_VERSION: &str = "2025-01-01-preview";

#[derive(Debug, Clone)]
pub enum AzureAuth {
    ApiKey(Secret),
    Entra(Arc<EntraTokenSource>),
}

#[derive(Debug, Clone)]
pub struct AzureUpstream {
    /// The resource endpoint, without a trailing slash or `/openai`.
    endpoint: String,
    api_version: String,
    deployments: BTreeMap<String, String>,
    auth: AzureAuth,
}

impl AzureUpstream {
    pub fn new(
        endpoint: &str,
        api_version: Option<String>,
        deployments: BTreeMap<String, String>,
        auth: AzureAuth,
    ) -> Self {
        let endpoint = endpoint.trim_end_matches('/');
        let endpoint = endpoint
            .strip_suffix("/openai")
            .unwrap_or(endpoint)
            .to_owned();
        Self {
            endpoint,
            api_version: api_version.unwrap_or_else(|| DEFAULT_API_VERSION.to_owned()),
            deployments,
            auth,
        }
    }

    /// The deployment serving `model`.
    pub fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }

    /// The models this provider knows from its deployment map.
    pub fn mapped_models(&self) -> Vec<String> {
        self.deployments.keys().cloned().collect()
    }

    pub fn api_key_text(&self) -> Option<&str> {
        match &self.auth {
            AzureAuth::ApiKey(k) => Some(k.expose()),
            AzureAuth::Entra(_) => None,
        }
    }

    /// The URL of `op` for `model`; deployment names are percent-encoded path segments.
    pub fn url(&self, op: Operation, model: &str) -> Result<String, UpstreamError> {
        if op == Operation::Responses {
            return Ok(format!(
                "{}/openai/responses?api-version={}",
                self.endpoint,
                encode_segment(&self.api_version)
            ));
        }
        let path = match op {
            Operation::ChatCompletions | Operation::Completions | Operation::Embeddings => {
                op.path()
            }
            _ => {
                return Err(UpstreamError::new(
                    ErrorKind::BadRequest,
                    format!(
                        "the {} API is not available on Azure OpenAI providers",
                        op.label()
                    ),
                ));
            }
        };
        Ok(format!(
            "{}/openai/deployments/{}{}?api-version={}",
            self.endpoint,
            encode_segment(self.deployment(model)),
            path,
            encode_segment(&self.api_version)
        ))
    }

    /// A request for `op` on `model`'s deployment, authenticated.
    pub async fn request(
        &self,
        client: &reqwest::Client,
        op: Operation,
        model: &str,
        provider: &str,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let builder = client
            .post(self.url(op, model)?)
            .header(http::header::CONTENT_TYPE, "application/json");
        Ok(match &self.auth {
            AzureAuth::ApiKey(key) => builder.header("api-key", key.expose()),
            AzureAuth::Entra(source) => {
                builder.bearer_auth(source.token(client, provider).await?.expose())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_urls() {
        let mut map = BTreeMap::new();
        map.insert("gpt-4o".to_owned(), "prod-4o".to_owned());
        let u = AzureUpstream::new(
            "https://r.openai.azure.com/openai/",
            None,
            map,
            AzureAuth::ApiKey(Secret::new("k")),
        );
        assert_eq!(
            u.url(Operation::ChatCompletions, "gpt-4o").unwrap(),
            "https://r.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2025-01-01-preview"
        );
        assert_eq!(
            u.url(Operation::Embeddings, "../../admin?x=1").unwrap(),
            "https://r.openai.azure.com/openai/deployments/..%2F..%2Fadmin%3Fx%3D1/embeddings?api-version=2025-01-01-preview"
        );
        assert_eq!(
            u.url(Operation::Responses, "gpt-4o").unwrap(),
            "https://r.openai.azure.com/openai/responses?api-version=2025-01-01-preview"
        );
        assert!(u.url(Operation::Models, "gpt-4o").is_err());
        assert_eq!(u.mapped_models(), vec!["gpt-4o"]);
    }
}
