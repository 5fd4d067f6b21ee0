//! Routing that survives failure: a request's candidates are its `model`
//! followed by its fallback list (`models`), each virtual model expanded into its list.
//! Candidates the caller may not use, or that cannot take the request, are skipped. Each
//! is tried in turn: on a connect error, a timeout, a 429 or a 5xx the same provider is
//! retried (its `retries`, exponential backoff with jitter, `retry-after` honoured) and
//! then the next candidate takes over; any other 4xx is the request's own fault and goes
//! back at once. Streams fail over only before their first byte reaches the client (an
//! attempt returns a stream only once the upstream answered 2xx). Every attempt has its
//! own budget reservation and usage record. A provider with several targets (endpoints
//! or keys, `modelgate-registry`'s `targets.rs`) sends each attempt to one drawn by weight, and
//! a failed attempt moves on to another of its targets at once, before its retries. A candidate whose circuit is open
//! (`modelgate-registry`'s `breaker.rs`) is skipped while another can be tried; when none can, the paused
//! ones are tried anyway (panic mode, as Envoy does), so a lone failing provider's errors
//! still reach the client as they are. The answer names the provider and model that
//! served and the number of attempts (`x-modelgate-attempts`).
//! Why: `docs/decisions/0005-failover-before-the-first-byte.md`.

use crate::body;
use crate::gateway::Gateway;
use crate::proxy::{ClientHints, FrontApi, Prepared, ProxyResponse};
use bytes::Bytes;
use http::HeaderValue;
use modelgate_core::ErrorKind;
use modelgate_core::GatewayError;
use modelgate_org::auth::Principal;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ATTEMPTS_HEADER: &str = "x-modelgate-attempts";
/// Failovers to the next candidate.
pub const FAILOVERS_TOTAL: &str = "modelgate_failovers_total";
/// Retries of the same provider.
pub const RETRIES_TOTAL: &str = "modelgate_retries_total";

/// Longest wait between two tries of one provider.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// First backoff; doubled on each retry, with ±50% jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(200);

/// What an attempt's result means for the next one.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Give it to the client.
    Answer,
    /// The provider may recover: retry it, then fail over.
    Retry(Option<Duration>),
    /// This candidate cannot serve it (budget): go to the next one, no retry.
    Skip,
}

fn verdict(result: &Result<ProxyResponse, GatewayError>) -> Verdict {
    match result {
        Ok(r) if r.status.as_u16() == 429 || r.status.is_server_error() => {
            Verdict::Retry(retry_after(r))
        }
        Ok(_) => Verdict::Answer,
        Err(e) if e.kind == ErrorKind::BudgetExceeded => Verdict::Skip,
        Err(e) if e.kind.may_fail_over() => Verdict::Retry(None),
        Err(_) => Verdict::Answer,
    }
}

/// The upstream's `retry-after` (seconds) or `retry-after-ms`.
fn retry_after(r: &ProxyResponse) -> Option<Duration> {
    let get = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    get("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// The wait before retry number `retry` (0-based): exponential with jitter, at least the
/// upstream's `retry-after`.
fn backoff(retry: u32, retry_after: Option<Duration>) -> Duration {
    let exp = BASE_BACKOFF
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_BACKOFF);
    let mut r = [0u8; 2];
    modelgate_core::ids::fill_random(&mut r);
    let jitter = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX); // 0..1
    let jittered = exp.mul_f64(0.5 + jitter);
    retry_after.map_or(jittered, |ra| ra.max(jittered))
}

/// A short description of a failed attempt, for the provider's health.
fn failure_text(result: &Result<ProxyResponse, GatewayError>) -> String {
    match result {
        Ok(r) => format!("upstream answered {}", r.status),
        Err(e) => e.message.clone(),
    }
}

fn with_attempts(
    mut result: Result<ProxyResponse, GatewayError>,
    attempts: u32,
) -> Result<ProxyResponse, GatewayError> {
    if let Ok(r) = &mut result {
        r.headers
            .insert(ATTEMPTS_HEADER, HeaderValue::from(attempts));
    }
    result
}

impl Gateway {
    /// A member's key minted while the member had no allocation comes under one as soon
    /// as one exists: chosen now, by the rule a new key follows (their only allocation, or
    /// 400 `allocation_required` when they have several). Admins' keys, and everyone's when
    /// the org turned `require_allocation` off, stay as they are.
    fn unbound_allocation(&self, who: &Principal) -> Result<Option<String>, GatewayError> {
        if who.allocation_id.is_some() || who.is_admin() || who.key_id.is_empty() {
            return Ok(None);
        }
        let org = self.directory();
        if !org.settings.require_allocation {
            return Ok(None);
        }
        let Some(user) = org.users.get(&who.user_id) else {
            return Ok(None);
        };
        org.choose_allocation(user, &who.groups, None, true)
    }

    /// The model references a request names, in order: virtual models expanded, repeats
    /// dropped.
    fn candidates(&self, model: &str, fallbacks: &[String]) -> Vec<String> {
        let org = self.directory();
        let mut out: Vec<String> = Vec::new();
        let mut push = |r: &str| {
            if !out.iter().any(|o| o == r) {
                out.push(r.to_owned());
            }
        };
        for reference in std::iter::once(model).chain(fallbacks.iter().map(String::as_str)) {
            match org.virtual_models.get(reference) {
                Some(list) => list.iter().for_each(|r| push(r)),
                None => push(reference),
            }
        }
        out
    }

    /// Forwards one request (never `Models`) to the first candidate that serves it.
    pub async fn proxy(
        self: &Arc<Self>,
        principal: &Principal,
        front: FrontApi,
        request: Bytes,
        request_id: &str,
        hints: &ClientHints,
    ) -> Result<ProxyResponse, GatewayError> {
        let started = Instant::now();
        let bound;
        let principal = match self.unbound_allocation(principal)? {
            Some(allocation_id) => {
                let mut p = principal.clone();
                p.allocation_id = Some(allocation_id);
                bound = p;
                &bound
            }
            None => principal,
        };
        let (request, fallbacks) = body::take_fallbacks(request)?;
        let peeked = body::peek(&request)?;
        let references = self.candidates(&peeked.model, &fallbacks);
        self.admit(principal).await?;
        let call = Call {
            principal,
            front,
            request: &request,
            peeked: &peeked,
            request_id,
            hints,
            deadline: started + self.settings.request_timeout,
        };
        let mut tally = Tally::default();
        // Candidates, each with whether its open circuit is to be ignored: when every
        // usable candidate is paused, they are tried anyway (panic mode), so a lone
        // provider's errors still reach the client as they are.
        let mut queue: std::collections::VecDeque<(String, bool)> =
            references.into_iter().map(|r| (r, false)).collect();
        let mut paused: Vec<String> = Vec::new();
        loop {
            if queue.is_empty() && tally.attempts == 0 && !paused.is_empty() {
                queue.extend(paused.drain(..).map(|r| (r, true)));
            }
            let Some((reference, forced)) = queue.pop_front() else {
                break;
            };
            if tally.attempts > 0 && Instant::now() >= call.deadline {
                break;
            }
            match self
                .try_candidate(&call, &reference, forced, &mut tally)
                .await
            {
                Candidate::Answered(result) => return with_attempts(result, tally.attempts),
                Candidate::Paused => paused.push(reference),
                Candidate::Next => {}
            }
        }
        match (tally.last_failure, tally.first_refusal) {
            (Some(failure), _) => with_attempts(failure, tally.attempts),
            (None, Some(refusal)) => Err(refusal),
            (None, None) => Err(GatewayError::model_not_found(&peeked.model)),
        }
    }

    /// Plans `reference` for this request; a refusal is kept (the first one is answered if
    /// no candidate serves).
    fn plan(&self, call: &Call<'_>, reference: &str, tally: &mut Tally) -> Option<Prepared> {
        self.prepare(
            call.principal,
            call.front,
            call.request,
            call.peeked,
            reference,
        )
        .map_err(|e| {
            tally.first_refusal.get_or_insert(e);
        })
        .ok()
    }

    /// Tries one candidate: plans it, sends it to one of its targets, fails over to its
    /// other targets and retries it as its settings allow. `Answered` ends the request;
    /// otherwise the next candidate is tried.
    async fn try_candidate(
        self: &Arc<Self>,
        call: &Call<'_>,
        reference: &str,
        forced: bool,
        tally: &mut Tally,
    ) -> Candidate {
        // Not usable by this caller or for this request: the next one may be.
        let Some(prepared) = self.plan(call, reference, tally) else {
            return Candidate::Next;
        };
        let mut provider = prepared.provider.clone();
        let model = prepared.upstream_model.clone();
        let Some(mut target) = provider.pick_target(&model, 0, forced) else {
            return Candidate::Paused;
        };
        if tally.attempts > 0 {
            metrics::counter!(FAILOVERS_TOTAL, "to" => provider.name().to_owned()).increment(1);
        }
        let retries = provider.config.retries.unwrap_or(0);
        let mut next = Some(prepared);
        let mut retry = 0u32;
        // Targets of this provider tried since the last backoff (a bit per index).
        let mut tried = 0u32;
        let mut replanned = false;
        loop {
            // Planned again after a failure (or translated after a missing Responses
            // route); refused now, another candidate may serve.
            let Some(mut p) = next.take().or_else(|| self.plan(call, reference, tally)) else {
                break;
            };
            // The provider was changed meanwhile (a reload): its targets are new.
            if !Arc::ptr_eq(&p.provider, &provider) {
                provider = p.provider.clone();
                tried = 0;
                target = provider.pick_target(&model, 0, true).unwrap_or(0);
            }
            p.target = target;
            tally.attempts += 1;
            let result = self
                .attempt(
                    call.principal,
                    call.front,
                    call.request,
                    p,
                    call.request_id,
                    call.hints,
                )
                .await;
            if !replanned
                && matches!(&result, Err(e) if e.code == Some(crate::proxy::RESPONSES_MISSING))
            {
                // Found to have no Responses route: the same candidate, translated.
                replanned = true;
                continue;
            }
            let verdict = verdict(&result);
            let Some(chosen) = provider.targets.get(target) else {
                return Candidate::Answered(result);
            };
            let breaker = chosen.breakers.get(&model);
            match &verdict {
                Verdict::Retry(_) => breaker.failure(&failure_text(&result)),
                Verdict::Answer => breaker.success(),
                Verdict::Skip => {}
            }
            match verdict {
                Verdict::Answer => return Candidate::Answered(result),
                Verdict::Skip => {
                    tally.last_failure = Some(result);
                    break;
                }
                Verdict::Retry(after) => {
                    tally.last_failure = Some(result);
                    tried |= 1 << target;
                    // Another endpoint or key of the same provider, at once.
                    if let Some(other) = provider.pick_target(&model, tried, forced) {
                        metrics::counter!(FAILOVERS_TOTAL, "to" => provider.name().to_owned())
                            .increment(1);
                        target = other;
                        continue;
                    }
                    if retry >= retries {
                        break;
                    }
                    let wait = backoff(retry, after);
                    if Instant::now() + wait >= call.deadline {
                        break;
                    }
                    metrics::counter!(RETRIES_TOTAL, "provider" => provider.name().to_owned())
                        .increment(1);
                    tokio::time::sleep(wait).await;
                    retry += 1;
                    tried = 0;
                    match provider.pick_target(&model, 0, forced) {
                        Some(t) => target = t,
                        None => break,
                    }
                }
            }
        }
        Candidate::Next
    }
}

/// One request as every candidate sees it.
struct Call<'a> {
    principal: &'a Principal,
    front: FrontApi,
    request: &'a Bytes,
    peeked: &'a body::Peeked,
    request_id: &'a str,
    hints: &'a ClientHints,
    /// No new attempt starts after this.
    deadline: Instant,
}

/// What the candidates tried so far left.
#[derive(Default)]
struct Tally {
    attempts: u32,
    /// The first candidate that refused the request (not usable by the caller, say).
    first_refusal: Option<GatewayError>,
    /// The last failed answer.
    last_failure: Option<Result<ProxyResponse, GatewayError>>,
}

/// How trying one candidate ended.
enum Candidate {
    /// An answer (success, or an error that no other candidate would change).
    Answered(Result<ProxyResponse, GatewayError>),
    /// Its circuit is open: tried at the end if no candidate could be.
    Paused,
    /// Refused or failed: the next candidate.
    Next,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for retry in 0..4 {
            let b = backoff(retry, None);
            let exp = BASE_BACKOFF * (1 << retry);
            assert!(b >= exp / 2 && b <= exp * 3 / 2, "{retry}: {b:?}");
        }
        assert!(backoff(30, None) <= MAX_BACKOFF * 3 / 2);
        assert!(backoff(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }
}
