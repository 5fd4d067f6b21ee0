//! The translated Responses scenario: what `POST /v1/responses` with `"stream":true` costs
//! through the gateway when the provider has no Responses route and is set to
//! `responses_api: "translate"`, so that the gateway sends the upstream a chat-completions
//! request and turns its chat chunks into Responses events (`response.created`,
//! `response.in_progress`, `output_item.added`, `content_part.added`,
//! `output_text.delta`…, …, `response.completed`).
//!
//! The provider is [`PROVIDER`] (`POST /api/providers` with `responses_api: "translate"`),
//! pointed at the bench's own mock, which has no `/v1/responses` (404), so a successful
//! Responses stream can only have been translated. Three legs ([`Leg`]), in the same run:
//!
//! * `direct`: the mock's chat stream, `POST /v1/chat/completions`, no gateway;
//! * `gateway-chat`: `POST /v1/chat/completions` through the gateway to [`PROVIDER`] (the
//!   existing pass-through path);
//! * `gateway-responses`: `POST /v1/responses` through the gateway to [`PROVIDER`].
//!
//! Each stream is timed from its send to the body frame holding its first event (chat: the
//! first `data:`; Responses: `response.created`), to the frame holding its first text
//! (chat: a `"content"` delta; Responses: `response.output_text.delta`) and to the end of
//! the body. A stream without its last event (`[DONE]`; `response.completed`) is an error.
//!
//! Concurrency 1: one stream at a time, over one keep-alive connection per address. The
//! legs take turns, one stream each, the order rotating every round, so that a disturbance
//! of the noisy machine hits the three alike and the ratios stay comparable. [`WARMUP_ROUNDS`]
//! rounds are sent first and not recorded. The CPU other processes used is measured like a
//! phase's (`phases`); over 5% of the machine, the whole scenario is measured again
//! (`--retries`) and the least disturbed attempt is kept.

use crate::gateway_process::{ADMIN_KEY, create_provider, machine_busy, own_cpu};
use crate::load::{HttpClient, REQUEST_TIMEOUT, Target};
use crate::phase::DISTURBED_SHARE;
use crate::phases::Bench;
use crate::responses_report::{Leg, LegFigures, PROVIDER, ResponsesReport};
use crate::stats::{Summary, nanos};
use anyhow::{Context, Result, anyhow, bail};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The provider set to `responses_api: "translate"`.
/// Rounds (one stream per leg each) sent before the measured ones.
pub const WARMUP_ROUNDS: usize = 30;
/// Longest wait for the gateway to go idle before and after the scenario.
const IDLE_WAIT: Duration = Duration::from_secs(10);

/// What marks the first event, the first text and the last event in a leg's body.
fn marks(leg: Leg) -> Marks {
    match leg {
        Leg::Direct | Leg::Chat => Marks {
            first_event: b"data: ",
            first_text: b"\"content\"",
            last: b"data: [DONE]",
        },
        Leg::Responses => Marks {
            first_event: b"response.created",
            first_text: b"response.output_text.delta",
            last: b"response.completed",
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Marks {
    first_event: &'static [u8],
    first_text: &'static [u8],
    last: &'static [u8],
}

/// Registers the mock a second time, as [`PROVIDER`] with `responses_api: "translate"`.
pub fn register(bench: &Bench<'_>, mock: SocketAddr) -> Result<()> {
    let body = serde_json::json!({
        "name": PROVIDER,
        "kind": "openai-compatible",
        "endpoint": format!("http://{mock}"),
        "models": [crate::mock::MODEL],
        "responses_api": "translate",
    });
    create_provider(bench.rt, bench.client, bench.gateway.addr, ADMIN_KEY, &body)
}

/// Warm-up, then `streams` streams per leg, again when disturbed.
pub fn run(bench: &Bench<'_>, mock: SocketAddr, streams: usize) -> Result<ResponsesReport> {
    let model = format!("{PROVIDER}/{}", crate::mock::MODEL);
    let gw = bench.gateway.addr;
    let targets = [
        Target::chat(mock, None, crate::mock::MODEL, true)?,
        Target::chat(gw, Some(ADMIN_KEY), &model, true)?,
        Target::responses_stream(gw, Some(ADMIN_KEY), &model)?,
    ];
    let warm = measure_once(bench, &targets, WARMUP_ROUNDS)?;
    for leg in &warm.legs {
        if leg.completed == 0 {
            bail!(
                "warm-up of the {} leg failed: {}",
                leg.leg.name(),
                leg.first_error.as_deref().unwrap_or_default()
            );
        }
    }
    let mut best: Option<ResponsesReport> = None;
    let mut attempts = 0;
    for attempt in 0..=bench.retries {
        attempts = attempt + 1;
        let mut report = measure_once(bench, &targets, streams)?;
        report.kept = attempt + 1;
        let disturbed = report.disturbed(bench.cpus);
        eprintln!("{}", report.one_line());
        if disturbed && attempt < bench.retries {
            eprintln!(
                "  other processes used {:.2} CPU-s during the Responses scenario; measuring it again",
                report.foreign_cpu_s
            );
        }
        if best
            .as_ref()
            .is_none_or(|b| report.foreign_cpu_s < b.foreign_cpu_s)
        {
            best = Some(report);
        }
        if !disturbed {
            break;
        }
    }
    let mut best = best.context("no attempt was made")?;
    best.attempts = attempts;
    Ok(best)
}

/// Samples of one leg, in nanoseconds.
#[derive(Default)]
struct Samples {
    first_event: Vec<u64>,
    first_text: Vec<u64>,
    total: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// `rounds` rounds, one stream per leg each, the legs' order rotating every round.
fn measure_once(
    bench: &Bench<'_>,
    targets: &[Target; 3],
    rounds: usize,
) -> Result<ResponsesReport> {
    let gateway = bench.gateway;
    gateway.wait_idle(IDLE_WAIT)?;
    let ticks = gateway.clock_ticks();
    let cpu_before = gateway.cpu_time()?;
    let (machine_before, own_before) = (machine_busy(ticks)?, own_cpu(ticks)?);
    let started = Instant::now();
    let mut samples: [Samples; 3] = Default::default();
    bench.rt.block_on(async {
        for round in 0..rounds {
            for k in 0..Leg::ALL.len() {
                let i = (round + k) % Leg::ALL.len();
                let result = tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    send_marked(bench.client, &targets[i], marks(Leg::ALL[i])),
                )
                .await
                .unwrap_or_else(|_| Err(anyhow!("timed out after {REQUEST_TIMEOUT:?}")));
                let s = &mut samples[i];
                match result {
                    Ok(t) => {
                        s.first_event.push(nanos(t.first_event));
                        s.first_text.push(nanos(t.first_text));
                        s.total.push(nanos(t.total));
                    }
                    Err(e) => {
                        s.errors += 1;
                        if s.first_error.is_none() {
                            s.first_error = Some(format!("{e:#}"));
                        }
                    }
                }
            }
        }
    });
    let elapsed = started.elapsed();
    gateway.wait_idle(IDLE_WAIT)?;
    let cpu = gateway.cpu_time()?.saturating_sub(cpu_before);
    let machine = machine_busy(ticks)?.saturating_sub(machine_before);
    let own = own_cpu(ticks)?.saturating_sub(own_before);
    let legs = Leg::ALL
        .iter()
        .zip(samples.iter_mut())
        .map(|(&leg, s)| LegFigures {
            leg,
            completed: s.total.len() as u64,
            errors: s.errors,
            first_error: s.first_error.take(),
            first_event: Summary::of(&mut s.first_event),
            first_text: Summary::of(&mut s.first_text),
            total: Summary::of(&mut s.total),
        })
        .collect();
    Ok(ResponsesReport {
        streams_per_leg: rounds,
        legs,
        elapsed_s: elapsed.as_secs_f64(),
        gateway_cpu_s: cpu.as_secs_f64(),
        foreign_cpu_s: machine.saturating_sub(cpu + own).as_secs_f64(),
        kept: 1,
        attempts: 1,
        disturbed_share: DISTURBED_SHARE,
    })
}

/// Timings of one stream, from its send.
struct Marked {
    first_event: Duration,
    first_text: Duration,
    total: Duration,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sends one stream and reads it whole, noting when the frames holding the first event and
/// the first text arrived. A mark split over two frames is found (the end of the previous
/// frame is kept) and timed at the second.
async fn send_marked(client: &HttpClient, target: &Target, marks: Marks) -> Result<Marked> {
    let start = Instant::now();
    let resp = client.request(target.request()?).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let text = body.collect().await?.to_bytes();
        bail!("status {status}: {}", String::from_utf8_lossy(&text));
    }
    let keep = [marks.first_event, marks.first_text, marks.last]
        .iter()
        .map(|m| m.len())
        .max()
        .unwrap_or(1)
        - 1;
    let (mut first_event, mut first_text, mut ended) = (None, None, false);
    let mut window: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let now = Instant::now();
        window.extend_from_slice(data);
        if first_event.is_none() && contains(&window, marks.first_event) {
            first_event = Some(now - start);
        }
        if first_text.is_none() && contains(&window, marks.first_text) {
            first_text = Some(now - start);
        }
        if !ended && contains(&window, marks.last) {
            ended = true;
        }
        let cut = window.len().saturating_sub(keep);
        window.drain(..cut);
    }
    let total = start.elapsed();
    let (Some(first_event), Some(first_text)) = (first_event, first_text) else {
        bail!("the stream ended without its first event or any text");
    };
    if !ended {
        bail!(
            "the stream ended without {}",
            String::from_utf8_lossy(marks.last)
        );
    }
    Ok(Marked {
        first_event,
        first_text,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_tell_the_legs_apart() {
        assert_eq!(marks(Leg::Direct).first_text, b"\"content\"");
        assert_eq!(marks(Leg::Responses).first_event, b"response.created");
        assert_eq!(marks(Leg::Responses).last, b"response.completed");
        assert!(contains(b"event: response.created\n", b"response.created"));
        assert!(!contains(b"resp", b"response.created"));
    }
}
