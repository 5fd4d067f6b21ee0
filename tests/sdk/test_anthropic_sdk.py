"""The official Anthropic Python SDK against modelgate's /v1/messages, fronting the mock
upstream two ways:

* `mock` (OpenAI-compatible): the gateway translates Anthropic <-> OpenAI. The mock answers
  "Hello from the mock upstream." with 7 prompt tokens (2 cached) and streams "Hel", "lo1",
  "lo2"; it never calls tools.
* `claude` (kind `anthropic`): the gateway passes the request through with the provider's
  `x-api-key` and the caller's `anthropic-version`/`anthropic-beta`. The mock's Messages
  endpoint answers the same text, streams "Hel" + "lo", answers models named `*tool*` with a
  tool_use of the first tool (input {"city": "Paris"}), and counts every prompt as 11 tokens.

Clients are made with `max_retries=0`, so error tests are fast and every request is counted
once (see test_usage_counts_requests in test_openai_sdk.py).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from typing import Any

import anthropic
import pytest

from weather import ANTHROPIC_WEATHER_TOOL as WEATHER_TOOL

ANSWER = "Hello from the mock upstream."
OPENAI_STREAMED = "Hello1lo2"  # the OpenAI mock's three stream chunks
ANTHROPIC_STREAMED = "Hello"  # the Anthropic mock's two text deltas
PROMPT_TOKENS = 7  # what both mock endpoints report, cached tokens included
CACHED_TOKENS = 2
ANTHROPIC_OUTPUT_TOKENS = 5
MAX_TOKENS = 64
MESSAGES = [{"role": "user", "content": "Say hello."}]

# The same mock model addressed the ways the gateway accepts.
OPENAI_BACKED = ["mock/m1", "mock:m1", "m1"]
ANTHROPIC_BACKED = ["claude:claude-x", "claude/claude-x", "claude-x"]


def text_of(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


# --- Anthropic SDK -> OpenAI-schema provider (translated) --------------------------------


@pytest.mark.parametrize("model", OPENAI_BACKED)
def test_translated_non_stream(claude, model):
    m = claude.messages.create(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert m.type == "message"
    assert m.role == "assistant"
    assert m.id
    assert len(m.content) == 1
    assert m.content[0].type == "text"
    assert m.content[0].text == ANSWER
    assert m.stop_reason == "end_turn"
    # Anthropic's input_tokens leaves out cache reads; together they are the prompt.
    assert m.usage.input_tokens + (m.usage.cache_read_input_tokens or 0) == PROMPT_TOKENS
    assert m.usage.cache_read_input_tokens == CACHED_TOKENS
    assert m.usage.output_tokens == len(ANSWER.split(" "))


def test_translated_raw_response_headers(claude):
    raw = claude.messages.with_raw_response.create(model="mock/m1", max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert text_of(raw.parse()) == ANSWER


@pytest.mark.parametrize("model", OPENAI_BACKED)
def test_translated_stream_helper(claude, model):
    with claude.messages.stream(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == OPENAI_STREAMED
    assert text_of(final) == OPENAI_STREAMED
    assert final.stop_reason == "end_turn"
    assert final.usage is not None
    assert final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0) == PROMPT_TOKENS
    assert final.usage.output_tokens == 3  # the mock reports one token per chunk


def test_translated_stream_events(claude):
    """The raw event sequence has Anthropic's grammar."""
    stream = claude.messages.create(model="mock/m1", max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)
    events = list(stream)
    types = [e.type for e in events]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert types[-2] == "message_delta"
    assert "content_block_start" in types and "content_block_stop" in types
    assert types.index("content_block_start") < types.index("content_block_delta") < types.index("content_block_stop")
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == OPENAI_STREAMED
    assert events[-2].delta.stop_reason == "end_turn"


def test_translated_system_prompt(claude):
    m = claude.messages.create(
        model="mock/m1",
        max_tokens=MAX_TOKENS,
        system="You are terse.",
        messages=MESSAGES,
    )
    assert text_of(m) == ANSWER
    m = claude.messages.create(
        model="mock/m1",
        max_tokens=MAX_TOKENS,
        system=[{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Be kind."}],
        messages=MESSAGES,
        stop_sequences=["\n\n"],
        metadata={"user_id": "sdk-test"},
    )
    assert text_of(m) == ANSWER


def test_translated_tools_conversation(claude):
    """A full tool round trip (tools, a tool_use turn, a tool_result turn) translates."""
    m = claude.messages.create(
        model="mock:m1",
        max_tokens=MAX_TOKENS,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto"},
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C and sunny"},
                    {"type": "text", "text": "Summarise it."},
                ],
            },
        ],
    )
    assert text_of(m) == ANSWER
    assert m.stop_reason == "end_turn"


def test_translated_count_tokens(claude):
    r = claude.messages.count_tokens(model="mock/m1", messages=MESSAGES, system="You are terse.")
    assert isinstance(r.input_tokens, int)
    assert r.input_tokens > 0


# --- Anthropic SDK -> anthropic provider (pass-through) ----------------------------------


@pytest.mark.parametrize("model", ANTHROPIC_BACKED)
def test_passthrough_non_stream(claude, model):
    m = claude.messages.create(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert m.type == "message"
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == ANSWER
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens == PROMPT_TOKENS
    assert m.usage.output_tokens == ANTHROPIC_OUTPUT_TOKENS
    assert m.usage.cache_read_input_tokens == CACHED_TOKENS


@pytest.mark.parametrize("model", ANTHROPIC_BACKED)
def test_passthrough_stream_helper(claude, model):
    with claude.messages.stream(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ANTHROPIC_STREAMED
    assert text_of(final) == ANTHROPIC_STREAMED
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == PROMPT_TOKENS
    assert final.usage.output_tokens == ANTHROPIC_OUTPUT_TOKENS


def test_passthrough_tool_use(claude):
    m = claude.messages.create(
        model="claude:claude-tool",
        max_tokens=MAX_TOKENS,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
    )
    assert m.stop_reason == "tool_use"
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == WEATHER_TOOL["name"]
    assert uses[0].input == {"city": "Paris"}
    assert uses[0].id


def test_passthrough_tool_use_stream(claude):
    with claude.messages.stream(
        model="claude-tool",
        max_tokens=MAX_TOKENS,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
    ) as stream:
        partial = "".join(e.partial_json for e in stream if e.type == "input_json")
        final = stream.get_final_message()
    assert json.loads(partial) == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [(WEATHER_TOOL["name"], {"city": "Paris"})]


def test_passthrough_anthropic_beta_header(claude):
    m = claude.messages.create(
        model="claude:claude-x",
        max_tokens=MAX_TOKENS,
        messages=MESSAGES,
        extra_headers={"anthropic-beta": "some-beta"},
    )
    assert text_of(m) == ANSWER
    with claude.messages.stream(
        model="claude:claude-x",
        max_tokens=MAX_TOKENS,
        messages=MESSAGES,
        extra_headers={"anthropic-beta": "some-beta,other-beta"},
    ) as stream:
        assert "".join(stream.text_stream) == ANTHROPIC_STREAMED


def test_passthrough_beta_namespace(claude):
    """The SDK's beta namespace sends `anthropic-beta` itself."""
    m = claude.beta.messages.create(
        model="claude:claude-x",
        max_tokens=MAX_TOKENS,
        messages=MESSAGES,
        betas=["some-beta"],
    )
    assert text_of(m) == ANSWER


def test_passthrough_count_tokens(claude):
    r = claude.messages.count_tokens(model="claude:claude-x", messages=MESSAGES)
    assert r.input_tokens == 11
    r = claude.messages.count_tokens(model="claude-tool", messages=MESSAGES, tools=[WEATHER_TOOL])
    assert r.input_tokens == 11


# --- auth styles ------------------------------------------------------------------------


def _recorder(seen: list[Any]):
    def on_request(request: Any) -> None:
        seen.append(request.headers)

    return on_request


@pytest.mark.parametrize("model", ["mock/m1", "claude:claude-x"])
@pytest.mark.parametrize("style", ["api_key", "auth_token", "x-api-key"])
def test_auth_styles(gateway, model, style):
    """The SDK's `api_key=` and `auth_token=` (both `Authorization: Bearer` in SDK 2.x) and a
    bare `x-api-key` header all authenticate, for messages, streams and count_tokens."""
    seen: list[Any] = []
    creds = {
        "api_key": {"api_key": gateway.key},
        "auth_token": {"auth_token": gateway.key},
        "x-api-key": {"api_key": gateway.key, "x_api_key": True},
    }[style]
    with gateway.anthropic_for(on_request=_recorder(seen), **creds) as c:
        m = c.messages.create(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES)
        with c.messages.stream(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES) as stream:
            text = "".join(stream.text_stream)
        n = c.messages.count_tokens(model=model, messages=MESSAGES)
    assert text_of(m) == ANSWER
    assert text == (OPENAI_STREAMED if model.startswith("mock") else ANTHROPIC_STREAMED)
    assert n.input_tokens > 0
    assert len(seen) == 3
    for h in seen:
        if style == "x-api-key":
            assert h.get("x-api-key") == gateway.key
            assert "authorization" not in h
        else:
            assert h.get("authorization") == f"Bearer {gateway.key}"
            assert "x-api-key" not in h


def test_other_base_url(gateway):
    """The OpenAI-compatible prefix serves /v1/messages too."""
    with gateway.anthropic_for(base_url=gateway.origin + "/api/openai") as c:
        m = c.messages.create(model="claude:claude-x", max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert text_of(m) == ANSWER


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
def test_wrong_key_is_authentication_error(gateway, style):
    bad = "mg-not-a-real-key-0000000000"
    creds = {"api_key": bad, "x_api_key": style == "x-api-key"}
    # A fresh client (so a fresh connection) per request: after a 401 the gateway may close
    # a kept-alive connection without saying so (see test_connection_reusable_after_401).
    with gateway.anthropic_for(**creds) as c:
        with pytest.raises(anthropic.AuthenticationError) as e:
            c.messages.create(model="mock/m1", max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert e.value.status_code == 401
    assert isinstance(e.value.body, dict)
    assert e.value.body.get("type") == "error"
    assert e.value.body["error"]["type"] == "authentication_error"
    with gateway.anthropic_for(**creds) as c:
        with pytest.raises(anthropic.AuthenticationError):
            c.messages.count_tokens(model="claude:claude-x", messages=MESSAGES)
    with gateway.anthropic_for(**creds) as c:
        with pytest.raises(anthropic.AuthenticationError):
            with c.messages.stream(model="claude:claude-x", max_tokens=MAX_TOKENS, messages=MESSAGES) as s:
                s.until_done()


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_connection_reusable_after_401(gateway, path):
    """What an SDK does with a wrong key, made deterministic: the request's headers and body
    arrive in separate TCP segments (httpx writes them separately), then the connection is
    reused. The second request must get an answer, or the first response must have said
    `Connection: close`."""
    body = json.dumps({"model": "mock/m1", "max_tokens": 5, "messages": MESSAGES}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {gateway.origin.removeprefix('http://')}\r\n"
        "x-api-key: mg-not-a-real-key-0000000000\r\nanthropic-version: 2023-06-01\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = gateway.origin.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        responses = []
        for i in range(2):
            raw = b""
            try:
                sock.sendall(head)
                time.sleep(0.1)  # the gateway answers from the headers alone
                sock.sendall(body)
                while b"\r\n\r\n" not in raw:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
            except (BrokenPipeError, ConnectionResetError) as e:
                raise AssertionError(f"request {i + 1}: the gateway closed the connection ({e}); "
                                     f"earlier responses: {responses}") from e
            if not raw:
                break
            head_text, _, rest = raw.partition(b"\r\n\r\n")
            headers = head_text.decode().lower()
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            while len(rest) < length:
                rest += sock.recv(65536)
            responses.append(headers)
            if "connection: close" in headers:
                return  # the gateway said it would close: fine
    assert len(responses) == 2, responses
    assert all(r.startswith("http/1.1 401") for r in responses), responses


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_unknown_model_is_not_found(claude, stream):
    with pytest.raises(anthropic.NotFoundError) as e:
        r = claude.messages.create(model="no-such-model", max_tokens=MAX_TOKENS, messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert e.value.status_code == 404
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model="no-such-model", messages=MESSAGES)


@pytest.mark.parametrize("model", ["claude:claude-error-500", "mock:error-500"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_upstream_500_is_relayed(claude, model, stream):
    with pytest.raises(anthropic.APIStatusError) as e:
        r = claude.messages.create(model=model, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert isinstance(e.value, anthropic.InternalServerError)
    assert e.value.status_code == 500
    assert "mock exploded" in e.value.message
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "api_error"


def test_invalid_request_is_bad_request(claude):
    """No max_tokens: the pass-through relays the upstream's 400 in Anthropic's shape."""
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="claude:claude-x", messages=MESSAGES, max_tokens=None)  # type: ignore[arg-type]
    assert e.value.status_code == 400
    assert e.value.body["error"]["type"] == "invalid_request_error"


def test_broken_stream_raises(claude):
    stream = claude.messages.create(model="mock:break-model", max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)
    text = ""
    with pytest.raises(anthropic.APIError) as e:
        for event in stream:
            if event.type == "content_block_delta":
                text += event.delta.text
    # Only the two chunks sent before the cut arrived; the error came in the stream, after
    # the 200.
    assert text == "Hello1"
    # An Anthropic `error` event: the SDK raises it as an APIStatusError (of the 200).
    assert isinstance(e.value, anthropic.APIStatusError)
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "api_error"
    assert "broke" in e.value.body["error"]["message"]


def test_broken_stream_helper_raises(claude):
    with pytest.raises(anthropic.APIError):
        with claude.messages.stream(model="mock:break-model", max_tokens=MAX_TOKENS, messages=MESSAGES) as stream:
            for _ in stream.text_stream:
                pass


def test_truncated_passthrough_stream(claude):
    """An Anthropic upstream stream that ends without message_stop is not a complete answer;
    the client should learn of it (an error event) rather than see a normal end."""
    stream = claude.messages.create(model="claude:claude-truncate", max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)
    types = []
    with pytest.raises(anthropic.APIError):
        for event in stream:
            types.append(event.type)
    assert "message_stop" not in types


# --- what reaches an Anthropic upstream ---------------------------------------------------
#
# A small recording server stands in for Anthropic as provider `spy`, so the tests can see
# the headers and body the gateway sends upstream.

SPY_UPSTREAM_KEY = "sk-ant-spy-upstream"


class _SpyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        req = json.loads(body or b"{}")
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, req))
        if self.path.endswith("/count_tokens"):
            self._send("application/json", json.dumps({"input_tokens": 3}).encode())
            return
        usage = {"input_tokens": 4, "output_tokens": 2}
        if not req.get("stream"):
            msg = {"id": "msg_spy", "type": "message", "role": "assistant", "model": req.get("model"),
                   "content": [{"type": "text", "text": "spied"}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
            self._send("application/json", json.dumps(msg).encode())
            return
        events = [
            ("message_start", {"type": "message_start", "message": {"id": "msg_spy", "type": "message", "role": "assistant",
             "model": req.get("model"), "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "spied"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 2}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._send("text/event-stream", "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events).encode())

    def _send(self, ctype: str, data: bytes):
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def spy(gateway):
    """A recording Anthropic upstream, registered as provider `spy` (model `spy-model`);
    yields its list of (path, headers, body) requests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SpyHandler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = gateway.admin(
            "POST",
            "/api/providers",
            {"name": "spy", "kind": "anthropic", "endpoint": f"http://127.0.0.1:{server.server_port}",
             "api_key": SPY_UPSTREAM_KEY, "models": ["spy-model"]},
        )
        assert status == 201, body
        yield server.seen
    finally:
        server.shutdown()
        server.server_close()


def _assert_upstream_auth(headers: dict[str, str], gateway) -> None:
    """The upstream sees the provider's key as x-api-key and never the caller's key."""
    assert headers.get("x-api-key") == SPY_UPSTREAM_KEY
    assert gateway.key not in " ".join(headers.values())
    assert "authorization" not in headers or SPY_UPSTREAM_KEY in headers["authorization"]


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
def test_passthrough_upstream_headers(gateway, spy, style):
    sent: list[Any] = []
    with gateway.anthropic_for(x_api_key=style == "x-api-key", on_request=_recorder(sent)) as c:
        spy.clear()
        m = c.messages.create(
            model="spy:spy-model",
            max_tokens=MAX_TOKENS,
            messages=MESSAGES,
            extra_headers={"anthropic-beta": "some-beta,other-beta"},
        )
        assert text_of(m) == "spied"
        with c.messages.stream(model="spy/spy-model", max_tokens=MAX_TOKENS, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream) == "spied"
        assert c.messages.count_tokens(model="spy-model", messages=MESSAGES).input_tokens == 3
    assert [p for p, _, _ in spy] == ["/v1/messages", "/v1/messages", "/v1/messages/count_tokens"]
    for (_, headers, body), client_req in zip(spy, sent):
        _assert_upstream_auth(headers, gateway)
        # The caller's anthropic-version is carried over; the model loses its provider prefix.
        assert headers.get("anthropic-version") == client_req.get("anthropic-version")
        assert body["model"] == "spy-model"
    assert spy[0][1].get("anthropic-beta") == "some-beta,other-beta"
    assert spy[0][2]["max_tokens"] == MAX_TOKENS
    assert spy[0][2]["messages"] == MESSAGES
    assert spy[1][2]["stream"] is True


def test_openai_client_upstream_headers(gateway, spy):
    """An OpenAI chat client reaching an Anthropic upstream: the gateway adds x-api-key, an
    anthropic-version and a max_tokens (Anthropic requires it)."""
    with gateway.client_for() as c:
        spy.clear()
        r = c.chat.completions.create(
            model="spy/spy-model",
            messages=[{"role": "system", "content": "Be terse."}, *MESSAGES],
        )
        assert r.choices[0].message.content == "spied"
        assert r.usage.prompt_tokens == 4 and r.usage.completion_tokens == 2
    [(path, headers, body)] = spy
    assert path == "/v1/messages"
    _assert_upstream_auth(headers, gateway)
    assert headers.get("anthropic-version")
    assert body["model"] == "spy-model"
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] > 0
    # The system message moves to `system`; content may come as a string or text blocks.
    assert [m["role"] for m in body["messages"]] == ["user"]
    content = body["messages"][0]["content"]
    assert content == "Say hello." or content == [{"type": "text", "text": "Say hello."}]
    assert body["system"] in ("Be terse.", [{"type": "text", "text": "Be terse."}])
