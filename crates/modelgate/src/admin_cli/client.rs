//! The HTTP side of `modelgate admin`: builds the URL of a [`Call`] under the base URL
//! (path segments percent-encoded), sends it with `Authorization: Bearer <key>`, and maps
//! a non-2xx answer to an [`ApiError`] carrying the server's `error.message` (with a hint
//! when the key lacks the management scope the admin API needs).

use super::call::Call;
use anyhow::Context;
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// How long one admin request may take, end to end (provider creation may probe the
/// upstream for its models, so this is generous).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A non-2xx answer: the HTTP status and the server's message.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// `error.message` from an OpenAI-shaped body, else the body text or the reason phrase.
    pub message: String,
    /// `error.code` from an OpenAI-shaped body.
    pub code: Option<String>,
}

/// What to do when the key is an inference key (403 `insufficient_scope`).
const MANAGEMENT_HINT: &str = "`modelgate admin` needs a key with the management scope. \
     Make one with a key that has it (or from the web UI's AI Keys page): \
     `modelgate admin keys create NAME --scope management`, and pass it with --key or \
     MODELGATE_KEY.";

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)?;
        if self.code.as_deref() == Some("insufficient_scope") {
            write!(f, "\nhint: {MANAGEMENT_HINT}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// An authenticated client for one gateway.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: String,
}

impl Client {
    /// Checks the base URL and builds the HTTP client. Redirects are not followed, so
    /// the key is never sent anywhere but `base`.
    pub fn new(base: &str, key: String) -> anyhow::Result<Self> {
        let base = parse_base(base)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("could not build the HTTP client")?;
        Ok(Self { http, base, key })
    }

    /// Sends `call`; returns the JSON answer, or `None` for an empty body (204).
    pub async fn send(&self, call: &Call) -> anyhow::Result<Option<Value>> {
        let url = endpoint(&self.base, &call.path, &call.query)?;
        let mut req = self
            .http
            .request(call.method.clone(), url.clone())
            .bearer_auth(&self.key);
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("could not reach {url}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("reading the answer from {url}"))?;
        if !status.is_success() {
            return Err(ApiError {
                status: status.as_u16(),
                message: error_message(&text, status.canonical_reason()),
                code: error_code(&text),
            }
            .into());
        }
        if text.trim().is_empty() {
            return Ok(None);
        }
        let value = serde_json::from_str(&text).with_context(|| {
            format!("the server answered {status} with a body that is not JSON")
        })?;
        Ok(Some(value))
    }
}

/// Parses and checks the gateway's base URL.
fn parse_base(base: &str) -> anyhow::Result<Url> {
    let url = Url::parse(base).with_context(|| format!("invalid --url '{base}'"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        anyhow::bail!("invalid --url '{base}': expected http://host[:port] or https://...");
    }
    Ok(url)
}

/// `base` + `/api/` + the percent-encoded `path` segments + the query.
pub fn endpoint(base: &Url, path: &[String], query: &[(&str, String)]) -> anyhow::Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("the URL {base} cannot have a path"))?;
        segments.pop_if_empty().push("api").extend(path);
    }
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    Ok(url)
}

/// The `error.code` of an OpenAI-shaped error answer.
fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.pointer("/error/code")?.as_str().map(str::to_owned)
}

/// The message of an error answer: `error.message` of an OpenAI-shaped body, else the
/// (shortened) body text, else the reason phrase.
fn error_message(body: &str, reason: Option<&str>) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let message = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .and_then(Value::as_str);
        if let Some(m) = message {
            return m.to_owned();
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return reason.unwrap_or("request failed").to_owned();
    }
    let mut short: String = body.chars().take(300).collect();
    if short.len() < body.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_encodes_segments_and_keeps_a_base_path() {
        let base = parse_base("http://127.0.0.1:8080").unwrap();
        let url = endpoint(&base, &["users".into(), "a b/c?".into()], &[]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/api/users/a%20b%2Fc%3F");

        let base = parse_base("https://gw.example/prefix/").unwrap();
        let url = endpoint(
            &base,
            &["keys".into()],
            &[("q", "a&b c".into()), ("all", "true".into())],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://gw.example/prefix/api/keys?q=a%26b+c&all=true"
        );
    }

    #[test]
    fn base_must_be_http() {
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("not a url").is_err());
        assert!(parse_base("mailto:a@b").is_err());
    }

    #[test]
    fn error_message_prefers_the_openai_shape() {
        let body =
            r#"{"error": {"message": "no user named 'x'", "type": "invalid_request_error"}}"#;
        assert_eq!(error_message(body, Some("Not Found")), "no user named 'x'");
        assert_eq!(error_message("", Some("Bad Gateway")), "Bad Gateway");
        assert_eq!(error_message("plain text\n", None), "plain text");
        assert_eq!(error_code(body), None);
    }

    #[test]
    fn an_inference_key_gets_a_hint() {
        let body = r#"{"error": {"message": "needs the 'management' scope",
            "type": "permission_error", "code": "insufficient_scope"}}"#;
        let e = ApiError {
            status: 403,
            message: error_message(body, None),
            code: error_code(body),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("403: needs the 'management' scope\nhint: "),
            "{text}"
        );
        assert!(text.contains("--scope management"), "{text}");
    }
}
