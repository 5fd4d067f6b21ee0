//! Dialing the gateway: the upgrade request, and what each answer means for the agent
//! (serve, retry later, or stop for good).

use super::{AgentConfig, AgentError};
use crate::protocol::{
    AGENT_NAME_HEADER, AGENT_VERSION, AGENT_VERSION_HEADER, CONNECT_PATH, UPGRADE_PROTOCOL,
};
use http::header::{AUTHORIZATION, CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::error::Error as StdError;
use std::time::Duration;

/// Longest wait for the TCP (and TLS) connection to the gateway.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the gateway's answer to the upgrade request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an error answer read to find its message.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// The outcome of a failed attempt.
pub(super) enum ConnectError {
    /// Retrying cannot help.
    Fatal(AgentError),
    /// Worth retrying after a backoff; the reason is logged.
    Retry(String),
}

/// The gateway to dial, with its prepared request.
pub(super) struct Gateway {
    client: reqwest::Client,
    url: url::Url,
    headers: HeaderMap,
    display: String,
    name: Option<String>,
}

impl Gateway {
    pub(super) fn new(config: &AgentConfig) -> Result<Self, AgentError> {
        let url = connect_url(&config.gateway)?;
        if config.token.trim().is_empty() {
            return Err(AgentError::Config("the tunnel token is empty".to_owned()));
        }
        let mut headers = HeaderMap::new();
        let mut bearer =
            HeaderValue::try_from(format!("Bearer {}", config.token)).map_err(|_| {
                AgentError::Config(
                    "the token contains characters that cannot be sent in a header".to_owned(),
                )
            })?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static(UPGRADE_PROTOCOL));
        headers.insert(
            HeaderName::from_static(AGENT_VERSION_HEADER),
            HeaderValue::from_static(AGENT_VERSION),
        );
        if let Some(name) = &config.name {
            let value = HeaderValue::try_from(name.as_str()).map_err(|_| {
                AgentError::Config(format!(
                    "--name {name:?} contains characters that cannot be sent in a header"
                ))
            })?;
            headers.insert(HeaderName::from_static(AGENT_NAME_HEADER), value);
        }

        let mut builder = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_merge(read_ca_file(path)?);
        }
        let client = builder
            .build()
            .map_err(|e| AgentError::Client(error_chain(&e)))?;
        Ok(Self {
            client,
            display: display_url(&config.gateway),
            url,
            headers,
            name: config.name.clone(),
        })
    }

    /// The gateway's base URL, without credentials, for logs.
    pub(super) fn display(&self) -> &str {
        &self.display
    }

    /// This agent's name, quoted, for logs.
    pub(super) fn agent_name(&self) -> String {
        match &self.name {
            Some(name) => format!("{name:?}"),
            None => "(unnamed)".to_owned(),
        }
    }

    /// One attempt: the upgrade request and, on `101`, the upgraded connection.
    pub(super) async fn connect(&self) -> Result<reqwest::Upgraded, ConnectError> {
        let request = self
            .client
            .get(self.url.clone())
            .headers(self.headers.clone())
            .send();
        let response = match tokio::time::timeout(ANSWER_TIMEOUT, request).await {
            Err(_) => {
                return Err(ConnectError::Retry(format!(
                    "the gateway {} did not answer within {}s",
                    self.display,
                    ANSWER_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(self.send_error(&e)),
            Ok(Ok(response)) => response,
        };
        match response.status() {
            StatusCode::SWITCHING_PROTOCOLS => {
                let protocol = response
                    .headers()
                    .get(UPGRADE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !protocol.eq_ignore_ascii_case(UPGRADE_PROTOCOL) {
                    return Err(ConnectError::Fatal(AgentError::Protocol(format!(
                        "it switched to {protocol:?} instead of {UPGRADE_PROTOCOL:?}"
                    ))));
                }
                response.upgrade().await.map_err(|e| {
                    ConnectError::Retry(format!("the upgrade failed: {}", error_chain(&e)))
                })
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ConnectError::Fatal(
                AgentError::TokenRefused(error_message(response).await),
            )),
            StatusCode::CONFLICT => Err(ConnectError::Retry(format!(
                "the gateway already has an agent connected for this tunnel ({}); \
                 is another `modelgate tunnel` running with the same token?",
                error_message(response).await
            ))),
            status => Err(ConnectError::Retry(format!(
                "the gateway {} answered {status}: {}",
                self.display,
                error_message(response).await
            ))),
        }
    }

    fn send_error(&self, e: &reqwest::Error) -> ConnectError {
        if let Some(detail) = certificate_error(e) {
            return ConnectError::Fatal(AgentError::Certificate(detail));
        }
        ConnectError::Retry(format!(
            "cannot reach the gateway {}: {}",
            self.display,
            source_chain(e)
        ))
    }
}

/// `<gateway base path>/api/tunnels/connect`.
fn connect_url(gateway: &url::Url) -> Result<url::Url, AgentError> {
    if !matches!(gateway.scheme(), "http" | "https") || gateway.cannot_be_a_base() {
        return Err(AgentError::Config(format!(
            "--gateway must be an http:// or https:// URL, not {}",
            display_url(gateway)
        )));
    }
    let mut url = gateway.clone();
    let path = format!("{}{CONNECT_PATH}", gateway.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// A URL without credentials, query or fragment, for logs and messages.
pub(super) fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, AgentError> {
    let failed = |reason: String| AgentError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| failed(format!("not a PEM certificate bundle: {}", error_chain(&e))))?;
    if certs.is_empty() {
        return Err(failed("it holds no PEM certificate".to_owned()));
    }
    Ok(certs)
}

/// The detail of a refused TLS certificate somewhere in the error's sources (rustls:
/// "invalid peer certificate: UnknownIssuer", "peer sent no certificates"...).
fn certificate_error(e: &reqwest::Error) -> Option<String> {
    let mut source = e.source();
    while let Some(err) = source {
        let text = err.to_string();
        if text.to_ascii_lowercase().contains("certificate") {
            return Some(text);
        }
        source = err.source();
    }
    None
}

/// The message of a gateway's error answer: `error.message` of the JSON shape, else the
/// start of the body, else the status.
async fn error_message(mut response: reqwest::Response) -> String {
    let status = response.status();
    let mut body = Vec::new();
    let read = async {
        while body.len() < ERROR_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    message_from_body(&body).unwrap_or_else(|| status.to_string())
}

fn message_from_body(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let message = json
            .pointer("/error/message")
            .or_else(|| json.get("message"))
            .or_else(|| json.get("error"))
            .and_then(|m| m.as_str());
        if let Some(message) = message {
            return Some(message.to_owned());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

/// An error and its sources, `a: b: c`, skipping sources already in the text.
pub(super) fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    append_sources(&mut text, e.source());
    text
}

/// Only the sources of an error (reqwest's own text repeats the URL).
fn source_chain(e: &reqwest::Error) -> String {
    let mut text = String::new();
    append_sources(&mut text, e.source());
    if text.is_empty() { e.to_string() } else { text }
}

fn append_sources(text: &mut String, mut source: Option<&(dyn StdError + 'static)>) {
    while let Some(err) = source {
        let part = err.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        source = err.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_url_keeps_base_path() {
        let u = |s: &str| {
            connect_url(&url::Url::parse(s).unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(
            u("https://gw.example"),
            "https://gw.example/api/tunnels/connect"
        );
        assert_eq!(
            u("https://gw.example/modelgate/?x=1"),
            "https://gw.example/modelgate/api/tunnels/connect"
        );
        assert!(connect_url(&url::Url::parse("ftp://gw.example").unwrap()).is_err());
    }

    #[test]
    fn display_url_drops_credentials() {
        let url = url::Url::parse("https://user:pw@gw.example/x?token=1").unwrap();
        assert_eq!(display_url(&url), "https://gw.example/x");
    }

    #[test]
    fn error_messages_are_read_from_json_or_text() {
        let json = br#"{"error":{"message":"token revoked","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(message_from_body(json).as_deref(), Some("token revoked"));
        assert_eq!(message_from_body(b" nope \n").as_deref(), Some("nope"));
        assert_eq!(message_from_body(b""), None);
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        let err = read_ca_file(missing).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");

        let dir = std::env::temp_dir().join(format!("mg-tunnel-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = read_ca_file(&empty).err().unwrap().to_string();
        assert!(
            err.contains("empty.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
