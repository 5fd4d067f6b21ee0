//! The figures of the translated Responses scenario (`responses`): per leg, the time to the
//! first event, to the first text and to the end of the stream (p50/p99), each leg's ratio
//! to the direct leg, and the differences that matter — Responses translated minus chat
//! pass-through through the same gateway and provider (the cost of translation), chat
//! pass-through minus direct (the gateway's own) — as text and JSON.
//!
//! Differences are of percentiles, not percentiles of differences, like "added" elsewhere.

use crate::stats::{Summary, round1};
use crate::table::table;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The provider the scenario registers the mock as (with `responses_api: "translate"`).
pub const PROVIDER: &str = "benchtr";

/// One of the three ways to the same mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// The mock's chat stream, no gateway.
    Direct,
    /// Chat completions through the gateway (pass-through).
    Chat,
    /// Responses through the gateway (translated to chat completions).
    Responses,
}

impl Leg {
    pub const ALL: [Leg; 3] = [Leg::Direct, Leg::Chat, Leg::Responses];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Leg::Direct => "direct",
            Leg::Chat => "gateway-chat",
            Leg::Responses => "gateway-responses",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Leg::Direct => "direct: mock chat stream",
            Leg::Chat => "gateway: chat pass-through",
            Leg::Responses => "gateway: Responses translated",
        }
    }
}

/// One leg's figures.
#[derive(Debug, Clone)]
pub struct LegFigures {
    pub leg: Leg,
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Chat: the first `data:`; Responses: `response.created`.
    pub first_event: Summary,
    /// Chat: the first `"content"` delta; Responses: the first `response.output_text.delta`.
    pub first_text: Summary,
    pub total: Summary,
}

impl LegFigures {
    fn json(&self) -> Value {
        json!({
            "leg": self.leg.name(),
            "completed": self.completed,
            "errors": self.errors,
            "first_error": self.first_error,
            "first_event": self.first_event.json(),
            "first_text": self.first_text.json(),
            "total": self.total.json(),
        })
    }
}

pub struct ResponsesReport {
    /// Streams sent per leg.
    pub streams_per_leg: usize,
    pub legs: Vec<LegFigures>,
    pub elapsed_s: f64,
    /// The gateway's CPU over the whole scenario (both gateway legs together).
    pub gateway_cpu_s: f64,
    /// CPU seconds other processes used during the scenario.
    pub foreign_cpu_s: f64,
    /// Which attempt was kept (1-based), of how many (more than one when disturbed).
    pub kept: u32,
    pub attempts: u32,
    pub disturbed_share: f64,
}

fn us(x: f64) -> String {
    format!("{x:.1}")
}

fn ratio(x: f64, of: f64) -> String {
    if of > 0.0 {
        format!("{:.2}×", x / of)
    } else {
        String::new()
    }
}

/// (name, f) for the three timings.
type Timing = (&'static str, fn(&LegFigures) -> Summary);
const TIMINGS: [Timing; 3] = [
    ("first event", |l| l.first_event),
    ("first text", |l| l.first_text),
    ("end of stream", |l| l.total),
];

impl ResponsesReport {
    fn leg(&self, leg: Leg) -> Option<&LegFigures> {
        self.legs.iter().find(|l| l.leg == leg)
    }

    /// True when other processes used more than the disturbed share of the machine.
    pub fn disturbed(&self, cpus: usize) -> bool {
        self.foreign_cpu_s > self.disturbed_share * cpus.max(1) as f64 * self.elapsed_s
    }

    /// Differences of (p50, p99) for each timing: `a` minus `b`.
    pub fn added(&self, a: Leg, b: Leg) -> Vec<(&'static str, f64, f64)> {
        let (Some(a), Some(b)) = (self.leg(a), self.leg(b)) else {
            return Vec::new();
        };
        TIMINGS
            .iter()
            .map(|(name, f)| {
                let (x, y) = (f(a), f(b));
                (*name, x.p50_us - y.p50_us, x.p99_us - y.p99_us)
            })
            .collect()
    }

    /// A progress line for stderr.
    pub fn one_line(&self) -> String {
        let mut s = String::from("Responses scenario:");
        for l in &self.legs {
            let _ = write!(
                s,
                " {} first text p50 {:.1} µs ({} errors);",
                l.leg.name(),
                l.first_text.p50_us,
                l.errors
            );
        }
        let _ = write!(s, " other processes {:.2} CPU-s", self.foreign_cpu_s);
        s
    }

    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\nTranslated Responses streams: provider {PROVIDER} (responses_api \"translate\", the same mock), one stream at a time, {} per leg, legs interleaved (µs from the send; ratio = p50 / direct p50)",
            self.streams_per_leg
        );
        let _ = writeln!(
            out,
            "first event = the frame holding the first `data:` (chat) or `response.created` (Responses); first text = the first `\"content\"` delta or `response.output_text.delta`\n"
        );
        let direct = self.leg(Leg::Direct);
        let rows: Vec<Vec<String>> = self
            .legs
            .iter()
            .map(|l| {
                let mut row = vec![l.leg.label().to_owned(), l.completed.to_string()];
                for (_, f) in TIMINGS {
                    let s = f(l);
                    row.push(us(s.p50_us));
                    row.push(us(s.p99_us));
                    row.push(direct.map_or(String::new(), |d| ratio(s.p50_us, f(d).p50_us)));
                }
                row.push(l.errors.to_string());
                row
            })
            .collect();
        let headers = [
            "leg",
            "streams",
            "first event p50",
            "p99",
            "ratio",
            "first text p50",
            "p99",
            "ratio",
            "end p50",
            "p99",
            "ratio",
            "errors",
        ];
        table(out, &headers, &rows);
        for (title, a, b) in [
            (
                "Translation: Responses translated minus chat pass-through (same gateway, same provider)",
                Leg::Responses,
                Leg::Chat,
            ),
            (
                "Gateway: chat pass-through minus direct",
                Leg::Chat,
                Leg::Direct,
            ),
            (
                "Both: Responses translated minus direct",
                Leg::Responses,
                Leg::Direct,
            ),
        ] {
            let cells: Vec<String> = self
                .added(a, b)
                .into_iter()
                .map(|(name, p50, p99)| format!("{name} {p50:+.1} / {p99:+.1}"))
                .collect();
            let _ = writeln!(out, "{title} (p50 / p99 µs): {}", cells.join(", "));
        }
        for l in self.legs.iter().filter(|l| l.errors > 0) {
            let _ = writeln!(
                out,
                "errors on {}: {} (first: {})",
                l.leg.name(),
                l.errors,
                l.first_error.as_deref().unwrap_or_default()
            );
        }
        let _ = writeln!(
            out,
            "Other processes used {:.2} CPU-s during the {:.2} s of the scenario (kept attempt {} of {}).",
            self.foreign_cpu_s, self.elapsed_s, self.kept, self.attempts
        );
    }

    pub fn json(&self) -> Value {
        let added = |a, b| -> Value {
            self.added(a, b)
                .into_iter()
                .map(|(name, p50, p99)| {
                    json!({"timing": name, "p50_us": round1(p50), "p99_us": round1(p99)})
                })
                .collect()
        };
        json!({
            "provider": PROVIDER,
            "streams_per_leg": self.streams_per_leg,
            "elapsed_s": self.elapsed_s,
            "legs": self.legs.iter().map(LegFigures::json).collect::<Vec<_>>(),
            "translated_minus_chat_passthrough": added(Leg::Responses, Leg::Chat),
            "chat_passthrough_minus_direct": added(Leg::Chat, Leg::Direct),
            "translated_minus_direct": added(Leg::Responses, Leg::Direct),
            "gateway_cpu_s_both_gateway_legs": self.gateway_cpu_s,
            "foreign_cpu_s": round1(self.foreign_cpu_s),
            "kept_attempt": self.kept,
            "attempts": self.attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p50_us: f64) -> Summary {
        Summary {
            count: 10,
            p50_us,
            p99_us: 2.0 * p50_us,
            max_us: 2.0 * p50_us,
            mean_us: p50_us,
        }
    }

    fn leg(leg: Leg, first: f64) -> LegFigures {
        LegFigures {
            leg,
            completed: 10,
            errors: 0,
            first_error: None,
            first_event: summary(first),
            first_text: summary(first + 1.0),
            total: summary(first + 10.0),
        }
    }

    #[test]
    fn translation_is_measured_against_the_chat_pass_through() {
        let r = ResponsesReport {
            streams_per_leg: 10,
            legs: vec![
                leg(Leg::Direct, 50.0),
                leg(Leg::Chat, 150.0),
                leg(Leg::Responses, 180.0),
            ],
            elapsed_s: 1.0,
            gateway_cpu_s: 0.0,
            foreign_cpu_s: 0.0,
            kept: 1,
            attempts: 1,
            disturbed_share: 0.05,
        };
        let added = r.added(Leg::Responses, Leg::Chat);
        assert_eq!(added[0], ("first event", 30.0, 60.0));
        assert_eq!(added[1], ("first text", 30.0, 60.0));
        let mut text = String::new();
        r.render(&mut text);
        assert!(text.contains("first event +30.0 / +60.0"));
        assert!(text.contains("3.00×"));
        let json = r.json();
        assert_eq!(json["legs"][2]["leg"], "gateway-responses");
        assert_eq!(json["translated_minus_chat_passthrough"][1]["p50_us"], 30.0);
    }
}
