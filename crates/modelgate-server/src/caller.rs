//! Who is calling the admin API: an AI key (`Authorization: Bearer` or `x-api-key`) or a
//! browser session (the `mg_session` cookie). With a session, every unsafe request
//! (anything but GET/HEAD) must carry the session's CSRF token in `x-csrf-token`, compared
//! in constant time — a page on another site can make the browser send the cookie, but it
//! cannot read the token. Key requests need no CSRF token: browsers never add them.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::presented_key;
use axum::http::HeaderMap;
use modelgate_gateway::GatewayError;
use modelgate_gateway::auth::Principal;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mg_session";
/// The header unsafe session requests echo the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of the session cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
        })
}

fn has_key(headers: &HeaderMap) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION) || headers.contains_key("x-api-key")
}

/// The header a browser session names the allocation to charge in (`/v1/*`).
pub const ALLOCATION_HEADER: &str = "x-modelgate-allocation";

/// Which API a caller is calling: the admin API, or the model API (`/v1/*`), where a
/// session also chooses the allocation to charge.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Admin,
    Models,
}

pub(crate) async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    unsafe_method: bool,
    surface: Surface,
) -> ApiResult<Arc<Principal>> {
    if !has_key(headers)
        && let Some(cookie) = session_cookie(headers)
    {
        // Only model calls are charged; reading the model list needs no allocation.
        let principal = match surface {
            Surface::Models if unsafe_method => {
                let allocation = headers
                    .get(ALLOCATION_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty());
                st.gateway
                    .session_model_principal(cookie, allocation)
                    .await?
            }
            Surface::Admin | Surface::Models => st.gateway.session_principal(cookie).await?,
        };
        if unsafe_method {
            let expected = principal.csrf_token.as_deref().unwrap_or_default();
            let given = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(ApiError::from(
                    GatewayError::forbidden(
                        "This request needs the session's CSRF token in the x-csrf-token header.",
                    )
                    .with_code("csrf_token_invalid"),
                ));
            }
        }
        return Ok(Arc::new(principal));
    }
    let key = presented_key(headers)?;
    Ok(st.gateway.authenticate(key).await?)
}

/// The caller of a read (GET).
pub async fn reader(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, false, Surface::Admin).await
}

/// The caller of a change (POST, PUT, PATCH, DELETE): sessions must pass the CSRF check.
pub async fn writer(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, true, Surface::Admin).await
}
