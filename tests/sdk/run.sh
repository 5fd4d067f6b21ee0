#!/usr/bin/env bash
# Runs the OpenAI and Anthropic Python SDK compatibility tests against a real gateway and
# mock upstream.
#
#   cargo build -p modelgate -p modelgate-testkit && bash tests/sdk/run.sh [pytest args...]
#
# Creates (or reuses) a virtualenv at target/sdk-venv and installs tests/sdk/requirements.txt
# into it, skipping pip when the requirements are unchanged since the last install. Builds
# nothing: expects target/debug/modelgate and target/debug/mock-upstream, or the binaries
# named by MODELGATE_BIN and MOCK_BIN. The virtualenv and the binary check come from
# tests/common/setup.sh, shared with tests/agents/run.sh and tests/browser/run.sh. Exits
# with pytest's exit code.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../common/setup.sh" tests/sdk/run.sh
cd "$root"
require_binaries "$root/target"
sdk_venv

set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk "$@"
code=$?
set -e
exit "$code"
