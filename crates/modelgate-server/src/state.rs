//! What every handler shares: the gateway, the metrics handle and the readiness flag.

use modelgate_gateway::Gateway;
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
