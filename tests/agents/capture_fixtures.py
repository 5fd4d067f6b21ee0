"""Regenerates fixtures/*.json: exactly what each coding agent sends the gateway, one
sample per case, scrubbed of everything machine- or run-specific, as golden inputs for the
translators (crates/modelgate-translate).

    bash tests/agents/run.sh --capture-fixtures

(run.sh installs the agents and the virtualenv, then runs this file instead of pytest.)
Starts the same mocks and gateway as the suite, plus an `openai` provider (kind
openai-compatible, on the mock that has /v1/responses, so Codex's request passes through)
whose model `gpt-5.5` is one Codex has built-in metadata for. The cases:

| fixture | agent, model | why |
|---|---|---|
| codex-responses.json | Codex, `claude-sonnet-5-5` (provider `claude`) | a name Codex does not know: fallback metadata, what a gateway user gets |
| codex-responses-known-model.json | Codex, `gpt-5.5` (provider `openai`) | a model Codex knows: reasoning effort, verbosity, freeform apply_patch |
| claude-code-messages.json | Claude Code, `claude-sonnet-5-5` (provider `claude`) | a model Claude Code knows |
| claude-code-messages-unknown-model.json | Claude Code, `local-coder` (provider `chatonly`) | a name Claude Code does not know |

Each file: {agent, version, case, method, path, headers, body, other_requests}, where
`other_requests` lists any further requests of the same run (method, path, status). Codex's
`client_metadata` keys are sorted (Codex's own order changes from run to run).
Scrubbed: the key, the temporary paths (-> /home/user, /home/user/project), UUIDs (-> stable
placeholders), 64-hex device ids, today's date (-> 2026-01-01), timestamps of today,
the kernel release and host name, and 127.0.0.1 ports.
"""

from __future__ import annotations

import datetime
import json
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agents import CLAUDE_BIN, CODEX_BIN, Run, run_agent  # noqa: E402
# conftest puts tests/common, where harness is, on sys.path.
from conftest import CHAT_ONLY_MODELS, PROVIDERS, add_providers, start_gateway  # noqa: E402
from harness import read_logs, start_mock  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KNOWN_CODEX_MODEL = "gpt-5.5"
DROP_HEADERS = {"host", "content-length", "connection"}
SECRET_HEADERS = {"authorization": "Bearer mg_TEST_KEY", "x-api-key": "mg_TEST_KEY"}

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
NUMBER = re.compile(r"\b\d{10}(\d{3})?\b")


class Scrubber:
    def __init__(self, run: Run, key: str):
        self.uuids: dict[str, str] = {}
        tmp = run.home.parent
        self.literal: list[tuple[str, str]] = [(key, "mg_TEST_KEY")]
        # Longest first: the project dir and home sit inside the temporary root.
        for path, fake in [(run.workdir, "/home/user/project"), (run.home, "/home/user"), (tmp, "/home/user/.tmp")]:
            self.literal.append((str(path), fake))
            # Claude Code names per-project folders after the path with '/' and '.' as '-'.
            self.literal.append((re.sub(r"[/.]", "-", str(path)), re.sub(r"[/.]", "-", fake)))
        self.literal.append((platform.release(), "6.1.0-generic"))
        host = socket.gethostname()
        if len(host) >= 4:
            self.literal.append((host, "host"))
        today = datetime.date.today()
        self.literal.append((today.isoformat(), "2026-01-01"))
        self.literal.append((today.strftime("%Y/%m/%d"), "2026/01/01"))
        self.now = time.time()

    def _uuid(self, m: re.Match) -> str:
        v = m.group(0).lower()
        if v not in self.uuids:
            self.uuids[v] = f"00000000-0000-4000-8000-{len(self.uuids) + 1:012d}"
        return self.uuids[v]

    def _number(self, m: re.Match) -> str:
        n = int(m.group(0))
        seconds = n / 1000 if len(m.group(0)) == 13 else n
        if abs(seconds - self.now) < 2 * 86400:
            return "1767225600000" if len(m.group(0)) == 13 else "1767225600"
        return m.group(0)

    def text(self, s: str) -> str:
        for real, fake in self.literal:
            s = s.replace(real, fake)
        s = UUID.sub(self._uuid, s)
        s = HEX64.sub("0" * 64, s)
        s = PORT.sub(r"\1:8080", s)
        return NUMBER.sub(self._number, s)

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {self.text(k): self.value(x) for k, x in v.items()}
        return v


def fixture(run: Run, key: str, case: str, version: str, path_prefix: str) -> dict:
    main = [r for r in run.requests if r.method == "POST" and r.path.startswith(path_prefix)]
    assert main, f"no POST {path_prefix}*\n{run.describe()}"
    req = main[0]
    body = req.json()
    assert isinstance(body, dict), f"not JSON: {req.body[:200]!r}"
    s = Scrubber(run, key)
    if isinstance(body.get("client_metadata"), dict):
        # Codex builds it from a hash map: the order changes from run to run.
        body["client_metadata"] = dict(sorted(body["client_metadata"].items()))
    headers = {}
    for k, v in req.headers:
        k = k.lower()
        if k in DROP_HEADERS:
            continue
        headers[k] = SECRET_HEADERS.get(k, s.text(v))
    return {
        "agent": run.agent,
        "version": version,
        "case": case,
        "method": req.method,
        "path": req.path,
        "headers": headers,
        "body": s.value(body),
        "other_requests": [
            {"method": r.method, "path": s.text(r.path), "status": r.status} for r in run.requests if r is not req
        ],
    }


def version_of(binary: Path) -> str:
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, env={"HOME": home, "CODEX_HOME": home, "PATH": "/usr/bin:/bin"}
        ).stdout
    m = re.search(r"\d+\.\d+\.\d+", out)
    return m.group(0) if m else out.strip()


def main() -> int:
    logdir = Path(tempfile.mkdtemp(prefix="modelgate-capture-"))
    procs = []
    try:
        mock_p, mock = start_mock("mock-upstream", logdir, ["--models", f"m1,{KNOWN_CODEX_MODEL}"])
        procs.append(mock_p)
        chat_p, chat = start_mock("mock-upstream-chat-only", logdir, ["--chat-only", "--models", ",".join(CHAT_ONLY_MODELS)])
        procs.append(chat_p)
        gw = start_gateway(logdir)
        procs.append(gw.proc)
        add_providers(gw.origin, gw.admin_key, mock, chat, PROVIDERS)
        gw.add_provider({"name": "openai", "kind": "openai-compatible", "endpoint": mock})
        key, _ = gw.new_key("capture")
        by_name = {p.name: p for p in PROVIDERS}
        codex_v, claude_v = version_of(CODEX_BIN), version_of(CLAUDE_BIN)
        cases = [
            ("codex-responses.json", "codex", by_name["claude"].model, None, codex_v, "/v1/responses",
             "model unknown to Codex (fallback metadata)"),
            ("codex-responses-known-model.json", "codex", KNOWN_CODEX_MODEL, None, codex_v, "/v1/responses",
             "model with Codex's built-in metadata"),
            ("claude-code-messages.json", "claude", by_name["claude"].model, by_name["claude"].small_model, claude_v,
             "/v1/messages", "model known to Claude Code"),
            ("claude-code-messages-unknown-model.json", "claude", by_name["chatonly"].model, by_name["chatonly"].small_model,
             claude_v, "/v1/messages", "model unknown to Claude Code"),
        ]
        FIXTURES.mkdir(exist_ok=True)
        for name, agent, model, small, version, prefix, case in cases:
            run = run_agent(agent, gw.origin, key, model, small)
            data = fixture(run, key, f"{case}: {model}", version, prefix)
            (FIXTURES / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            other = ", ".join(f"{r['method']} {r['path']} {r['status']}" for r in data["other_requests"]) or "none"
            print(f"{name}: {agent} {version} exit {run.returncode}, {data['method']} {data['path']}, "
                  f"{len(json.dumps(data['body']))} bytes; other requests: {other}; outbound: {run.outbound or 'none'}")
        return 0
    except Exception:
        print(read_logs(sorted(logdir.glob("*.std*"))), file=sys.stderr)
        raise
    finally:
        for p in reversed(procs):
            p.terminate()
        shutil.rmtree(logdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
