#!/usr/bin/env bash
# Browser tests of the web UI: Playwright (playwright-core, pinned in package-lock.json)
# driving Debian's Chromium against a real gateway and the mock upstream.
#
#   cargo build -p modelgate -p modelgate-testkit --bins && bash tests/browser/run.sh
#
# Installs Chromium with apt when /usr/bin/chromium is missing (this machine cannot download
# Playwright's own browser builds) and runs `npm ci` when node_modules is missing or stale.
# Builds nothing: expects target/debug/modelgate and target/debug/mock-upstream (under
# $CARGO_TARGET_DIR when set), or the binaries named by MODELGATE_BIN and MOCK_BIN.
# Starts both on 127.0.0.1 port 0 with a temporary data dir, runs ui.spec.mjs (one line
# per check, then "browser: N passed, M failed") and exits with its code. Screenshots of
# every page go to tests/browser/artifacts/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/setup.sh" tests/browser/run.sh
require_binaries "$(cargo_target_dir)"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [[ ! -x "$CHROMIUM" ]]; then
    echo "tests/browser/run.sh: installing chromium with apt" >&2
    sudo=""
    [[ "$(id -u)" != 0 ]] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q chromium >/dev/null 2>&1 || {
        $sudo apt-get update -q >/dev/null
        $sudo apt-get install -y -q chromium >/dev/null
    }
fi

cd "$here"
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "tests/browser/run.sh: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-browser.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ "${keep_logs:-0}" == 1 ]]; then
        echo "tests/browser/run.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The rest of the first stdout line of $1's log starting with $2 (waits up to 30 s).
wait_line() {
    local log="$1" prefix="$2" pid="$3" line
    for _ in $(seq 1 300); do
        line="$(grep -m1 "^$prefix" "$log" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            echo "${line#"$prefix"}"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "tests/browser/run.sh: process exited before printing '$prefix':" >&2
            cat "$log" "$log.err" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "tests/browser/run.sh: timed out waiting for '$prefix'" >&2
    return 1
}

"$MOCK_BIN" --models m1,drip-model,error-429-model >"$work/mock.log" 2>"$work/mock.log.err" &
pids+=($!)
mock_origin="$(wait_line "$work/mock.log" "mock-upstream listening on " "${pids[-1]}")"

admin_key="mg-admin-browser-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# The gateway sees none of the caller's MODELGATE_* settings (database, config, ...).
unset_vars=()
for v in $(compgen -e | grep '^MODELGATE_' || true); do unset_vars+=(-u "$v"); done
env "${unset_vars[@]}" MODELGATE_BOOTSTRAP_ADMIN_KEY="$admin_key" RUST_LOG="${RUST_LOG:-warn}" \
    "$MODELGATE_BIN" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/gateway.log" 2>"$work/gateway.log.err" &
pids+=($!)
origin="$(wait_line "$work/gateway.log" "modelgate listening on " "${pids[-1]}")"
[[ "$origin" == http* ]] || origin="http://$origin"

set +e
MG_ORIGIN="$origin" MG_ADMIN_KEY="$admin_key" MG_MOCK_ORIGIN="$mock_origin" MG_ARTIFACTS="$here/artifacts" \
    timeout 300 node "$here/ui.spec.mjs"
code=$?
set -e
if [[ "$code" != 0 ]]; then
    keep_logs=1
    echo "----- gateway stderr (last 40 lines) -----" >&2
    tail -n 40 "$work/gateway.log.err" >&2 || true
fi
exit "$code"
