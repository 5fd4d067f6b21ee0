//! Errors become HTTP here, and only here: a [`GatewayError`]'s kind gives the status, and
//! the body is OpenAI's `{"error":{"message","type","param","code"}}`.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;

/// A handler error, rendered in the OpenAI error format.
pub struct ApiError(pub GatewayError);

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status =
            StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error": {
                "message": e.message,
                "type": e.kind.openai_type(),
                "param": e.param,
                "code": e.code.unwrap_or(e.kind.label()),
            }
        });
        let mut resp = (status, axum::Json(body)).into_response();
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
    ApiError(
        GatewayError::not_found(format!("Unknown route: {}", uri.path()))
            .with_code("unknown_route"),
    )
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError(GatewayError::new(
        ErrorKind::MethodNotAllowed,
        "This method is not allowed on this route.",
    ))
}
