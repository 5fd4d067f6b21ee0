//! Who is calling the admin API: an AI key (`Authorization: Bearer` or `x-api-key`) or a
//! browser session (the `mg_session` cookie). With a session, every unsafe request
//! (anything but GET/HEAD) must carry the session's CSRF token in `x-csrf-token`, compared
//! in constant time — a page on another site can make the browser send the cookie, but it
//! cannot read the token. Key requests need no CSRF token: browsers never add them.
//!
//! This is also the one place where a key's scopes are enforced, by the [`Surface`] a
//! handler calls: the model API needs `inference`, the admin API `management`, and the
//! few self-service routes (`GET /api/me`, the caller's own `GET /api/usage`) any scope.
//! A session has every scope of its user. The tunnel agents' door and `/internal/*` do
//! not come here: they take a tunnel token or a replica's HMAC, never a key.

use crate::error::{ApiError, ApiResult};
use crate::request::presented_key;
use crate::state::AppState;
use axum::http::HeaderMap;
use modelgate_core::Scope;
use modelgate_gateway::GatewayError;
use modelgate_org::auth::Principal;
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

/// Which API a caller is calling: the admin API, a self-service read, or the model API
/// (`/v1/*`), where a session also chooses the allocation to charge.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Managing keys, providers, tunnels, conversations, the organization: a key needs
    /// the `management` scope.
    Admin,
    /// Who the caller is and what it spent (`GET /api/me`, own `GET /api/usage`): any key.
    Own,
    /// The model API: a key needs the `inference` scope.
    Models,
}

impl Surface {
    /// The scope a key needs here.
    fn scope(self) -> Option<Scope> {
        match self {
            Surface::Admin => Some(Scope::Management),
            Surface::Own => None,
            Surface::Models => Some(Scope::Inference),
        }
    }
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
                    .org
                    .session_model_principal(cookie, allocation)
                    .await?
            }
            Surface::Admin | Surface::Own | Surface::Models => {
                st.gateway.org.session_principal(cookie).await?
            }
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
    let principal = st.gateway.org.authenticate(key).await?;
    if let Some(scope) = surface.scope() {
        principal.require(scope)?;
    }
    Ok(principal)
}

/// The caller of a self-service read (`GET /api/me`, own usage): any key.
pub async fn own_reader(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, false, Surface::Own).await
}

/// The caller of an admin read (GET): a key needs the management scope.
pub async fn reader(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, false, Surface::Admin).await
}

/// The caller of a change (POST, PUT, PATCH, DELETE): sessions must pass the CSRF check,
/// a key needs the management scope.
pub async fn writer(st: &AppState, headers: &HeaderMap) -> ApiResult<Arc<Principal>> {
    caller(st, headers, true, Surface::Admin).await
}
