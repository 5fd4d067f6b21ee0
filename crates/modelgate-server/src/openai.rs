//! OpenAI API handlers: a [`ModelCall`] (body read within the limit, then the caller
//! authenticated) handed to the gateway, and its answer turned into a response (a full
//! body or an event stream).

use crate::caller::{Surface, caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::ModelCall;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response};
use axum::response::IntoResponse;
use modelgate_gateway::GatewayError;
use modelgate_gateway::proxy::{ClientHints, FrontApi, Operation};
use modelgate_gateway::proxy::{ProxyBody, ProxyResponse};
use modelgate_org::auth::Principal;
use std::sync::Arc;

/// The caller of a model read (`GET /v1/models`): no CSRF token needed.
async fn authenticate_read(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, false, Surface::Models).await
}

async fn forward(st: AppState, call: ModelCall, op: Operation) -> ApiResult<Response<Body>> {
    let resp = st
        .gateway
        .proxy(
            &call.who,
            FrontApi::OpenAi(op),
            call.body,
            &call.rid.0,
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
    call: ModelCall,
) -> ApiResult<Response<Body>> {
    forward(st, call, Operation::ChatCompletions).await
}

pub async fn completions(State(st): State<AppState>, call: ModelCall) -> ApiResult<Response<Body>> {
    forward(st, call, Operation::Completions).await
}

pub async fn embeddings(State(st): State<AppState>, call: ModelCall) -> ApiResult<Response<Body>> {
    forward(st, call, Operation::Embeddings).await
}

pub async fn responses(State(st): State<AppState>, call: ModelCall) -> ApiResult<Response<Body>> {
    forward(st, call, Operation::Responses).await
}

/// `GET /v1/responses/{id}`: a response the gateway kept (made by translation), for the
/// user who created it.
pub async fn get_response(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let principal = authenticate_read(&st, &headers).await?;
    let response =
        st.gateway
            .responses
            .get(&id, &principal.user_id, modelgate_core::now_millis())?;
    Ok(axum::Json(response))
}

/// `DELETE /v1/responses/{id}`: forgets a kept response (its creator only).
pub async fn delete_response(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let principal = caller(&st, &headers, true, Surface::Models).await?;
    st.gateway
        .responses
        .delete(&id, &principal.user_id, modelgate_core::now_millis())?;
    Ok(axum::Json(
        serde_json::json!({"id": id, "object": "response.deleted", "deleted": true}),
    ))
}

pub async fn list_models(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let principal = authenticate_read(&st, &headers).await?;
    Ok(axum::Json(st.gateway.providers.list_models(&principal)))
}

pub async fn get_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let principal = authenticate_read(&st, &headers).await?;
    st.gateway
        .providers
        .list_models(&principal)
        .data
        .into_iter()
        .find(|m| m.id == model)
        .map(axum::Json)
        .ok_or_else(|| ApiError::from(GatewayError::model_not_found(&model)))
}
