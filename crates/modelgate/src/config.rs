//! Configuration: command-line flags (also settable by environment) over an optional
//! config file (TOML, or YAML by extension) over defaults. `${VAR}` in any string of the
//! file is replaced by that environment variable, so secrets need not be written into it;
//! a missing variable is an error, not an empty string.

use anyhow::{Context, bail};
use modelgate_org::allocations::CreateAllocation;
use modelgate_org::declared::DeclaredGroup;
use modelgate_org::users::CreateUser;
use modelgate_org::virtual_models::VirtualModel;
use modelgate_registry::services::providers::ProviderSpec;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config file's shape. Every field is optional; flags win over it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub redis: Option<String>,
    /// PEM certificate chain and private key: serve HTTPS (both or neither).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// How other replicas reach this one.
    pub advertise_url: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub shutdown_grace_secs: Option<u64>,
    pub first_byte_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub models_ttl_secs: Option<u64>,
    #[serde(default)]
    pub providers: Vec<ProviderSpec>,
    #[serde(default)]
    pub users: Vec<CreateUser>,
    #[serde(default)]
    pub groups: Vec<DeclaredGroup>,
    #[serde(default)]
    pub allocations: Vec<CreateAllocation>,
    #[serde(default)]
    pub virtual_models: Vec<VirtualModel>,
}

impl FileConfig {
    /// Loads a file, expanding `${VAR}` from the process environment.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_with(path, &|name| std::env::var(name).ok())
    }

    /// Loads a file, expanding `${VAR}` through `lookup`.
    pub fn load_with(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let raw: serde_json::Value = if is_yaml {
            serde_saphyr::from_str(&text)
                .with_context(|| format!("invalid YAML in {}", path.display()))?
        } else {
            toml::from_str(&text).with_context(|| format!("invalid TOML in {}", path.display()))?
        };
        let expanded = expand_env(raw, lookup)?;
        serde_json::from_value(expanded)
            .with_context(|| format!("invalid settings in {}", path.display()))
    }
}

/// Replaces `${NAME}` in every string of `value`.
pub fn expand_env(
    value: serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => Value::String(expand_str(&s, lookup)?),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| expand_env(v, lookup))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| Ok((k, expand_env(v, lookup)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        other => other,
    })
}

fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("unterminated ${{...}} in a config value");
        };
        let name = &after[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("invalid environment variable name '{name}' in a config value");
        }
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => bail!("the config refers to ${{{name}}}, which is not set"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        let lookup = |n: &str| (n == "KEY").then(|| "s3cret".to_string());
        let v = serde_json::json!({"a": "x-${KEY}-y", "b": ["${KEY}"], "c": 1});
        let out = expand_env(v, &lookup).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"a": "x-s3cret-y", "b": ["s3cret"], "c": 1})
        );
        assert!(expand_env(serde_json::json!("${MISSING}"), &lookup).is_err());
        assert!(expand_env(serde_json::json!("${KEY"), &lookup).is_err());
        assert!(expand_env(serde_json::json!("${A B}"), &lookup).is_err());
    }

    #[test]
    fn toml_and_yaml_files() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        std::fs::write(
            &toml_path,
            "listen = \"127.0.0.1:9999\"\n[[providers]]\nname = \"vllm\"\nkind = \"openai-compatible\"\nendpoint = \"http://127.0.0.1:8000\"\nmodels = [\"llama3:8b\"]\n",
        )
        .unwrap();
        let c = FileConfig::load(&toml_path).unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:9999".parse().unwrap()));
        assert_eq!(c.providers[0].name, "vllm");
        let yaml_path = dir.path().join("c.yaml");
        std::fs::write(
            &yaml_path,
            "providers:\n  - name: ollama\n    kind: openai-compatible\n    endpoint: http://127.0.0.1:11434/v1\n",
        )
        .unwrap();
        let c = FileConfig::load(&yaml_path).unwrap();
        assert_eq!(
            c.providers[0].endpoint.as_deref(),
            Some("http://127.0.0.1:11434/v1")
        );
        std::fs::write(&toml_path, "lisen = \"typo\"\n").unwrap();
        assert!(FileConfig::load(&toml_path).is_err());
    }
}
