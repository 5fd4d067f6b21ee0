//! Budget allocations: a limit in USD per period (`none`, `daily`, `monthly`, resetting on
//! UTC calendar boundaries), owned by a user or a group. Admins create, change and delete
//! them; a user sees (and binds keys to) the allocations they may draw from — their own and
//! their groups'. Views show used, reserved (in flight) and remaining amounts.

use crate::api::{require_admin, rfc3339, valid_slug};
use crate::auth::Principal;
use crate::organization::Organization;
use modelgate_core::GatewayError;
use modelgate_core::ids::new_id;
use modelgate_core::now_millis;
use modelgate_metering::budget::BudgetError;
use modelgate_metering::period::Period;
use modelgate_store::AllocationRow;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAllocation {
    pub name: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    pub limit_usd: f64,
    #[serde(default)]
    pub period: Option<String>,
    /// At most this many requests in flight at once (none when absent or 0).
    #[serde(default)]
    pub max_in_flight: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAllocation {
    #[serde(default)]
    pub limit_usd: Option<f64>,
    #[serde(default)]
    pub period: Option<String>,
    /// A new bound on requests in flight; 0 removes it.
    #[serde(default)]
    pub max_in_flight: Option<i64>,
}

/// `{"user": NAME}` or `{"group": NAME}`.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllocationView {
    pub id: String,
    pub name: String,
    pub owner: OwnerView,
    pub limit_usd: f64,
    pub period: String,
    /// The most requests in flight at once, when bounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<i64>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    /// Settled spend in the current period.
    pub used_usd: f64,
    /// Held by requests in flight.
    pub reserved_usd: f64,
    pub remaining_usd: f64,
    pub created_at: String,
}

pub(super) fn micros(usd: f64) -> Result<i64, GatewayError> {
    if !usd.is_finite() || !(0.0..=1e12).contains(&usd) {
        return Err(
            GatewayError::bad_request("limit_usd must be a non-negative amount of USD")
                .with_param("limit_usd"),
        );
    }
    Ok((usd * 1e6).round() as i64)
}

pub(super) fn period_of(p: Option<&str>) -> Result<Period, GatewayError> {
    let p = p.unwrap_or("monthly");
    Period::parse(p).ok_or_else(|| {
        GatewayError::bad_request(format!("unknown period '{p}'; use none, daily or monthly"))
            .with_param("period")
    })
}

fn usd(m: i64) -> f64 {
    m as f64 / 1e6
}

impl Organization {
    pub(crate) async fn allocation_view(
        &self,
        a: &AllocationRow,
    ) -> Result<AllocationView, GatewayError> {
        let org = self.directory();
        let period = Period::parse(&a.period).unwrap_or(Period::None);
        let standing = self
            .ledger
            .standing(a, now_millis())
            .await
            .map_err(|e| match e {
                BudgetError::Store(m) => GatewayError::internal(m),
                BudgetError::Exceeded { .. } | BudgetError::Busy { .. } => {
                    GatewayError::internal("unexpected")
                }
            })?;
        Ok(AllocationView {
            id: a.id.clone(),
            name: a.name.clone(),
            owner: OwnerView {
                user: a
                    .owner_user_id
                    .as_ref()
                    .map(|u| org.user_name(u).to_owned()),
                group: a
                    .owner_group_id
                    .as_ref()
                    .map(|g| org.group_name(g).to_owned()),
            },
            limit_usd: usd(a.limit_micros),
            period: a.period.clone(),
            max_in_flight: a.max_in_flight,
            period_start: (period != Period::None).then(|| rfc3339(standing.period_start)),
            period_end: period.end(standing.period_start).map(rfc3339),
            used_usd: usd(standing.spent),
            reserved_usd: usd(standing.reserved),
            remaining_usd: usd((a.limit_micros - standing.spent - standing.reserved).max(0)),
            created_at: rfc3339(a.created_at),
        })
    }

    /// The allocation `name` if `who` may see it (admins: any; members: drawable).
    fn visible_allocation(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<std::sync::Arc<AllocationRow>, GatewayError> {
        let org = self.directory();
        org.allocation_by_name(name)
            .filter(|a| who.is_admin() || org.may_draw(a, &who.user_id, &who.groups))
            .cloned()
            .ok_or_else(|| GatewayError::not_found(format!("no allocation named '{name}'")))
    }

    pub async fn create_allocation(
        &self,
        who: &Principal,
        spec: CreateAllocation,
    ) -> Result<AllocationView, GatewayError> {
        require_admin(who)?;
        if !valid_slug(&spec.name) {
            return Err(GatewayError::bad_request(
                "allocation names are 1-64 characters of letters, digits, '-' and '_'",
            )
            .with_param("name"));
        }
        let org = self.directory();
        let (owner_user_id, owner_group_id) = match (&spec.user, &spec.group) {
            (Some(u), None) => (Some(self.user_named(u)?.id), None),
            (None, Some(g)) => (
                None,
                Some(
                    org.group_by_name(g)
                        .map(|g| g.id.clone())
                        .ok_or_else(|| GatewayError::not_found(format!("no group named '{g}'")))?,
                ),
            ),
            _ => {
                return Err(GatewayError::bad_request(
                    "an allocation is owned by exactly one of 'user' or 'group'",
                ));
            }
        };
        let row = AllocationRow {
            id: new_id("alc"),
            name: spec.name,
            owner_user_id,
            owner_group_id,
            limit_micros: micros(spec.limit_usd)?,
            period: period_of(spec.period.as_deref())?.as_str().to_owned(),
            max_in_flight: in_flight_bound(spec.max_in_flight)?,
            created_at: now_millis(),
        };
        self.store.insert_allocation(&row).await?;
        self.reload_org().await?;
        self.allocation_view(&row).await
    }

    pub async fn list_allocations(
        &self,
        who: &Principal,
    ) -> Result<Vec<AllocationView>, GatewayError> {
        let org = self.directory();
        let mut rows: Vec<_> = if who.is_admin() {
            org.allocations.values().cloned().collect()
        } else {
            org.drawable(who).into_iter().cloned().collect()
        };
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::with_capacity(rows.len());
        for a in &rows {
            out.push(self.allocation_view(a).await?);
        }
        Ok(out)
    }

    pub async fn get_allocation(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<AllocationView, GatewayError> {
        let a = self.visible_allocation(who, name)?;
        self.allocation_view(&a).await
    }

    pub async fn update_allocation(
        &self,
        who: &Principal,
        name: &str,
        patch: UpdateAllocation,
    ) -> Result<AllocationView, GatewayError> {
        require_admin(who)?;
        let mut row = (*self.visible_allocation(who, name)?).clone();
        if let Some(limit) = patch.limit_usd {
            row.limit_micros = micros(limit)?;
        }
        if patch.max_in_flight.is_some() {
            row.max_in_flight = in_flight_bound(patch.max_in_flight)?;
        }
        let period_changed = match &patch.period {
            Some(p) => {
                let p = period_of(Some(p))?.as_str().to_owned();
                let changed = p != row.period;
                row.period = p;
                changed
            }
            None => false,
        };
        if !self.store.update_allocation(&row).await? {
            return Err(GatewayError::not_found(format!(
                "no allocation named '{name}'"
            )));
        }
        if period_changed {
            // Spend is counted per period: reload it for the new one.
            self.usage.flush().await;
            self.ledger.forget(&row.id);
        }
        self.reload_org().await?;
        self.allocation_view(&row).await
    }

    pub async fn delete_allocation(&self, who: &Principal, name: &str) -> Result<(), GatewayError> {
        require_admin(who)?;
        let row = self.visible_allocation(who, name)?;
        if !self.store.delete_allocation(&row.id).await? {
            return Err(GatewayError::not_found(format!(
                "no allocation named '{name}'"
            )));
        }
        self.ledger.forget(&row.id);
        self.reload_org().await
    }
}

/// A requested `max_in_flight`: a positive bound, or none (absent or 0).
fn in_flight_bound(asked: Option<i64>) -> Result<Option<i64>, GatewayError> {
    match asked {
        None | Some(0) => Ok(None),
        Some(n) if n > 0 => Ok(Some(n)),
        Some(_) => Err(GatewayError::bad_request(
            "max_in_flight is a positive number of requests (0 removes the bound)",
        )
        .with_param("max_in_flight")),
    }
}
