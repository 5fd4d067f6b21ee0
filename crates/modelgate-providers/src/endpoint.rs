//! Endpoint normalisation. A provider's `endpoint` may be a bare origin
//! (`http://host:8000`), a base URL with a version prefix (`http://host:8000/v1`,
//! `https://api.groq.com/openai/v1`) or a full operation URL
//! (`http://host:8000/v1/chat/completions`). All become one base URL to which operation
//! paths (`/chat/completions`, `/models`, …) are appended.

use modelgate_core::ProviderKind;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint is required for a provider of kind '{0}'")]
    Missing(&'static str),
    #[error("endpoint is not a valid absolute URL")]
    Invalid,
    #[error("endpoint must use http or https")]
    Scheme,
    #[error("endpoint must not contain credentials; give them in api_key or auth")]
    Userinfo,
    #[error("endpoint must not contain a query or fragment")]
    QueryOrFragment,
    #[error("endpoint points at a link-local or cloud metadata address, which is never allowed")]
    Forbidden,
}

/// Operation suffixes that may end a full operation URL; stripped to find the base.
const OPERATION_SUFFIXES: &[&str] = &[
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/models",
    "/responses",
    "/messages",
];

/// The normalised base URL, without a trailing slash.
pub fn normalize(kind: ProviderKind, endpoint: Option<&str>) -> Result<String, EndpointError> {
    let raw = match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => e,
        None => kind
            .default_endpoint()
            .ok_or(EndpointError::Missing(kind.as_str()))?,
    };
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(EndpointError::Invalid);
    }
    let url = Url::parse(raw).map_err(|_| EndpointError::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EndpointError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Userinfo);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(EndpointError::QueryOrFragment);
    }
    let host = url.host().ok_or(EndpointError::Invalid)?;
    if is_forbidden_host(&host) {
        return Err(EndpointError::Forbidden);
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    if let Some(suffix) = OPERATION_SUFFIXES.iter().find(|s| path.ends_with(*s)) {
        path.truncate(path.len() - suffix.len());
    }
    // A bare origin gets the OpenAI-style `/v1` prefix; Azure resource endpoints are used
    // as given (the adapter adds `/openai/deployments/...`).
    if path.is_empty() && !matches!(kind, ProviderKind::AzureOpenai | ProviderKind::AwsBedrock) {
        path = "/v1".to_string();
    }
    let origin = url.origin().ascii_serialization();
    Ok(format!("{origin}{path}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a user-given name
/// (a model id, a deployment) is exactly one path segment and can never add segments or a
/// query to an upstream URL.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Link-local (including cloud metadata at 169.254.169.254 and fd00:ec2::254) and other
/// metadata addresses, refused at save time; the client's resolver checks resolved
/// addresses again at connect time.
fn is_forbidden_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => crate::address_guard::is_always_forbidden((*ip).into()),
        url::Host::Ipv6(ip) => crate::address_guard::is_always_forbidden((*ip).into()),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "metadata.google.internal" || d == "metadata"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::*;

    #[test]
    fn accepted_shapes() {
        let cases = [
            ("http://host:8000", "http://host:8000/v1"),
            ("http://host:8000/", "http://host:8000/v1"),
            ("http://host:8000/v1", "http://host:8000/v1"),
            ("http://host:8000/v1/", "http://host:8000/v1"),
            (
                "http://host:8000/v1/chat/completions",
                "http://host:8000/v1",
            ),
            (
                "http://127.0.0.1:11434/v1/models",
                "http://127.0.0.1:11434/v1",
            ),
            (
                "https://api.groq.com/openai/v1",
                "https://api.groq.com/openai/v1",
            ),
            (
                "https://x.example/v1beta/openai/chat/completions",
                "https://x.example/v1beta/openai",
            ),
            ("HTTP://Host:80/v1", "http://host/v1"),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize(OpenaiCompatible, Some(input)).as_deref(),
                Ok(want),
                "{input}"
            );
        }
        assert_eq!(
            normalize(Openai, None).as_deref(),
            Ok("https://api.openai.com/v1")
        );
    }

    #[test]
    fn refused_shapes() {
        let cases = [
            (None, EndpointError::Missing("openai-compatible")),
            (Some("not a url"), EndpointError::Invalid),
            (Some("ftp://host/v1"), EndpointError::Scheme),
            (Some("file:///etc/passwd"), EndpointError::Scheme),
            (Some("http://u:p@host/v1"), EndpointError::Userinfo),
            (Some("http://host/v1?x=1"), EndpointError::QueryOrFragment),
            (
                Some("http://169.254.169.254/latest"),
                EndpointError::Forbidden,
            ),
            (Some("http://[fe80::1]/v1"), EndpointError::Forbidden),
            (Some("http://[fd00:ec2::254]/v1"), EndpointError::Forbidden),
            (
                Some("http://[::ffff:169.254.169.254]/v1"),
                EndpointError::Forbidden,
            ),
            (
                Some("http://metadata.google.internal./v1"),
                EndpointError::Forbidden,
            ),
            (Some("http://host/v1\r\nX: y"), EndpointError::Invalid),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(OpenaiCompatible, input), Err(want), "{input:?}");
        }
    }
}
