//! Admission of a request that is about to go upstream: the caller's rate limits, then
//! a budget reservation of the request's worst case against its key's allocation
//! ([`modelgate_metering::budget`]). Refusals come before any upstream call: 429 with `retry-after`,
//! 402 when the allocation cannot cover the request, 403 when the key's allocation is no
//! longer one its owner may draw from.

use crate::gateway::Gateway;
use modelgate_catalog::Price;
use modelgate_core::ErrorKind;
use modelgate_core::GatewayError;
use modelgate_metering::budget::{self, BudgetError};
use modelgate_metering::meter::Settlement;
use modelgate_org::auth::Principal;

/// What admission needs to know about the request.
pub struct Ask {
    pub price: Option<Price>,
    pub demand: budget::Demand,
}

fn usd(micros: i64) -> String {
    format!("${:.6}", micros as f64 / 1e6)
}

impl Gateway {
    /// Admits a request under the caller's per-minute limits (once per request).
    pub async fn admit(&self, who: &Principal) -> Result<(), GatewayError> {
        Ok(self
            .limiter
            .admit(&who.key_id, &who.user_id, who.limits)
            .await?)
    }

    /// Reserves one attempt's worst case against the key's allocation, or refuses it; the
    /// settlement goes into the attempt's usage guard.
    pub async fn reserve(
        &self,
        who: &Principal,
        ask: &Ask,
        now_ms: i64,
    ) -> Result<Settlement, GatewayError> {
        let limiter = who.limits.any().then(|| self.limiter.clone());
        let Some(allocation_id) = &who.allocation_id else {
            return Ok(Settlement {
                reservation: None,
                limiter,
            });
        };
        let org = self.directory();
        let allocation = org
            .allocations
            .get(allocation_id)
            .filter(|a| org.may_draw(a, &who.user_id, &who.groups))
            .ok_or_else(|| {
                GatewayError::forbidden(
                    "The budget allocation this key is bound to is no longer available to its owner.",
                )
                .with_code("allocation_unavailable")
            })?;
        // A model without a price (a private server, say) costs nothing.
        let worst = ask
            .price
            .map_or(0, |p| budget::worst_case_micros(&p, &ask.demand));
        match self.ledger.reserve(allocation, worst, now_ms).await {
            Ok(reservation) => Ok(Settlement {
                reservation,
                limiter,
            }),
            Err(BudgetError::Exceeded { remaining }) => Err(GatewayError::new(
                ErrorKind::BudgetExceeded,
                format!(
                    "The budget allocation '{}' cannot cover this request: it may cost up to {} and {} remains. Lower max_tokens or ask an administrator for more budget.",
                    allocation.name,
                    usd(worst),
                    usd(remaining)
                ),
            )
            .with_code("budget_exceeded")),
            Err(BudgetError::Busy { limit }) => {
                let mut err = GatewayError::new(
                    ErrorKind::RateLimited,
                    format!(
                        "The budget allocation '{}' already has {limit} requests in flight, its most; retry when one ends.",
                        allocation.name
                    ),
                )
                .with_code("allocation_busy");
                err.retry_after_secs = Some(1);
                Err(err)
            }
            Err(BudgetError::Store(e)) => {
                tracing::error!(error = %e, "could not load an allocation's spend");
                Err(GatewayError::new(
                    ErrorKind::Unavailable,
                    "the gateway's store is unavailable",
                ))
            }
        }
    }
}
