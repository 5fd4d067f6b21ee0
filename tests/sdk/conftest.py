"""Session fixtures for the OpenAI and Anthropic SDK tests: a mock upstream and a gateway,
both real processes on 127.0.0.1 port 0.

The gateway has these providers on the same mock: `mock` (OpenAI-compatible, the mock's
advertised models), `claude` (kind `anthropic`, the models in CLAUDE_MODELS, spoken to
over the mock's Anthropic Messages endpoint) and three of kind `aws-bedrock` on the mock's
Converse / ConverseStream endpoints (see BEDROCK_PROVIDERS).

The binaries come from MODELGATE_BIN and MOCK_BIN (tests/sdk/run.sh sets them), falling
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

import anthropic
import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELGATE_BIN = os.environ.get("MODELGATE_BIN", str(ROOT / "target/debug/modelgate"))
MOCK_BIN = os.environ.get("MOCK_BIN", str(ROOT / "target/debug/mock-upstream"))

# What the mock advertises. The names choose its behaviour (crates/modelgate-testkit):
# `error-500` answers 500, `break-model` cuts its stream after two chunks.
MOCK_MODELS = ["m1", "emb-1", "error-500", "break-model"]
# The models of the `anthropic`-kind provider `claude` (listed, so no discovery). On the
# mock's /v1/messages, `tool` in the name answers with a tool_use of the request's first
# tool, `error-500` answers an Anthropic 500 and `truncate` ends a stream without
# message_stop.
CLAUDE_MODELS = ["claude-x", "claude-tool", "claude-error-500", "claude-truncate"]
CLAUDE_UPSTREAM_KEY = "sk-ant-x"
# The credentials and region the mock's Bedrock endpoints accept: it recomputes every
# request's SigV4 signature with them and answers 403 on a mismatch
# (crates/modelgate-testkit/src/mock.rs).
BEDROCK_ACCESS_KEY = "AKIAMOCKACCESSKEY01"
BEDROCK_SECRET_KEY = "mock/secret+access+key+canary0123456789"
BEDROCK_REGION = "us-west-2"
# The models of the `aws-bedrock` provider `bedrock`. On the mock, `tool` in the name
# answers with a toolUse of the request's first tool (input {"city": "Paris"}),
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
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
            )

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
        parts.append(f"----- {p.name} -----\n{body.rstrip()}")
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
    """What the tests need to talk to the gateway under test."""

    origin: str  # http://127.0.0.1:PORT
    base_url: str  # origin + /v1
    key: str  # a user (AI) key, from POST /api/keys
    key_id: str
    admin_key: str  # the bootstrap admin key
    mock_origin: str
    # Successful generation requests sent through SDK clients made by `client_for` and
    # `anthropic_for` (counted by an httpx hook), for the usage check.
    generated: int = 0

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.origin + path, self.admin_key, body)

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


@pytest.fixture(scope="session")
def logdir():
    d = Path(tempfile.mkdtemp(prefix="modelgate-sdk-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mock_upstream(logdir):
    p = Proc("mock-upstream", [MOCK_BIN, "--models", ",".join(MOCK_MODELS)], logdir)
    try:
        origin = p.wait_for_line("mock-upstream listening on ")
        yield origin
    finally:
        p.terminate()


@pytest.fixture(scope="session")
def gateway(logdir, mock_upstream):
    admin_key = "mg-admin-" + secrets.token_urlsafe(24)
    data_dir = logdir / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    env["MODELGATE_BOOTSTRAP_ADMIN_KEY"] = admin_key
    env.setdefault("RUST_LOG", "info")
    p = Proc(
        "modelgate",
        [MODELGATE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
        logdir,
        env=env,
    )
    stopped = False
    try:
        origin = p.wait_for_line("modelgate listening on ")
        if not origin.startswith("http://"):
            origin = "http://" + origin
        status, body = http_json(
            "POST",
            origin + "/api/providers",
            admin_key,
            {"name": "mock", "kind": "openai-compatible", "endpoint": mock_upstream},
        )
        assert status == 201, f"POST /api/providers: {status} {body}\n{p.logs()}"
        status, body = http_json(
            "POST",
            origin + "/api/providers",
            admin_key,
            {
                "name": "claude",
                "kind": "anthropic",
                "endpoint": mock_upstream,
                "api_key": CLAUDE_UPSTREAM_KEY,
                "models": CLAUDE_MODELS,
            },
        )
        assert status == 201, f"POST /api/providers (claude): {status} {body}\n{p.logs()}"
        for name, (auth_extra, models) in BEDROCK_PROVIDERS.items():
            auth = {
                "type": "aws-sigv4",
                "access_key_id": BEDROCK_ACCESS_KEY,
                "secret_access_key": BEDROCK_SECRET_KEY,
                **auth_extra,
            }
            status, body = http_json(
                "POST",
                origin + "/api/providers",
                admin_key,
                {
                    "name": name,
                    "kind": "aws-bedrock",
                    "region": BEDROCK_REGION,
                    "endpoint": mock_upstream,
                    "auth": auth,
                    "models": models,
                },
            )
            assert status == 201, f"POST /api/providers ({name}): {status} {body}\n{p.logs()}"
        status, body = http_json("POST", origin + "/api/keys", admin_key, {"name": "sdk"})
        assert status == 201, f"POST /api/keys: {status} {body}\n{p.logs()}"
        assert isinstance(body, dict) and body.get("key"), body
        yield Gateway(
            origin=origin,
            base_url=origin + "/v1",
            key=body["key"],
            key_id=body["id"],
            admin_key=admin_key,
            mock_origin=mock_upstream,
        )
        stopped = True
        code = p.terminate()
        assert code == 0, f"modelgate exited with {code} after SIGTERM\n{p.logs()}"
    finally:
        if not stopped:
            p.terminate()


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _LOGS:
        report.sections.append(("process logs", _read_logs(_LOGS)))
    return report


# The models of a second mock upstream started with `--chat-only`: an OpenAI-compatible
# server without the Responses API (`POST /v1/responses` answers 404), like older vLLM or
# Ollama. `tool` in a name answers a chat request that has tools with a call of its first
# tool (arguments {"city": "Paris"}, finish_reason "tool_calls").
CHAT_ONLY_MODELS = ["llama-chat", "llama-tool"]


@pytest.fixture(scope="session")
def chat_only_upstream(logdir):
    """The origin of a `mock-upstream --chat-only` process (models CHAT_ONLY_MODELS)."""
    p = Proc(
        "mock-upstream-chat-only",
        [MOCK_BIN, "--chat-only", "--models", ",".join(CHAT_ONLY_MODELS)],
        logdir,
    )
    try:
        yield p.wait_for_line("mock-upstream listening on ")
    finally:
        p.terminate()
