//! Azure Entra ID client-credentials tokens for Azure OpenAI: fetched from the token URL
//! (`https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` unless overridden),
//! cached, and refreshed five minutes before expiry. Readers take no lock: the current
//! token sits behind an `ArcSwap`; only a refresh takes the async mutex, so concurrent
//! requests that find the token stale wait for one fetch instead of starting many.

use crate::UpstreamError;
use arc_swap::ArcSwapOption;
use modelgate_core::{ErrorKind, Secret};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The scope of Azure OpenAI (Cognitive Services) tokens.
pub const SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// Tokens are refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Largest token response read (Entra's are a few KiB): the token URL is a provider
/// setting, so it may be anyone's server.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// The token URL for a tenant.
pub fn default_token_url(tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
}

#[derive(Debug)]
struct Token {
    value: Secret,
    refresh_at: Instant,
}

#[derive(Debug)]
pub struct EntraTokenSource {
    token_url: String,
    client_id: String,
    client_secret: Secret,
    current: ArcSwapOption<Token>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl EntraTokenSource {
    pub fn new(token_url: String, client_id: String, client_secret: Secret) -> Self {
        Self {
            token_url,
            client_id,
            client_secret,
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Secret> {
        self.current
            .load()
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.value.clone())
    }

    /// A valid access token, fetching one if the cached token is missing or near expiry.
    pub async fn token(
        &self,
        client: &reqwest::Client,
        provider: &str,
    ) -> Result<Secret, UpstreamError> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", SCOPE),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let failed = |what: &str| {
            UpstreamError::new(
                ErrorKind::UpstreamUnreachable,
                format!("could not get an Entra ID token for provider '{provider}': {what}"),
            )
        };
        let resp = client
            .post(&self.token_url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|_| failed("the token endpoint is unreachable"))?;
        if !resp.status().is_success() {
            return Err(failed(&format!(
                "the token endpoint answered {}",
                resp.status()
            )));
        }
        let body = match crate::client::read_limited(resp, MAX_TOKEN_RESPONSE_BYTES).await {
            Ok(body) => body,
            Err(crate::client::ReadError::TooLarge) => {
                return Err(failed("the token endpoint's answer is larger than 64 KiB"));
            }
            Err(crate::client::ReadError::Transport(_)) => {
                return Err(failed("the token endpoint's answer broke off"));
            }
        };
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| failed("the token endpoint's answer is not a token"))?;
        let lifetime = parsed
            .expires_in
            .as_ref()
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3600);
        let refresh_at =
            Instant::now() + Duration::from_secs(lifetime).saturating_sub(REFRESH_MARGIN);
        let value = Secret::new(parsed.access_token);
        self.current.store(Some(Arc::new(Token {
            value: value.clone(),
            refresh_at,
        })));
        Ok(value)
    }
}

/// `application/x-www-form-urlencoded` escaping: unreserved characters as they are,
/// everything else percent-encoded.
fn urlencode(s: &str) -> String {
    crate::endpoint::encode_segment(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            default_token_url("t1"),
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
        );
    }
}
