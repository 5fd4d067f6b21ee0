//! Planning one attempt: choosing the provider a model reference names for this caller,
//! refusing an unpriced model on a budgeted key, and the [`Prepared`] request — the body
//! spliced for the upstream (same schema) or translated by a pair of the translation
//! table, with the output limit and choices the budget must reserve for.

use super::*;

impl Gateway {
    /// Resolves the model and checks the caller may use it.
    pub(super) fn choose(
        &self,
        principal: &Principal,
        model: &str,
    ) -> Result<(Arc<RuntimeProvider>, String), GatewayError> {
        let snapshot = self.providers.snapshot();
        let visible = snapshot.visible_to(principal);
        let target = match resolve(model, &visible) {
            Resolution::Found(t) => t,
            Resolution::NotFound => return Err(GatewayError::model_not_found(model)),
            Resolution::Ambiguous(candidates) => {
                return Err(GatewayError::bad_request(format!(
                    "The model '{model}' is ambiguous; name one of: {}",
                    candidates.join(", ")
                ))
                .with_code("model_ambiguous")
                .with_param("model"));
            }
        };
        if !principal.allows_model(model, &target.provider, &target.model) {
            return Err(GatewayError::forbidden(format!(
                "This key may not use the model '{model}'."
            ))
            .with_code("model_not_allowed")
            .with_param("model"));
        }
        let provider = visible
            .get(&target.provider)
            .cloned()
            .ok_or_else(|| GatewayError::model_not_found(model))?;
        if provider.policy_blocked {
            return Err(GatewayError::forbidden(format!(
                "provider '{}' points at a private network address, which this organization does not allow for providers created by members",
                target.provider
            ))
            .with_code("upstream_not_allowed"));
        }
        if provider.credential_error {
            return Err(GatewayError::new(
                ErrorKind::Unavailable,
                format!(
                    "provider '{}' needs to be reconfigured by an administrator",
                    target.provider
                ),
            ));
        }
        Ok((provider, target.model))
    }

    /// Plans the request for one model reference (the body's `model`, or a fallback).
    pub(crate) fn prepare(
        &self,
        principal: &Principal,
        front: FrontApi,
        request: &Bytes,
        peeked: &body::Peeked,
        reference: &str,
    ) -> Result<Prepared, GatewayError> {
        let (provider, upstream_model) = self.choose(principal, reference)?;
        let price = provider.price(&upstream_model);
        if price.is_none()
            && principal.allocation_id.is_some()
            && !provider.free_unless_priced()
            && !self.directory().settings.allow_unpriced
        {
            return Err(unpriced(provider.name(), &upstream_model));
        }
        let stream = peeked.stream && front != FrontApi::OpenAi(Operation::Embeddings);
        let schema = provider.primary().schema();
        let native = match (front, schema) {
            (FrontApi::OpenAi(Operation::Responses), Schema::OpenAi) => provider.responses_native(),
            (FrontApi::OpenAi(_), Schema::OpenAi) | (FrontApi::Anthropic, Schema::Anthropic) => {
                true
            }
            _ => false,
        };
        let probes_responses = native
            && front == FrontApi::OpenAi(Operation::Responses)
            && provider.responses_api() == modelgate_catalog::ResponsesApi::Auto;
        let planned = if native {
            let (op, force_usage) = match front {
                FrontApi::OpenAi(op) => (op, stream && op != Operation::Responses),
                FrontApi::Anthropic => (Operation::Messages, false),
            };
            // Azure's Responses API names the deployment in the body.
            let model = match provider.primary() {
                Upstream::Azure(a) if op == Operation::Responses => a.deployment(&upstream_model),
                _ => upstream_model.as_str(),
            };
            let mut body = body::rewrite(request, peeked, model, force_usage);
            if op == Operation::Responses
                && memchr::memmem::find(&body, OWN_PREFIX.as_bytes()).is_some()
            {
                body = self
                    .responses
                    .inline_own_previous(&principal.user_id, &body)?;
            }
            let hide_usage_chunk = force_usage && !peeked.include_usage;
            Planned {
                op,
                body,
                plan: Plan::PassThrough { hide_usage_chunk },
                dropped: Vec::new(),
                adjusted: Vec::new(),
                keep: None,
                limit: None,
            }
        } else {
            self.translate(principal, front, &provider, request, &upstream_model)?
        };
        Ok(Prepared {
            provider,
            upstream_model,
            target: 0,
            op: planned.op,
            body: planned.body,
            plan: planned.plan,
            stream,
            dropped: planned.dropped,
            adjusted: planned.adjusted,
            // The worst case takes the larger output limit: the client's, or the one the
            // translation sends (a thinking budget raises it); `None` is the smallest.
            max_tokens: peeked.max_tokens.max(planned.limit),
            choices: peeked.choices,
            probes_responses,
            keep: planned.keep,
            price,
        })
    }

    /// Plans a cross-schema request through the translation table.
    fn translate(
        &self,
        principal: &Principal,
        front: FrontApi,
        provider: &RuntimeProvider,
        request: &Bytes,
        upstream_model: &str,
    ) -> Result<Planned, GatewayError> {
        let (back, op) = back_of(provider.primary().schema());
        let Some(pair) = front.translated().and_then(|f| pairs::find(f, back)) else {
            let api = match front {
                FrontApi::OpenAi(op) => op.label(),
                FrontApi::Anthropic => Operation::Messages.label(),
            };
            return Err(GatewayError::bad_request(format!(
                "The {api} API is not available for provider '{}' (kind {}); use chat completions, responses or messages.",
                provider.name(),
                provider.kind.as_str()
            ))
            .with_code("unsupported_for_provider"));
        };
        let mut value: serde_json::Value = serde_json::from_slice(request)
            .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
        let keep = match front {
            FrontApi::OpenAi(Operation::Responses) => self
                .responses
                .continue_conversation(&principal.user_id, &mut value)?,
            _ => None,
        };
        let flavor = match provider.kind {
            ProviderKind::Openai | ProviderKind::AzureOpenai => a2o::Flavor::OpenAi,
            _ => a2o::Flavor::Compatible,
        };
        let id = modelgate_core::ids::new_id("mg");
        let target = pairs::Target {
            model: upstream_model,
            flavor,
            now: unix_now(),
            id: &id,
        };
        let t = pair.request(&value, &target).map_err(|e| {
            let mut err = GatewayError::bad_request(e.message);
            err.code = Some("unsupported_for_provider");
            err
        })?;
        Ok(Planned {
            op,
            limit: output_limit(&t.body),
            body: Bytes::from(t.body.to_string()),
            plan: Plan::Translate(t.context),
            dropped: t.dropped,
            adjusted: t.adjusted,
            keep,
        })
    }

    pub(super) async fn upstream_request(
        &self,
        p: &Prepared,
        front: FrontApi,
        hints: &ClientHints,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let body = p.body.clone();
        let client = self.providers.client_for(&p.provider);
        Ok(match p.upstream() {
            Upstream::OpenAi(u) => u.request(client, p.op).body(body),
            Upstream::Azure(u) => u
                .request(client, p.op, &p.upstream_model, p.provider.name())
                .await?
                .body(body),
            // The body is part of the SigV4 signature, so the adapter attaches it.
            Upstream::Bedrock(u) => {
                u.request(client, &p.upstream_model, p.stream, body, p.provider.name())?
            }
            Upstream::Anthropic(u) => {
                // Version and beta headers belong to Anthropic clients; a translated OpenAI
                // client gets the default version.
                let (version, beta) = match front {
                    FrontApi::Anthropic => (
                        hints.anthropic_version.as_deref(),
                        hints.anthropic_beta.as_deref(),
                    ),
                    FrontApi::OpenAi(_) => (None, None),
                };
                u.request(client, p.op, version, beta).body(body)
            }
        })
    }
}

fn unix_now() -> i64 {
    modelgate_core::now_millis() / 1000
}

/// The output limit a translated request body sends upstream (chat, Messages or Converse).
fn output_limit(body: &serde_json::Value) -> Option<u64> {
    [
        "/max_tokens",
        "/max_completion_tokens",
        "/inferenceConfig/maxTokens",
    ]
    .iter()
    .filter_map(|p| body.pointer(p).and_then(serde_json::Value::as_u64))
    .max()
}

/// The refusal of a model without a price on a budgeted key.
fn unpriced(provider: &str, model: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::BudgetExceeded,
        format!(
            "The model '{model}' on provider '{provider}' has no known price, so a budget cannot bound it. An administrator can price it (PATCH /api/providers/{provider} with {{\"prices\": {{\"{model}\": {{\"input\": USD_PER_M, \"output\": USD_PER_M}}}}}}, or \"*\" for every model of the provider; zero makes it free), or allow unpriced models for the organization (PATCH /api/settings {{\"allow_unpriced\": true}})."
        ),
    )
    .with_code("model_unpriced")
    .with_param("model")
}
