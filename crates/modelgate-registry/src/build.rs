//! Building a provider's runtime form from its stored row: its kind, settings, opened
//! credentials and one adapter per target.

use crate::breaker::Breakers;
use crate::config::{AwsSecret, Discovery, ProviderConfig, resolve_kind};
use crate::providers::Providers;
use crate::runtime::{RuntimeProvider, Shares};
use crate::targets::{Target, TargetConfig};
use crate::transport::Transport;
use arc_swap::ArcSwap;
use base64::Engine as _;
use modelgate_core::{ProviderKind, Secret};
use modelgate_providers::anthropic::AnthropicUpstream;
use modelgate_providers::aws_sigv4::AwsCredentials;
use modelgate_providers::azure::{AzureAuth, AzureUpstream};
use modelgate_providers::azure_entra::{EntraTokenSource, default_token_url};
use modelgate_providers::bedrock::BedrockUpstream;
use modelgate_providers::openai::OpenAiUpstream;
use modelgate_providers::upstream::Upstream;
use modelgate_store::ProviderRow;
use std::sync::Arc;
use std::time::Duration;

impl RuntimeProvider {
    /// Carries over what belongs to unchanged endpoints: circuit state and the pool.
    pub(crate) fn keep_state_of(&mut self, old: &RuntimeProvider) {
        for (new, old) in self.targets.iter_mut().zip(&old.targets) {
            new.breakers = old.breakers.clone();
        }
        let missing = old
            .responses_missing
            .load(std::sync::atomic::Ordering::Relaxed);
        self.responses_missing
            .store(missing, std::sync::atomic::Ordering::Relaxed);
        if let (Ok(mut new), Ok(old)) = (self.reported_models.write(), old.reported_models.read()) {
            new.clone_from(&old);
        }
        // The same client choice keeps the old client and its pooled connections.
        if self.restricted == old.restricted
            && self.config.connect_timeout_secs == old.config.connect_timeout_secs
            && let (Transport::Direct(_), Transport::Direct(client)) =
                (&self.transport, &old.transport)
        {
            self.transport = Transport::Direct(client.clone());
        }
    }
}

impl Providers {
    /// Opens a sealed credential; `None` with an error logged when this master key cannot.
    fn open_secret(&self, sealed: &[u8], binding: &str, provider: &str) -> Result<Secret, ()> {
        match self.master_key.open(sealed, binding) {
            Ok(plain) => Ok(Secret::new(String::from_utf8_lossy(&plain))),
            Err(_) => {
                tracing::error!(provider = %provider, "stored credential cannot be opened with this master key");
                Err(())
            }
        }
    }

    /// Seals a target's own key for storage in the provider's settings.
    pub(crate) fn seal_target_key(&self, provider_id: &str, target: &str, key: &str) -> String {
        let sealed = self.master_key.seal(
            key.as_bytes(),
            &TargetConfig::key_binding(provider_id, target),
        );
        base64::engine::general_purpose::STANDARD.encode(sealed)
    }

    pub(crate) fn runtime_provider(
        &self,
        row: ProviderRow,
        owner_name: String,
        shares: Shares,
        restricted: bool,
        discovery: Option<Arc<Discovery>>,
    ) -> RuntimeProvider {
        let (kind, vendor) =
            resolve_kind(&row.kind).unwrap_or((ProviderKind::OpenaiCompatible, None));
        let config: ProviderConfig = serde_json::from_str(&row.config_json).unwrap_or_default();
        let mut credential_error = false;
        let api_key = match &row.secret_sealed {
            None => None,
            Some(sealed) => self.open_secret(sealed, &row.id, &row.name).ok(),
        };
        credential_error |= row.secret_sealed.is_some() && api_key.is_none();
        let implicit = [TargetConfig {
            name: "default".into(),
            endpoint: None,
            weight: 1,
            key_sealed: None,
        }];
        let target_configs: &[TargetConfig] = if config.targets.is_empty() {
            &implicit
        } else {
            &config.targets
        };
        let mut targets = Vec::with_capacity(target_configs.len());
        for t in target_configs {
            let endpoint = t.endpoint.clone().unwrap_or_else(|| row.endpoint.clone());
            let own_key = match &t.key_sealed {
                None => None,
                Some(b64) => {
                    let opened = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| ())
                        .and_then(|sealed| {
                            let binding = TargetConfig::key_binding(&row.id, &t.name);
                            self.open_secret(&sealed, &binding, &row.name)
                        });
                    credential_error |= opened.is_err();
                    opened.ok()
                }
            };
            let own = own_key.is_some();
            let (upstream, unsignable) = upstream_for(
                kind,
                &config,
                &endpoint,
                own_key.or_else(|| api_key.clone()),
            );
            credential_error |= unsignable;
            let label = if target_configs.len() > 1 {
                format!("{}#{}", row.name, t.name)
            } else {
                row.name.clone()
            };
            targets.push(Target {
                name: t.name.clone(),
                endpoint,
                weight: t.weight,
                own_key: own,
                upstream,
                breakers: Arc::new(Breakers::new(
                    &label,
                    config.breaker_failures,
                    config.breaker_cooldown_secs,
                    self.settings.clock.clone(),
                )),
            });
        }
        // Literal addresses bypass the resolver's check: refuse them here.
        let policy_blocked = restricted && targets.iter().any(|t| literal_is_private(&t.endpoint));
        let transport = self.transport_for(&row, &config, restricted);
        RuntimeProvider {
            discovery: ArcSwap::new(discovery.unwrap_or_default()),
            responses_missing: Default::default(),
            reported_models: Default::default(),
            row,
            kind,
            vendor,
            config,
            owner_name,
            shares,
            restricted,
            targets,
            transport,
            credential_error,
            policy_blocked,
        }
    }

    /// How a provider's requests will travel: a tunnel's through its agent, the others
    /// over their own client (a connect timeout of their own), the public-only one
    /// (restricted by the org's upstream policy), or the shared one.
    fn transport_for(
        &self,
        row: &ProviderRow,
        config: &ProviderConfig,
        restricted: bool,
    ) -> Transport {
        if row.kind == crate::tunnel::TUNNEL_KIND {
            return Transport::Tunnel;
        }
        let own = config.connect_timeout_secs.and_then(|secs| {
            let settings = modelgate_providers::client::ClientSettings {
                connect_timeout: Duration::from_secs(secs),
                ..self.settings.client.clone()
            };
            modelgate_providers::client::build(&settings, !restricted)
                .inspect_err(|e| tracing::error!(provider = %row.name, error = %e, "could not build the provider's HTTP client"))
                .ok()
        });
        Transport::Direct(match own {
            Some(client) => client,
            None if restricted => self.public_client.clone(),
            None => self.client.clone(),
        })
    }
}

/// The adapter for one endpoint and key; `true` when it cannot sign (a Bedrock provider
/// without its AWS secret fails closed, visibly).
fn upstream_for(
    kind: ProviderKind,
    config: &ProviderConfig,
    endpoint: &str,
    api_key: Option<Secret>,
) -> (Upstream, bool) {
    let endpoint = endpoint.to_owned();
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => (
            Upstream::OpenAi(OpenAiUpstream::new(endpoint, api_key)),
            false,
        ),
        ProviderKind::Anthropic => (
            Upstream::Anthropic(AnthropicUpstream::new(endpoint, api_key)),
            false,
        ),
        ProviderKind::AzureOpenai => {
            let azure = config.azure.clone().unwrap_or_default();
            let key = api_key.unwrap_or_default();
            let auth = match &azure.entra {
                Some(e) => AzureAuth::Entra(Arc::new(EntraTokenSource::new(
                    e.token_url
                        .clone()
                        .unwrap_or_else(|| default_token_url(&e.tenant_id)),
                    e.client_id.clone(),
                    key,
                ))),
                None => AzureAuth::ApiKey(key),
            };
            let upstream =
                AzureUpstream::new(&endpoint, azure.api_version, azure.deployments, auth);
            (Upstream::Azure(upstream), false)
        }
        ProviderKind::AwsBedrock => {
            let aws = config.aws.clone().unwrap_or_default();
            let secret: Option<AwsSecret> = api_key
                .as_ref()
                .and_then(|k| serde_json::from_str(k.expose()).ok());
            let unsignable = secret.is_none();
            let secret = secret.unwrap_or_default();
            let upstream = BedrockUpstream::new(
                &endpoint,
                aws.region,
                AwsCredentials {
                    access_key_id: aws.access_key_id,
                    secret_access_key: Secret::new(secret.secret_access_key),
                    session_token: secret.session_token.map(Secret::new),
                },
            );
            (Upstream::Bedrock(upstream), unsignable)
        }
    }
}

/// Whether an endpoint's host is a literal loopback or private address.
fn literal_is_private(endpoint: &str) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => modelgate_providers::address_guard::is_private(ip.into()),
        Some(url::Host::Ipv6(ip)) => modelgate_providers::address_guard::is_private(ip.into()),
        _ => false,
    }
}
