//! Per-request plumbing: the request id (kept from `x-request-id` when the client sent a
//! sane one, else minted cheaply from a per-process random prefix and a counter), the
//! caller's key (`Authorization: Bearer` or `x-api-key`), and the size-limited body.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body_util::BodyExt;
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const REQUEST_ID: &str = "x-request-id";

/// The id of the current request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn mint() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut raw = [0u8; 6];
        modelgate_core::ids::fill_random(&mut raw);
        raw.iter().map(|b| format!("{b:02x}")).collect()
    });
    format!(
        "req_{prefix}{:010x}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Middleware: assigns the request id and echoes it on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(mint, str::to_owned);
    let value = HeaderValue::from_str(&id).ok();
    req.extensions_mut().insert(RequestId(id));
    let mut resp = next.run(req).await;
    if let Some(v) = value {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The presented key. `Authorization: Bearer` and `x-api-key` are both accepted; when
/// both are present they must agree.
pub fn presented_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let bearer = match headers.get(axum::http::header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().map_err(|_| GatewayError::unauthorized())?;
            let (scheme, token) = v.split_once(' ').ok_or_else(GatewayError::unauthorized)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(GatewayError::unauthorized().into());
            }
            Some(token.trim())
        }
        None => None,
    };
    let x_api_key = match headers.get("x-api-key") {
        Some(v) => Some(v.to_str().map_err(|_| GatewayError::unauthorized())?.trim()),
        None => None,
    };
    match (bearer, x_api_key) {
        (Some(a), Some(b)) if a != b => Err(GatewayError::unauthorized().into()),
        (Some(k), _) | (None, Some(k)) if !k.is_empty() => Ok(k),
        _ => Err(GatewayError::unauthorized().into()),
    }
}

/// Reads the whole request body, refusing more than `limit` bytes with 413 — from the
/// declared `content-length` at once, or as soon as a chunked body crosses the limit.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::from(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body is larger than the limit of {limit} bytes."),
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(GatewayError::bad_request("The request body could not be read.").into()),
    }
}

/// Admin bodies are small; this cap applies before the general body limit.
const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// Reads an admin API request body. Handlers read it before checking the key, so a
/// refused request never leaves unread bytes on a kept-alive connection.
pub(crate) async fn body_of(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> crate::error::ApiResult<bytes::Bytes> {
    read_body(headers, body, ADMIN_BODY_LIMIT).await
}

/// Whether the client reached us over TLS (directly or through a proxy that says so).
pub(crate) fn over_tls(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}
