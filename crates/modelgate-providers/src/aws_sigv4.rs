//! AWS Signature Version 4 for Bedrock requests, with the `aws-sigv4` crate (no hand-made
//! signer). The signature covers the method, the encoded URI, `host`, `content-type`,
//! `x-amz-date`, the session token when present, and the exact body bytes.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use modelgate_core::Secret;
use std::time::SystemTime;

/// Static AWS credentials of a provider.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// Where and when a signature is valid.
#[derive(Debug, Clone, Copy)]
pub struct SigningScope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
}

/// The headers to add to a request so that it carries a valid SigV4 signature.
pub fn sign_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &AwsCredentials,
    scope: SigningScope<'_>,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_owned(),
        creds.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "modelgate",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(scope.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (added, _params) = instructions.into_parts();
    Ok(added
        .iter()
        .map(|h| (h.name().to_owned(), h.value().to_owned()))
        .collect())
}
