//! Errors become HTTP here, and only here: a [`GatewayError`]'s kind gives the status, and
//! the route's [`ErrorSchema`] the body — OpenAI's `{"error":{"message","type","param",
//! "code"}}` or Anthropic's `{"type":"error","error":{"type","message"}}`.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;

/// The error shape a route answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSchema {
    /// OpenAI routes and the admin API.
    OpenAi,
    /// Anthropic routes.
    Anthropic,
}

/// A handler error, rendered in its route's error shape.
pub struct ApiError(pub GatewayError, pub ErrorSchema);

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        Self(e, ErrorSchema::OpenAi)
    }
}

impl ApiError {
    /// The same error, for an Anthropic route.
    pub fn anthropic(self) -> Self {
        Self(self.0, ErrorSchema::Anthropic)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(e, schema) = self;
        let status =
            StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match schema {
            ErrorSchema::OpenAi => serde_json::json!({
                "error": {
                    "message": e.message,
                    "type": e.kind.openai_type(),
                    "param": e.param,
                    "code": e.code.unwrap_or(e.kind.label()),
                }
            }),
            ErrorSchema::Anthropic => serde_json::json!({
                "type": "error",
                "error": {
                    "type": modelgate_gateway::translate::errors::anthropic_type(e.kind.status()),
                    "message": e.message,
                }
            }),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if e.kind == ErrorKind::PayloadTooLarge {
            // The rest of the body was not read: the connection cannot carry another request.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let Some(secs) = e.retry_after_secs {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if e.kind == ErrorKind::Unavailable {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Unknown routes.
pub async fn not_found(uri: Uri) -> ApiError {
    GatewayError::not_found(format!("Unknown route: {}", uri.path()))
        .with_code("unknown_route")
        .into()
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    GatewayError::new(
        ErrorKind::MethodNotAllowed,
        "This method is not allowed on this route.",
    )
    .into()
}
