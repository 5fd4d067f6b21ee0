//! Exact budget enforcement. Before a priced request goes upstream, its
//! worst-case cost — every body byte counted as an input token (a tokenizer never makes
//! more tokens than bytes), plus `max_tokens` or the model's output limit — is reserved
//! against its allocation under one short lock: `spent + reserved + worst <= limit` or
//! 402. When the request ends, however it ends, the reservation settles at the actual
//! cost and releases the rest ([`Reservation`] settles from `Drop` too, so a dropped
//! request never leaks a reservation). Hundreds of concurrent requests therefore cannot
//! overspend: the only possible excess is one request's settle difference, when a
//! request's actual cost exceeds its worst case (images counted as text, say).
//!
//! Spend per period is the sum of the allocation's usage records, loaded once per process
//! and kept in memory after that; reservations live only in memory, so a restart starts
//! with none and the durable records as the spend. With `--redis` the same accounting
//! lives in Redis instead (`modelgate-cluster` (`budget.rs`)), so several replicas together hold
//! the same bound.

use crate::period::Period;
use modelgate_catalog::Price;
use modelgate_cluster::Shared;
use modelgate_cluster::budget::{Hold, Reserved};
use modelgate_store::{AllocationRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The output a reservation assumes when neither the request nor the model's catalog
/// entry gives a limit.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 32_768;

/// The context a reservation assumes for a request that refers to content it does not
/// carry, when the model's context window is unknown.
pub const DEFAULT_CONTEXT_TOKENS: u64 = 200_000;

/// What a request may use at most, before pricing.
#[derive(Debug, Clone, Copy)]
pub struct Demand {
    /// The larger of the client's and the upstream's body (every byte counted as a token).
    pub body_bytes: usize,
    /// The output limit sent (`None`: the model's own).
    pub max_tokens: Option<u64>,
    /// Answers asked for (`n`, `best_of`): each may be as long as the limit.
    pub choices: u64,
    /// The request refers to content it does not carry (a previous response, a file id,
    /// an image or document URL): its input may fill the context window.
    pub referenced: bool,
    /// A context wider than the catalog's (a 1M-context beta header).
    pub context: Option<u64>,
    pub embeddings: bool,
}

/// The worst-case cost of a request, in micro-dollars: zero for a free model.
pub fn worst_case_micros(price: &Price, demand: &Demand) -> i64 {
    if price.is_free() {
        return 0;
    }
    let context = price.context.max(demand.context);
    let input = if demand.referenced {
        (demand.body_bytes as u64).max(context.unwrap_or(DEFAULT_CONTEXT_TOKENS))
    } else {
        let bytes = demand.body_bytes as u64;
        context.map_or(bytes, |c| bytes.min(c))
    };
    let output = if demand.embeddings {
        0
    } else {
        demand
            .max_tokens
            .or(price.max_output)
            .or(context)
            .unwrap_or(DEFAULT_OUTPUT_TOKENS)
            .saturating_mul(demand.choices.max(1))
    };
    let usage = modelgate_core::usage::TokenUsage {
        input_tokens: input,
        output_tokens: output,
        ..Default::default()
    };
    // Any input token may be a cache write, any output token reasoning: count each at
    // the larger of its rates.
    let full = Price {
        input: price.max_input(),
        output: price.max_output_price(),
        cached: None,
        cache_write: None,
        reasoning: None,
        ..*price
    };
    full.cost_micros(&usage).max(1)
}

/// When the period containing `now_ms` began for `allocation`.
fn period_start(allocation: &AllocationRow, now_ms: i64) -> i64 {
    Period::parse(&allocation.period)
        .unwrap_or(Period::None)
        .start(now_ms)
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetError {
    /// The allocation cannot cover the worst case; `remaining` micro-dollars are left.
    Exceeded { remaining: i64 },
    /// The allocation already has its most requests in flight (`max_in_flight`).
    Busy { limit: i64 },
    /// The spend could not be loaded.
    Store(String),
}

#[derive(Debug, Default)]
struct State {
    period_start: i64,
    spent: i64,
    reserved: i64,
    /// Reservations held now (requests in flight).
    in_flight: i64,
}

struct Account {
    loaded: OnceCell<()>,
    state: Mutex<State>,
}

impl Account {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The in-memory spend and reservations of every allocation in use.
pub struct Ledger {
    store: Arc<dyn Store>,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    /// With `--redis`, reservations and spend live there.
    shared: Option<Arc<Shared>>,
    /// How long a shared reservation holds without being settled.
    hold_ms: i64,
}

/// Where a reservation is held.
enum Held {
    Local(Arc<Account>),
    Shared {
        shared: Arc<Shared>,
        allocation_id: String,
        id: String,
    },
}

/// A held reservation. Settle it with the actual cost; dropping it releases it.
pub struct Reservation {
    held: Held,
    period_start: i64,
    amount: i64,
}

impl Reservation {
    /// Replaces the reservation by the actual cost.
    pub fn settle(mut self, actual_micros: i64) {
        self.apply(actual_micros);
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "settling a shared reservation may run from Drop, so it goes on a task"
    )]
    fn apply(&mut self, actual: i64) {
        let amount = std::mem::take(&mut self.amount);
        match &self.held {
            Held::Local(account) => {
                let mut s = account.lock();
                s.reserved -= amount;
                s.in_flight -= 1;
                // A request that started in an earlier period counts there (its record's
                // time).
                if s.period_start == self.period_start {
                    s.spent = s.spent.saturating_add(actual);
                }
            }
            Held::Shared {
                shared,
                allocation_id,
                id,
            } => {
                let (shared, allocation_id, id) =
                    (shared.clone(), allocation_id.clone(), id.clone());
                let period_start = self.period_start;
                // Settling may run from `Drop`: it goes on a task (an unsettled hold
                // expires by itself if even that fails).
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        // Redis may be failing over: keep trying for a while (the hold
                        // expires by itself, but the spend must not be lost).
                        for wait_ms in [0u64, 100, 500, 2_000, 5_000, 15_000] {
                            if wait_ms > 0 {
                                tokio::time::sleep(std::time::Duration::from_millis(wait_ms))
                                    .await;
                            }
                            if shared
                                .settle(&allocation_id, period_start, &id, actual)
                                .await
                                .is_ok()
                            {
                                return;
                            }
                        }
                        tracing::error!(
                            allocation = %allocation_id,
                            micros = actual,
                            "could not settle a shared budget reservation; its spend is missing until the counters are rebuilt"
                        );
                    });
                }
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.amount != 0 {
            self.apply(0);
        }
    }
}

/// What an allocation has used in its current period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub period_start: i64,
    pub spent: i64,
    pub reserved: i64,
}

impl Ledger {
    pub fn new(
        store: Arc<dyn Store>,
        shared: Option<Arc<Shared>>,
        hold: std::time::Duration,
    ) -> Self {
        Self {
            store,
            accounts: Mutex::new(HashMap::new()),
            shared,
            hold_ms: i64::try_from(hold.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn account(&self, id: &str) -> Arc<Account> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .entry(id.to_owned())
            .or_insert_with(|| {
                Arc::new(Account {
                    loaded: OnceCell::new(),
                    state: Mutex::new(State::default()),
                })
            })
            .clone()
    }

    /// Loads the account's spend for the period containing `now_ms` (once per process).
    async fn loaded(
        &self,
        allocation: &AllocationRow,
        now_ms: i64,
    ) -> Result<Arc<Account>, BudgetError> {
        let account = self.account(&allocation.id);
        let start = period_start(allocation, now_ms);
        account
            .loaded
            .get_or_try_init(|| async {
                let spent = self
                    .store
                    .allocation_spent(&allocation.id, start)
                    .await
                    .map_err(|e| BudgetError::Store(e.to_string()))?;
                let mut s = account.lock();
                s.period_start = start;
                s.spent = spent;
                Ok::<(), BudgetError>(())
            })
            .await?;
        // A new period begins with nothing spent (earlier requests count in theirs).
        let mut s = account.lock();
        if start > s.period_start {
            s.period_start = start;
            s.spent = 0;
        }
        drop(s);
        Ok(account)
    }

    /// Reserves `amount` micro-dollars of `allocation` at `now_ms`. A zero amount (a free
    /// model) is never refused and holds nothing.
    pub async fn reserve(
        &self,
        allocation: &AllocationRow,
        amount: i64,
        now_ms: i64,
    ) -> Result<Option<Reservation>, BudgetError> {
        if amount <= 0 {
            return Ok(None);
        }
        if let Some(shared) = &self.shared {
            return self
                .reserve_shared(shared, allocation, amount, now_ms)
                .await
                .map(Some);
        }
        let account = self.loaded(allocation, now_ms).await?;
        let mut s = account.lock();
        let remaining = allocation.limit_micros - s.spent - s.reserved;
        if amount > remaining {
            return Err(BudgetError::Exceeded {
                remaining: remaining.max(0),
            });
        }
        if let Some(limit) = allocation.max_in_flight.filter(|l| s.in_flight >= *l) {
            return Err(BudgetError::Busy { limit });
        }
        s.reserved += amount;
        s.in_flight += 1;
        let period_start = s.period_start;
        drop(s);
        Ok(Some(Reservation {
            held: Held::Local(account),
            period_start,
            amount,
        }))
    }

    async fn reserve_shared(
        &self,
        shared: &Arc<Shared>,
        allocation: &AllocationRow,
        amount: i64,
        now_ms: i64,
    ) -> Result<Reservation, BudgetError> {
        let start = period_start(allocation, now_ms);
        let id = modelgate_core::ids::new_id("rsv");
        let store_err = |e: modelgate_cluster::ClusterError| BudgetError::Store(e.to_string());
        for _ in 0..2 {
            let hold = Hold {
                allocation_id: &allocation.id,
                period_start: start,
                limit: allocation.limit_micros,
                max_in_flight: allocation.max_in_flight.unwrap_or(0),
                amount,
                id: &id,
                now_ms,
                until_ms: now_ms.saturating_add(self.hold_ms),
            };
            let found = shared.reserve(&hold).await.map_err(store_err)?;
            match found {
                Reserved::Held => {
                    return Ok(Reservation {
                        held: Held::Shared {
                            shared: shared.clone(),
                            allocation_id: allocation.id.clone(),
                            id,
                        },
                        period_start: start,
                        amount,
                    });
                }
                Reserved::Refused(remaining) => {
                    return Err(BudgetError::Exceeded {
                        remaining: remaining.max(0),
                    });
                }
                Reserved::Busy => {
                    return Err(BudgetError::Busy {
                        limit: allocation.max_in_flight.unwrap_or(0),
                    });
                }
                Reserved::Unknown => {
                    let spent = self
                        .store
                        .allocation_spent(&allocation.id, start)
                        .await
                        .map_err(|e| BudgetError::Store(e.to_string()))?;
                    shared
                        .init_allocation(&allocation.id, start, spent)
                        .await
                        .map_err(store_err)?;
                }
            }
        }
        Err(BudgetError::Store(
            "the shared budget counters could not be started".into(),
        ))
    }

    /// The allocation's current standing (loading its spend if needed).
    pub async fn standing(
        &self,
        allocation: &AllocationRow,
        now_ms: i64,
    ) -> Result<Standing, BudgetError> {
        if let Some(shared) = &self.shared {
            let start = period_start(allocation, now_ms);
            let found = shared
                .standing(&allocation.id, start, now_ms)
                .await
                .map_err(|e| BudgetError::Store(e.to_string()))?;
            let (spent, reserved) = match found {
                Some(pair) => pair,
                None => (
                    self.store
                        .allocation_spent(&allocation.id, start)
                        .await
                        .map_err(|e| BudgetError::Store(e.to_string()))?,
                    0,
                ),
            };
            return Ok(Standing {
                period_start: start,
                spent,
                reserved,
            });
        }
        let account = self.loaded(allocation, now_ms).await?;
        let s = account.lock();
        Ok(Standing {
            period_start: s.period_start,
            spent: s.spent,
            reserved: s.reserved,
        })
    }

    /// Forgets an allocation's account (after its period changed or it was deleted); the
    /// next use reloads its spend from the store.
    pub fn forget(&self, allocation_id: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.remove(allocation_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ledger() -> (Ledger, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = modelgate_store::SqliteStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        (
            Ledger::new(Arc::new(store), None, std::time::Duration::from_secs(60)),
            dir,
        )
    }

    fn allocation(limit: i64, period: &str) -> AllocationRow {
        AllocationRow {
            id: "a".into(),
            name: "a".into(),
            owner_user_id: Some("u".into()),
            owner_group_id: None,
            limit_micros: limit,
            period: period.into(),
            created_at: 0,
            max_in_flight: None,
        }
    }

    #[tokio::test]
    async fn at_most_max_in_flight_reservations_at_once() {
        let (l, _dir) = ledger().await;
        let a = AllocationRow {
            max_in_flight: Some(2),
            ..allocation(1_000, "none")
        };
        let r1 = l.reserve(&a, 10, 1).await.unwrap().unwrap();
        let r2 = l.reserve(&a, 10, 1).await.unwrap().unwrap();
        assert_eq!(
            l.reserve(&a, 10, 1).await.err(),
            Some(BudgetError::Busy { limit: 2 })
        );
        // A free request holds nothing and is never refused.
        assert!(l.reserve(&a, 0, 1).await.unwrap().is_none());
        r1.settle(5);
        let r3 = l.reserve(&a, 10, 1).await.unwrap().unwrap();
        drop(r2);
        drop(r3);
        assert!(l.reserve(&a, 10, 1).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn reserve_settle_release() {
        let (l, _dir) = ledger().await;
        let a = allocation(100, "none");
        let r1 = l.reserve(&a, 60, 1).await.unwrap().unwrap();
        // 60 held: 50 more does not fit.
        assert_eq!(
            l.reserve(&a, 50, 1).await.err(),
            Some(BudgetError::Exceeded { remaining: 40 })
        );
        let r2 = l.reserve(&a, 40, 1).await.unwrap().unwrap();
        r1.settle(10);
        // A dropped reservation is released, never leaked.
        drop(r2);
        let s = l.standing(&a, 1).await.unwrap();
        assert_eq!((s.spent, s.reserved), (10, 0));
        // Free requests hold nothing and are never refused.
        assert!(
            l.reserve(&allocation(0, "none"), 0, 1)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_new_period_starts_empty_and_late_settles_count_in_theirs() {
        let (l, _dir) = ledger().await;
        let a = allocation(100, "daily");
        let day = 86_400_000;
        let r = l.reserve(&a, 80, 10).await.unwrap().unwrap();
        l.reserve(&a, 20, 20).await.unwrap().unwrap().settle(20);
        assert!(l.reserve(&a, 1, 30).await.is_err());
        // Next day: nothing spent yet; the earlier request still holds its reservation.
        let s = l.standing(&a, day + 5).await.unwrap();
        assert_eq!((s.spent, s.reserved), (0, 80));
        // It settles into yesterday, not today.
        r.settle(80);
        let s = l.standing(&a, day + 6).await.unwrap();
        assert_eq!((s.spent, s.reserved), (0, 0));
        assert!(l.reserve(&a, 100, day + 7).await.unwrap().is_some());
    }

    fn price() -> Price {
        Price {
            input: 1.0,
            output: 2.0,
            cached: None,
            cache_write: None,
            reasoning: None,
            max_output: Some(100),
            context: Some(1000),
        }
    }

    #[test]
    fn worst_case_bounds() {
        let p = price();
        // 50 bytes in, 10 out: 50 + 20.
        let unknown = Price {
            max_output: None,
            context: None,
            ..p
        };
        let free = Price {
            input: 0.0,
            output: 0.0,
            ..p
        };
        // A request of `body_bytes` with the output limit `max_tokens`, nothing more.
        let demand = |body_bytes, max_tokens| Demand {
            body_bytes,
            max_tokens,
            choices: 1,
            referenced: false,
            context: None,
            embeddings: false,
        };
        let cases: Vec<(&str, Price, Demand, i64)> = vec![
            (
                "50 bytes in, 10 out: 50 + 2 x 10",
                p,
                demand(50, Some(10)),
                70,
            ),
            (
                "no max_tokens: the model's output limit",
                p,
                demand(50, None),
                250,
            ),
            (
                "input capped by the context window",
                p,
                demand(5000, Some(0)),
                1000,
            ),
            (
                "embeddings: input only",
                p,
                Demand {
                    embeddings: true,
                    ..demand(50, None)
                },
                50,
            ),
            ("a free model reserves nothing", free, demand(50, None), 0),
            (
                "nothing known: the default output",
                unknown,
                demand(0, None),
                2 * DEFAULT_OUTPUT_TOKENS as i64,
            ),
            (
                "n = 3: three answers",
                p,
                Demand {
                    choices: 3,
                    ..demand(50, Some(10))
                },
                50 + 3 * 20,
            ),
            (
                "referenced content fills the context",
                p,
                Demand {
                    referenced: true,
                    ..demand(50, Some(10))
                },
                1000 + 20,
            ),
            (
                "referenced, context unknown",
                unknown,
                Demand {
                    referenced: true,
                    ..demand(50, Some(10))
                },
                DEFAULT_CONTEXT_TOKENS as i64 + 20,
            ),
            (
                "a 1M beta widens the cap",
                p,
                Demand {
                    context: Some(1_000_000),
                    ..demand(5000, Some(0))
                },
                5000,
            ),
        ];
        for (case, price, demand, want) in cases {
            assert_eq!(worst_case_micros(&price, &demand), want, "{case}");
        }
    }
}
