//! Handlers for the web UI's chat: conversations and their messages
//! (`/api/conversations`), and the provider connection test (`POST /api/providers/test`).

use crate::error::ApiResult;
use crate::extract::{Change, Reader, Writer};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;
use modelgate_registry::services::conversations::NewConversation;
use modelgate_registry::services::conversations::NewMessage;
use modelgate_registry::services::conversations::Rename;
use serde_json::json;

pub async fn create_conversation(
    State(st): State<AppState>,
    Change { who, spec }: Change<NewConversation>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.providers.create_conversation(&who, spec).await?),
    ))
}

pub async fn list_conversations(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.list_conversations(&who).await? }),
    ))
}

pub async fn get_conversation(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway.providers.get_conversation(&who, &id).await?,
    ))
}

pub async fn rename_conversation(
    State(st): State<AppState>,

    Path(id): Path<String>,
    Change { who, spec }: Change<Rename>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway
            .providers
            .rename_conversation(&who, &id, spec)
            .await?,
    ))
}

pub async fn delete_conversation(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.providers.delete_conversation(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn append_message(
    State(st): State<AppState>,

    Path(id): Path<String>,
    Change { who, spec }: Change<NewMessage>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.providers.append_message(&who, &id, spec).await?),
    ))
}

/// `POST /api/providers/{name}`: only `test` exists — a connection test of an unsaved
/// provider (`GET /api/providers/test` still reads a provider named `test`).
pub async fn provider_action(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    if name != "test" {
        return Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            "POST is only for /api/providers (create) and /api/providers/test (connection test)",
        )
        .into());
    }
    Ok(Json(st.gateway.providers.test_provider(&who, spec).await?))
}
