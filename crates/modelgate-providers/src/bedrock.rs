//! The AWS Bedrock adapter (kind `aws-bedrock`): Converse and ConverseStream at
//! `{endpoint}/model/{modelId}/converse[-stream]`, SigV4-signed (service `bedrock`) with
//! the provider's access key, secret and optional session token.

use crate::UpstreamError;
use crate::aws_sigv4::{AwsCredentials, SigningScope, sign_headers};
use crate::endpoint::encode_segment;
use bytes::Bytes;
use modelgate_core::ErrorKind;
use std::time::SystemTime;

/// The signing name of Bedrock runtime.
pub const SERVICE: &str = "bedrock";

/// The default endpoint of a region.
pub fn default_endpoint(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

#[derive(Debug, Clone)]
pub struct BedrockUpstream {
    endpoint: String,
    region: String,
    credentials: AwsCredentials,
}

impl BedrockUpstream {
    pub fn new(endpoint: &str, region: String, credentials: AwsCredentials) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials,
        }
    }

    pub fn secret_text(&self) -> Option<&str> {
        Some(self.credentials.secret_access_key.expose())
    }

    /// `.../model/{id}/converse` or `.../converse-stream`; the model id is one encoded
    /// path segment (`anthropic.claude-3-5-sonnet-20240620-v1:0` → `...v1%3A0`).
    pub fn url(&self, model: &str, stream: bool) -> String {
        let op = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        format!("{}/model/{}/{op}", self.endpoint, encode_segment(model))
    }

    /// A signed request carrying `body`.
    pub fn request(
        &self,
        client: &reqwest::Client,
        model: &str,
        stream: bool,
        body: Bytes,
        provider: &str,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let url = self.url(model, stream);
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_owned();
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let signed = sign_headers(
            "POST",
            &url,
            &headers,
            &body,
            &self.credentials,
            SigningScope {
                region: &self.region,
                service: SERVICE,
                time: SystemTime::now(),
            },
        )
        .map_err(|e| {
            UpstreamError::new(
                ErrorKind::Internal,
                format!("could not sign the request to provider '{provider}': {e}"),
            )
        })?;
        let mut builder = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        Ok(builder.body(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelgate_core::Secret;

    #[test]
    fn urls_and_signatures() {
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("token-1")),
        };
        let u = BedrockUpstream::new(
            &default_endpoint("us-east-1"),
            "us-east-1".into(),
            creds.clone(),
        );
        assert_eq!(
            u.url("anthropic.claude-3-5-sonnet-20240620-v1:0", true),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
        );
        let url = u.url("m", false);
        let headers = [
            ("host", "bedrock-runtime.us-east-1.amazonaws.com"),
            ("content-type", "application/json"),
        ];
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let scope = SigningScope {
            region: "us-east-1",
            service: SERVICE,
            time: t,
        };
        let a = sign_headers("POST", &url, &headers, b"{}", &creds, scope).unwrap();
        let b = sign_headers("POST", &url, &headers, b"{ }", &creds, scope).unwrap();
        let auth = |h: &[(String, String)]| {
            h.iter()
                .find(|(n, _)| n == "authorization")
                .unwrap()
                .1
                .clone()
        };
        assert!(auth(&a).starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request"
        ));
        assert!(
            auth(&a).contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token")
        );
        assert_ne!(auth(&a), auth(&b), "the body is signed");
        assert!(
            a.iter()
                .any(|(n, v)| n == "x-amz-security-token" && v == "token-1")
        );
    }
}
