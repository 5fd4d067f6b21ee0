//! Forwarding one request from the gateway to the target, streaming both bodies.

use super::connect::{display_url, error_chain};
use super::{AgentConfig, AgentError};
use crate::headers::strip_hop_by_hop;
use crate::protocol::TARGET_UNREACHABLE_CODE;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, StatusCode, Uri};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for a TCP connection to the target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the start-up probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends the gateway's requests on to the target. Cheap to clone.
#[derive(Clone)]
pub(super) struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    target: url::Url,
    display: String,
    api_key: Option<HeaderValue>,
}

impl Forwarder {
    pub(super) fn new(config: &AgentConfig) -> Result<Self, AgentError> {
        let target = &config.target;
        if !matches!(target.scheme(), "http" | "https") || target.cannot_be_a_base() {
            return Err(AgentError::Config(format!(
                "--target must be an http:// or https:// URL, not {}",
                display_url(target)
            )));
        }
        let api_key = match &config.target_api_key {
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                    AgentError::Config(
                        "the target API key contains characters that cannot be sent in a header"
                            .to_owned(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| AgentError::Client(error_chain(&e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                display: display_url(target),
                target: target.clone(),
                api_key,
            }),
        })
    }

    /// The target's base URL, without credentials, for logs.
    pub(super) fn target_display(&self) -> &str {
        &self.inner.display
    }

    /// The target URL for a request path: the target's base joined with the path and
    /// query, without doubling a `/v1` the base already ends with.
    fn target_url(&self, uri: &Uri) -> url::Url {
        let base = self.inner.target.path().trim_end_matches('/');
        let path = uri.path();
        let base = match base.strip_suffix("/v1") {
            Some(stripped) if path == "/v1" || path.starts_with("/v1/") => stripped,
            _ => base,
        };
        let mut url = self.inner.target.clone();
        url.set_path(&format!("{base}{path}"));
        url.set_query(uri.query());
        url.set_fragment(None);
        url
    }

    /// Forwards one request and returns the target's response with its body streaming, or
    /// a 502 in the OpenAI error shape when the target cannot be reached.
    pub(super) async fn forward(
        &self,
        req: http::Request<Incoming>,
    ) -> http::Response<reqwest::Body> {
        let (parts, body) = req.into_parts();
        let url = self.target_url(&parts.uri);
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(HOST);
        // The body's size hint carries the length; the client sets the header from it.
        headers.remove(CONTENT_LENGTH);
        if let Some(key) = &self.inner.api_key {
            headers.insert(AUTHORIZATION, key.clone());
        }
        let sent = self
            .inner
            .client
            .request(parts.method.clone(), url)
            .headers(headers)
            .body(reqwest::Body::wrap(body))
            .send()
            .await;
        match sent {
            Ok(response) => {
                tracing::debug!(
                    method = %parts.method,
                    path = parts.uri.path(),
                    status = response.status().as_u16(),
                    "forwarded"
                );
                let mut response = http::Response::<reqwest::Body>::from(response);
                strip_hop_by_hop(response.headers_mut());
                response
            }
            Err(e) => {
                let reason = error_chain(&e);
                tracing::warn!(
                    method = %parts.method,
                    path = parts.uri.path(),
                    "target unreachable: {}: {reason}",
                    self.inner.display
                );
                unreachable_response(&self.inner.display, &reason)
            }
        }
    }

    /// `GET <target>/v1/models` once, logging whether the target answers.
    pub(super) async fn probe(&self) {
        let url = self.target_url(&Uri::from_static("/v1/models"));
        let mut request = self.inner.client.get(url).timeout(PROBE_TIMEOUT);
        if let Some(key) = &self.inner.api_key {
            request = request.header(AUTHORIZATION, key.clone());
        }
        let target = &self.inner.display;
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!(
                    "target {target} is reachable (GET /v1/models: {})",
                    response.status()
                );
            }
            Ok(response) => {
                let hint = match response.status() {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        " (is --target-api-key right?)"
                    }
                    _ => "",
                };
                tracing::warn!(
                    "target {target} answered GET /v1/models with {}{hint}",
                    response.status()
                );
            }
            Err(e) => tracing::warn!(
                "target unreachable: {target}: {}; requests will get 502 until it answers",
                error_chain(&e)
            ),
        }
    }
}

/// `502` with `{"error":{"message","type":"api_error","code":"tunnel_target_unreachable"}}`.
fn unreachable_response(target: &str, reason: &str) -> http::Response<reqwest::Body> {
    let body = serde_json::json!({
        "error": {
            "message": format!("the tunnel agent could not reach its target {target}: {reason}"),
            "type": "api_error",
            "code": TARGET_UNREACHABLE_CODE,
        }
    });
    let mut response = http::Response::new(reqwest::Body::from(body.to_string()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarder(target: &str) -> Forwarder {
        Forwarder::new(&AgentConfig {
            gateway: url::Url::parse("http://gw.example").unwrap(),
            token: "t".into(),
            target: url::Url::parse(target).unwrap(),
            target_api_key: None,
            ca_file: None,
            name: None,
        })
        .unwrap()
    }

    #[test]
    fn target_urls_do_not_double_v1() {
        let cases = [
            (
                "http://127.0.0.1:8000",
                "/v1/models",
                "http://127.0.0.1:8000/v1/models",
            ),
            (
                "http://127.0.0.1:8000/",
                "/v1/models",
                "http://127.0.0.1:8000/v1/models",
            ),
            (
                "http://127.0.0.1:8000/v1",
                "/v1/models",
                "http://127.0.0.1:8000/v1/models",
            ),
            (
                "http://127.0.0.1:8000/v1/",
                "/v1/chat/completions?x=1",
                "http://127.0.0.1:8000/v1/chat/completions?x=1",
            ),
            ("http://h/ollama", "/v1/models", "http://h/ollama/v1/models"),
            ("http://h/v1", "/health", "http://h/v1/health"),
            ("http://h/v1", "/v1x", "http://h/v1/v1x"),
        ];
        for (target, path, want) in cases {
            let uri: Uri = path.parse().unwrap();
            assert_eq!(
                forwarder(target).target_url(&uri).as_str(),
                want,
                "{target} + {path}"
            );
        }
    }
}
