//! Operations endpoints: liveness, readiness (store reachable and not shutting down) and
//! Prometheus metrics.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    if !st.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "shutting_down"})),
        );
    }
    match st.gateway.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready", "store": st.gateway.store.backend()})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "store_unavailable"})),
        ),
    }
}

pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    // Request metrics are recorded by the usage writer per batch; flush it so a scrape
    // includes every finished request.
    st.gateway.usage.flush().await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        st.metrics.render(),
    )
}
