"""Session fixtures for the coding-agent tests: two mock upstreams and a gateway, all real
processes on 127.0.0.1 port 0 (the style of tests/sdk/conftest.py).

The mocks: `mock-upstream` (Anthropic Messages and Bedrock Converse, among others) and
`mock-upstream --chat-only` (an OpenAI-compatible server without the Responses API: its
/v1/responses answers 404, like older vLLM or Ollama). The gateway, on a fresh data dir with
a bootstrap admin key, gets one provider of each kind the agents are tested against (see
PROVIDERS): `claude` (kind `anthropic`), `chatonly` (kind `openai-compatible`, on the
chat-only mock) and `bedrock` (kind `aws-bedrock`, SigV4 with the credentials the mock
checks).

The processes and provider bodies come from tests/common/harness.py (shared with
tests/sdk), which shows every process's log for a failing test.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import harness  # noqa: E402

# What the chat-only mock advertises (the gateway discovers it from /v1/models).
CHAT_ONLY_MODELS = ["local-coder"]
# The gateway's environment beyond tests/common/harness.py's defaults.
GATEWAY_ENV = {"NO_COLOR": "1"}  # plain log lines in failure reports


@dataclasses.dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    model: str  # the agent's main model (a gateway model name)
    small_model: str  # Claude Code's haiku / small-fast model


# Model names the agents recognise where they can (Claude Code sizes thinking, effort and
# max_tokens by name), none containing the words that make the mock misbehave (`tool`,
# `error-500`, `truncate`, `break`, ...).
PROVIDERS = [
    Provider("claude", "anthropic", "claude-sonnet-5-5", "claude-haiku-5-5"),
    Provider("chatonly", "openai-compatible", "local-coder", "local-coder"),
    Provider("bedrock", "aws-bedrock", "anthropic.claude-sonnet-5-5-v1:0", "anthropic.claude-haiku-5-5-v1:0"),
]


class Gateway(harness.GatewayProcess):
    """The gateway under test, with per-run keys and their usage records."""

    def new_key(self, name: str) -> tuple[str, str]:
        """A fresh AI key (key, id), so each run's usage can be told apart."""
        status, body = self.admin("POST", "/api/keys", {"name": name})
        assert status == 201, f"POST /api/keys: {status} {body}"
        return body["key"], body["id"]

    def usage_records(self, key: str, key_id: str, want: int = 1, wait: float = 10.0) -> list[dict]:
        """The usage records of `key_id` (GET /api/usage as that key), polling up to `wait`
        seconds until at least `want` are there (the meter writes in batches)."""
        deadline = time.monotonic() + wait
        while True:
            status, body = harness.http_json("GET", self.origin + "/api/usage?days=7&limit=1000", key)
            assert status == 200, f"GET /api/usage: {status} {body}"
            records = [r for r in body.get("data", []) if r.get("key_id") == key_id]
            if len(records) >= want or time.monotonic() > deadline:
                return records
            time.sleep(0.1)


def add_providers(origin: str, admin_key: str, mock: str, chat_only_mock: str, providers: list[Provider]) -> None:
    """Registers `providers` through the admin API (kinds: anthropic on `mock`,
    openai-compatible on `chat_only_mock`, aws-bedrock on `mock`)."""
    for p in providers:
        models = sorted({p.model, p.small_model})
        if p.kind == "anthropic":
            body = harness.anthropic_provider(p.name, mock, models)
        elif p.kind == "openai-compatible":
            # Models discovered from the mock's /v1/models.
            body = {"name": p.name, "kind": p.kind, "endpoint": chat_only_mock}
        elif p.kind == "aws-bedrock":
            body = harness.bedrock_provider(p.name, mock, models)
        else:
            raise ValueError(p.kind)
        resp = harness.add_provider(origin, admin_key, body)
        if p.kind == "openai-compatible":
            assert p.model in resp.get("models", []), f"{p.name}: models not discovered: {resp}"


def start_gateway(logdir: Path) -> Gateway:
    """A gateway on a fresh data dir under `logdir`, as the suite runs it (no providers)."""
    return harness.start_gateway(logdir, Gateway, **GATEWAY_ENV)


logdir = harness.logdir_fixture("modelgate-agents-")


@pytest.fixture(scope="session")
def mock_upstream(logdir):
    with harness.running_mock("mock-upstream", logdir, ["--models", "m1"]) as origin:
        yield origin


@pytest.fixture(scope="session")
def chat_only_mock(logdir):
    args = ["--chat-only", "--models", ",".join(CHAT_ONLY_MODELS)]
    with harness.running_mock("mock-upstream-chat-only", logdir, args) as origin:
        yield origin


@pytest.fixture(scope="session")
def gateway(logdir, mock_upstream, chat_only_mock):
    with harness.running_gateway(logdir, Gateway, **GATEWAY_ENV) as gw:
        add_providers(gw.origin, gw.admin_key, mock_upstream, chat_only_mock, PROVIDERS)
        yield gw


# The gateway's log is the useful one; the mocks' are short (each log is cut to its end).
pytest_runtest_makereport = harness.process_logs_hook(tail=8000)
