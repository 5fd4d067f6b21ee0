"""The official OpenAI Python SDK's Responses API (`client.responses`) through the gateway,
on every backend kind the gateway serves `POST /v1/responses` with:

* `native`: an OpenAI-schema upstream with its own Responses route, passed through (provider
  `native`, kind `openai-compatible`, `responses_api: native`). The upstream is a small
  stand-in written here (`_ResponsesHandler`) that speaks the Responses API the way
  OpenAI does, every event with its indexes and sequence number, and records what it
  receives; the mock upstream's own Responses route is too sketchy for the SDK's stream
  helper. The normal mock (provider `mock`, the default `auto`) is used at the end.
* `chat-only`: an OpenAI-compatible server without the Responses route (`mock-upstream
  --chat-only`, provider `vllm`, the default `auto`): the gateway learns it from the first
  404 and translates to chat completions.
* `anthropic`: translated to Anthropic Messages (provider `claude` on the mock).
* `aws-bedrock`: translated to Bedrock Converse / ConverseStream (provider `bedrock` on the
  mock, SigV4-signed).

Per backend: a plain answer, the stream (through `responses.stream` and through
`create(stream=True)`) in the event order OpenAI sends, a function call and its output sent
back, `instructions`, a JSON-schema text format, a built-in tool refused by name where it
cannot run, and the usage records.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from typing import Any

import openai
import pytest

from conftest import CHAT_ONLY_MODELS
from weather import RESPONSES_WEATHER_TOOL as WEATHER_TOOL
from weather import city_schema

ANSWER = "Hello from the mock upstream."  # the mock's non-streamed text on every route
MAX_OUTPUT_TOKENS = 64
INPUT = [{"role": "user", "content": "What's the weather in Paris?"}]
CITY_FORMAT = {
    "format": {
        "type": "json_schema",
        "name": "city",
        "schema": city_schema(additionalProperties=False),
        "strict": True,
    }
}

# --- the native stand-in ------------------------------------------------------------------

STANDIN_TEXT_PIECES = ["Hello", " from the", " native Responses API."]
STANDIN_TEXT = "".join(STANDIN_TEXT_PIECES)
STANDIN_ARGUMENT_PIECES = ['{"city":', ' "Paris"}']
STANDIN_USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 3},
    "output_tokens": 6,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 17,
}
STANDIN_MODELS = ["gpt-standin", "gpt-standin-tool"]
# Request fields OpenAI repeats in its response objects.
ECHOED = ("instructions", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p",
          "max_output_tokens", "metadata", "text", "store", "previous_response_id", "truncation")


class _ResponsesHandler(http.server.BaseHTTPRequestHandler):
    """`POST /v1/responses` as OpenAI answers it: a text answer, or, for a model named
    `*tool*` with function tools whose last input item is not a function call output, a
    call of the first function tool with arguments {"city": "Paris"}."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        if self.path != "/v1/models":
            return self._send(404, "application/json", b'{"error": {"message": "no such route"}}')
        data = [{"id": m, "object": "model", "created": 1, "owned_by": "standin"} for m in STANDIN_MODELS]
        self._send(200, "application/json", json.dumps({"object": "list", "data": data}).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        req = json.loads(body or b"{}")
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, req))
        if self.path != "/v1/responses":
            return self._send(404, "application/json", b'{"error": {"message": "no such route"}}')
        self.server.count += 1
        n = self.server.count
        base = {
            "id": f"resp_standin{n}", "object": "response", "created_at": 1700000000 + n,
            "status": "in_progress", "error": None, "incomplete_details": None,
            "model": req.get("model"), "output": [], "usage": None,
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "text": {"format": {"type": "text"}}, "store": True, "metadata": {},
        }
        base.update({k: req[k] for k in ECHOED if k in req})
        items = req.get("input")
        last = items[-1] if isinstance(items, list) and items else {}
        tools = [t for t in req.get("tools") or [] if t.get("type") == "function"]
        call = (
            "tool" in str(req.get("model")) and tools
            and not (isinstance(last, dict) and last.get("type") == "function_call_output")
        )
        if call:
            item = {"id": f"fc_standin{n}", "type": "function_call", "status": "completed",
                    "call_id": f"call_standin{n}", "name": tools[0]["name"],
                    "arguments": "".join(STANDIN_ARGUMENT_PIECES)}
        else:
            item = {"id": f"msg_standin{n}", "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": STANDIN_TEXT, "annotations": [], "logprobs": []}]}
        done = {**base, "status": "completed", "output": [item], "usage": STANDIN_USAGE}
        if not req.get("stream"):
            return self._send(200, "application/json", json.dumps(done).encode())
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": base},
            {"type": "response.in_progress", "response": base},
        ]
        at = {"item_id": item["id"], "output_index": 0}
        if call:
            events.append({"type": "response.output_item.added", "output_index": 0,
                           "item": {**item, "status": "in_progress", "arguments": ""}})
            for piece in STANDIN_ARGUMENT_PIECES:
                events.append({"type": "response.function_call_arguments.delta", **at, "delta": piece})
            events.append({"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]})
        else:
            at["content_index"] = 0
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append({"type": "response.output_item.added", "output_index": 0,
                           "item": {**item, "status": "in_progress", "content": []}})
            events.append({"type": "response.content_part.added", **at, "part": empty})
            for piece in STANDIN_TEXT_PIECES:
                events.append({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []})
            events.append({"type": "response.output_text.done", **at, "text": STANDIN_TEXT, "logprobs": []})
            events.append({"type": "response.content_part.done", **at, "part": item["content"][0]})
        events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
        events.append({"type": "response.completed", "response": done})
        wire = "".join(
            f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': i})}\n\n"
            for i, e in enumerate(events)
        )
        self._send(200, "text/event-stream", wire.encode())

    def _send(self, status: int, content_type: str, data: bytes):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def standin():
    """The native Responses stand-in; yields its server (`seen`: (path, headers, body))."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ResponsesHandler)
    server.seen = []
    server.count = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def providers(gateway, chat_only_upstream, standin):
    """Registers `native` (the stand-in, responses_api native) and `vllm` (the chat-only
    mock, default responses_api); removes them afterwards."""
    specs = [
        {"name": "native", "kind": "openai-compatible", "endpoint": f"http://127.0.0.1:{standin.server_port}",
         "models": STANDIN_MODELS, "responses_api": "native"},
        {"name": "vllm", "kind": "openai-compatible", "endpoint": chat_only_upstream, "models": CHAT_ONLY_MODELS},
    ]
    for spec in specs:
        status, body = gateway.admin("POST", "/api/providers", spec)
        assert status == 201, (spec, status, body)
    status, body = gateway.admin("GET", "/api/providers/vllm")
    assert status == 200 and body["responses_api"] == "auto", body
    yield
    for spec in specs:
        status, body = gateway.admin("DELETE", f"/api/providers/{spec['name']}")
        assert status == 204, body


# --- the backends ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Backend:
    provider: str
    model: str  # upstream id of a model that answers with text
    tool_model: str  # upstream id of a model that calls the request's first tool
    answer: str  # non-streamed output_text
    streamed: str  # streamed output_text
    input_tokens: int  # Responses input_tokens: cache reads included
    cached_tokens: int
    output_tokens: int
    stream_output_tokens: int

    def ref(self, tool: bool = False) -> str:
        return f"{self.provider}/{self.tool_model if tool else self.model}"


BACKENDS = {
    "native": Backend("native", "gpt-standin", "gpt-standin-tool", STANDIN_TEXT, STANDIN_TEXT, 11, 3, 6, 6),
    # The mock's chat stream is "Hel" "lo1" "lo2"; its usage counts 3 chunks as tokens.
    "chat-only": Backend("vllm", "llama-chat", "llama-tool", ANSWER, "Hello1lo2", 7, 2, 5, 3),
    # Anthropic and Bedrock report 7 input tokens besides 2 cache reads.
    "anthropic": Backend("claude", "claude-x", "claude-tool", ANSWER, "Hello", 9, 2, 5, 5),
    "aws-bedrock": Backend("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.tool-model",
                           ANSWER, "Hello", 9, 2, 5, 5),
}
TRANSLATED = [k for k in BACKENDS if k != "native"]


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request, providers) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def oai(gateway):
    with gateway.client_for() as c:
        yield c


def _check_usage(usage, input_tokens: int, cached: int, output: int) -> None:
    assert usage is not None
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens, usage.output_tokens) == (
        input_tokens, cached, output), usage
    assert usage.total_tokens == input_tokens + output, usage


def _standin_last(standin) -> dict:
    path, _, body = standin.seen[-1]
    assert path == "/v1/responses"
    return body


# --- a plain answer ----------------------------------------------------------------------


def test_create(oai, backend, standin):
    r = oai.responses.create(model=backend.ref(), input="Say hello.", instructions="Be brief.",
                             max_output_tokens=MAX_OUTPUT_TOKENS, metadata={"ticket": "7"})
    assert r.object == "response"
    assert r.status == "completed", r
    assert r.id.startswith("resp_"), r.id
    assert r.output_text == backend.answer
    assert [o.type for o in r.output] == ["message"], r.output
    assert r.output[0].role == "assistant"
    _check_usage(r.usage, backend.input_tokens, backend.cached_tokens, backend.output_tokens)
    assert r.instructions == "Be brief."
    assert r.metadata == {"ticket": "7"}
    assert r.max_output_tokens == MAX_OUTPUT_TOKENS
    if backend.provider == "native":
        sent = _standin_last(standin)
        # Passed through: only the model is the upstream's id.
        assert sent == {"model": backend.model, "input": "Say hello.", "instructions": "Be brief.",
                        "max_output_tokens": MAX_OUTPUT_TOKENS, "metadata": {"ticket": "7"}}, sent


# --- streams -----------------------------------------------------------------------------

TEXT_STREAM = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",  # one or more
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def _collapse(types: list[str]) -> list[str]:
    """Runs of the same delta event as one."""
    out: list[str] = []
    for t in types:
        if not (out and out[-1] == t and t.endswith(".delta")):
            out.append(t)
    return out


def _check_sequence_numbers(events) -> None:
    assert [e.sequence_number for e in events] == list(range(len(events))), [
        (e.type, e.sequence_number) for e in events
    ]


def _check_text_stream(events, backend: Backend):
    """The events of a streamed text answer, in OpenAI's order; returns the final response."""
    types = [e.type for e in events]
    assert _collapse(types) == TEXT_STREAM, types
    _check_sequence_numbers(events)
    created, in_progress, added, part_added = events[:4]
    assert created.response.status == "in_progress", created
    assert created.response.id == in_progress.response.id
    assert added.item.type == "message" and added.output_index == 0, added
    item_id = added.item.id
    assert item_id
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    text_done, part_done, item_done, completed = events[-4:]
    for e in [part_added, *deltas, text_done, part_done]:
        assert (e.item_id, e.output_index, e.content_index) == (item_id, 0, 0), e
    assert "".join(d.delta for d in deltas) == backend.streamed
    assert text_done.text == backend.streamed
    assert part_done.part.type == "output_text" and part_done.part.text == backend.streamed
    assert item_done.item.id == item_id and item_done.item.status == "completed", item_done
    assert item_done.item.content[0].text == backend.streamed
    final = completed.response
    assert final.id == created.response.id
    assert final.status == "completed"
    assert final.output_text == backend.streamed
    _check_usage(final.usage, backend.input_tokens, backend.cached_tokens, backend.stream_output_tokens)
    return final


def test_stream_helper(oai, backend):
    """`client.responses.stream(...)`: the event order and `get_final_response()`."""
    with oai.responses.stream(model=backend.ref(), input="Say hello.", instructions="Be brief.") as stream:
        events = list(stream)
        final = stream.get_final_response()
    completed = _check_text_stream(events, backend)
    assert final.id == completed.id
    assert final.status == "completed"
    assert final.output_text == backend.streamed
    assert final.instructions == "Be brief."
    _check_usage(final.usage, backend.input_tokens, backend.cached_tokens, backend.stream_output_tokens)
    # The helper's text snapshots grow delta by delta.
    snapshots = [e.snapshot for e in events if e.type == "response.output_text.delta"]
    assert snapshots[-1] == backend.streamed


def test_create_stream(oai, backend):
    """`client.responses.create(stream=True)`: the raw events."""
    stream = oai.responses.create(model=backend.ref(), input="Say hello.", stream=True)
    with stream:
        events = list(stream)
    _check_text_stream(events, backend)


# --- function calls ------------------------------------------------------------------------


def _function_call(output):
    calls = [o for o in output if o.type == "function_call"]
    assert len(calls) == 1, output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id
    return call


@pytest.mark.parametrize("echo", ["call", "output", "previous"],
                         ids=["send-call", "send-all-output", "previous-response-id"])
def test_function_call_round_trip(oai, backend, standin, echo):
    """A function call, then its output sent back with the call (`send-call`), with the
    whole previous output as OpenAI's guide does (`send-all-output`), or alone after
    `previous_response_id` (`previous-response-id`; the gateway keeps translated turns)."""
    r = oai.responses.create(model=backend.ref(tool=True), input=INPUT, tools=[WEATHER_TOOL])
    assert r.status == "completed", r
    call = _function_call(r.output)
    assert r.tools[0].name == "get_weather"
    _check_usage(r.usage, backend.input_tokens, backend.cached_tokens, backend.output_tokens)
    sent_items = [call] if echo == "call" else list(r.output)
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    if echo == "previous":
        more: dict[str, Any] = {"input": [result], "previous_response_id": r.id}
    else:
        more = {"input": [*INPUT, *sent_items, result]}
    second = oai.responses.create(
        model=backend.ref(tool=True),
        tools=[WEATHER_TOOL],
        instructions="Answer with the tool's result.",
        **more,
    )
    assert second.status == "completed", second
    if echo == "previous":
        assert second.previous_response_id == r.id
    assert second.output, second
    assert second.instructions == "Answer with the tool's result."
    if backend.provider == "native":
        assert second.output_text == STANDIN_TEXT
        sent = _standin_last(standin)
        if echo == "previous":
            # Passed through: the upstream keeps its own conversations.
            assert (sent["input"], sent["previous_response_id"]) == ([result], r.id), sent
            return
        assert sent["input"][0] == INPUT[0]
        assert sent["input"][-1] == result
        assert [i["type"] for i in sent["input"][1:-1]] == ["function_call"]
        assert sent["input"][1]["call_id"] == call.call_id
        assert sent["tools"] == [WEATHER_TOOL]


def test_stream_function_call(oai, backend):
    """A streamed function call: its item's events in order, the arguments as deltas."""
    with oai.responses.stream(model=backend.ref(tool=True), input=INPUT, tools=[WEATHER_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] == "response.completed", types
    _check_sequence_numbers(events)
    call = _function_call(final.output)
    assert final.status == "completed"
    _check_usage(final.usage, backend.input_tokens, backend.cached_tokens, backend.stream_output_tokens)
    # The call item's events, in order.
    index = [o.type for o in final.output].index("function_call")
    mine = [e for e in events[2:-1] if getattr(e, "output_index", None) == index]
    mine_types = _collapse([e.type for e in mine])
    assert mine_types == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ], types
    added, *_, args_done, item_done = mine
    assert added.item.type == "function_call" and added.item.name == "get_weather", added
    assert added.item.call_id == call.call_id
    for e in mine[1:-1]:
        assert e.item_id == added.item.id, e
    deltas = "".join(e.delta for e in mine if e.type == "response.function_call_arguments.delta")
    assert deltas == args_done.arguments == call.arguments
    assert item_done.item.id == added.item.id and item_done.item.status == "completed"
    # Items are not interleaved: each starts after the previous one is done.
    open_items = 0
    for e in events:
        if e.type == "response.output_item.added":
            open_items += 1
            assert open_items == 1, types
        elif e.type == "response.output_item.done":
            open_items -= 1


# --- request options ---------------------------------------------------------------------


def test_json_schema_text_format(oai, backend, standin):
    r = oai.responses.create(model=backend.ref(), input="Where is the Eiffel tower?", text=CITY_FORMAT,
                             instructions="Answer in JSON.")
    assert r.status == "completed", r
    assert r.output_text
    assert r.text.format.type == "json_schema", r.text
    assert r.text.format.name == "city"
    if backend.provider == "native":
        assert _standin_last(standin)["text"] == CITY_FORMAT


@pytest.mark.parametrize("kind", ["anthropic", "aws-bedrock"])
def test_json_schema_answer_from_a_forced_tool(oai, providers, kind):
    """Anthropic and Bedrock get JSON mode as a forced tool; its input comes back as the
    answer's text, not as a function call (the mock's tool models call the first tool with
    {"city": "Paris"})."""
    backend = BACKENDS[kind]
    r = oai.responses.create(model=backend.ref(tool=True), input="Where is the Eiffel tower?", text=CITY_FORMAT)
    assert r.status == "completed", r
    assert [o.type for o in r.output] == ["message"], r.output
    # The mock's tool answers start with text even when the tool is forced (real Anthropic
    # and Bedrock send none then); the JSON is what follows it.
    assert r.output_text.endswith('{"city":"Paris"}'), r.output_text


@pytest.mark.parametrize("kind", TRANSLATED)
def test_built_in_tool_is_refused_by_name(oai, providers, kind):
    backend = BACKENDS[kind]
    with pytest.raises(openai.BadRequestError) as e:
        oai.responses.create(model=backend.ref(), input="Any news?", tools=[{"type": "web_search"}])
    assert "web_search" in e.value.message, e.value.body
    assert isinstance(e.value.body, dict) and "web_search" in e.value.body.get("message", ""), e.value.body


# --- usage ---------------------------------------------------------------------------------


def test_usage_records(oai, gateway, backend):
    """A plain and a streamed response are metered under the responses operation."""
    oai.responses.create(model=backend.ref(), input="Say hello.")
    with oai.responses.stream(model=backend.ref(), input="Say hello.") as stream:
        final = stream.get_final_response()
    status, usage = gateway.admin("GET", "/api/usage?limit=2")
    assert status == 200, usage
    records = usage["data"][:2][::-1]  # oldest first
    assert [(r["provider"], r["model"], r["api"], r["stream"]) for r in records] == [
        (backend.provider, backend.model, "responses", False),
        (backend.provider, backend.model, "responses", True),
    ], records
    for r, output in zip(records, (backend.output_tokens, backend.stream_output_tokens)):
        assert r["key_id"] == gateway.key_id
        assert (r["status"], r["outcome"], r["usage_estimated"]) == (200, "ok", False), r
        assert r["usage"]["output_tokens"] == output, r
        assert r["usage"]["cached_tokens"] == backend.cached_tokens, r
        assert r["usage"]["input_tokens"] > 0, r
    assert final.status == "completed"


# --- the normal mock, and a chat-only server's first request -------------------------------


def test_the_mocks_own_responses_route_is_passed_through(oai):
    """Provider `mock` (openai-compatible, responses_api auto) has a Responses route: the
    mock's answer and its (sparse) events reach the client as they are."""
    r = oai.responses.create(model="mock/m1", input="Say hello.")
    assert r.id == "resp_mock"
    assert r.status == "completed"
    assert r.output_text == ANSWER
    _check_usage(r.usage, 7, 2, 5)
    stream = oai.responses.create(model="mock/m1", input="Say hello.", stream=True)
    with stream:
        types = [e.type for e in stream]
    assert types == ["response.created", "response.output_text.delta", "response.output_text.delta",
                     "response.completed"], types


def test_a_chat_only_servers_first_request_may_be_a_stream(oai, gateway, chat_only_upstream):
    """A new `auto` provider on a server without /v1/responses: the 404 of the very first
    request, a streamed one, switches to translation within that request."""
    spec = {"name": "vllm-fresh", "kind": "openai-compatible", "endpoint": chat_only_upstream,
            "models": CHAT_ONLY_MODELS}
    status, body = gateway.admin("POST", "/api/providers", spec)
    assert status == 201, body
    try:
        with oai.responses.stream(model="vllm-fresh/llama-tool", input=INPUT, tools=[WEATHER_TOOL]) as stream:
            events = list(stream)
            final = stream.get_final_response()
        assert events[-1].type == "response.completed", [e.type for e in events]
        _function_call(final.output)
        r = oai.responses.create(model="vllm-fresh/llama-chat", input="Say hello.")
        assert r.output_text == ANSWER
    finally:
        status, body = gateway.admin("DELETE", "/api/providers/vllm-fresh")
        assert status == 204, body
