//! Anthropic API handlers: `POST /v1/messages` and `POST /v1/messages/count_tokens`, for
//! Anthropic SDKs and Claude-style agents. The key may come as `x-api-key` or
//! `Authorization: Bearer`; errors use Anthropic's shape; `anthropic-version` and
//! `anthropic-beta` are carried to Anthropic upstreams.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AnthropicCall, ModelCall};
use crate::openai::into_response;
use crate::state::AppState;
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
    call: AnthropicCall,
) -> Result<Response<Body>, ApiError> {
    let ModelCall {
        who,
        body,
        rid,
        headers,
    } = call.0;
    run(async {
        let resp = st
            .gateway
            .proxy(&who, FrontApi::Anthropic, body, &rid.0, &hints(&headers))
            .await?;
        Ok(into_response(resp))
    })
    .await
}

pub async fn count_tokens(
    State(st): State<AppState>,
    call: AnthropicCall,
) -> Result<Response<Body>, ApiError> {
    let ModelCall {
        who, body, headers, ..
    } = call.0;
    run(async {
        let resp = st
            .gateway
            .count_tokens(&who, body, &hints(&headers))
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
