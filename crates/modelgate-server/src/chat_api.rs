//! Handlers for the web UI's chat: conversations and their messages
//! (`/api/conversations`), and the provider connection test (`POST /api/providers/test`).

use crate::caller::{reader, writer};
use crate::error::ApiResult;
use crate::request::body_of;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;
use serde_json::json;

pub async fn create_conversation(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = body_of(&headers, body).await?;
    let who = writer(&st, &headers).await?;
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.create_conversation(&who, &body).await?),
    ))
}

pub async fn list_conversations(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let who = reader(&st, &headers).await?;
    Ok(Json(
        json!({ "data": st.gateway.list_conversations(&who).await? }),
    ))
}

pub async fn get_conversation(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let who = reader(&st, &headers).await?;
    Ok(Json(st.gateway.get_conversation(&who, &id).await?))
}

pub async fn rename_conversation(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = body_of(&headers, body).await?;
    let who = writer(&st, &headers).await?;
    Ok(Json(
        st.gateway.rename_conversation(&who, &id, &body).await?,
    ))
}

pub async fn delete_conversation(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let who = writer(&st, &headers).await?;
    st.gateway.delete_conversation(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn append_message(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = body_of(&headers, body).await?;
    let who = writer(&st, &headers).await?;
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.append_message(&who, &id, &body).await?),
    ))
}

/// `POST /api/providers/{name}`: only `test` exists — a connection test of an unsaved
/// provider (`GET /api/providers/test` still reads a provider named `test`).
pub async fn provider_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let body = body_of(&headers, body).await?;
    if name != "test" {
        return Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            "POST is only for /api/providers (create) and /api/providers/test (connection test)",
        )
        .into());
    }
    let who = writer(&st, &headers).await?;
    Ok(Json(st.gateway.test_provider(&who, &body).await?))
}
