"""A recording reverse proxy on 127.0.0.1: every request an agent sends is kept (method,
path, headers, body; bodies sent with `content-encoding: gzip`, `deflate` or `zstd` are
decoded when the codec is available), then forwarded to `upstream` and its answer relayed
chunk by chunk, so the agent sees the real gateway (or mock) behind it.

The suite puts one in front of the gateway for every agent run, so a failing run shows
what the agent sent; `capture_fixtures.py` uses it to write the golden request samples in
fixtures/.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import json
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Hop-by-hop headers, not forwarded either way.
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclasses.dataclass
class Captured:
    method: str
    path: str  # with the query string
    headers: list[tuple[str, str]]
    body: bytes  # decoded when it was compressed
    encoding: str | None  # the content-encoding it came with
    status: int | None = None  # the upstream's answer
    response_head: bytes = b""  # the first bytes of the answer (errors are short)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def _decode(body: bytes, encoding: str | None) -> bytes:
    enc = (encoding or "").strip().lower()
    try:
        if enc == "gzip":
            return gzip.decompress(body)
        if enc == "deflate":
            return zlib.decompress(body)
        if enc == "zstd":
            try:
                import zstandard  # type: ignore[import-not-found]
            except ImportError:
                return body
            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    except Exception:  # noqa: BLE001 - keep the raw bytes when a body does not decode
        return body
    return body


class LogProxy:
    """`LogProxy(upstream_origin)`; `.origin` is where agents should connect."""

    def __init__(self, upstream: str):
        u = urllib.parse.urlsplit(upstream)
        assert u.scheme == "http" and u.hostname, upstream
        self._up_host, self._up_port = u.hostname, u.port or 80
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    raw = self._read_chunked()
                else:
                    raw = self.rfile.read(length) if length else b""
                enc = self.headers.get("content-encoding")
                cap = Captured(
                    method=self.command,
                    path=self.path,
                    headers=list(self.headers.items()),
                    body=_decode(raw, enc),
                    encoding=enc,
                )
                with proxy._lock:
                    proxy.requests.append(cap)
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
                fwd["Host"] = f"{proxy._up_host}:{proxy._up_port}"
                fwd["Content-Length"] = str(len(raw))
                conn = http.client.HTTPConnection(proxy._up_host, proxy._up_port, timeout=120)
                try:
                    conn.request(self.command, self.path, body=raw if raw else None, headers=fwd)
                    resp = conn.getresponse()
                except OSError as e:
                    cap.status = 502
                    msg = json.dumps({"error": {"message": f"logproxy: upstream unreachable: {e}"}}).encode()
                    self.send_response(502)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                cap.status = resp.status
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    while True:
                        chunk = resp.read1(65536)
                        if not chunk:
                            break
                        if len(cap.response_head) < 4096:
                            cap.response_head += chunk[: 4096 - len(cap.response_head)]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True
                finally:
                    conn.close()

            def _read_chunked(self) -> bytes:
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self) -> list[Captured]:
        """The requests recorded since the last call."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LogProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Sinkhole:
    """An HTTP(S) forward proxy that forwards nothing: agents get it as HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY (with NO_PROXY=127.0.0.1,localhost), so any attempt to reach
    the internet (update checks, telemetry, feature flags, model catalogs) is recorded in
    `.attempts` ("CONNECT host:443" or "GET http://...") and refused at once with 403,
    instead of hanging on DNS in a sandbox or leaving the machine elsewhere."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _refuse(self) -> None:
                with sink._lock:
                    sink.attempts.append(f"{self.command} {self.path}")
                length = int(self.headers.get("content-length") or 0)
                if length and self.command != "CONNECT":
                    self.rfile.read(length)
                self.send_response(403)
                self.send_header("content-length", "0")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True

            do_CONNECT = do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self) -> list[str]:
        with self._lock:
            out, self.attempts = self.attempts, []
        return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
