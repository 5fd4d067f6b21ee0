//! `GET /api/usage`: what the caller spent — totals, the allocations they may draw from
//! with used and remaining, a per-day series (every UTC day of the range, zeros included)
//! and a breakdown by model or key — for the last 7, 30 or 90 days (`days`) or a given
//! range (`since`, `until`). Admins get the organization view with `scope=org`: grouped by
//! model, user, key, provider or allocation, with active users and each group's cost,
//! tokens and share. The most recent records are listed too (`limit`, default 100).
//! Pending records are flushed first, so a caller always reads its finished requests.

use super::allocations::AllocationView;
use crate::api::{parse_time, require_admin, rfc3339};
use crate::auth::Principal;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use modelgate_core::now_millis;
use modelgate_core::usage::UsageRecord;
use modelgate_store::{UsageDimension, UsageFilter, UsageScope, UsageTotals};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    pub days: Option<i64>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// `model` (default), `key`, `provider`; for `scope=org` also `user`, `allocation`.
    pub group_by: Option<String>,
    /// `org` (admins): the whole organization.
    pub scope: Option<String>,
    /// Admins: one user's view.
    pub user: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Input tokens read from a prompt cache.
    pub cached_tokens: i64,
    /// Input tokens written to a prompt cache.
    pub cache_write_tokens: i64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: i64,
    pub cost_usd: f64,
}

impl From<&UsageTotals> for Totals {
    fn from(t: &UsageTotals) -> Self {
        Self {
            requests: t.requests,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cached_tokens: t.cached_tokens,
            cache_write_tokens: t.cache_write_tokens,
            reasoning_tokens: t.reasoning_tokens,
            cost_usd: t.cost_micros as f64 / 1e6,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Day {
    pub date: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Serialize)]
pub struct Slice {
    /// The model, key name, user name, provider or allocation name.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
    /// Fraction of the total cost (0 when nothing cost anything).
    pub share: f64,
}

#[derive(Debug, Serialize)]
pub struct GroupUsage {
    pub name: String,
    pub members: usize,
    #[serde(flatten)]
    pub totals: Totals,
    pub share: f64,
}

#[derive(Debug, Serialize)]
pub struct UsageRow {
    #[serde(flatten)]
    pub record: UsageRecord,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub since: String,
    pub until: String,
    pub totals: Totals,
    pub allocations: Vec<AllocationView>,
    pub daily: Vec<Day>,
    pub group_by: &'static str,
    pub breakdown: Vec<Slice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_users: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupUsage>>,
    /// The most recent records of the range.
    pub data: Vec<UsageRow>,
}

fn time_param(v: &Option<String>) -> Result<Option<i64>, GatewayError> {
    v.as_ref()
        .map(|s| match s.parse::<i64>() {
            Ok(secs) => parse_time(&serde_json::json!(secs)),
            Err(_) => parse_time(&serde_json::json!(s)),
        })
        .transpose()
}

fn dimension(
    name: Option<&str>,
    org: bool,
) -> Result<(UsageDimension, &'static str), GatewayError> {
    Ok(match name.unwrap_or("model") {
        "model" => (UsageDimension::Model, "model"),
        "key" => (UsageDimension::Key, "key"),
        "provider" => (UsageDimension::Provider, "provider"),
        "user" if org => (UsageDimension::User, "user"),
        "allocation" => (UsageDimension::Allocation, "allocation"),
        other => {
            return Err(GatewayError::bad_request(format!(
                "cannot group usage by '{other}'; use model, key, provider, allocation{}",
                if org { " or user" } else { "" }
            ))
            .with_param("group_by"));
        }
    })
}

fn share(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}

impl Organization {
    pub async fn usage_report(
        &self,
        who: &Principal,
        q: &UsageQuery,
    ) -> Result<UsageReport, GatewayError> {
        let org_scope = match q.scope.as_deref() {
            None | Some("user") | Some("me") => false,
            Some("org") => {
                require_admin(who)?;
                true
            }
            Some(other) => {
                return Err(GatewayError::bad_request(format!(
                    "unknown scope '{other}'; use org (admins) or leave it out"
                ))
                .with_param("scope"));
            }
        };
        let dir = self.directory();
        let (user_id, user_name) = if org_scope {
            (None, None)
        } else {
            match &q.user {
                Some(name) if who.is_admin() => {
                    let u = self.user_named(name)?;
                    (Some(u.id), Some(u.name))
                }
                Some(name) if *name != who.user_name => {
                    return Err(GatewayError::forbidden(
                        "Only administrators see other users' usage.",
                    ));
                }
                _ => (Some(who.user_id.clone()), Some(who.user_name.clone())),
            }
        };
        let now = now_millis();
        let until = time_param(&q.until)?.unwrap_or(now);
        let since = match (time_param(&q.since)?, q.days) {
            (Some(s), _) => s,
            (None, Some(d)) if (1..=3660).contains(&d) => {
                (until - d * DAY_MS).div_euclid(DAY_MS) * DAY_MS + DAY_MS
            }
            (None, Some(_)) => {
                return Err(GatewayError::bad_request("days must be 1-3660").with_param("days"));
            }
            (None, None) => (until - 30 * DAY_MS).div_euclid(DAY_MS) * DAY_MS + DAY_MS,
        };
        if since >= until {
            return Err(GatewayError::bad_request("since must be before until"));
        }
        let (dim, dim_name) = dimension(q.group_by.as_deref(), org_scope || who.is_admin())?;
        self.usage.flush().await;
        let scope = UsageScope {
            user_id: user_id.clone(),
            since_ms: since,
            until_ms: until + 1,
        };
        let totals_row = self.store.usage_report(&scope, None).await?;
        let totals = totals_row.first().cloned().unwrap_or_default();

        // Every day of the range, zeros included.
        let by_day: HashMap<i64, UsageTotals> = self
            .store
            .usage_report(&scope, Some(UsageDimension::Day))
            .await?
            .into_iter()
            .filter_map(|t| t.bucket.parse::<i64>().ok().map(|d| (d, t)))
            .collect();
        let daily = (since.div_euclid(DAY_MS)..=until.div_euclid(DAY_MS))
            .map(|d| Day {
                date: rfc3339(d * DAY_MS)[..10].to_owned(),
                totals: by_day.get(&d).map(Totals::from).unwrap_or_default(),
            })
            .collect();

        let key_names: HashMap<String, String> = if dim == UsageDimension::Key {
            self.store
                .list_keys(user_id.as_deref())
                .await?
                .into_iter()
                .map(|k| (k.id, k.name))
                .collect()
        } else {
            HashMap::new()
        };
        let breakdown = self
            .store
            .usage_report(&scope, Some(dim))
            .await?
            .iter()
            .map(|t| {
                let (name, id) = match dim {
                    UsageDimension::Key => (
                        key_names.get(&t.bucket).cloned().unwrap_or_default(),
                        Some(t.bucket.clone()),
                    ),
                    UsageDimension::User => {
                        (dir.user_name(&t.bucket).to_owned(), Some(t.bucket.clone()))
                    }
                    UsageDimension::Allocation if t.bucket.is_empty() => ("(none)".into(), None),
                    UsageDimension::Allocation => (
                        dir.allocations
                            .get(&t.bucket)
                            .map_or_else(|| t.bucket.clone(), |a| a.name.clone()),
                        Some(t.bucket.clone()),
                    ),
                    _ => (t.bucket.clone(), None),
                };
                Slice {
                    name,
                    id,
                    totals: Totals::from(t),
                    share: share(t.cost_micros, totals.cost_micros),
                }
            })
            .collect();

        let (active_users, groups) = if org_scope {
            let per_user = self
                .store
                .usage_report(&scope, Some(UsageDimension::User))
                .await?;
            let mut groups: Vec<GroupUsage> = dir
                .groups
                .values()
                .map(|g| {
                    let members = dir.members.get(&g.id).cloned().unwrap_or_default();
                    let mut t = UsageTotals::default();
                    for u in per_user.iter().filter(|u| members.contains(&u.bucket)) {
                        t.requests += u.requests;
                        t.input_tokens += u.input_tokens;
                        t.output_tokens += u.output_tokens;
                        t.cached_tokens += u.cached_tokens;
                        t.cache_write_tokens += u.cache_write_tokens;
                        t.reasoning_tokens += u.reasoning_tokens;
                        t.cost_micros += u.cost_micros;
                    }
                    GroupUsage {
                        name: g.name.clone(),
                        members: members.len(),
                        share: share(t.cost_micros, totals.cost_micros),
                        totals: Totals::from(&t),
                    }
                })
                .collect();
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            (Some(per_user.len() as i64), Some(groups))
        } else {
            (None, None)
        };

        let allocations = {
            let rows: Vec<_> = if org_scope {
                let mut v: Vec<_> = dir.allocations.values().cloned().collect();
                v.sort_by(|a, b| a.name.cmp(&b.name));
                v
            } else {
                let uid = user_id.clone().unwrap_or_default();
                dir.drawable_by(&uid, &dir.groups_of(&uid))
                    .into_iter()
                    .cloned()
                    .collect()
            };
            let mut out = Vec::with_capacity(rows.len());
            for a in &rows {
                out.push(self.allocation_view(a).await?);
            }
            out
        };

        let records = self
            .store
            .list_usage(&UsageFilter {
                user_id,
                since_ms: Some(since),
                until_ms: Some(until + 1),
                limit: q.limit.unwrap_or(100).clamp(1, 10_000),
            })
            .await?;
        let data = records
            .into_iter()
            .map(|record| UsageRow {
                created_at: rfc3339(record.created_at_ms),
                record,
            })
            .collect();
        Ok(UsageReport {
            scope: if org_scope { "org" } else { "user" },
            user: user_name,
            since: rfc3339(since),
            until: rfc3339(until),
            totals: Totals::from(&totals),
            allocations,
            daily,
            group_by: dim_name,
            breakdown,
            active_users,
            groups,
            data,
        })
    }
}
