#!/usr/bin/env bash
# The whole test suite, from a fresh clone: services up, Rust unit + black-box tests (the
# store conformance suite on SQLite and PostgreSQL included), the black-box suite again on
# PostgreSQL, the real-client suite with the official OpenAI Python SDK, the coding agents
# (Codex CLI and Claude Code, pinned in tests/agents/package-lock.json), then the web UI in
# Chromium (Playwright). Prints one summary line at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/services

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo test (workspace)"
cargo build --locked -p modelgate -p modelgate-testkit --bins
cargo test --locked --workspace 2>&1 | tee "$log"
rust_passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^passed;?$/) s += $(i-1)} END {print s + 0}' "$log")
rust_failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^failed;?$/) s += $(i-1)} END {print s + 0}' "$log")

echo "== black-box suite again, on PostgreSQL (a private schema per gateway)"
MODELGATE_TEST_BACKEND=postgres cargo test --locked -p modelgate --tests 2>&1 | tee "$log"
pg_passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^passed;?$/) s += $(i-1)} END {print s + 0}' "$log")
pg_failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^failed;?$/) s += $(i-1)} END {print s + 0}' "$log")
rust_passed=$((rust_passed + pg_passed))
rust_failed=$((rust_failed + pg_failed))

echo "== OpenAI Python SDK against the gateway"
bash tests/sdk/run.sh 2>&1 | tee "$log"
py_passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
py_failed=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

echo "== coding agents (Codex CLI, Claude Code) against the gateway"
bash tests/agents/run.sh 2>&1 | tee "$log"
ag_passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
ag_failed=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

echo "== web UI in Chromium (Playwright)"
bash tests/browser/run.sh 2>&1 | tee "$log"
ui_passed=$(grep -Eo 'browser: [0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
ui_failed=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

echo
echo "tests: $((rust_passed + py_passed + ag_passed + ui_passed)) passed, $((rust_failed + py_failed + ag_failed + ui_failed)) failed"
