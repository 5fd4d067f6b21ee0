#!/usr/bin/env bash
# Runs the OpenAI and Anthropic Python SDK compatibility tests against a real gateway and
# mock upstream.
#
#   cargo build -p modelgate -p modelgate-testkit && bash tests/sdk/run.sh [pytest args...]
#
# Creates (or reuses) a virtualenv at target/sdk-venv and installs tests/sdk/requirements.txt
# into it, skipping pip when the requirements are unchanged since the last install. Builds
# nothing: expects target/debug/modelgate and target/debug/mock-upstream, or the binaries
# named by MODELGATE_BIN and MOCK_BIN. Exits with pytest's exit code.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

export MODELGATE_BIN="${MODELGATE_BIN:-$root/target/debug/modelgate}"
export MOCK_BIN="${MOCK_BIN:-$root/target/debug/mock-upstream}"
for bin in "$MODELGATE_BIN" "$MOCK_BIN"; do
    if [[ ! -x "$bin" ]]; then
        echo "tests/sdk/run.sh: $bin is missing; run: cargo build -p modelgate -p modelgate-testkit" >&2
        exit 2
    fi
done

venv="$root/target/sdk-venv"
requirements="$root/tests/sdk/requirements.txt"
stamp="$venv/.requirements.sha256"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "tests/sdk/run.sh: creating virtualenv $venv" >&2
    mkdir -p "$root/target"
    python3 -m venv "$venv"
fi

# The hash covers the requirements and the interpreter, so either changing reinstalls.
want="$( { cat "$requirements"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "tests/sdk/run.sh: installing $(grep -v '^#' "$requirements" | xargs)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk "$@"
code=$?
set -e
exit "$code"
