//! The front door: axum routes for the OpenAI API (`/v1/...` and `/api/openai/v1/...`),
//! the admin API (`/api/...`) and operations (`/healthz`, `/readyz`, `/metrics`). This is
//! the one place where errors become HTTP responses ([`error`]). Handlers only parse,
//! authenticate and serialise; the work happens in `modelgate-gateway`.

pub mod admin;
pub mod error;
pub mod openai;
pub mod ops;
pub mod request;
pub mod telemetry;

use axum::Router;
use axum::routing::{get, post};
use modelgate_gateway::Gateway;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// False once shutdown has begun, so load balancers stop sending traffic.
    pub ready: Arc<AtomicBool>,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let openai = Router::new()
        .route("/chat/completions", post(openai::chat_completions))
        .route("/completions", post(openai::completions))
        .route("/embeddings", post(openai::embeddings))
        .route("/models", get(openai::list_models))
        .route("/models/{*model}", get(openai::get_model));
    let admin = Router::new()
        .route("/me", get(admin::me))
        .route(
            "/providers",
            post(admin::create_provider).get(admin::list_providers),
        )
        .route(
            "/providers/{name}",
            get(admin::get_provider)
                .patch(admin::update_provider)
                .delete(admin::delete_provider),
        )
        .route("/providers/{name}/refresh", post(admin::refresh_provider))
        .route("/keys", post(admin::create_key).get(admin::list_keys))
        .route("/keys/{id}", axum::routing::delete(admin::revoke_key))
        .route("/users/{name}/keys", post(admin::create_key_for))
        .route("/usage", get(admin::usage));
    Router::new()
        .nest("/v1", openai.clone())
        .nest("/api/openai/v1", openai)
        .nest("/api", admin)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(request::request_id))
        .with_state(state)
}

/// Serves `app` on `listener` with `TCP_NODELAY` on every accepted socket until
/// `shutdown` completes, then waits for in-flight requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
