//! `GET /api/usage`: usage records with totals. Members see their own; admins see
//! everyone's, optionally narrowed to one user. Pending records are flushed first, so a
//! caller always reads its own finished requests.

use super::{parse_time, rfc3339};
use crate::auth::Principal;
use crate::{Gateway, GatewayError};
use modelgate_core::usage::UsageRecord;
use modelgate_store::UsageFilter;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    pub since: Option<String>,
    pub until: Option<String>,
    pub user: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct UsageRow {
    #[serde(flatten)]
    pub record: UsageRecord,
    pub created_at: String,
}

#[derive(Debug, Default, Serialize)]
pub struct UsageTotals {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub data: Vec<UsageRow>,
    pub totals: UsageTotals,
}

fn time_param(v: &Option<String>) -> Result<Option<i64>, GatewayError> {
    v.as_ref()
        .map(|s| match s.parse::<i64>() {
            Ok(secs) => parse_time(&serde_json::json!(secs)),
            Err(_) => parse_time(&serde_json::json!(s)),
        })
        .transpose()
}

impl Gateway {
    pub async fn usage_report(
        &self,
        who: &Principal,
        q: &UsageQuery,
    ) -> Result<UsageReport, GatewayError> {
        let user_id = if who.is_admin() {
            match &q.user {
                Some(name) => Some(
                    self.store
                        .user_by_name(name)
                        .await?
                        .ok_or_else(|| GatewayError::not_found(format!("no user named '{name}'")))?
                        .id,
                ),
                None => None,
            }
        } else {
            Some(who.user_id.clone())
        };
        self.usage.flush().await;
        let records = self
            .store
            .list_usage(&UsageFilter {
                user_id,
                since_ms: time_param(&q.since)?,
                until_ms: time_param(&q.until)?,
                limit: q.limit.unwrap_or(1000).clamp(1, 10_000),
            })
            .await?;
        let mut totals = UsageTotals::default();
        for r in &records {
            totals.requests += 1;
            totals.input_tokens += r.usage.input_tokens;
            totals.output_tokens += r.usage.output_tokens;
            totals.cached_tokens += r.usage.cached_tokens;
            totals.cost_usd += r.cost_micros as f64 / 1e6;
        }
        let data = records
            .into_iter()
            .map(|record| UsageRow {
                created_at: rfc3339(record.created_at_ms),
                record,
            })
            .collect();
        Ok(UsageReport { data, totals })
    }
}
