"""Codex CLI (`codex exec`, OpenAI Responses API) and Claude Code (`claude -p`, Anthropic
Messages API) run non-interactively against the gateway, once per provider kind:

| provider | kind | what the gateway must do for Codex | ... for Claude Code |
|---|---|---|---|
| `claude` | anthropic | Responses -> Messages | pass-through |
| `chatonly` | openai-compatible, no /v1/responses upstream | Responses -> chat completions | Messages -> chat completions |
| `bedrock` | aws-bedrock | Responses -> Converse | Messages -> Converse |

Each run must exit 0 within 60 s with the mock's answer in its output (every mock dialect
streams "Hel" + "lo..."), reach nothing beyond 127.0.0.1, and leave a successful usage
record for its key. A failure shows what the agent sent and the gateway's answer.
"""

from __future__ import annotations

import pytest

from agents import run_agent
from conftest import PROVIDERS

# Every streamed mock answer starts "Hel" + "lo" (Anthropic and Bedrock: "Hello"; chat
# completions: "Hello1lo2"); a non-streamed one is "Hello from the mock upstream.".
ANSWER = "Hello"


@pytest.mark.parametrize("provider", PROVIDERS, ids=[p.name for p in PROVIDERS])
@pytest.mark.parametrize("agent", ["codex", "claude"])
def test_agent(gateway, agent, provider):
    key, key_id = gateway.new_key(f"{agent}-{provider.name}")
    run = run_agent(agent, gateway.origin, key, provider.model, provider.small_model)
    assert run.returncode is not None, f"timed out\n{run.describe()}"
    assert run.returncode == 0, run.describe()
    assert ANSWER in run.stdout, f"the mock's answer is not in the output\n{run.describe()}"
    assert not run.outbound, f"tried to leave 127.0.0.1\n{run.describe()}"
    assert run.requests, run.describe()
    records = gateway.usage_records(key, key_id)
    ok = [r for r in records if r.get("outcome") == "ok" and r.get("provider") == provider.name]
    assert ok, f"no successful usage record for {provider.name}: {records}\n{run.describe()}"
    for r in ok:
        assert r["usage"]["input_tokens"] > 0 and r["usage"]["output_tokens"] > 0, r
