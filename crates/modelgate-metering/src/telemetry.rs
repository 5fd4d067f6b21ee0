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

/// Records a batch of metered requests: one registry lookup per distinct label set, not
/// one per request.
pub fn record_batch(records: &[UsageRecord]) {
    use std::collections::HashMap;
    let mut counts: HashMap<(&str, &str, &str, u16, &str), u64> = HashMap::new();
    let mut timings: HashMap<(&str, &str, &str), Vec<&UsageRecord>> = HashMap::new();
    let mut tokens: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
    for r in records {
        *counts
            .entry((&r.provider, &r.model, &r.api, r.status, r.outcome.as_str()))
            .or_default() += 1;
        timings
            .entry((&r.provider, &r.model, &r.api))
            .or_default()
            .push(r);
        let t = tokens.entry((&r.provider, &r.model)).or_default();
        t.0 += r.usage.input_tokens;
        t.1 += r.usage.output_tokens;
    }
    for ((provider, model, api, status, outcome), n) in counts {
        metrics::counter!(REQUESTS_TOTAL, "provider" => provider.to_owned(), "model" => model.to_owned(),
            "api" => api.to_owned(), "status" => status.to_string(), "outcome" => outcome)
        .increment(n);
    }
    for ((provider, model, api), rs) in timings {
        let labels = [
            ("provider", provider.to_owned()),
            ("model", model.to_owned()),
            ("api", api.to_owned()),
        ];
        let latency = metrics::histogram!(REQUEST_DURATION_SECONDS, &labels);
        let ttft = metrics::histogram!(TIME_TO_FIRST_TOKEN_SECONDS, &labels);
        for r in rs {
            latency.record(r.latency_ms as f64 / 1000.0);
            if let Some(t) = r.ttft_ms {
                ttft.record(t as f64 / 1000.0);
            }
        }
    }
    for ((provider, model), (input, output)) in tokens {
        metrics::counter!(TOKENS_TOTAL, "provider" => provider.to_owned(), "model" => model.to_owned(), "direction" => "input")
            .increment(input);
        metrics::counter!(TOKENS_TOTAL, "provider" => provider.to_owned(), "model" => model.to_owned(), "direction" => "output")
            .increment(output);
    }
}

/// Counts an upstream call that failed before answering.
pub fn upstream_failure(provider: &str, kind: modelgate_core::ErrorKind) {
    metrics::counter!(UPSTREAM_FAILURES_TOTAL, "provider" => provider.to_owned(), "kind" => kind.label())
        .increment(1);
}
