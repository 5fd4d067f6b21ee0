//! `POST /v1/messages/count_tokens`: the upstream's count for Anthropic providers, an
//! estimate for OpenAI-schema ones (which have no such endpoint). Not metered.

use super::relay::{MAX_ERROR_BODY, insert_header, read_limited, scrub_secret};
use super::*;

impl Gateway {
    /// `POST /v1/messages/count_tokens`: the upstream's count for Anthropic providers, an
    /// estimate for OpenAI-schema ones (which have no such endpoint). Not metered.
    pub async fn count_tokens(
        self: &Arc<Self>,
        principal: &Principal,
        request: Bytes,
        hints: &ClientHints,
    ) -> Result<ProxyResponse, GatewayError> {
        let peeked = body::peek(&request)?;
        let (provider, upstream_model) = self.choose(principal, &peeked.model)?;
        let mut headers = HeaderMap::new();
        insert_header(&mut headers, PROVIDER_HEADER, provider.name());
        insert_header(&mut headers, MODEL_HEADER, &upstream_model);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match provider.primary() {
            Upstream::Anthropic(u) => {
                let body = body::rewrite(&request, &peeked, &upstream_model, false);
                let req = u
                    .request(
                        self.providers.client_for(&provider),
                        Operation::CountTokens,
                        hints.anthropic_version.as_deref(),
                        hints.anthropic_beta.as_deref(),
                    )
                    .timeout(self.settings.request_timeout)
                    .body(body);
                let resp = req.send().await.map_err(|e| {
                    GatewayError::from(UpstreamError::from_transport(provider.name(), &e))
                })?;
                let status = resp.status();
                let raw = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
                let raw = scrub_secret(raw, u.api_key_text());
                Ok(ProxyResponse {
                    status,
                    headers,
                    body: ProxyBody::Full(raw),
                })
            }
            Upstream::OpenAi(_) | Upstream::Azure(_) | Upstream::Bedrock(_) => {
                let value: serde_json::Value = serde_json::from_slice(&request)
                    .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
                let t = a2o::request::translate(&value, &upstream_model, a2o::Flavor::Compatible)
                    .map_err(|e| GatewayError::bad_request(e.message))?;
                let n = estimate::prompt_tokens(t.body.to_string().as_bytes());
                headers.insert("x-modelgate-estimated", HeaderValue::from_static("true"));
                Ok(ProxyResponse {
                    status: StatusCode::OK,
                    headers,
                    body: ProxyBody::Full(Bytes::from(
                        serde_json::json!({"input_tokens": n}).to_string(),
                    )),
                })
            }
        }
    }
}
