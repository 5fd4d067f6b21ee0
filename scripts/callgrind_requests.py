#!/usr/bin/env python3
"""Instructions per request of a modelgate build, counted by `valgrind --tool=callgrind`.

Instruction counts do not move with the machine's noise, so two builds compare on a shared,
busy machine where wall-clock benchmarks cannot settle a few percent. For each build the
gateway runs under callgrind three times on a fresh data dir (SQLite): idle (start, one
provider, stop), with N non-streamed chat completions, and with N streamed ones, sent one at
a time over one keep-alive connection to the test kit's mock upstream (which runs natively).
Instructions per request = (run total - idle total) / N, so start-up and shutdown cancel out.

    python3 scripts/callgrind_requests.py --gateway-bin target/profiling/modelgate \
        [--gateway-bin other/modelgate ...] [--requests 300]

Needs `target/debug/mock-upstream` (`cargo build -p modelgate-testkit --bins`) and valgrind.
Prints one table row per build; BENCHMARKS.md records the figures.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for_line(proc, prefix, timeout=120):
    """The rest of the first stdout/stderr line that starts with `prefix`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited ({proc.returncode}) before '{prefix}'")
            continue
        text = re.sub(r"\x1b\[[0-9;]*m", "", line.decode(errors="replace"))
        at = text.find(prefix)
        if at >= 0:
            return text[at + len(prefix):].strip().split()[0]
    raise RuntimeError(f"no '{prefix}' within {timeout} s")


def request(conn, method, path, key, body=None):
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
    return data


def run(gateway_bin, mock_origin, requests, stream, workdir):
    """Total instructions of one gateway run serving `requests` chat completions."""
    key = "mg-bench-" + secrets.token_urlsafe(24)
    data = Path(tempfile.mkdtemp(dir=workdir))
    out = data / "callgrind.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    env.update({"MODELGATE_BOOTSTRAP_ADMIN_KEY": key, "RUST_LOG": "warn,modelgate=info"})
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", gateway_bin,
            "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data / "data")]
    gw = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        origin = wait_for_line(gw, "modelgate listening on ")
        host = origin.removeprefix("http://")
        conn = http.client.HTTPConnection(host, timeout=120)
        request(conn, "POST", "/api/providers", key, {
            "name": "mock", "kind": "openai-compatible", "endpoint": mock_origin, "models": ["m1"],
        })
        body = {"model": "mock:m1", "messages": [{"role": "user", "content": "hello there"}],
                "max_tokens": 16}
        if stream:
            body["stream"] = True
        for _ in range(requests):
            request(conn, "POST", "/v1/chat/completions", key, body)
        conn.close()
    finally:
        gw.terminate()
        gw.wait(timeout=300)
    text = out.read_text(errors="replace")
    totals = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not totals:
        raise RuntimeError(f"no totals in {out}")
    return int(totals.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway-bin", action="append", required=True)
    ap.add_argument("--mock-bin", default=str(ROOT / "target/debug/mock-upstream"))
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    mock = subprocess.Popen([args.mock_bin], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        mock_origin = wait_for_line(mock, "mock-upstream listening on ")
        with tempfile.TemporaryDirectory() as workdir:
            print("| build | Ir per non-streamed request | Ir per streamed request |")
            print("|---|---:|---:|")
            for gateway_bin in args.gateway_bin:
                idle = run(gateway_bin, mock_origin, 0, False, workdir)
                full = run(gateway_bin, mock_origin, args.requests, False, workdir)
                streamed = run(gateway_bin, mock_origin, args.requests, True, workdir)
                n = args.requests
                print(f"| `{gateway_bin}` | {(full - idle) / n:,.0f} | {(streamed - idle) / n:,.0f} |",
                      flush=True)
    finally:
        mock.terminate()
        mock.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
