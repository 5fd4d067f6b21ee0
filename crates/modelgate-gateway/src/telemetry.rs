//! Metric names and the one function that records a finished request. Names follow
//! `modelgate_<name>_<unit>[_total]`; labels are provider, model, api and status — never
//! key ids or prompts.

use modelgate_core::usage::UsageRecord;

pub const REQUESTS_TOTAL: &str = "modelgate_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "modelgate_request_duration_seconds";
pub const TIME_TO_FIRST_TOKEN_SECONDS: &str = "modelgate_time_to_first_token_seconds";
pub const TOKENS_TOTAL: &str = "modelgate_tokens_total";
pub const UPSTREAM_FAILURES_TOTAL: &str = "modelgate_upstream_failures_total";
pub const USAGE_WRITE_FAILURES_TOTAL: &str = "modelgate_usage_write_failures_total";

/// Histogram bucket bounds (seconds) shared by the latency histograms.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// Records a metered request in the metrics.
pub fn record(r: &UsageRecord) {
    let status = r.status.to_string();
    let labels = [
        ("provider", r.provider.clone()),
        ("model", r.model.clone()),
        ("api", r.api.clone()),
    ];
    metrics::counter!(REQUESTS_TOTAL, "provider" => r.provider.clone(), "model" => r.model.clone(),
        "api" => r.api.clone(), "status" => status, "outcome" => r.outcome.as_str())
    .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, &labels).record(r.latency_ms as f64 / 1000.0);
    if let Some(ttft) = r.ttft_ms {
        metrics::histogram!(TIME_TO_FIRST_TOKEN_SECONDS, &labels).record(ttft as f64 / 1000.0);
    }
    metrics::counter!(TOKENS_TOTAL, "provider" => r.provider.clone(), "model" => r.model.clone(), "direction" => "input")
        .increment(r.usage.input_tokens);
    metrics::counter!(TOKENS_TOTAL, "provider" => r.provider.clone(), "model" => r.model.clone(), "direction" => "output")
        .increment(r.usage.output_tokens);
}

/// Counts an upstream call that failed before answering.
pub fn upstream_failure(provider: &str, kind: modelgate_core::ErrorKind) {
    metrics::counter!(UPSTREAM_FAILURES_TOTAL, "provider" => provider.to_owned(), "kind" => kind.label())
        .increment(1);
}
