#!/usr/bin/env bash
# Runs the real coding agents (Codex CLI and Claude Code, pinned in package-lock.json)
# non-interactively against a real gateway and mock upstreams.
#
#   cargo build -p modelgate -p modelgate-testkit --bins && bash tests/agents/run.sh [pytest args...]
#   bash tests/agents/run.sh --capture-fixtures    # rewrite tests/agents/fixtures/*.json
#
# Installs the agents with `npm ci` into target/agents-node (under $CARGO_TARGET_DIR when
# set), skipping npm when package.json, package-lock.json and node are unchanged since the
# last install; nothing is installed globally and nothing is downloaded except from the npm
# registry. Reuses the virtualenv of tests/sdk (target/sdk-venv, same requirements and the
# same stamp, so either script keeps it current for the other). Builds nothing: expects
# target/debug/modelgate and target/debug/mock-upstream, or the binaries named by
# MODELGATE_BIN and MOCK_BIN. The virtualenv and the binary check come from
# tests/common/setup.sh, shared with tests/sdk/run.sh and tests/browser/run.sh. Exits with
# pytest's exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/setup.sh" tests/agents/run.sh
cd "$root"
target="$(cargo_target_dir)"
require_binaries "$target"

# The agents, from npm only.
agents="$target/agents-node"
export AGENTS_NODE="$agents"
agents_stamp="$agents/.install.sha256"
agents_want="$( { cat "$here/package.json" "$here/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$agents_stamp" || "$(cat "$agents_stamp")" != "$agents_want" \
      || ! -x "$agents/node_modules/.bin/codex" || ! -x "$agents/node_modules/.bin/claude" ]]; then
    echo "tests/agents/run.sh: npm ci into $agents" >&2
    mkdir -p "$agents"
    rm -f "$agents_stamp"
    cp "$here/package.json" "$here/package-lock.json" "$agents/"
    (cd "$agents" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$agents_want" >"$agents_stamp"
fi
# Claude Code's postinstall copies the platform's native binary over a placeholder
# (bin/claude.exe); run it by hand if npm skipped install scripts.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-agents-home.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
if ! HOME="$scratch" "$agents/node_modules/.bin/claude" --version >/dev/null 2>&1; then
    echo "tests/agents/run.sh: running Claude Code's postinstall" >&2
    (cd "$agents/node_modules/@anthropic-ai/claude-code" && node install.cjs >&2)
fi
versions="$(HOME="$scratch" CODEX_HOME="$scratch" "$agents/node_modules/.bin/codex" --version 2>/dev/null | tail -1), $(HOME="$scratch" "$agents/node_modules/.bin/claude" --version 2>/dev/null)"

# The Python side: tests/sdk's virtualenv (pytest is all this suite needs from it), set up
# by the same function as tests/sdk/run.sh uses.
sdk_venv

echo "tests/agents/run.sh: $versions" >&2

set +e
if [[ "${1:-}" == "--capture-fixtures" ]]; then
    "$venv/bin/python" "$here/capture_fixtures.py"
else
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -rfE tests/agents "$@"
fi
code=$?
set -e
exit "$code"
