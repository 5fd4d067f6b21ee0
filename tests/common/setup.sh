# Shared set-up of the real-client suites' run.sh (tests/sdk, tests/agents, tests/browser):
#
#   source "$here/../common/setup.sh" tests/sdk/run.sh
#
# The argument is how messages name the sourcing script. Sets $script to it and $root to
# the repository's root, and defines the functions below; changes nothing else. Every
# message goes to stderr, prefixed with "$script: ".

script="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Prints the cargo target directory: $CARGO_TARGET_DIR (relative to $root when relative),
# else $root/target.
cargo_target_dir() {
    local target="${CARGO_TARGET_DIR:-$root/target}"
    case "$target" in /*) ;; *) target="$root/$target" ;; esac
    echo "$target"
}

# require_binaries TARGET: exports MODELGATE_BIN and MOCK_BIN (unless already set) as
# TARGET/debug/modelgate and TARGET/debug/mock-upstream, and exits 2 when either is not
# an executable file. Builds nothing.
require_binaries() {
    export MODELGATE_BIN="${MODELGATE_BIN:-$1/debug/modelgate}"
    export MOCK_BIN="${MOCK_BIN:-$1/debug/mock-upstream}"
    local bin
    for bin in "$MODELGATE_BIN" "$MOCK_BIN"; do
        if [[ ! -x "$bin" ]]; then
            echo "$script: $bin is missing; run: cargo build -p modelgate -p modelgate-testkit --bins" >&2
            exit 2
        fi
    done
}

# sdk_venv: creates (or reuses) the virtualenv $root/target/sdk-venv, installs
# tests/sdk/requirements.txt into it unless a stamp says they are already there, and sets
# $venv to it. The stamp hashes the requirements and the interpreter's version, so changing
# either reinstalls; tests/sdk and tests/agents share the virtualenv and its stamp.
sdk_venv() {
    venv="$root/target/sdk-venv"
    local requirements="$root/tests/sdk/requirements.txt"
    local stamp="$venv/.requirements.sha256" want
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "$script: creating virtualenv $venv" >&2
        mkdir -p "$root/target"
        python3 -m venv "$venv"
    fi
    want="$( { cat "$requirements"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "$script: installing $(grep -v '^#' "$requirements" | xargs)" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        echo "$want" >"$stamp"
    fi
}
