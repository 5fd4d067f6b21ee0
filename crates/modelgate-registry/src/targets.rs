//! Balancing inside one provider: a provider may list several targets —
//! endpoints and/or API keys with weights (two Azure regions, three keys of one
//! account). Each target has its own adapter and its own circuit breakers. A request
//! goes to a target drawn at random in proportion to the weights among those whose
//! circuit lets it through; a target of weight 0 is a standby, used only when no weighted
//! one can take the request. A failed attempt moves on to another target of the same
//! provider at once, before the provider's retries and before the next candidate.

use crate::breaker::Breakers;
use modelgate_providers::upstream::Upstream;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most targets one provider may have (a bit set of tried targets fits in a `u32`).
pub const MAX_TARGETS: usize = 16;

/// A target as stored in the provider's `config_json`. Its key, when it has its own, is
/// sealed with the master key, bound to the provider's id and the target's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetConfig {
    pub name: String,
    /// Replaces the provider's endpoint for this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Share of the traffic (default 1; 0 = standby).
    pub weight: u32,
    /// The target's own API key, sealed and base64-encoded; the provider's key otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sealed: Option<String>,
}

impl TargetConfig {
    /// What the target's sealed key is bound to: its provider and its name.
    pub fn key_binding(provider_id: &str, target: &str) -> String {
        format!("{provider_id}/target/{target}")
    }
}

/// One endpoint-and-key of a provider, ready to send to.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub endpoint: String,
    pub weight: u32,
    /// Whether it has a key of its own.
    pub own_key: bool,
    pub upstream: Upstream,
    pub breakers: Arc<Breakers>,
}

/// Chooses a target for `model`, never one in `tried` (a bit per index): weighted among
/// those whose circuit is available (all of them with `ignore_breakers`), standbys only
/// when no weighted one qualifies. The chosen one's breaker is asked with `allow`, which
/// takes its half-open probe slot; another is drawn if it refuses.
pub fn pick(targets: &[Target], model: &str, tried: u32, ignore_breakers: bool) -> Option<usize> {
    let admit = |i: usize, probe: bool| {
        ignore_breakers || {
            let b = targets[i].breakers.get(model);
            if probe { b.allow() } else { b.available() }
        }
    };
    if let [_] = targets {
        return (tried & 1 == 0 && admit(0, true)).then_some(0);
    }
    let mut excluded = tried;
    for standby in [false, true] {
        loop {
            let eligible = |i: usize, t: &Target| {
                excluded & (1 << i) == 0 && (t.weight == 0) == standby && admit(i, false)
            };
            let weight = |t: &Target| u64::from(t.weight.max(1));
            let total: u64 = targets
                .iter()
                .enumerate()
                .filter(|(i, t)| eligible(*i, t))
                .map(|(_, t)| weight(t))
                .sum();
            if total == 0 {
                break;
            }
            let mut draw = random_below(total);
            let chosen = targets
                .iter()
                .enumerate()
                .filter(|(i, t)| eligible(*i, t))
                .find(|(_, t)| {
                    let w = weight(t);
                    if draw < w {
                        true
                    } else {
                        draw -= w;
                        false
                    }
                })
                .map(|(i, _)| i)?;
            if admit(chosen, true) {
                return Some(chosen);
            }
            excluded |= 1 << chosen;
        }
    }
    None
}

/// A uniform draw in `0..n` (`n > 0`).
fn random_below(n: u64) -> u64 {
    let mut r = [0u8; 8];
    modelgate_core::ids::fill_random(&mut r);
    u64::from_le_bytes(r) % n
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelgate_core::Clock;
    use modelgate_providers::openai::OpenAiUpstream;

    fn target(name: &str, weight: u32) -> Target {
        Target {
            name: name.into(),
            endpoint: format!("http://{name}.test/v1"),
            weight,
            own_key: false,
            upstream: Upstream::OpenAi(OpenAiUpstream::new(format!("http://{name}.test/v1"), None)),
            breakers: Arc::new(Breakers::new(name, Some(1), Some(60), Clock::system())),
        }
    }

    #[test]
    fn spreads_by_weight() {
        let targets = [target("a", 3), target("b", 1)];
        let mut counts = [0u32; 2];
        for _ in 0..4000 {
            counts[pick(&targets, "m", 0, false).unwrap()] += 1;
        }
        // 3:1 expected; 3000 ± a generous margin.
        assert!((2700..3300).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn skips_tried_and_open_circuits_and_uses_standbys_last() {
        let targets = [target("a", 1), target("b", 1), target("standby", 0)];
        assert_eq!(pick(&targets, "m", 0b001, false), Some(1));
        targets[1].breakers.get("m").failure("down");
        assert_eq!(pick(&targets, "m", 0b001, false), Some(2));
        // Another model of the same target is not affected.
        assert_eq!(pick(&targets, "other", 0b101, false), Some(1));
        assert_eq!(pick(&targets, "m", 0b101, false), None);
        // Ignoring breakers (panic mode) still never repeats a tried target.
        assert_eq!(pick(&targets, "m", 0b101, true), Some(1));
        for _ in 0..50 {
            assert_ne!(pick(&targets, "m", 0, false), Some(1));
        }
    }

    #[test]
    fn a_single_target_is_taken_unless_tried_or_open() {
        let targets = [target("only", 1)];
        assert_eq!(pick(&targets, "m", 0, false), Some(0));
        assert_eq!(pick(&targets, "m", 1, false), None);
        targets[0].breakers.get("m").failure("down");
        assert_eq!(pick(&targets, "m", 0, false), None);
        assert_eq!(pick(&targets, "m", 0, true), Some(0));
    }
}
