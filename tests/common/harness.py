"""What the real-client suites (tests/sdk, tests/agents) share: the mock upstream and the
gateway as real processes on 127.0.0.1 port 0, JSON calls to the admin API, and the
provider bodies that point the gateway at the mock.

Each suite's conftest.py puts tests/common on sys.path, imports this module and builds its
fixtures from it: `logdir` (made by `logdir_fixture`), the mocks (`running_mock`), the
gateway (`running_gateway`), and `pytest_runtest_makereport` (`process_logs_hook`).

The binaries come from MODELGATE_BIN and MOCK_BIN (the suites' run.sh set them), falling
back to target/debug/. Every process writes its stdout and stderr to files in the suite's
temporary log directory; `process_logs_hook` shows them when a test fails.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELGATE_BIN = os.environ.get("MODELGATE_BIN", str(ROOT / "target/debug/modelgate"))
MOCK_BIN = os.environ.get("MOCK_BIN", str(ROOT / "target/debug/mock-upstream"))

# The key the mock's Anthropic Messages endpoint is given by `anthropic`-kind providers.
CLAUDE_UPSTREAM_KEY = "sk-ant-x"
# The credentials and region the mock's Bedrock endpoints accept: it recomputes every
# request's SigV4 signature with them and answers 403 on a mismatch
# (crates/modelgate-testkit/src/mock.rs).
BEDROCK_ACCESS_KEY = "AKIAMOCKACCESSKEY01"
BEDROCK_SECRET_KEY = "mock/secret+access+key+canary0123456789"
BEDROCK_REGION = "us-west-2"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# The log files of every process started this session, shown when a test fails.
LOGS: list[Path] = []


class Proc:
    """A child process whose stdout and stderr go to files."""

    def __init__(self, name: str, argv: list[str], logdir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.stdout_path = logdir / f"{name}.stdout"
        self.stderr_path = logdir / f"{name}.stderr"
        LOGS.extend([self.stdout_path, self.stderr_path])
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)

    def logs(self) -> str:
        return read_logs([self.stdout_path, self.stderr_path])

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


def read_logs(paths: list[Path], tail: int | None = None) -> str:
    """The files in `paths` under a header each (only the last `tail` characters of each)."""
    parts = []
    for p in paths:
        try:
            body = p.read_text(errors="replace")
        except OSError as e:
            body = f"<unreadable: {e}>"
        body = body.rstrip()
        if tail is not None:
            body = body[-tail:]
        parts.append(f"----- {p.name} -----\n{body}")
    return "\n".join(parts)


def process_logs_hook(tail: int | None = None):
    """A `pytest_runtest_makereport` hook adding the logs of every process (LOGS) to the
    report of a failed test; a conftest binds it to that name."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        if report.failed and LOGS:
            report.sections.append(("process logs", read_logs(LOGS, tail)))
        return report

    return pytest_runtest_makereport


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


def logdir_fixture(prefix: str):
    """The session fixture `logdir`: a fresh temporary directory (its name starting with
    `prefix`) for the processes' logs and data, removed afterwards. A conftest binds it to
    that name."""

    @pytest.fixture(scope="session")
    def logdir():
        d = Path(tempfile.mkdtemp(prefix=prefix))
        yield d
        shutil.rmtree(d, ignore_errors=True)

    return logdir


# --- the mock upstream --------------------------------------------------------------------


def start_mock(name: str, logdir: Path, args: list[str]) -> tuple[Proc, str]:
    """A `mock-upstream` process with `args` (logs named after `name`) and its origin."""
    p = Proc(name, [MOCK_BIN, *args], logdir)
    try:
        return p, p.wait_for_line("mock-upstream listening on ")
    except BaseException:
        p.terminate()
        raise


@contextlib.contextmanager
def running_mock(name: str, logdir: Path, args: list[str]) -> Iterator[str]:
    """The origin of a `mock-upstream` process, terminated afterwards."""
    p, origin = start_mock(name, logdir, args)
    try:
        yield origin
    finally:
        p.terminate()


# --- the gateway --------------------------------------------------------------------------


def add_provider(origin: str, admin_key: str, body: dict[str, Any]) -> Any:
    """POST /api/providers with `body`; asserts 201 and returns the created provider."""
    status, resp = http_json("POST", origin + "/api/providers", admin_key, body)
    assert status == 201, f"POST /api/providers ({body.get('name')}): {status} {resp}"
    return resp


def anthropic_provider(name: str, endpoint: str, models: list[str]) -> dict[str, Any]:
    """The body of an `anthropic`-kind provider on the mock at `endpoint` (listed models)."""
    return {"name": name, "kind": "anthropic", "endpoint": endpoint, "api_key": CLAUDE_UPSTREAM_KEY, "models": models}


def bedrock_provider(
    name: str, endpoint: str, models: list[str], auth_extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """The body of an `aws-bedrock` provider on the mock at `endpoint`, SigV4-signed with the
    credentials the mock checks (`auth_extra` adds or overrides `auth` fields)."""
    auth = {
        "type": "aws-sigv4",
        "access_key_id": BEDROCK_ACCESS_KEY,
        "secret_access_key": BEDROCK_SECRET_KEY,
        **(auth_extra or {}),
    }
    return {
        "name": name,
        "kind": "aws-bedrock",
        "region": BEDROCK_REGION,
        "endpoint": endpoint,
        "auth": auth,
        "models": models,
    }


@dataclasses.dataclass
class GatewayProcess:
    """A running gateway: its origin, its bootstrap admin key and the process."""

    origin: str  # http://127.0.0.1:PORT
    admin_key: str
    proc: Proc

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.origin + path, self.admin_key, body)

    def add_provider(self, body: dict[str, Any]) -> Any:
        return add_provider(self.origin, self.admin_key, body)


G = TypeVar("G", bound=GatewayProcess)


def start_gateway(logdir: Path, cls: type[G] = GatewayProcess, **env_defaults: str) -> G:
    """A gateway serving on 127.0.0.1 port 0 with a fresh data dir under `logdir` and a
    random bootstrap admin key, as `cls`. It sees none of the caller's MODELGATE_* settings;
    RUST_LOG defaults to info, and `env_defaults` adds other defaults."""
    admin_key = "mg-admin-" + secrets.token_urlsafe(24)
    data_dir = logdir / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    env["MODELGATE_BOOTSTRAP_ADMIN_KEY"] = admin_key
    for k, v in {"RUST_LOG": "info", **env_defaults}.items():
        env.setdefault(k, v)
    argv = [MODELGATE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    p = Proc("modelgate", argv, logdir, env=env)
    try:
        origin = p.wait_for_line("modelgate listening on ")
    except BaseException:
        p.terminate()
        raise
    if not origin.startswith("http://"):
        origin = "http://" + origin
    return cls(origin=origin, admin_key=admin_key, proc=p)


@contextlib.contextmanager
def running_gateway(logdir: Path, cls: type[G] = GatewayProcess, **env_defaults: str) -> Iterator[G]:
    """`start_gateway`, then SIGTERM afterwards: after a clean run the gateway must exit 0."""
    gw = start_gateway(logdir, cls, **env_defaults)
    stopped = False
    try:
        yield gw
        stopped = True
        code = gw.proc.terminate()
        assert code == 0, f"modelgate exited with {code} after SIGTERM\n{gw.proc.logs()}"
    finally:
        if not stopped:
            gw.proc.terminate()
