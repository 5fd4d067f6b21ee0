//! The built-in catalog: vendors (base URL with version prefix, adapter kind, auth style)
//! and known models (context window, list prices per million tokens), read from the data
//! files `catalog/vendors.toml` and `catalog/models.toml`, which are compiled into the
//! binary and parsed once. Also the cost arithmetic: tokens × price → micro-dollars.

use modelgate_core::usage::TokenUsage;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const VENDORS: &str = include_str!("../../../catalog/vendors.toml");
const MODELS: &str = include_str!("../../../catalog/models.toml");

/// How a vendor authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    Bearer,
    XApiKey,
    ApiKey,
    AwsSigv4,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vendor {
    pub id: String,
    pub name: String,
    /// The adapter kind (`openai`, `openai-compatible`, `anthropic`, …).
    pub kind: String,
    pub base_url: String,
    pub auth: AuthStyle,
    #[serde(default)]
    pub template: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// How `POST /v1/responses` reaches the vendor (default: decided by its kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_api: Option<ResponsesApi>,
}

/// How a provider serves the OpenAI Responses API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponsesApi {
    /// Its own `/responses` route: requests pass through.
    Native,
    /// Translated to chat completions (or Messages / Converse).
    Translate,
    /// Native until the route answers 404 or 405, then translated.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub vendor: String,
    pub id: String,
    #[serde(default)]
    pub context: Option<u64>,
    /// USD per million input tokens.
    #[serde(default)]
    pub input: Option<f64>,
    /// USD per million output tokens.
    #[serde(default)]
    pub output: Option<f64>,
    /// USD per million cached input tokens (defaults to the input price).
    #[serde(default)]
    pub cached: Option<f64>,
    /// USD per million input tokens written to the prompt cache (defaults to 1.25 x the
    /// input price for Claude models, Anthropic's five-minute cache write, else the input
    /// price).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// The most output tokens one response can have.
    #[serde(default)]
    pub max_output: Option<u64>,
    /// The date (`YYYY-MM-DD`) this model's prices were read from the vendor. In the data
    /// file it is optional and defaults to the file's `prices_as_of`; [`Catalog::parse`]
    /// fills it in for every model with a price (a model without one has no date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices_as_of: Option<String>,
}

impl ModelInfo {
    /// Whether the entry states any price.
    fn has_price(&self) -> bool {
        [self.input, self.output, self.cached, self.cache_write]
            .iter()
            .any(Option::is_some)
    }

    /// The model's prices and limits, if both input and output prices are known.
    pub fn price(&self) -> Option<Price> {
        let input = self.input?;
        let claude = self.vendor == "anthropic" || self.id.contains("anthropic.");
        Some(Price {
            input,
            output: self.output?,
            cached: self.cached,
            cache_write: self
                .cache_write
                .or_else(|| claude.then_some(input * CLAUDE_CACHE_WRITE)),
            reasoning: None,
            max_output: self.max_output,
            context: self.context,
        })
    }

    /// The cost of `usage` in micro-dollars, if this model has prices.
    pub fn cost_micros(&self, usage: &TokenUsage) -> Option<i64> {
        self.price().map(|p| p.cost_micros(usage))
    }
}

/// What a model costs (USD per million tokens) and how large a request can get: from the
/// catalog, or a provider's override.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens (defaults to the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<f64>,
    /// Input tokens written to the prompt cache (defaults to the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Reasoning output tokens (defaults to the output price, as every vendor bills them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u64>,
}

impl Price {
    /// The cost of `usage` in micro-dollars.
    /// The cost of `usage` in micro-dollars: cache reads, cache writes and reasoning at
    /// their own rates, the rest of the input and output at the base rates.
    pub fn cost_micros(&self, usage: &TokenUsage) -> i64 {
        let cached = usage.cached_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let plain_input = usage.input_tokens - cached - written;
        let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
        // USD per million tokens = micro-dollars per token.
        let micros = plain_input as f64 * self.input
            + cached as f64 * self.cached.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + (usage.output_tokens - reasoning) as f64 * self.output
            + reasoning as f64 * self.reasoning.unwrap_or(self.output);
        micros.round() as i64
    }

    /// The most one input token can cost (for a worst case that does not know which
    /// input tokens will be cache reads or writes).
    pub fn max_input(&self) -> f64 {
        [self.cached, self.cache_write]
            .into_iter()
            .flatten()
            .fold(self.input, f64::max)
    }

    /// The most one output token can cost.
    pub fn max_output_price(&self) -> f64 {
        self.reasoning.map_or(self.output, |r| r.max(self.output))
    }

    /// Whether every token is free (a private model): such requests are never refused
    /// for budget.
    pub fn is_free(&self) -> bool {
        self.max_input() <= 0.0 && self.max_output_price() <= 0.0
    }
}

/// Anthropic's five-minute cache write, as a multiple of the input price.
const CLAUDE_CACHE_WRITE: f64 = 1.25;

#[derive(Debug, Deserialize)]
struct VendorFile {
    vendor: Vec<Vendor>,
}

#[derive(Debug, Deserialize)]
struct ModelFile {
    prices_as_of: String,
    model: Vec<ModelInfo>,
}

#[derive(Debug, Serialize)]
pub struct Catalog {
    /// The date of the prices of models that do not state their own `prices_as_of`.
    pub prices_as_of: String,
    pub vendors: Vec<Vendor>,
    pub models: Vec<ModelInfo>,
}

impl Catalog {
    /// Parses catalog files.
    pub fn parse(vendors: &str, models: &str) -> Result<Self, toml::de::Error> {
        let v: VendorFile = toml::from_str(vendors)?;
        let mut m: ModelFile = toml::from_str(models)?;
        for model in &mut m.model {
            if model.prices_as_of.is_none() && model.has_price() {
                model.prices_as_of = Some(m.prices_as_of.clone());
            }
        }
        Ok(Self {
            prices_as_of: m.prices_as_of,
            vendors: v.vendor,
            models: m.model,
        })
    }

    /// The catalog compiled into this binary.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The files are part of the source tree and checked by this crate's tests.
            #[allow(clippy::expect_used)]
            Catalog::parse(VENDORS, MODELS).expect("the built-in catalog files are valid")
        })
    }

    pub fn vendor(&self, id: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.id == id)
    }

    pub fn models_of<'a>(&'a self, vendor: &'a str) -> impl Iterator<Item = &'a ModelInfo> + 'a {
        self.models.iter().filter(move |m| m.vendor == vendor)
    }

    /// A model of `vendor` by id. Dated snapshots and aliases answer to their family's
    /// entry and vice versa: `claude-sonnet-4-5-20250929` and `claude-sonnet-4-5`,
    /// `gpt-4o-2024-11-20` and `gpt-4o`, `mistral-large-latest` and `mistral-large`, and on
    /// Bedrock `us.anthropic.claude-sonnet-4-20250514-v1:0` (a cross-region inference
    /// profile) and `anthropic.claude-sonnet-4-20250514-v1:0`.
    pub fn model(&self, vendor: &str, id: &str) -> Option<&ModelInfo> {
        let of_vendor = || self.models.iter().filter(|m| m.vendor == vendor);
        of_vendor()
            .find(|m| m.id == id)
            .or_else(|| of_vendor().find(|m| family(&m.id) == family(id)))
    }
}

/// A model id without what names one snapshot of it: a Bedrock inference-profile region
/// (`us.`, `eu.`, `apac.`, `global.` …), a version suffix (`-v1:0`, `-v2`), `-latest`, and a
/// date (`-YYYYMMDD` or `-YYYY-MM-DD`).
pub fn family(id: &str) -> &str {
    let mut id = id;
    if let Some((region, rest)) = id.split_once('.')
        && matches!(
            region,
            "us" | "eu" | "apac" | "global" | "us-gov" | "ca" | "jp" | "au"
        )
        && rest.contains('.')
    {
        id = rest;
    }
    if let Some((head, tail)) = id.rsplit_once("-v") {
        let (major, minor) = tail.split_once(':').unwrap_or((tail, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(major) && digits(minor) {
            id = head;
        }
    }
    if let Some(head) = id.strip_suffix("-latest") {
        id = head;
    }
    let bytes = id.as_bytes();
    let is_digits = |r: std::ops::Range<usize>| bytes[r].iter().all(u8::is_ascii_digit);
    let n = bytes.len();
    // -YYYYMMDD
    if n > 9 && bytes[n - 9] == b'-' && is_digits(n - 8..n) {
        return &id[..n - 9];
    }
    // -YYYY-MM-DD
    if n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && is_digits(n - 10..n - 6)
        && is_digits(n - 5..n - 3)
        && is_digits(n - 2..n)
    {
        return &id[..n - 11];
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_aliases_share_their_family() {
        for (id, fam) in [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-11-20", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("claude-opus-4-20250514", "claude-opus-4"),
            ("claude-opus-4-1-20250805", "claude-opus-4-1"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("mistral-large-latest", "mistral-large"),
            (
                "anthropic.claude-sonnet-4-20250514-v1:0",
                "anthropic.claude-sonnet-4",
            ),
            (
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                "anthropic.claude-sonnet-4",
            ),
            (
                "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5",
            ),
            (
                "meta.llama3-1-70b-instruct-v1:0",
                "meta.llama3-1-70b-instruct",
            ),
            ("amazon.nova-pro-v1:0", "amazon.nova-pro"),
            ("deepseek.r1-v1:0", "deepseek.r1"),
            (
                "us.meta.llama3-3-70b-instruct-v1:0",
                "meta.llama3-3-70b-instruct",
            ),
            // Models added with their own price dates: Anthropic dropped dated snapshots
            // after Claude Opus 4.5, OpenAI's GPT-6 names carry no date.
            ("claude-opus-4-5-20251101", "claude-opus-4-5"),
            ("claude-opus-4-5", "claude-opus-4-5"),
            ("claude-opus-4-6", "claude-opus-4-6"),
            ("claude-sonnet-5", "claude-sonnet-5"),
            ("claude-sonnet-5-5", "claude-sonnet-5-5"),
            ("claude-fable-5-2", "claude-fable-5-2"),
            ("claude-haiku-5-5", "claude-haiku-5-5"),
            (
                "global.anthropic.claude-opus-4-6-v1",
                "anthropic.claude-opus-4-6",
            ),
            ("gpt-6.2-astra", "gpt-6.2-astra"),
            ("gpt-6-astra-2026-09-03", "gpt-6-astra"),
            ("gpt-5.6-luna", "gpt-5.6-luna"),
            ("gemini-3.1-pro-preview", "gemini-3.1-pro-preview"),
            ("grok-4.7", "grok-4.7"),
            ("mistral-medium-2604", "mistral-medium-2604"),
            ("deepseek-v4-pro", "deepseek-v4-pro"),
            ("deepseek-v4-flash", "deepseek-v4-flash"),
            ("llama3:8b", "llama3:8b"),
            ("x-2024", "x-2024"),
            ("o3", "o3"),
        ] {
            assert_eq!(family(id), fam, "{id}");
        }
    }

    #[test]
    fn builtin_catalog_is_consistent() {
        let c = Catalog::builtin();
        let wanted = [
            "openai",
            "anthropic",
            "azure-openai",
            "aws-bedrock",
            "gemini",
            "groq",
            "xai",
            "together",
            "cohere",
            "mistral",
            "deepinfra",
            "deepseek",
            "hunyuan",
            "tencent-lke",
            "openrouter",
            "hyperbolic",
            "inceptionlabs",
            "inference-net",
            "ollama",
            "vllm",
            "lmstudio",
            "tgi",
        ];
        for id in wanted {
            assert!(c.vendor(id).is_some(), "vendor {id} missing");
        }
        let mut ids: Vec<&str> = c.vendors.iter().map(|v| v.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate vendor ids");
        for m in &c.models {
            assert!(
                c.vendor(&m.vendor).is_some(),
                "model {} names unknown vendor {}",
                m.id,
                m.vendor
            );
            for p in [m.input, m.output, m.cached, m.cache_write]
                .into_iter()
                .flatten()
            {
                assert!((0.0..1000.0).contains(&p), "implausible price for {}", m.id);
            }
            if let (Some(i), Some(c)) = (m.input, m.cached) {
                assert!(c <= i, "{}: cache reads cost more than input", m.id);
            }
            // Every priced model is dated (its own date or the file's), with a real date.
            match &m.prices_as_of {
                Some(d) => assert!(is_date(d), "{}: prices_as_of {d:?} is not YYYY-MM-DD", m.id),
                None => assert!(
                    m.input.is_none() && m.output.is_none(),
                    "{}: priced but undated",
                    m.id
                ),
            }
        }
        assert!(is_date(&c.prices_as_of));
        // No two entries of a vendor share an id.
        let mut keys: Vec<(&str, &str)> = c
            .models
            .iter()
            .map(|m| (m.vendor.as_str(), m.id.as_str()))
            .collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate model ids");
        for v in &c.vendors {
            assert!(
                v.base_url.starts_with("https://") || v.template,
                "{} must use https",
                v.id
            );
            assert!(
                !v.base_url.ends_with('/'),
                "{}: base URL without trailing slash",
                v.id
            );
            if !matches!(v.kind.as_str(), "azure-openai" | "aws-bedrock") && !v.template {
                assert!(
                    c.models_of(&v.id).count() > 0,
                    "vendor {} lists no models",
                    v.id
                );
            }
        }
        assert_eq!(
            c.vendor("groq").unwrap().base_url,
            "https://api.groq.com/openai/v1"
        );
        assert_eq!(
            c.vendor("gemini").unwrap().base_url,
            "https://generativelanguage.googleapis.com/v1beta/openai"
        );
        assert_eq!(
            c.vendor("cohere").unwrap().base_url,
            "https://api.cohere.ai/compatibility/v1"
        );
        assert_eq!(
            c.vendor("deepinfra").unwrap().base_url,
            "https://api.deepinfra.com/v1/openai"
        );
    }

    #[test]
    fn costs_and_aliases() {
        let c = Catalog::builtin();
        let m = c.model("anthropic", "claude-sonnet-4-5").unwrap();
        assert_eq!(m.id, "claude-sonnet-4-5-20250929");
        // 1M input of which 200k cached, 100k output at $3 / $0.30 / $15:
        let u = TokenUsage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cached_tokens: 200_000,
            ..TokenUsage::default()
        };
        assert_eq!(m.cost_micros(&u), Some(2_400_000 + 60_000 + 1_500_000));
        // 100k of the rest written to the cache at 1.25 x $3; 40k of the output reasoning
        // (at the output price).
        let u = TokenUsage {
            cache_write_tokens: 100_000,
            reasoning_tokens: 40_000,
            ..u
        };
        assert_eq!(
            m.cost_micros(&u),
            Some(2_100_000 + 60_000 + 375_000 + 1_500_000)
        );
        // Other vendors' cache writes cost the input price unless priced.
        let o = c.model("openai", "gpt-5").unwrap().price().unwrap();
        assert_eq!(o.cache_write, None);
        assert!(
            c.model("hunyuan", "hunyuan-t1-latest")
                .unwrap()
                .cost_micros(&u)
                .is_none()
        );
        assert!(c.model("openai", "no-such-model").is_none());
        assert!(c.model("groq", "gpt-4o").is_none(), "prices are per vendor");
    }

    /// `YYYY-MM-DD` with a plausible month and day.
    fn is_date(d: &str) -> bool {
        let parts: Vec<&str> = d.split('-').collect();
        let num = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        matches!(
            parts.as_slice(),
            [y, m, day] if num(y, 4).is_some_and(|y| y >= 2023)
                && num(m, 2).is_some_and(|m| (1..=12).contains(&m))
                && num(day, 2).is_some_and(|d| (1..=31).contains(&d))
        )
    }

    #[test]
    fn models_carry_their_own_price_date_or_the_files() {
        let vendors = r#"
            [[vendor]]
            id = "v"
            name = "V"
            kind = "openai-compatible"
            base_url = "https://v.example/v1"
            auth = "bearer"
        "#;
        let models = r#"
            prices_as_of = "2025-10-01"

            [[model]]
            vendor = "v"
            id = "new"
            input = 1.0
            output = 2.0
            prices_as_of = "2026-11-18"

            [[model]]
            vendor = "v"
            id = "old"
            input = 1.0
            output = 2.0

            [[model]]
            vendor = "v"
            id = "unpriced"
            context = 4096
        "#;
        let c = Catalog::parse(vendors, models).unwrap();
        let date = |id: &str| c.model("v", id).unwrap().prices_as_of.as_deref();
        assert_eq!(date("new"), Some("2026-11-18"));
        assert_eq!(
            date("old"),
            Some("2025-10-01"),
            "falls back to the file's date"
        );
        assert_eq!(date("unpriced"), None, "no price, no price date");
        assert_eq!(c.prices_as_of, "2025-10-01");
        // `GET /api/catalog` serializes the catalog: each priced model shows its date.
        let shown = toml::to_string(&c).unwrap();
        assert!(shown.contains("prices_as_of = \"2026-11-18\""), "{shown}");
        assert_eq!(
            shown.matches("prices_as_of = \"2025-10-01\"").count(),
            2,
            "{shown}"
        );

        // The built-in catalog: entries added later keep their own date.
        let b = Catalog::builtin();
        let opus = b.model("anthropic", "claude-opus-4-5").unwrap();
        assert_eq!(opus.id, "claude-opus-4-5-20251101");
        assert_ne!(opus.prices_as_of.as_deref(), Some(b.prices_as_of.as_str()));
        let gpt5 = b.model("openai", "gpt-5").unwrap();
        assert_eq!(gpt5.prices_as_of.as_deref(), Some(b.prices_as_of.as_str()));
        assert!(
            b.model("hunyuan", "hunyuan-t1-latest")
                .unwrap()
                .prices_as_of
                .is_none()
        );
    }

    #[test]
    fn current_models_are_priced_and_resolve_to_their_own_entry() {
        let c = Catalog::builtin();
        for (vendor, requested, entry) in [
            ("anthropic", "claude-opus-4-5", "claude-opus-4-5-20251101"),
            (
                "anthropic",
                "claude-opus-4-5-latest",
                "claude-opus-4-5-20251101",
            ),
            ("anthropic", "claude-opus-4-6", "claude-opus-4-6"),
            ("anthropic", "claude-sonnet-4-6", "claude-sonnet-4-6"),
            ("anthropic", "claude-opus-4-7", "claude-opus-4-7"),
            ("anthropic", "claude-opus-4-8", "claude-opus-4-8"),
            ("anthropic", "claude-opus-5", "claude-opus-5"),
            ("anthropic", "claude-opus-5-5", "claude-opus-5-5"),
            ("anthropic", "claude-sonnet-5", "claude-sonnet-5"),
            ("anthropic", "claude-sonnet-5-5", "claude-sonnet-5-5"),
            ("anthropic", "claude-haiku-5-5", "claude-haiku-5-5"),
            ("anthropic", "claude-fable-5", "claude-fable-5"),
            ("anthropic", "claude-fable-5-1", "claude-fable-5-1"),
            ("anthropic", "claude-fable-5-2", "claude-fable-5-2"),
            // A dated id of a family reaches the family, not a neighbour.
            ("anthropic", "claude-sonnet-5-20260630", "claude-sonnet-5"),
            ("openai", "gpt-6.2-astra", "gpt-6.2-astra"),
            ("openai", "gpt-6.2-sol", "gpt-6.2-sol"),
            ("openai", "gpt-6.1-sol", "gpt-6.1-sol"),
            ("openai", "gpt-6.1-terra", "gpt-6.1-terra"),
            ("openai", "gpt-6-astra", "gpt-6-astra"),
            ("openai", "gpt-6-astra-2026-09-03", "gpt-6-astra"),
            ("openai", "gpt-6-sol", "gpt-6-sol"),
            ("openai", "gpt-6-luna", "gpt-6-luna"),
            ("openai", "gpt-5.6-sol", "gpt-5.6-sol"),
            ("openai", "gpt-5.6-terra", "gpt-5.6-terra"),
            ("openai", "gpt-5.6-luna", "gpt-5.6-luna"),
            ("gemini", "gemini-3.1-pro-preview", "gemini-3.1-pro-preview"),
            ("gemini", "gemini-3.5-flash", "gemini-3.5-flash"),
            ("gemini", "gemini-3.8-flash", "gemini-3.8-flash"),
            ("xai", "grok-4.7", "grok-4.7"),
            ("xai", "grok-4.6", "grok-4.6"),
            ("mistral", "mistral-large-4", "mistral-large-4"),
            ("mistral", "mistral-medium-2604", "mistral-medium-2604"),
            ("mistral", "mistral-medium-3.5", "mistral-medium-3.5"),
            ("mistral", "mistral-medium", "mistral-medium-latest"),
            ("deepseek", "deepseek-flash", "deepseek-flash"),
            ("deepseek", "deepseek-v4-flash", "deepseek-v4-flash"),
            ("deepseek", "deepseek-v4-pro", "deepseek-v4-pro"),
        ] {
            let m = c
                .model(vendor, requested)
                .unwrap_or_else(|| panic!("{vendor}/{requested} missing"));
            assert_eq!(m.id, entry, "{vendor}/{requested}");
            assert!(m.price().is_some(), "{vendor}/{requested} unpriced");
            assert!(m.prices_as_of.as_deref() > Some("2025-10-01"), "{entry}");
        }
        // Older neighbours of the new families keep their own entries.
        for (vendor, id) in [
            ("anthropic", "claude-opus-4-20250514"),
            ("anthropic", "claude-opus-4-1"),
            ("xai", "grok-4"),
            ("mistral", "mistral-large-latest"),
        ] {
            let m = c.model(vendor, id).unwrap();
            assert_eq!(family(&m.id), family(id), "{vendor}/{id}");
        }
        // Claude's cache writes default to 1.25 x input; OpenAI's GPT-6 states its own.
        let fable = c
            .model("anthropic", "claude-fable-5-2")
            .unwrap()
            .price()
            .unwrap();
        assert_eq!((fable.input, fable.cache_write), (8.0, Some(10.0)));
        let astra = c.model("openai", "gpt-6-astra").unwrap().price().unwrap();
        assert_eq!(astra.cache_write, Some(12.5));
    }
}
