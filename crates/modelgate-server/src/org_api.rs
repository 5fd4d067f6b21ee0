//! Handlers of the organization's admin API: users, groups and members, permission
//! grants, provider shares, budget allocations, org settings, and sign-in sessions.
//! Each reads the body first (see [`crate::admin`]), authenticates the caller, and leaves
//! every decision to `modelgate-gateway`.

use crate::caller::{SESSION_COOKIE, session_cookie};
use crate::error::ApiResult;
use crate::extract::{Change, Reader, Spec, Writer};
use crate::request::over_tls;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use modelgate_org::allocations::CreateAllocation;
use modelgate_org::allocations::UpdateAllocation;
use modelgate_org::groups::CreateGroup;
use modelgate_org::groups::GrantView;
use modelgate_org::sessions::SignIn;
use modelgate_org::settings::SettingsPatch;
use modelgate_org::users::CreateUser;
use modelgate_org::users::UpdateUser;
use modelgate_org::virtual_models::VirtualModel;
use modelgate_registry::services::shares::ShareView;
use serde_json::json;

pub async fn create_user(
    State(st): State<AppState>,
    Change { who, spec }: Change<CreateUser>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_user(&who, spec).await?),
    ))
}

pub async fn list_users(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({ "data": st.gateway.org.list_users(&who)? })))
}

pub async fn get_user(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.get_user(&who, &name)?))
}

pub async fn update_user(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<UpdateUser>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.update_user(&who, &name, spec).await?))
}

/// `DELETE /api/users/{name}`: deactivates (users are never deleted: their usage stays).
pub async fn deactivate_user(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let deactivate = UpdateUser {
        deactivated: Some(true),
        ..UpdateUser::default()
    };
    st.gateway.org.update_user(&who, &name, deactivate).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create_group(
    State(st): State<AppState>,
    Change { who, spec }: Change<CreateGroup>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_group(&who, spec).await?),
    ))
}

pub async fn list_groups(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.list_groups(&who).await? }),
    ))
}

pub async fn get_group(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.get_group(&who, &name).await?))
}

pub async fn delete_group(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.org.delete_group(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path((group, user)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway
            .org
            .change_member(&who, &group, &user, true)
            .await?,
    ))
}

pub async fn remove_member(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path((group, user)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway
            .org
            .change_member(&who, &group, &user, false)
            .await?,
    ))
}

pub async fn list_grants(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({ "data": st.gateway.org.list_grants(&who)? })))
}

pub async fn put_grant(
    State(st): State<AppState>,
    Change { who, spec }: Change<GrantView>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.change_grant(&who, spec, true).await? }),
    ))
}

pub async fn delete_grant(
    State(st): State<AppState>,
    Change { who, spec }: Change<GrantView>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.change_grant(&who, spec, false).await? }),
    ))
}

pub async fn list_shares(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.list_shares(&who, &name)? }),
    ))
}

pub async fn put_share(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<ShareView>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.change_share(&who, &name, spec, true).await? }),
    ))
}

pub async fn delete_share(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<ShareView>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.change_share(&who, &name, spec, false).await? }),
    ))
}

pub async fn create_allocation(
    State(st): State<AppState>,
    Change { who, spec }: Change<CreateAllocation>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_allocation(&who, spec).await?),
    ))
}

pub async fn list_allocations(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.list_allocations(&who).await? }),
    ))
}

pub async fn get_allocation(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.get_allocation(&who, &name).await?))
}

pub async fn update_allocation(
    State(st): State<AppState>,

    Path(name): Path<String>,
    Change { who, spec }: Change<UpdateAllocation>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        st.gateway.org.update_allocation(&who, &name, spec).await?,
    ))
}

pub async fn delete_allocation(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.org.delete_allocation(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_settings(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.get_settings(&who)?))
}

pub async fn update_settings(
    State(st): State<AppState>,
    Change { who, spec }: Change<SettingsPatch>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.update_settings(&who, spec).await?))
}

fn session_cookie_header(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// `POST /api/auth/login` `{name, password}` → the session cookie, and the user and CSRF
/// token in the body.
pub async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    Spec(sign_in): Spec<SignIn>,
) -> ApiResult<impl IntoResponse> {
    let signed = st.gateway.org.sign_in(sign_in).await?;
    let cookie = session_cookie_header(
        &signed.cookie,
        modelgate_org::sessions::SESSION_TTL_MS / 1000,
        over_tls(&headers),
    );
    Ok(([(header::SET_COOKIE, cookie)], Json(signed)))
}

/// `POST /api/auth/logout`: ends the session (CSRF-checked) and clears the cookie.
pub async fn logout(
    State(st): State<AppState>,
    _: Writer,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(cookie) = session_cookie(&headers) {
        st.gateway.org.sign_out(cookie).await?;
    }
    let clear = session_cookie_header("", 0, over_tls(&headers));
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT))
}

/// `GET /api/auth/session`: the signed-in user and the session's CSRF token.
pub async fn session(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    let org = st.gateway.directory();
    let user = org
        .users
        .get(&who.user_id)
        .map(|u| modelgate_org::users::user_view(u, &org));
    Ok(Json(json!({ "user": user, "csrf_token": who.csrf_token })))
}

pub async fn create_virtual_model(
    State(st): State<AppState>,
    Change { who, spec }: Change<VirtualModel>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(st.gateway.org.create_virtual_model(&who, spec).await?),
    ))
}

pub async fn list_virtual_models(
    State(st): State<AppState>,
    _: Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.org.list_virtual_models() }),
    ))
}

pub async fn get_virtual_model(
    State(st): State<AppState>,
    _: Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.org.get_virtual_model(&name)?))
}

pub async fn delete_virtual_model(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.org.delete_virtual_model(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
