"""Session fixtures for the coding-agent tests: two mock upstreams and a gateway, all real
processes on 127.0.0.1 port 0 (the style of tests/sdk/conftest.py).

The mocks: `mock-upstream` (Anthropic Messages and Bedrock Converse, among others) and
`mock-upstream --chat-only` (an OpenAI-compatible server without the Responses API: its
/v1/responses answers 404, like older vLLM or Ollama). The gateway, on a fresh data dir with
a bootstrap admin key, gets one provider of each kind the agents are tested against (see
PROVIDERS): `claude` (kind `anthropic`), `chatonly` (kind `openai-compatible`, on the
chat-only mock) and `bedrock` (kind `aws-bedrock`, SigV4 with the credentials the mock
checks).

The binaries come from MODELGATE_BIN and MOCK_BIN (tests/agents/run.sh sets them), falling
back to target/debug/. Every process writes its stdout and stderr to files in a temporary
directory; a failing test shows their contents.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELGATE_BIN = os.environ.get("MODELGATE_BIN", str(ROOT / "target/debug/modelgate"))
MOCK_BIN = os.environ.get("MOCK_BIN", str(ROOT / "target/debug/mock-upstream"))

# The credentials and region the mock's Bedrock endpoints accept
# (crates/modelgate-testkit/src/mock.rs): it recomputes every SigV4 signature with them.
BEDROCK_ACCESS_KEY = "AKIAMOCKACCESSKEY01"
BEDROCK_SECRET_KEY = "mock/secret+access+key+canary0123456789"
BEDROCK_REGION = "us-west-2"
CLAUDE_UPSTREAM_KEY = "sk-ant-x"
# What the chat-only mock advertises (the gateway discovers it from /v1/models).
CHAT_ONLY_MODELS = ["local-coder"]


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

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# The log files of every process started this session, shown when a test fails.
_LOGS: list[Path] = []


class Proc:
    """A child process whose stdout and stderr go to files."""

    def __init__(self, name: str, argv: list[str], logdir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.stdout_path = logdir / f"{name}.stdout"
        self.stderr_path = logdir / f"{name}.stderr"
        _LOGS.extend([self.stdout_path, self.stderr_path])
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)

    def logs(self) -> str:
        return _read_logs([self.stdout_path, self.stderr_path])

    def wait_for_line(self, prefix: str) -> str:
        """The rest of the first stdout line starting with `prefix`."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            text = self.stdout_path.read_text(errors="replace")
            for line in text.splitlines(keepends=True):
                if line.startswith(prefix) and line.endswith("\n"):
                    return line[len(prefix) :].strip()
            code = self.popen.poll()
            if code is not None:
                raise RuntimeError(f"{self.name} exited with {code} before printing {prefix!r}\n{self.logs()}")
            if time.monotonic() > deadline:
                self.popen.kill()
                self.popen.wait()
                raise RuntimeError(f"{self.name} did not print {prefix!r} in {START_TIMEOUT}s\n{self.logs()}")
            time.sleep(0.02)

    def terminate(self) -> int:
        """SIGTERM, then the exit code (SIGKILL after STOP_TIMEOUT seconds)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT}s\n{self.logs()}")


def _read_logs(paths: list[Path]) -> str:
    parts = []
    for p in paths:
        try:
            body = p.read_text(errors="replace")
        except OSError as e:
            body = f"<unreadable: {e}>"
        parts.append(f"----- {p.name} -----\n{body.rstrip()[-8000:]}")
    return "\n".join(parts)


def http_json(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    """A JSON request with the stdlib; returns (status, parsed body or raw text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclasses.dataclass
class Gateway:
    origin: str  # http://127.0.0.1:PORT
    admin_key: str
    proc: Proc

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.origin + path, self.admin_key, body)

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
            status, body = http_json("GET", self.origin + "/api/usage?days=7&limit=1000", key)
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
            body = {"name": p.name, "kind": p.kind, "endpoint": mock, "api_key": CLAUDE_UPSTREAM_KEY, "models": models}
        elif p.kind == "openai-compatible":
            # Models discovered from the mock's /v1/models.
            body = {"name": p.name, "kind": p.kind, "endpoint": chat_only_mock}
        elif p.kind == "aws-bedrock":
            body = {
                "name": p.name,
                "kind": p.kind,
                "region": BEDROCK_REGION,
                "endpoint": mock,
                "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": BEDROCK_SECRET_KEY},
                "models": models,
            }
        else:
            raise ValueError(p.kind)
        status, resp = http_json("POST", origin + "/api/providers", admin_key, body)
        assert status == 201, f"POST /api/providers ({p.name}): {status} {resp}"
        if p.kind == "openai-compatible":
            assert p.model in resp.get("models", []), f"{p.name}: models not discovered: {resp}"


def start_mock(name: str, logdir: Path, args: list[str]) -> tuple[Proc, str]:
    p = Proc(name, [MOCK_BIN, *args], logdir)
    return p, p.wait_for_line("mock-upstream listening on ")


def start_gateway(logdir: Path) -> Gateway:
    admin_key = "mg-admin-" + secrets.token_urlsafe(24)
    data_dir = logdir / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    env["MODELGATE_BOOTSTRAP_ADMIN_KEY"] = admin_key
    env.setdefault("RUST_LOG", "info")
    env.setdefault("NO_COLOR", "1")  # plain log lines in failure reports
    p = Proc("modelgate", [MODELGATE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)], logdir, env=env)
    origin = p.wait_for_line("modelgate listening on ")
    if not origin.startswith("http://"):
        origin = "http://" + origin
    return Gateway(origin=origin, admin_key=admin_key, proc=p)


@pytest.fixture(scope="session")
def logdir():
    d = Path(tempfile.mkdtemp(prefix="modelgate-agents-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mock_upstream(logdir):
    p, origin = start_mock("mock-upstream", logdir, ["--models", "m1"])
    try:
        yield origin
    finally:
        p.terminate()


@pytest.fixture(scope="session")
def chat_only_mock(logdir):
    p, origin = start_mock("mock-upstream-chat-only", logdir, ["--chat-only", "--models", ",".join(CHAT_ONLY_MODELS)])
    try:
        yield origin
    finally:
        p.terminate()


@pytest.fixture(scope="session")
def gateway(logdir, mock_upstream, chat_only_mock):
    gw = start_gateway(logdir)
    stopped = False
    try:
        add_providers(gw.origin, gw.admin_key, mock_upstream, chat_only_mock, PROVIDERS)
        yield gw
        stopped = True
        code = gw.proc.terminate()
        assert code == 0, f"modelgate exited with {code} after SIGTERM\n{gw.proc.logs()}"
    finally:
        if not stopped:
            gw.proc.terminate()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _LOGS:
        # The gateway's log is the useful one; the mocks' are short.
        report.sections.append(("process logs", _read_logs(_LOGS)))
    return report
