//! Usage recording. Every metered request produces exactly one [`UsageRecord`], through a
//! [`UsageGuard`] that sends it when the request finishes — or, if the request is dropped
//! part-way (client disconnect), from `Drop`, so no path loses a record. A record is first
//! appended to the [`Journal`] (so a crash cannot lose an answered request), then goes over
//! an unbounded channel to one writer task that inserts records in batches (one
//! transaction per batch), retries a failed batch until it lands, deletes journal segments
//! whose records are stored, and updates keys' last-used times. [`UsageSink::flush`] waits
//! until everything sent before it is stored.

use crate::journal::Journal;
use modelgate_core::ids;
use modelgate_core::usage::{Outcome, TokenUsage, UsageRecord};
use modelgate_store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Record(Box<UsageRecord>),
    Flush(oneshot::Sender<()>),
    /// A journal segment whose records are all queued before this message.
    Rotated(PathBuf),
}

/// Where finished requests send their records. Cheap to clone.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::UnboundedSender<Msg>,
    journal: Option<Arc<Journal>>,
}

/// Largest number of records written in one transaction.
const MAX_BATCH: usize = 2048;
/// How long the writer lets a batch fill before writing it. Nothing on the request path
/// waits for this (an answered request's record is already in the journal); it turns one
/// transaction per request into one per batch, and a wake-up per record into one per
/// batch. Metrics are recorded per batch too, so `/metrics` and `/api/usage` flush first.
const LINGER: Duration = Duration::from_millis(25);
/// `last_used_at` is kept to this precision, so a busy key is not rewritten per batch.
const LAST_USED_PRECISION_MS: i64 = 60_000;

/// Starts the writer task, journaling records in `journal` when given.
#[expect(
    clippy::disallowed_methods,
    reason = "the usage writer owns its queue and task: a record is never dropped or blocks an answer (the journal already holds it)"
)]
pub fn spawn_writer(
    store: Arc<dyn Store>,
    journal: Option<Arc<Journal>>,
) -> (UsageSink, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    // The writer holds a weak sender (for rotation markers): it ends once every sink is
    // gone and the queue is drained.
    let handle = tokio::spawn(writer(store, rx, tx.downgrade(), journal.clone()));
    (UsageSink { tx, journal }, handle)
}

impl UsageSink {
    /// Journals a record and queues it for the database.
    fn send(&self, record: UsageRecord) {
        let queue = |record: UsageRecord| {
            if self.tx.send(Msg::Record(Box::new(record))).is_err() {
                tracing::error!("usage writer has stopped; a usage record could not be queued");
            }
        };
        match &self.journal {
            Some(j) => j.append(record, queue),
            None => queue(record),
        }
    }

    /// Waits until every record sent before this call is stored.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Starts a new journal segment if the current one is full; the old one is deleted once
/// the marker queued behind its records is reached.
fn rotate_if_full(journal: &Journal, tx: &mpsc::WeakUnboundedSender<Msg>) {
    if !journal.is_full() {
        return;
    }
    let Some(tx) = tx.upgrade() else { return };
    if let Err(e) = journal.rotate(|old| {
        let _ = tx.send(Msg::Rotated(old));
    }) {
        tracing::error!(error = %e, "could not start a new usage journal segment");
    }
}

async fn writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::WeakUnboundedSender<Msg>,
    journal: Option<Arc<Journal>>,
) {
    let mut batch: Vec<UsageRecord> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut stored_segments: Vec<PathBuf> = Vec::new();
    let mut last_used: HashMap<String, i64> = HashMap::new();
    while let Some(first) = rx.recv().await {
        let mut taken = Taken {
            batch: &mut batch,
            waiters: &mut waiters,
            segments: &mut stored_segments,
        };
        take(Some(first), &mut rx, &mut taken);
        if taken.waiters.is_empty() && taken.batch.len() < MAX_BATCH {
            // Let the batch fill. The receiver is not polled meanwhile, so senders do not
            // wake this task once per record.
            tokio::time::sleep(LINGER).await;
            take(None, &mut rx, &mut taken);
        }
        crate::telemetry::record_batch(&batch);
        write_batch(&*store, &batch, &mut last_used).await;
        batch.clear();
        // Every record of these segments is now stored.
        crate::journal::discard(&stored_segments);
        stored_segments.clear();
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if let Some(j) = &journal {
            rotate_if_full(j, &tx);
        }
    }
}

/// Where [`take`] puts what it takes.
struct Taken<'a> {
    batch: &'a mut Vec<UsageRecord>,
    waiters: &'a mut Vec<oneshot::Sender<()>>,
    segments: &'a mut Vec<PathBuf>,
}

/// Moves `first` and everything already queued into the batch (up to its limit).
fn take(mut next: Option<Msg>, rx: &mut mpsc::UnboundedReceiver<Msg>, t: &mut Taken<'_>) {
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None if t.batch.len() < MAX_BATCH => match rx.try_recv() {
                Ok(m) => m,
                Err(_) => return,
            },
            None => return,
        };
        match msg {
            Msg::Record(r) => t.batch.push(*r),
            Msg::Flush(w) => t.waiters.push(w),
            Msg::Rotated(path) => t.segments.push(path),
        }
    }
}

/// Writes one batch, retrying with capped backoff until it lands: records are never
/// popped and then lost because the database hiccuped.
async fn write_batch(store: &dyn Store, batch: &[UsageRecord], written: &mut HashMap<String, i64>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    loop {
        match store.insert_usage(batch).await {
            Ok(()) => break,
            Err(e) => {
                metrics::counter!(crate::telemetry::USAGE_WRITE_FAILURES_TOTAL).increment(1);
                tracing::warn!(error = %e, records = batch.len(), "usage write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for r in batch {
        let at = latest.entry(r.key_id.as_str()).or_insert(r.created_at_ms);
        *at = (*at).max(r.created_at_ms);
    }
    let touches: Vec<(String, i64)> = latest
        .into_iter()
        .filter(|(k, at)| {
            written
                .get(*k)
                .is_none_or(|w| at - w >= LAST_USED_PRECISION_MS)
        })
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    if touches.is_empty() {
        return;
    }
    match store.touch_keys(&touches).await {
        Ok(()) => {
            for (k, at) in touches {
                written.insert(k, at);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not update keys' last-used times"),
    }
}

/// The fixed facts of a metered request.
#[derive(Debug, Clone)]
pub struct MeterContext {
    pub request_id: String,
    pub key_id: String,
    pub user_id: String,
    /// The allocation the request draws from (its key's).
    pub allocation_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub api: &'static str,
    pub stream: bool,
    /// The model's price, when known (cost 0 otherwise).
    pub price: Option<modelgate_catalog::Price>,
}

/// What a finished request gives back to budgets and rate limits.
pub struct Settlement {
    /// The budget reservation to settle at the actual cost.
    pub reservation: Option<crate::budget::Reservation>,
    /// Where the request's tokens count against per-minute limits.
    pub limiter: Option<Arc<crate::limits::RateLimiter>>,
}

/// Accumulates one request's usage and sends its record exactly once.
pub struct UsageGuard {
    sink: UsageSink,
    ctx: Option<MeterContext>,
    settlement: Settlement,
    started: Instant,
    created_at_ms: i64,
    pub usage: TokenUsage,
    pub usage_estimated: bool,
    pub status: u16,
    pub ttft: Option<Duration>,
}

impl UsageGuard {
    /// A guard for a request admitted at `created_at_ms` (the time its reservation was
    /// taken, so the record counts in the same budget period).
    pub fn new(
        sink: UsageSink,
        ctx: MeterContext,
        settlement: Settlement,
        started: Instant,
        created_at_ms: i64,
    ) -> Self {
        Self {
            sink,
            ctx: Some(ctx),
            settlement,
            started,
            created_at_ms,
            usage: TokenUsage::default(),
            usage_estimated: false,
            status: 0,
            ttft: None,
        }
    }

    pub fn context(&self) -> Option<&MeterContext> {
        self.ctx.as_ref()
    }

    /// Prices the record once the answer named its model (an Azure deployment that
    /// reported what it serves).
    pub fn set_price(&mut self, price: Option<modelgate_catalog::Price>) {
        if let Some(ctx) = &mut self.ctx {
            ctx.price = price;
        }
    }

    /// Marks the first byte (token) from the upstream, once.
    pub fn mark_first_byte(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.started.elapsed());
        }
    }

    /// Sends the record with this outcome (journaled before this returns, so the caller
    /// may answer), settles the budget reservation at the actual cost and counts the tokens
    /// against rate limits. Later calls and the drop do nothing.
    pub fn finish(&mut self, outcome: Outcome) {
        let Some(ctx) = self.ctx.take() else { return };
        let cost_micros = ctx.price.map_or(0, |p| p.cost_micros(&self.usage));
        if let Some(r) = self.settlement.reservation.take() {
            r.settle(cost_micros);
        }
        if let Some(limiter) = self.settlement.limiter.take() {
            let tokens = self.usage.input_tokens + self.usage.output_tokens;
            limiter.add_tokens(&ctx.key_id, &ctx.user_id, tokens);
        }
        let record = UsageRecord {
            id: ids::sequential_id("use"),
            request_id: ctx.request_id,
            created_at_ms: self.created_at_ms,
            key_id: ctx.key_id,
            user_id: ctx.user_id,
            allocation_id: ctx.allocation_id,
            provider: ctx.provider,
            model: ctx.model,
            api: ctx.api.to_owned(),
            stream: ctx.stream,
            usage: self.usage,
            usage_estimated: self.usage_estimated,
            cost_micros,
            status: self.status,
            outcome,
            latency_ms: self.started.elapsed().as_millis() as i64,
            ttft_ms: self.ttft.map(|d| d.as_millis() as i64),
        };
        self.sink.send(record);
    }
}

impl Drop for UsageGuard {
    fn drop(&mut self) {
        if self.ctx.is_some() {
            if self.status == 0 {
                // Nothing was answered: the conventional "client closed request" status.
                self.status = 499;
            }
            self.finish(Outcome::ClientDisconnected);
        }
    }
}
