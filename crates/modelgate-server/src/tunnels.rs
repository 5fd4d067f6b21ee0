//! Session tunnel routes: `/api/tunnels` (create, list, read, delete) and the agents' door,
//! `GET /api/tunnels/connect`: a bearer tunnel token and `upgrade: modelgate-tunnel/1`
//! turn the HTTP/1.1 connection into the tunnel (101), which the gateway then drives as
//! an HTTP/2 client ([`modelgate_registry::tunnel::hub`]).

use crate::error::ApiResult;
use crate::extract::{Change, Reader, Writer};
use crate::request::over_tls;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use modelgate_core::ErrorKind;
use modelgate_gateway::GatewayError;
use modelgate_registry::services::tunnels::TunnelSpec;
use modelgate_tunnel::protocol::{AGENT_NAME_HEADER, AGENT_VERSION_HEADER, UPGRADE_PROTOCOL};
use serde_json::json;

/// The gateway's address as the caller reached it, for the agent command.
fn gateway_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost:8080");
    let scheme = if over_tls(headers) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub async fn create_tunnel(
    State(st): State<AppState>,
    headers: HeaderMap,
    Change { who, spec }: Change<TunnelSpec>,
) -> ApiResult<impl IntoResponse> {
    let created = st
        .gateway
        .providers
        .create_tunnel(&who, spec, &gateway_url(&headers))
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list_tunnels(
    State(st): State<AppState>,
    Reader(who): Reader,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        json!({ "data": st.gateway.providers.list_tunnels(&who) }),
    ))
}

pub async fn get_tunnel(
    State(st): State<AppState>,
    Reader(who): Reader,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.gateway.providers.get_tunnel(&who, &name)?))
}

pub async fn delete_tunnel(
    State(st): State<AppState>,
    Writer(who): Writer,

    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.gateway.providers.delete_tunnel(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A short printable header value (agent version and name are shown in views).
fn label(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(64).collect::<String>())
        .filter(|v| !v.is_empty())
}

/// `GET /api/tunnels/connect`: an agent attaches to the tunnel its token opens.
#[expect(
    clippy::disallowed_methods,
    reason = "an upgraded tunnel connection is served by its own task"
)]
pub async fn connect(State(st): State<AppState>, mut req: Request) -> ApiResult<Response> {
    let headers = req.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(UPGRADE_PROTOCOL));
    if !upgrade {
        return Err(GatewayError::bad_request(format!(
            "this is the tunnel agents' door: connect with `upgrade: {UPGRADE_PROTOCOL}` (run `modelgate tunnel`)"
        ))
        .into());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            GatewayError::new(ErrorKind::Unauthorized, "a tunnel token is required")
                .with_code("invalid_tunnel_token")
        })?;
    let grant = st.gateway.providers.tunnel_for_token(token.trim())?;
    let version = label(headers, AGENT_VERSION_HEADER).unwrap_or_else(|| "unknown".into());
    let name = label(headers, AGENT_NAME_HEADER);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let providers = st.gateway.providers.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                providers
                    .serve_tunnel(grant, TokioIo::new(upgraded), version, name)
                    .await;
            }
            Err(e) => tracing::warn!(error = %e, "tunnel upgrade failed"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    resp.headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static(UPGRADE_PROTOCOL));
    Ok(resp)
}

/// `/internal/tunnels/{provider}/{path}`: another replica forwards a request for a tunnel
/// whose agent is connected here ([`modelgate_registry::tunnel::relay`]).
pub async fn internal(
    State(st): State<AppState>,
    Path((provider_id, rest)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let header = req
        .headers()
        .get(modelgate_registry::tunnel::relay::INTERNAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().clone();
    let path_and_query = match req.uri().query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    st.gateway
        .providers
        .check_internal(
            &provider_id,
            method.as_str(),
            &path_and_query,
            header.as_deref(),
        )
        .await?;
    let (parts, body) = req.into_parts();
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let resp = st
        .gateway
        .providers
        .relay_internal(
            &provider_id,
            parts.method,
            &path_and_query,
            parts.headers,
            body,
        )
        .await?;
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if !matches!(
            name.as_str(),
            "connection" | "transfer-encoding" | "keep-alive" | "upgrade"
        ) {
            out = out.header(name, value);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream()))
        .map_err(|e| GatewayError::internal(e.to_string()).into())
}
