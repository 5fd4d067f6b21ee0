//! One attempt at one candidate: reserve its budget and open its usage record, send with
//! the first-byte timeout, then relay the answer — an upstream error in the client's
//! schema, a stream as it arrives, or a whole body metered (and translated) before it
//! is answered.

use super::relay::*;
use super::*;

impl Gateway {
    /// One attempt at one candidate: reserve its budget, send, relay. An upstream's
    /// error answer comes back as `Ok` with its status (the caller decides whether to try
    /// another candidate); `Err` is a failure of our own or of the transport.
    pub(crate) async fn attempt(
        self: &Arc<Self>,
        principal: &Principal,
        front: FrontApi,
        request: &Bytes,
        p: Prepared,
        request_id: &str,
        hints: &ClientHints,
    ) -> Result<ProxyResponse, GatewayError> {
        let started = Instant::now();
        if !self.providers.reachable(&p.provider) {
            return Err(modelgate_registry::tunnel::stopped(p.provider.name()));
        }
        let request = request.clone();
        let mut guard = self
            .open_attempt(principal, front, &request, &p, request_id, hints, started)
            .await?;
        let resp = match self.send(&p, front, hints).await {
            Ok(resp) => resp,
            Err(e) => return Err(fail(&mut guard, e)),
        };
        guard.mark_first_byte();
        let status = resp.status();
        guard.status = status.as_u16();
        let headers = answer_headers(&resp, &p);
        if !status.is_success() {
            return relay_error(resp, p, front, guard, headers).await;
        }
        if answers_in_a_stream(&p, &resp) {
            return Ok(self.relay_stream(resp, p, front, guard, headers, request));
        }
        self.relay_whole(resp, p, guard, headers, &request, started)
            .await
    }

    /// Reserves the attempt's worst case against the caller's allocation and opens its
    /// usage record (which settles the reservation however the attempt ends).
    #[expect(
        clippy::too_many_arguments,
        reason = "the attempt's parts, borrowed rather than bundled for one call"
    )]
    async fn open_attempt(
        &self,
        principal: &Principal,
        front: FrontApi,
        request: &Bytes,
        p: &Prepared,
        request_id: &str,
        hints: &ClientHints,
        started: Instant,
    ) -> Result<UsageGuard, GatewayError> {
        let price = p.price;
        let now = now_millis();
        let ask = Ask {
            price,
            demand: Demand {
                // The upstream body can be larger than the client's (a replayed
                // conversation) and its output limit higher (thinking turned on by a
                // reasoning effort).
                body_bytes: request.len().max(p.body.len()),
                max_tokens: p.max_tokens,
                choices: p.choices,
                // Only worth a scan when there is a budget to protect.
                referenced: principal.allocation_id.is_some()
                    && price.is_some()
                    && body::refers_to_content(&p.body),
                context: hints
                    .anthropic_beta
                    .as_deref()
                    .is_some_and(|b| b.contains("context-1m"))
                    .then_some(ONE_MILLION_CONTEXT),
                embeddings: p.op == Operation::Embeddings,
            },
        };
        let settlement = self.reserve(principal, &ask, now).await?;
        Ok(UsageGuard::new(
            self.usage.clone(),
            MeterContext {
                request_id: request_id.to_owned(),
                key_id: principal.key_id.clone(),
                user_id: principal.user_id.clone(),
                allocation_id: principal.allocation_id.clone(),
                provider: p.provider.name().to_owned(),
                model: p.upstream_model.clone(),
                api: match front {
                    FrontApi::OpenAi(op) => op.label(),
                    FrontApi::Anthropic => Operation::Messages.label(),
                },
                stream: p.stream,
                price,
            },
            settlement,
            started,
            now,
        ))
    }

    /// Sends the attempt's request and waits for the answer's head, within the first-byte
    /// timeout (a whole non-streamed answer within the request timeout).
    async fn send(
        &self,
        p: &Prepared,
        front: FrontApi,
        hints: &ClientHints,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut req = self.upstream_request(p, front, hints).await?;
        let config = &p.provider.config;
        if !p.stream {
            req = req.timeout(self.total_timeout(p));
        }
        let first_byte = config
            .first_byte_timeout_secs
            .map_or(self.settings.first_byte_timeout, Duration::from_secs);
        match tokio::time::timeout(first_byte, self.providers.send_upstream(&p.provider, req)).await
        {
            Ok(answer) => answer,
            Err(_) => Err(late(p.provider.name())),
        }
    }

    /// The time a whole (non-streamed) answer may take: the provider's, else the gateway's.
    fn total_timeout(&self, p: &Prepared) -> Duration {
        p.provider
            .config
            .timeout_secs
            .map_or(self.settings.request_timeout, Duration::from_secs)
    }

    /// A streamed answer, relayed event by event as it arrives.
    fn relay_stream(
        &self,
        resp: reqwest::Response,
        p: Prepared,
        front: FrontApi,
        guard: UsageGuard,
        mut headers: HeaderMap,
        request: Bytes,
    ) -> ProxyResponse {
        let status = resp.status();
        for (name, value) in [
            (http::header::CONTENT_TYPE, "text/event-stream"),
            (http::header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let provider = p.provider.name().to_owned();
        let upstream = Box::pin(resp.bytes_stream());
        let body = stream_body(
            p,
            front,
            upstream,
            guard,
            request,
            provider,
            &self.responses,
        );
        ProxyResponse {
            status,
            headers,
            body: ProxyBody::Stream(body),
        }
    }

    /// A whole answer: read within the size limit (and, through a tunnel, the time
    /// limit), metered, translated if the plan says so, and only then answered.
    async fn relay_whole(
        &self,
        resp: reqwest::Response,
        p: Prepared,
        mut guard: UsageGuard,
        mut headers: HeaderMap,
        request: &Bytes,
        started: Instant,
    ) -> Result<ProxyResponse, GatewayError> {
        let status = resp.status();
        let provider_name = p.provider.name().to_owned();
        let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
        let read = read_limited(resp, self.settings.max_response_bytes);
        let read = if let Transport::Tunnel = p.provider.transport {
            // The link bounds the wait for the head only; the body gets the rest here.
            let left = self.total_timeout(&p).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, read).await {
                Ok(read) => read,
                Err(_) => return Err(fail(&mut guard, late(&provider_name))),
            }
        } else {
            read.await
        };
        let bytes = match read {
            Ok(b) => b,
            Err(ReadError::TooLarge) => {
                let e = UpstreamError::new(
                    ErrorKind::UpstreamInvalid,
                    format!("provider '{provider_name}' sent a response larger than the limit"),
                );
                return Err(fail(&mut guard, e));
            }
            Err(ReadError::Transport(e)) => {
                return Err(fail(
                    &mut guard,
                    UpstreamError::from_transport(&provider_name, &e),
                ));
            }
        };
        // The usage parse reads the whole body: a body that is not a JSON object is the
        // upstream's failure (502, and another candidate may serve the request).
        let Some(reported_model) =
            meter_full_body(&mut guard, p.provider.primary().schema(), request, &bytes)
        else {
            return Err(invalid_body(&mut guard, &provider_name));
        };
        if p.provider.kind == ProviderKind::AzureOpenai
            && let Some(reported) = reported_model
        {
            p.provider
                .learn_reported_model(&p.upstream_model, &reported);
            if p.price.is_none() {
                guard.set_price(p.provider.price(&p.upstream_model));
            }
        }
        let (body, content_type) = match &p.plan {
            Plan::PassThrough { .. } => (
                bytes,
                content_type.unwrap_or(HeaderValue::from_static("application/json")),
            ),
            Plan::Translate(exchange) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|_| invalid_body(&mut guard, &provider_name))?;
                let out = exchange.response(&v);
                let body = Bytes::from(out.to_string());
                if let Some(turn) = p.keep {
                    self.responses.keep(turn, out, now_millis());
                }
                (body, HeaderValue::from_static("application/json"))
            }
        };
        guard.finish(Outcome::Ok);
        headers.insert(http::header::CONTENT_TYPE, content_type);
        Ok(ProxyResponse {
            status,
            headers,
            body: ProxyBody::Full(body),
        })
    }
}

/// An upstream that did not answer in time.
fn late(provider: &str) -> UpstreamError {
    UpstreamError::new(
        ErrorKind::UpstreamTimeout,
        format!("provider '{provider}' did not answer in time"),
    )
}

/// The headers relayed from the upstream, and the gateway's own: which provider and model
/// served, which parameters were dropped or adjusted, which target.
fn answer_headers(resp: &reqwest::Response, p: &Prepared) -> HeaderMap {
    let mut headers = relay_headers(resp.headers());
    insert_header(&mut headers, PROVIDER_HEADER, p.provider.name());
    insert_header(&mut headers, MODEL_HEADER, &p.upstream_model);
    if !p.dropped.is_empty() {
        insert_header(&mut headers, DROPPED_HEADER, &p.dropped.join(","));
    }
    if !p.adjusted.is_empty() {
        insert_header(&mut headers, ADJUSTED_HEADER, &p.adjusted.join(","));
    }
    if p.provider.targets.len() > 1
        && let Some(t) = p.provider.targets.get(p.target)
    {
        insert_header(&mut headers, TARGET_HEADER, &t.name);
    }
    headers
}

/// Whether a 2xx answer is relayed as a stream: Bedrock streams arrive as AWS event-stream
/// frames, the others as SSE.
fn answers_in_a_stream(p: &Prepared, resp: &reqwest::Response) -> bool {
    p.stream
        && match p.provider.primary().schema() {
            Schema::Bedrock => true,
            Schema::OpenAi | Schema::Anthropic => resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("text/event-stream")),
        }
}

/// An upstream's error answer, in the client's schema with the credential scrubbed; a
/// Responses probe answered 404/405 marks the provider as having no Responses route.
async fn relay_error(
    resp: reqwest::Response,
    p: Prepared,
    front: FrontApi,
    mut guard: UsageGuard,
    mut headers: HeaderMap,
) -> Result<ProxyResponse, GatewayError> {
    let status = resp.status();
    let provider_name = p.provider.name();
    let raw = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
    if p.probes_responses && route_missing(status, &raw) {
        // No Responses route here: remembered, and the caller translates instead.
        p.provider
            .responses_missing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(provider = %provider_name, "no Responses API route; translating Responses requests to chat completions from now on");
        guard.finish(Outcome::UpstreamError);
        return Err(
            GatewayError::bad_request("the provider has no Responses API route")
                .with_code(RESPONSES_MISSING),
        );
    }
    let raw = scrub_secret(raw, p.upstream().api_key_text());
    let body = error_body(front, &p.plan, status.as_u16(), provider_name, raw);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    modelgate_metering::telemetry::upstream_failure(provider_name, ErrorKind::UpstreamInvalid);
    guard.finish(Outcome::UpstreamError);
    Ok(ProxyResponse {
        status,
        headers,
        body: ProxyBody::Full(body),
    })
}
