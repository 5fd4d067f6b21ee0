"""How the suite runs the two coding agents non-interactively against a gateway, with no
login and nothing leaving 127.0.0.1.

Both get a fresh HOME (and so a fresh ~/.codex, ~/.claude, ~/.claude.json) and a fresh,
empty working directory outside any git repository, an environment built from scratch
(only PATH is inherited), and HTTPS_PROXY / HTTP_PROXY / ALL_PROXY pointing at a `Sinkhole`
that records and refuses whatever they try to reach beyond 127.0.0.1 (NO_PROXY covers the
gateway). Between the agent and the gateway sits a recording `LogProxy`, so each run keeps
exactly what the agent sent and what the gateway answered.

Codex CLI (`codex exec`): $CODEX_HOME/config.toml selects a custom Responses-API provider,
the key comes from MODELGATE_API_KEY (`env_key`), and update checks, analytics, feedback and
plugins (the plugin and skills sync that calls github.com and chatgpt.com) are off;
`--strict-config` makes Codex refuse a key it no longer knows, so an upgrade cannot silently
drop one of these.

Claude Code (`claude -p`): ANTHROPIC_BASE_URL (the gateway's origin; Claude Code appends
/v1/messages), ANTHROPIC_AUTH_TOKEN (sent as `Authorization: Bearer`), ANTHROPIC_MODEL and
the haiku/sonnet/opus/subagent model variables set to gateway model names, and
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (without it, Claude Code calls api.anthropic.com
for telemetry) plus the narrower DISABLE_* switches.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from logproxy import Captured, LogProxy, Sinkhole

ROOT = Path(__file__).resolve().parents[2]
_TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
AGENTS_NODE = Path(os.environ.get("AGENTS_NODE") or (_TARGET if _TARGET.is_absolute() else ROOT / _TARGET) / "agents-node")
CODEX_BIN = AGENTS_NODE / "node_modules/.bin/codex"
CLAUDE_BIN = AGENTS_NODE / "node_modules/.bin/claude"

RUN_TIMEOUT = 60.0
PROMPT = "Say hello."

# Codex's config, with @BASE_URL@ and @MODEL@ filled in. `wire_api = "responses"` is the only
# wire API Codex still accepts for a custom provider. No retries, so a gateway error shows
# at once (and the run stays well inside RUN_TIMEOUT).
CODEX_CONFIG = """\
model = "@MODEL@"
model_provider = "modelgate"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false

[model_providers.modelgate]
name = "modelgate"
base_url = "@BASE_URL@"
wire_api = "responses"
env_key = "MODELGATE_API_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 30000
"""


@dataclasses.dataclass
class Run:
    """One agent run: its outcome and what it sent."""

    agent: str
    argv: list[str]
    returncode: int | None  # None: killed after RUN_TIMEOUT
    stdout: str
    stderr: str
    seconds: float
    requests: list[Captured]  # what reached the gateway, in order
    outbound: list[str]  # attempts to leave 127.0.0.1 (refused)
    workdir: Path
    home: Path

    def describe(self) -> str:
        """For assertion messages: the exit, the requests with the gateway's answers to the
        failed ones, and the ends of both output streams."""
        lines = [f"{self.agent}: exit {self.returncode} after {self.seconds:.1f}s", f"argv: {self.argv}"]
        for r in self.requests:
            line = f"  {r.method} {r.path} -> {r.status}"
            if r.status != 200:
                line += f": {r.response_head.decode(errors='replace')[:800]}"
            lines.append(line)
        if not self.requests:
            lines.append("  (no request reached the gateway)")
        if self.outbound:
            lines.append(f"outbound attempts (refused): {self.outbound}")
        lines.append("----- stdout (tail) -----\n" + self.stdout[-3000:])
        lines.append("----- stderr (tail) -----\n" + self.stderr[-5000:])
        return "\n".join(lines)

    def gateway_errors(self) -> list[str]:
        return [
            f"{r.method} {r.path} -> {r.status}: {r.response_head.decode(errors='replace')[:800]}"
            for r in self.requests
            if r.status != 200
        ]


def _base_env(home: Path, sink: Sinkhole) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "USER": "agent",
        "LOGNAME": "agent",
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TMPDIR": str(home / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = sink.origin
    return env


def codex_command(base_url: str, key: str, model: str, home: Path, workdir: Path, sink: Sinkhole) -> tuple[list[str], dict[str, str]]:
    """`codex exec` against `base_url` (the gateway's /v1), writing its config to
    $HOME/.codex/config.toml (CODEX_HOME)."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(CODEX_CONFIG.replace("@BASE_URL@", base_url).replace("@MODEL@", model))
    env = _base_env(home, sink)
    env["CODEX_HOME"] = str(codex_home)
    env["MODELGATE_API_KEY"] = key
    argv = [
        str(CODEX_BIN),
        "exec",
        "--strict-config",
        "--skip-git-repo-check",
        "--ephemeral",
        "--color",
        "never",
        "--cd",
        str(workdir),
        "--output-last-message",
        str(home / "last-message.txt"),
        PROMPT,
    ]
    return argv, env


def claude_command(origin: str, key: str, model: str, small_model: str, home: Path, sink: Sinkhole) -> tuple[list[str], dict[str, str]]:
    """`claude -p` against `origin` (the gateway's origin, no /v1)."""
    env = _base_env(home, sink)
    env.update(
        {
            "ANTHROPIC_BASE_URL": origin,
            "ANTHROPIC_AUTH_TOKEN": key,
            "ANTHROPIC_MODEL": model,
            "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": small_model,
            "ANTHROPIC_SMALL_FAST_MODEL": small_model,
            "CLAUDE_CODE_SUBAGENT_MODEL": model,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_BUG_COMMAND": "1",
            "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        }
    )
    argv = [str(CLAUDE_BIN), "-p", "--no-session-persistence", "--output-format", "text", PROMPT]
    return argv, env


def run_agent(agent: str, gateway_origin: str, key: str, model: str, small_model: str | None = None) -> Run:
    """Runs `agent` ("codex" or "claude") once through a LogProxy in front of the gateway,
    in a fresh temporary HOME and working directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix=f"modelgate-{agent}-") as tmp, LogProxy(gateway_origin) as proxy:
        sink = Sinkhole()
        try:
            home = Path(tmp) / "home"
            workdir = Path(tmp) / "project"
            for d in (home / "tmp", workdir):
                d.mkdir(parents=True)
            if agent == "codex":
                argv, env = codex_command(proxy.origin + "/v1", key, model, home, workdir, sink)
            elif agent == "claude":
                argv, env = claude_command(proxy.origin, key, model, small_model or model, home, sink)
            else:
                raise ValueError(agent)
            start = time.monotonic()
            p = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                out, err = p.communicate(timeout=RUN_TIMEOUT)
                code: int | None = p.returncode
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
                code = None
            seconds = time.monotonic() - start
            stdout = out.decode(errors="replace")
            last = home / "last-message.txt"
            if agent == "codex" and last.exists():
                # `codex exec` prints the final message on stdout too; keep the file's copy
                # in case a version stops doing that.
                stdout += "\n----- last message -----\n" + last.read_text(errors="replace")
            return Run(
                agent=agent,
                argv=argv,
                returncode=code,
                stdout=stdout,
                stderr=err.decode(errors="replace"),
                seconds=seconds,
                requests=proxy.take(),
                outbound=sink.take(),
                workdir=workdir,
                home=home,
            )
        finally:
            sink.close()
