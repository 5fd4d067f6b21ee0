"""Session fixtures for the OpenAI and Anthropic SDK tests: a mock upstream and a gateway,
both real processes on 127.0.0.1 port 0.

The gateway has these providers on the same mock: `mock` (OpenAI-compatible, the mock's
advertised models), `claude` (kind `anthropic`, the models in CLAUDE_MODELS, spoken to
over the mock's Anthropic Messages endpoint) and three of kind `aws-bedrock` on the mock's
Converse / ConverseStream endpoints (see BEDROCK_PROVIDERS).

Processes, logs (shown for a failing test) and provider bodies: tests/common/harness.py,
shared with tests/agents.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import harness  # noqa: E402

# What the mock advertises. The names choose its behaviour (crates/modelgate-testkit):
# `error-500` answers 500, `break-model` cuts its stream after two chunks.
MOCK_MODELS = ["m1", "emb-1", "error-500", "break-model"]
# The models of the `anthropic`-kind provider `claude` (listed, so no discovery). On the
# mock's /v1/messages, `tool` in the name answers with a tool_use of the request's first
# tool, `error-500` answers an Anthropic 500 and `truncate` ends a stream without
# message_stop.
CLAUDE_MODELS = ["claude-x", "claude-tool", "claude-error-500", "claude-truncate"]
# The models of the `aws-bedrock` provider `bedrock` (the mock checks every request's SigV4
# signature against tests/common/harness.py's BEDROCK_* credentials). On the mock, `tool`
# in the name answers with a toolUse of the request's first tool (input {"city": "Paris"}),
# `exception` puts a throttlingException frame in the stream, `truncate` ends a stream
# without its metadata frame and `error-500` answers 500.
BEDROCK_MODELS = [
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "meta.tool-model",
    "meta.exception-model",
    "meta.truncate-model",
    "meta.error-500-model",
]
# name -> extra `auth` fields and models, for the Bedrock providers registered:
# `bedrock` (the right credentials), `bedrock-sts` (the same with a session token, which the
# mock takes as signed) and `bedrock-badsecret` (a wrong secret: every request is refused
# with 403 by the mock).
BEDROCK_PROVIDERS: dict[str, tuple[dict[str, str], list[str]]] = {
    "bedrock": ({}, BEDROCK_MODELS),
    "bedrock-sts": ({"session_token": "mock-session-token/with+odd=chars"}, ["meta.sts-model"]),
    "bedrock-badsecret": ({"secret_access_key": "not/the+right+secret0000000000000000000"}, ["meta.badsecret-model"]),
}


@dataclasses.dataclass
class Gateway(harness.GatewayProcess):
    """What the tests need to talk to the gateway under test (with `origin`, the bootstrap
    `admin_key` and `admin()` of GatewayProcess)."""

    base_url: str  # origin + /v1
    key: str  # a user (AI) key, from POST /api/keys
    key_id: str
    mock_origin: str
    # Successful generation requests sent through SDK clients made by `client_for` and
    # `anthropic_for` (counted by an httpx hook), for the usage check.
    generated: int = 0

    def _counter(self, paths: tuple[str, ...]):
        """An httpx (or httpx2) response hook counting successful POSTs to `paths` (suffixes)."""

        def count(response: Any) -> None:
            req = response.request
            if response.status_code == 200 and req.method == "POST" and req.url.path.endswith(paths):
                try:
                    model = json.loads(req.content).get("model", "")
                except ValueError:
                    model = ""
                # A cut stream may legitimately go unmetered; don't require it.
                if "break" not in model:
                    self.generated += 1

        return count

    def client_for(self, base_url: str | None = None, api_key: str | None = None) -> openai.OpenAI:
        """An SDK client with no retries and a request counter."""
        count = self._counter(("/chat/completions", "/completions", "/embeddings"))
        return openai.OpenAI(
            base_url=base_url or self.base_url,
            api_key=api_key or self.key,
            max_retries=0,
            timeout=30.0,
            http_client=httpx.Client(event_hooks={"response": [count]}),
        )

    def anthropic_for(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        auth_token: str | None = None,
        x_api_key: bool = False,
        on_request=None,
    ) -> anthropic.Anthropic:
        """An Anthropic SDK client with no retries and a request counter (`/v1/messages`,
        not count_tokens); `on_request` sees every outgoing request.

        The SDK (2.x) sends both `api_key=` and `auth_token=` as `Authorization: Bearer`.
        With `x_api_key`, the key goes as `x-api-key` instead, the header Anthropic's API
        documents and older SDKs and many agents send."""
        count = self._counter(("/v1/messages",))
        hooks: dict[str, list] = {"response": [count]}
        if on_request is not None:
            hooks["request"] = [on_request]
        headers: dict[str, Any] = {}
        if auth_token is not None:
            creds: dict[str, Any] = {"auth_token": auth_token}
        else:
            creds = {"api_key": api_key or self.key}
            if x_api_key:
                headers = {"X-Api-Key": creds["api_key"], "Authorization": anthropic.Omit()}
        return anthropic.Anthropic(
            base_url=base_url or self.origin,
            max_retries=0,
            timeout=30.0,
            default_headers=headers or None,
            # The Anthropic SDK is built on httpx2 and refuses httpx objects.
            http_client=anthropic.DefaultHttpxClient(event_hooks=hooks),
            **creds,
        )


logdir = harness.logdir_fixture("modelgate-sdk-")


@pytest.fixture(scope="session")
def mock_upstream(logdir):
    with harness.running_mock("mock-upstream", logdir, ["--models", ",".join(MOCK_MODELS)]) as origin:
        yield origin


@pytest.fixture(scope="session")
def gateway(logdir, mock_upstream):
    with harness.running_gateway(logdir) as gw:
        gw.add_provider({"name": "mock", "kind": "openai-compatible", "endpoint": mock_upstream})
        gw.add_provider(harness.anthropic_provider("claude", mock_upstream, CLAUDE_MODELS))
        for name, (auth_extra, models) in BEDROCK_PROVIDERS.items():
            gw.add_provider(harness.bedrock_provider(name, mock_upstream, models, auth_extra))
        status, body = gw.admin("POST", "/api/keys", {"name": "sdk"})
        assert status == 201, f"POST /api/keys: {status} {body}"
        assert isinstance(body, dict) and body.get("key"), body
        yield Gateway(
            origin=gw.origin,
            admin_key=gw.admin_key,
            proc=gw.proc,
            base_url=gw.origin + "/v1",
            key=body["key"],
            key_id=body["id"],
            mock_origin=mock_upstream,
        )


@pytest.fixture(params=["/v1", "/api/openai/v1"], ids=["v1", "api-openai-v1"])
def client(request, gateway):
    """An SDK client for each of the gateway's two OpenAI base URLs."""
    with gateway.client_for(base_url=gateway.origin + request.param) as c:
        yield c


@pytest.fixture
def claude(gateway):
    """An Anthropic SDK client on the gateway's origin (the SDK appends /v1/messages)."""
    with gateway.anthropic_for() as c:
        yield c


pytest_runtest_makereport = harness.process_logs_hook()


# The models of a second mock upstream started with `--chat-only`: an OpenAI-compatible
# server without the Responses API (`POST /v1/responses` answers 404), like older vLLM or
# Ollama. `tool` in a name answers a chat request that has tools with a call of its first
# tool (arguments {"city": "Paris"}, finish_reason "tool_calls").
CHAT_ONLY_MODELS = ["llama-chat", "llama-tool"]


@pytest.fixture(scope="session")
def chat_only_upstream(logdir):
    """The origin of a `mock-upstream --chat-only` process (models CHAT_ONLY_MODELS)."""
    args = ["--chat-only", "--models", ",".join(CHAT_ONLY_MODELS)]
    with harness.running_mock("mock-upstream-chat-only", logdir, args) as origin:
        yield origin
