//! The front door: axum routes for the OpenAI API (`/v1/...` and `/api/openai/v1/...`),
//! the Anthropic API (`/v1/messages`),
//! the admin API (`/api/...`) and operations (`/healthz`, `/readyz`, `/metrics`). This is
//! the one place where errors become HTTP responses ([`error`]). Handlers only parse,
//! authenticate and serialise; the work happens in `modelgate-gateway`.

pub mod admin;
pub mod anthropic;
pub mod caller;
pub mod chat_api;
pub mod error;
pub mod extract;
pub mod openai;
pub mod ops;
pub mod org_api;
pub mod request;
pub mod state;
pub mod telemetry;
pub mod tunnels;
mod ui;

pub use state::AppState;

use axum::Router;
use axum::routing::{get, post, put};
use std::future::Future;

/// All routes.
pub fn router(state: AppState) -> Router {
    let openai = Router::new()
        .route("/chat/completions", post(openai::chat_completions))
        .route("/completions", post(openai::completions))
        .route("/embeddings", post(openai::embeddings))
        .route("/responses", post(openai::responses))
        .route(
            "/responses/{id}",
            get(openai::get_response).delete(openai::delete_response),
        )
        .route("/messages", post(anthropic::messages))
        .route("/messages/count_tokens", post(anthropic::count_tokens))
        .route("/models", get(openai::list_models))
        .route("/models/{*model}", get(openai::get_model));
    let admin = Router::new()
        .route("/me", get(admin::me))
        .route("/catalog", get(admin::catalog))
        .route(
            "/providers",
            post(admin::create_provider).get(admin::list_providers),
        )
        .route(
            "/providers/{name}",
            get(admin::get_provider)
                .patch(admin::update_provider)
                .delete(admin::delete_provider)
                .post(chat_api::provider_action),
        )
        .route(
            "/conversations",
            post(chat_api::create_conversation).get(chat_api::list_conversations),
        )
        .route(
            "/conversations/{id}",
            get(chat_api::get_conversation)
                .patch(chat_api::rename_conversation)
                .delete(chat_api::delete_conversation),
        )
        .route(
            "/conversations/{id}/messages",
            post(chat_api::append_message),
        )
        .route("/providers/{name}/refresh", post(admin::refresh_provider))
        .route("/keys", post(admin::create_key).get(admin::list_keys))
        .route("/keys/{id}", axum::routing::delete(admin::revoke_key))
        .route("/users/{name}/keys", post(admin::create_key_for))
        .route("/usage", get(admin::usage))
        .route(
            "/providers/{name}/shares",
            get(org_api::list_shares)
                .put(org_api::put_share)
                .delete(org_api::delete_share),
        )
        .route(
            "/users",
            post(org_api::create_user).get(org_api::list_users),
        )
        .route(
            "/users/{name}",
            get(org_api::get_user)
                .patch(org_api::update_user)
                .delete(org_api::deactivate_user),
        )
        .route(
            "/groups",
            post(org_api::create_group).get(org_api::list_groups),
        )
        .route(
            "/groups/{name}",
            get(org_api::get_group).delete(org_api::delete_group),
        )
        .route(
            "/groups/{group}/members/{user}",
            put(org_api::add_member).delete(org_api::remove_member),
        )
        .route(
            "/grants",
            get(org_api::list_grants)
                .put(org_api::put_grant)
                .delete(org_api::delete_grant),
        )
        .route(
            "/allocations",
            post(org_api::create_allocation).get(org_api::list_allocations),
        )
        .route(
            "/allocations/{name}",
            get(org_api::get_allocation)
                .patch(org_api::update_allocation)
                .delete(org_api::delete_allocation),
        )
        .route(
            "/settings",
            get(org_api::get_settings).patch(org_api::update_settings),
        )
        .route(
            "/virtual-models",
            post(org_api::create_virtual_model).get(org_api::list_virtual_models),
        )
        .route(
            "/virtual-models/{name}",
            get(org_api::get_virtual_model).delete(org_api::delete_virtual_model),
        )
        .route(
            "/tunnels",
            post(tunnels::create_tunnel).get(tunnels::list_tunnels),
        )
        .route("/tunnels/connect", get(tunnels::connect))
        .route(
            "/tunnels/{name}",
            get(tunnels::get_tunnel).delete(tunnels::delete_tunnel),
        )
        .route("/auth/login", post(org_api::login))
        .route("/auth/logout", post(org_api::logout))
        .route("/auth/session", get(org_api::session));
    Router::new()
        .nest("/v1", openai.clone())
        .nest("/api/openai/v1", openai)
        .nest("/api", admin)
        .route(
            "/internal/tunnels/{provider}/{*rest}",
            axum::routing::any(tunnels::internal),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(ui::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(request::request_id))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes: `TCP_NODELAY` on every accepted
/// socket, HTTP/1.1 and HTTP/2 (with upgrades), a header-read timeout against slowloris,
/// and TLS when `tls` is given (requests then carry `x-forwarded-proto: https`, so cookies
/// are `Secure` and agent commands name `https`).
/// On shutdown it stops accepting, lets in-flight requests finish for up to `grace`, then
/// closes whatever is left (dropping a stream records its usage as disconnected).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let app = match tls {
        Some(_) => app.layer(axum::middleware::map_request(mark_https)),
        None => app,
    };
    let service = TowerToHyperService::new(app);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "could not set TCP_NODELAY");
                }
                match &tls {
                    None => {
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), service.clone())
                            .into_owned();
                        let conn = graceful.watch(conn);
                        connections.spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    Some(acceptor) => {
                        // The handshake runs in the connection's task, bounded like a
                        // request head, so a slow client cannot hold the accept loop.
                        let handshake = acceptor.accept(tcp);
                        let builder = builder.clone();
                        let service = service.clone();
                        let watcher = graceful.watcher();
                        connections.spawn(async move {
                            let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, handshake).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => return,
                            };
                            let conn = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .into_owned();
                            let _ = watcher.watch(conn).await;
                        });
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "in-flight requests outlived the shutdown grace period; closing them"
        );
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Marks a request as received over TLS (replacing what a client may have claimed).
async fn mark_https(mut req: axum::extract::Request) -> axum::extract::Request {
    req.headers_mut().insert(
        "x-forwarded-proto",
        axum::http::HeaderValue::from_static("https"),
    );
    req
}

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
