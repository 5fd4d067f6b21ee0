//! Admin and self-service API handlers (`/api/...`) for providers, keys, usage and the
//! caller: JSON in, JSON out, authenticated with an AI key or a session ([`crate::caller`]).
//! Lists are returned as `{"data": [...]}`. The organization's handlers are in
//! [`crate::org_api`].

use crate::error::ApiResult;
use crate::extract::{Change, OwnReader, Reader, Writer};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use modelgate_core::Scope;
use modelgate_org::keys::CreateKey;
use modelgate_org::keys::KeyQuery;
use modelgate_org::usage::UsageQuery;
use modelgate_registry::services::providers::ProviderPatch;
use modelgate_registry::services::providers::ProviderSpec;
use serde_json::json;

pub async fn me(
    State(st): State<AppState>,
    OwnReader(who): OwnReader,
) -> ApiResult<impl IntoResponse> {
    let org = st.gateway.directory();
    let allocation = who
        .allocation_id
        .as_ref()
        .and_then(|id| org.allocations.get(id))
        .map(|a| a.name.clone());
    Ok(Json(json!({
        "user_id": who.user_id, "user": who.user_name, "role": who.role.as_str(),
        "key_id": (!who.key_id.is_empty()).then_some(&who.key_id),
        "groups": who.groups.iter().map(|g| org.group_name(g)).collect::<Vec<_>>(),
        "allocation": allocation,
        "can_create_providers": org.may_create_providers(&who),
        "scopes": who.scopes,
    })))
}

/// `GET /api/catalog`: the built-in vendors and models with prices.
pub async fn catalog(_: Reader) -> ApiResult<impl IntoResponse> {
    Ok(Json(modelgate_gateway::catalog()))
}

pub async fn create_provider(
    State(st): State<AppState>,
    Change { who, spec }: Change<ProviderSpec>,
) -> ApiResult<impl IntoResponse> {
    let view = st.gateway.providers.create_provider(&who, spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list_providers(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.list_providers(&who) }),
    ))
}

pub async fn get_provider(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.providers.get_provider(&who, &name)?))
}

pub async fn update_provider(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<ProviderPatch>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway
            .providers
            .update_provider(&who, &name, spec)
            .await?,
    ))
}

pub async fn delete_provider(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.providers.delete_provider(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn refresh_provider(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway.providers.refresh_provider(&who, &name).await?,
    ))
}

pub async fn create_key(
    State(st): State<AppState>,
    Change { who, spec }: Change<CreateKey>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_key(&who, spec).await?),
    ))
}

pub async fn create_key_for(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<CreateKey>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_key_for(&who, &name, spec).await?),
    ))
}

pub async fn list_keys(
    State(st): State<AppState>,
    Reader(who): Reader,

    Query(q): Query<KeyQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.list_keys(&who, &q).await? }),
    ))
}

pub async fn revoke_key(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.org.revoke_key(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn usage(
    State(st): State<AppState>,
    OwnReader(who): OwnReader,

    Query(q): Query<UsageQuery>,
) -> ApiResult<impl IntoResponse> {
    if who.scopes.contains(Scope::Management) {
        return Ok(Json(st.gateway.org.usage_report(&who, &q).await?));
    }
    // Without the management scope a key reads its owner's own usage only, even an
    // admin's: the organization's view and other users' need management.
    let others = q.user.as_deref().is_some_and(|u| u != who.user_name);
    if q.scope.as_deref() == Some("org") || others {
        who.require(Scope::Management)?;
    }
    let own = who.without_admin_rights();
    Ok(Json(st.gateway.org.usage_report(&own, &q).await?))
}
