//! OpenAI API handlers: authenticate, read the body within the limit, hand it to the
//! gateway, and turn its answer into a response (a full body or an event stream).

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::{RequestId, presented_key, read_body};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response};
use axum::response::IntoResponse;
use modelgate_gateway::GatewayError;
use modelgate_gateway::auth::Principal;
use modelgate_gateway::proxy::{ClientHints, FrontApi, Operation};
use modelgate_gateway::proxy::{ProxyBody, ProxyResponse};
use std::sync::Arc;

pub(crate) async fn authenticate(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    let key = presented_key(headers)?;
    Ok(st.gateway.authenticate(key).await?)
}

async fn forward(
    st: AppState,
    rid: RequestId,
    headers: HeaderMap,
    body: Body,
    op: Operation,
) -> ApiResult<Response<Body>> {
    // The body is read before the key is checked, so a refused request leaves the
    // connection clean for the client's next one.
    let bytes = read_body(&headers, body, st.gateway.settings.max_body_bytes).await?;
    let principal = authenticate(&st, &headers).await?;
    let resp = st
        .gateway
        .proxy(
            &principal,
            FrontApi::OpenAi(op),
            bytes,
            &rid.0,
            &ClientHints::default(),
        )
        .await?;
    Ok(into_response(resp))
}

pub(crate) fn into_response(resp: ProxyResponse) -> Response<Body> {
    let body = match resp.body {
        ProxyBody::Full(bytes) => Body::from(bytes),
        ProxyBody::Stream(stream) => Body::from_stream(stream),
    };
    let mut out = Response::new(body);
    *out.status_mut() = resp.status;
    *out.headers_mut() = resp.headers;
    out
}

pub async fn chat_completions(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response<Body>> {
    forward(st, rid, headers, body, Operation::ChatCompletions).await
}

pub async fn completions(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response<Body>> {
    forward(st, rid, headers, body, Operation::Completions).await
}

pub async fn embeddings(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response<Body>> {
    forward(st, rid, headers, body, Operation::Embeddings).await
}

pub async fn responses(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response<Body>> {
    forward(st, rid, headers, body, Operation::Responses).await
}

pub async fn list_models(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let principal = authenticate(&st, &headers).await?;
    Ok(axum::Json(st.gateway.list_models(&principal)))
}

pub async fn get_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let principal = authenticate(&st, &headers).await?;
    st.gateway
        .list_models(&principal)
        .data
        .into_iter()
        .find(|m| m.id == model)
        .map(axum::Json)
        .ok_or_else(|| ApiError::from(GatewayError::model_not_found(&model)))
}
