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
# MODELGATE_BIN and MOCK_BIN. Exits with pytest's exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

export MODELGATE_BIN="${MODELGATE_BIN:-$target/debug/modelgate}"
export MOCK_BIN="${MOCK_BIN:-$target/debug/mock-upstream}"
for bin in "$MODELGATE_BIN" "$MOCK_BIN"; do
    if [[ ! -x "$bin" ]]; then
        echo "tests/agents/run.sh: $bin is missing; run: cargo build -p modelgate -p modelgate-testkit --bins" >&2
        exit 2
    fi
done

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

# The Python side: tests/sdk's virtualenv (pytest is all this suite needs from it), at the
# path tests/sdk/run.sh uses.
venv="$root/target/sdk-venv"
requirements="$root/tests/sdk/requirements.txt"
stamp="$venv/.requirements.sha256"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "tests/agents/run.sh: creating virtualenv $venv" >&2
    mkdir -p "$root/target"
    python3 -m venv "$venv"
fi
# Computed exactly as tests/sdk/run.sh does, so the two scripts agree on the stamp.
want="$( { cat "$requirements"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "tests/agents/run.sh: installing $(grep -v '^#' "$requirements" | xargs)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

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
