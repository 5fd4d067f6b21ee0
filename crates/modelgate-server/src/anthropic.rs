//! Anthropic API handlers: `POST /v1/messages` and `POST /v1/messages/count_tokens`, for
//! Anthropic SDKs and Claude-style agents. The key may come as `x-api-key` or
//! `Authorization: Bearer`; errors use Anthropic's shape; `anthropic-version` and
//! `anthropic-beta` are carried to Anthropic upstreams.

use crate::error::{ApiError, ApiResult};
use crate::openai::{authenticate, into_response};
use crate::request::{RequestId, read_body};
use crate::state::AppState;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use modelgate_gateway::proxy::{ClientHints, FrontApi};

fn hints(headers: &HeaderMap) -> ClientHints {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    ClientHints {
        anthropic_version: text("anthropic-version"),
        anthropic_beta: text("anthropic-beta"),
    }
}

pub async fn messages(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    run(async {
        let bytes = read_body(&headers, body, st.gateway.settings.max_body_bytes).await?;
        let principal = authenticate(&st, &headers).await?;
        let resp = st
            .gateway
            .proxy(
                &principal,
                FrontApi::Anthropic,
                bytes,
                &rid.0,
                &hints(&headers),
            )
            .await?;
        Ok(into_response(resp))
    })
    .await
}

pub async fn count_tokens(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    run(async {
        let bytes = read_body(&headers, body, st.gateway.settings.max_body_bytes).await?;
        let principal = authenticate(&st, &headers).await?;
        let resp = st
            .gateway
            .count_tokens(&principal, bytes, &hints(&headers))
            .await?;
        Ok(into_response(resp))
    })
    .await
}

/// Runs a handler body and renders any error in Anthropic's shape.
async fn run(
    f: impl std::future::Future<Output = ApiResult<Response<Body>>>,
) -> Result<Response<Body>, ApiError> {
    f.await.map_err(ApiError::anthropic)
}
