"""The official OpenAI and Anthropic Python SDKs against modelgate's `aws-bedrock` providers.

The gateway translates OpenAI chat (and Anthropic messages) requests to Bedrock Converse /
ConverseStream, signs them with SigV4 and turns Bedrock's answers (JSON, or AWS event-stream
frames) back into the client's shape. Providers (tests/sdk/conftest.py), all on the mock
upstream, which recomputes every request's SigV4 signature and answers 403 on a mismatch:

* `bedrock`: the right credentials; models BEDROCK_MODELS.
* `bedrock-sts`: the right credentials plus a session token.
* `bedrock-badsecret`: a wrong secret access key.

The mock's Converse answers "Hello from the mock upstream." with usage inputTokens 7,
cacheReadInputTokens 2, outputTokens 5 (so OpenAI's prompt_tokens 9, 2 of them cached);
ConverseStream sends "Hel" + "lo". Models named `*tool*` add a toolUse of the request's
first tool with input {"city": "Paris"}; `*exception*` streams a throttlingException frame
after "Hel"; `*truncate*` ends the stream without its metadata frame; `*error-500*`
answers 500 {"message": "mock exploded"}.

A recording stand-in for Bedrock (`bedrock-spy`, at the end) shows what the gateway sends:
the path, the Converse body, and a SigV4 signature checked here by an independent
implementation of the algorithm (the mock checks with the gateway's own signer).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import threading
import urllib.parse
from typing import Any

import anthropic
import openai
import pydantic
import pytest

from harness import BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY
from weather import ANTHROPIC_WEATHER_TOOL, WEATHER_MESSAGES, WEATHER_TOOL, WEATHER_TOOL_TURN

ANSWER = "Hello from the mock upstream."
STREAMED = "Hello"  # the mock's two ConverseStream text deltas
INPUT_TOKENS = 7  # Bedrock inputTokens: cache reads not included
CACHED_TOKENS = 2
PROMPT_TOKENS = INPUT_TOKENS + CACHED_TOKENS  # OpenAI prompt_tokens: cache reads included
COMPLETION_TOKENS = 5
MAX_TOKENS = 64
MESSAGES = [{"role": "user", "content": "Say hello."}]

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
# The same Bedrock model addressed the ways the gateway accepts a provider prefix.
MODEL_IDS = [f"bedrock/{MODEL}", f"bedrock:{MODEL}"]
TOOL_MODEL = "bedrock/meta.tool-model"

TOOL_ROUND_TRIP = [
    {"role": "system", "content": "You are terse."},
    *WEATHER_MESSAGES,
    *WEATHER_TOOL_TURN,
    {"role": "assistant", "content": "It is 18C and sunny in Paris."},
    {"role": "user", "content": "And tomorrow?"},
]
# A 1x1 transparent PNG.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMAGE_MESSAGES = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        ],
    }
]


def collect_stream(stream) -> tuple[str, str | None, dict[int, dict], list]:
    """Text, the single finish reason, tool calls by index and every chunk of a chat stream."""
    text = ""
    finish = None
    calls: dict[int, dict] = {}
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            d = choice.delta
            text += d.content or ""
            for tc in d.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    call["id"] = tc.id
                if tc.function and tc.function.name:
                    call["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    call["arguments"] += tc.function.arguments
            if choice.finish_reason:
                assert finish is None, "two finish reasons"
                finish = choice.finish_reason
    return text, finish, calls, chunks


def assert_usage(usage) -> None:
    assert usage is not None
    assert usage.prompt_tokens == PROMPT_TOKENS
    assert usage.completion_tokens == COMPLETION_TOKENS
    assert usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == CACHED_TOKENS


# --- OpenAI SDK: chat ---------------------------------------------------------------------


@pytest.mark.parametrize("model", MODEL_IDS)
def test_chat_non_stream(client, model):
    r = client.chat.completions.create(model=model, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.id
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == ANSWER
    assert choice.message.tool_calls in (None, [])
    assert choice.finish_reason == "stop"
    assert_usage(r.usage)
    # The model the answer names is the Bedrock model id, without the provider prefix.
    assert r.model == MODEL


def test_chat_session_token_provider(client):
    """A provider with a session token signs it too (x-amz-security-token)."""
    r = client.chat.completions.create(model="bedrock-sts/meta.sts-model", messages=MESSAGES)
    assert r.choices[0].message.content == ANSWER
    text, finish, _, _ = collect_stream(
        client.chat.completions.create(model="bedrock-sts:meta.sts-model", messages=MESSAGES, stream=True)
    )
    assert (text, finish) == (STREAMED, "stop")


def test_chat_params_and_raw_response(client):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_IDS[0],
        messages=[{"role": "system", "content": "You are terse."}, *MESSAGES],
        max_tokens=32,
        temperature=0.3,
        top_p=0.9,
        stop=["\n\n"],
    )
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.parse().choices[0].message.content == ANSWER


@pytest.mark.parametrize("model", MODEL_IDS)
def test_chat_stream(client, model):
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    text, finish, calls, chunks = collect_stream(stream)
    assert text == STREAMED
    assert finish == "stop"
    assert calls == {}
    # Without stream_options.include_usage no chunk carries usage.
    assert all(c.usage is None for c in chunks), chunks
    assert all(c.choices for c in chunks), chunks
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_include_usage(client):
    stream = client.chat.completions.create(
        model=MODEL_IDS[0],
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, _, chunks = collect_stream(stream)
    assert text == STREAMED
    assert finish == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert_usage(last.usage)
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_helper(client):
    with client.chat.completions.stream(model=MODEL_IDS[1], messages=MESSAGES) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == STREAMED
    assert final.choices[0].message.content == STREAMED
    assert final.choices[0].finish_reason == "stop"


# --- OpenAI SDK: tools, multi-turn, images -----------------------------------------------


@pytest.mark.parametrize("model", [TOOL_MODEL, "bedrock:meta.tool-model"])
def test_tool_call(client, model):
    r = client.chat.completions.create(model=model, messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # The text block before the toolUse is kept as the message content.
    assert choice.message.content == ANSWER
    assert_usage(r.usage)


def test_tool_call_stream(client):
    stream = client.chat.completions.create(
        model=TOOL_MODEL,
        messages=WEATHER_MESSAGES,
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, calls, chunks = collect_stream(stream)
    assert text == STREAMED
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert_usage(chunks[-1].usage)


def test_tool_call_stream_helper(client):
    with client.chat.completions.stream(model=TOOL_MODEL, messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_tool_without_tool_model_answers_text(client):
    """Tools offered to a model that does not call them: a plain answer, finish stop."""
    r = client.chat.completions.create(model=MODEL_IDS[0], messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL])
    assert r.choices[0].message.content == ANSWER
    assert r.choices[0].message.tool_calls in (None, [])
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_system_and_tool_result_turns(client, stream):
    """A system prompt and a whole tool round trip in OpenAI's shape (assistant tool_calls,
    a tool message, a later user turn) translate to Converse and are answered."""
    r = client.chat.completions.create(
        model=MODEL_IDS[0], tools=[WEATHER_TOOL], messages=TOOL_ROUND_TRIP, stream=stream
    )
    if stream:
        text, finish, _, _ = collect_stream(r)
        assert (text, finish) == (STREAMED, "stop")
    else:
        assert r.choices[0].message.content == ANSWER
        assert r.choices[0].finish_reason == "stop"


def test_image_data_url(client):
    r = client.chat.completions.create(model=MODEL_IDS[0], messages=IMAGE_MESSAGES)
    assert r.choices[0].message.content == ANSWER


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_image_link_is_bad_request(client, stream):
    """Bedrock takes image bytes only; a link is refused before anything is sent."""
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=MODEL_IDS[0],
            stream=stream,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/cat.png"}},
                    ],
                }
            ],
        )
    assert e.value.status_code == 400
    assert e.value.message


# --- OpenAI SDK: errors -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_wrong_secret_is_permission_denied(client, stream):
    """The mock refuses the signature made with a wrong secret as AWS does: 403, relayed."""
    with pytest.raises(openai.PermissionDeniedError) as e:
        r = client.chat.completions.create(model="bedrock-badsecret/meta.badsecret-model", messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert e.value.status_code == 403
    assert e.value.message
    # The provider's secret never reaches the client.
    assert BEDROCK_SECRET_KEY not in json.dumps(e.value.body)
    assert "not/the+right+secret" not in json.dumps(e.value.body)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_upstream_500_is_relayed(client, stream):
    with pytest.raises(openai.InternalServerError) as e:
        r = client.chat.completions.create(model="bedrock/meta.error-500-model", messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert e.value.status_code == 500
    assert "mock exploded" in e.value.message


def test_exception_in_stream_raises(client):
    """A throttlingException frame after the first delta: the client gets an error in the
    stream (after the 200), never a normal end."""
    stream = client.chat.completions.create(model="bedrock/meta.exception-model", messages=MESSAGES, stream=True)
    text = ""
    finishes = []
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                if choice.finish_reason:
                    finishes.append(choice.finish_reason)
    assert text == "Hel"
    assert finishes == []
    assert not isinstance(e.value, openai.APIStatusError)
    assert e.value.message


def test_truncated_stream_raises(client):
    """ConverseStream ends without its metadata frame: an incomplete answer, so an error in
    the stream rather than a silent end."""
    stream = client.chat.completions.create(model="bedrock/meta.truncate-model", messages=MESSAGES, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    assert text == STREAMED
    assert not isinstance(e.value, openai.APIStatusError)
    assert e.value.message


def test_exception_stream_helper_raises(client):
    with pytest.raises(openai.APIError):
        with client.chat.completions.stream(model="bedrock/meta.exception-model", messages=MESSAGES) as stream:
            stream.get_final_completion()


def test_embeddings_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL_IDS[0], input="x")
    assert e.value.status_code == 400


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_bare_model_id(client, stream):
    """A listed Bedrock model id, itself containing ':', also works without the prefix."""
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=stream)
    if stream:
        text, finish, _, _ = collect_stream(r)
        assert (text, finish) == (STREAMED, "stop")
    else:
        assert r.choices[0].message.content == ANSWER
        assert r.model == MODEL


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_completion_ids_are_unique(client, stream):
    """OpenAI documents `id` as a unique identifier of the completion."""
    ids = set()
    for _ in range(3):
        r = client.chat.completions.create(model=MODEL_IDS[0], messages=MESSAGES, stream=stream)
        if stream:
            _, _, _, chunks = collect_stream(r)
            assert len({c.id for c in chunks}) == 1
            ids.add(chunks[0].id)
        else:
            ids.add(r.id)
    assert len(ids) == 3, ids


# --- OpenAI SDK: models -------------------------------------------------------------------


def test_models_list_includes_bedrock(client):
    ids = [m.id for m in client.models.list()]
    for want in (f"bedrock/{MODEL}", TOOL_MODEL, "bedrock-sts/meta.sts-model"):
        assert want in ids, ids
    assert len(ids) == len(set(ids)), ids


def test_models_retrieve_bedrock(client):
    m = client.models.retrieve(f"bedrock/{MODEL}")
    assert m.id == f"bedrock/{MODEL}"
    assert m.object == "model"


# --- Anthropic SDK -> Bedrock -------------------------------------------------------------

ANTHROPIC_MESSAGES = [{"role": "user", "content": "Say hello."}]


def anthropic_text(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


@pytest.mark.parametrize("model", MODEL_IDS)
def test_anthropic_messages_create(claude, model):
    m = claude.messages.create(model=model, max_tokens=MAX_TOKENS, system="You are terse.", messages=ANTHROPIC_MESSAGES)
    assert m.type == "message"
    assert m.role == "assistant"
    assert m.id
    assert anthropic_text(m) == ANSWER
    assert m.stop_reason == "end_turn"
    # Anthropic's input_tokens leaves out cache reads, as Bedrock's inputTokens does.
    assert m.usage.input_tokens + (m.usage.cache_read_input_tokens or 0) == PROMPT_TOKENS
    assert m.usage.cache_read_input_tokens == CACHED_TOKENS
    assert m.usage.output_tokens == COMPLETION_TOKENS


def test_anthropic_message_ids_are_unique(claude):
    ids = {
        claude.messages.create(model=MODEL_IDS[0], max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES).id
        for _ in range(3)
    }
    assert len(ids) == 3, ids


def test_anthropic_messages_stream(claude):
    with claude.messages.stream(model=MODEL_IDS[0], max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == STREAMED
    assert anthropic_text(final) == STREAMED
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == COMPLETION_TOKENS


def test_anthropic_messages_stream_events(claude):
    stream = claude.messages.create(model=MODEL_IDS[1], max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES, stream=True)
    types = [e.type for e in stream]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert "content_block_delta" in types
    assert "error" not in types


def test_anthropic_tool_use(claude):
    m = claude.messages.create(
        model=TOOL_MODEL, max_tokens=MAX_TOKENS, tools=[ANTHROPIC_WEATHER_TOOL], messages=ANTHROPIC_MESSAGES
    )
    assert m.stop_reason == "tool_use"
    [use] = [b for b in m.content if b.type == "tool_use"]
    assert use.name == "get_weather"
    assert use.input == {"city": "Paris"}
    assert use.id


def test_anthropic_tool_use_stream(claude):
    with claude.messages.stream(
        model=TOOL_MODEL, max_tokens=MAX_TOKENS, tools=[ANTHROPIC_WEATHER_TOOL], messages=ANTHROPIC_MESSAGES
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    [use] = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather"
    assert use.input == {"city": "Paris"}


def test_anthropic_tool_result_turn(claude):
    m = claude.messages.create(
        model=MODEL_IDS[0],
        max_tokens=MAX_TOKENS,
        tools=[ANTHROPIC_WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C and sunny"}]},
        ],
    )
    assert anthropic_text(m) == ANSWER
    assert m.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_upstream_500(claude, stream):
    with pytest.raises(anthropic.InternalServerError) as e:
        r = claude.messages.create(model="bedrock/meta.error-500-model", max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES, stream=stream)
        if stream:
            list(r)
    assert e.value.status_code == 500


def test_anthropic_wrong_secret(claude):
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        claude.messages.create(model="bedrock-badsecret/meta.badsecret-model", max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES)
    assert e.value.status_code == 403


@pytest.mark.parametrize("model", ["bedrock/meta.exception-model", "bedrock/meta.truncate-model"])
def test_anthropic_broken_stream_raises(claude, model):
    stream = claude.messages.create(model=model, max_tokens=MAX_TOKENS, messages=ANTHROPIC_MESSAGES, stream=True)
    types = []
    with pytest.raises(anthropic.APIError):
        for event in stream:
            types.append(event.type)
    assert "message_stop" not in types


# --- usage ------------------------------------------------------------------------------


def test_usage_records(gateway):
    """Bedrock requests are metered with Bedrock's own token counts; a stream that broke
    (exception frame, or no metadata frame) is recorded as not ok."""
    with gateway.client_for() as c:
        c.chat.completions.create(model=MODEL_IDS[0], messages=MESSAGES)
        list(c.chat.completions.create(model=MODEL_IDS[1], messages=MESSAGES, stream=True))
        for model in ("bedrock/meta.exception-model", "bedrock/meta.truncate-model"):
            with pytest.raises(openai.APIError):
                list(c.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    status, usage = gateway.admin("GET", "/api/usage?limit=4")
    assert status == 200, usage
    records = usage["data"][:4][::-1]  # oldest first, as sent
    assert [(r["provider"], r["model"], r["api"], r["stream"]) for r in records] == [
        ("bedrock", MODEL, "chat.completions", False),
        ("bedrock", MODEL, "chat.completions", True),
        ("bedrock", "meta.exception-model", "chat.completions", True),
        ("bedrock", "meta.truncate-model", "chat.completions", True),
    ], records
    for r in records:
        assert r["key_id"] == gateway.key_id
        assert r["status"] == 200
    for r in records[:2]:
        assert r["outcome"] == "ok", r
        assert r["usage_estimated"] is False, r
        assert r["usage"] == {
            "input_tokens": PROMPT_TOKENS,
            "output_tokens": COMPLETION_TOKENS,
            "cached_tokens": CACHED_TOKENS,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
        }
    for r in records[2:]:
        assert r["outcome"] != "ok", r


# --- what reaches Bedrock -------------------------------------------------------------------
#
# A small recording server stands in for Bedrock as provider `bedrock-spy`. It checks each
# request's SigV4 signature with the code below (written from AWS's description of the
# algorithm, independent of the gateway's signer) and answers 403 as AWS does on a mismatch.

SPY_MODEL = "anthropic.claude-spy-v1:0"
SPY_SESSION_TOKEN = "spy-session-token/abc+def="


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_problem(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why the request's SigV4 signature is not what BEDROCK_* credentials give, or None."""
    m = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
        headers.get("authorization", ""),
    )
    if not m:
        return f"malformed authorization {headers.get('authorization')!r}"
    access_key, date, region, service, signed, signature = m.groups()
    if (access_key, region, service) != (BEDROCK_ACCESS_KEY, BEDROCK_REGION, "bedrock"):
        return f"wrong credential scope {access_key}/{region}/{service}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date + "T"):
        return f"x-amz-date {amz_date!r} does not match the scope date {date}"
    names = signed.split(";")
    for required in ("host", "x-amz-date"):
        if required not in names:
            return f"{required} is not signed"
    if "x-amz-security-token" in headers and "x-amz-security-token" not in names:
        return "x-amz-security-token is not signed"
    missing = [n for n in names if n not in headers]
    if missing:
        return f"signed headers missing from the request: {missing}"
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-amz-content-sha256", payload_hash) != payload_hash:
        return "x-amz-content-sha256 is not the body's hash"
    # Non-S3 services: the (already percent-encoded) path is encoded once more.
    canonical_uri = urllib.parse.quote(raw_path, safe="/~")
    canonical_headers = "".join(f"{n}:{' '.join(headers[n].strip().split())}\n" for n in names)
    canonical_request = "\n".join([method, canonical_uri, "", canonical_headers, signed, payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + BEDROCK_SECRET_KEY).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    want = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if want != signature:
        return f"signature mismatch; canonical request:\n{canonical_request}"
    return None


class _BedrockSpyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = json.loads(body or b"{}")
        problem = sigv4_problem("POST", self.path, headers, body)
        self.server.seen.append((self.path, headers, req, problem))
        if problem:
            self._send(403, {"message": f"The request signature we calculated does not match. {problem}"})
            return
        # A forced tool (tool_choice naming one, or JSON mode) is called with {"city": "Paris"};
        # otherwise the answer is text.
        forced = ((req.get("toolConfig") or {}).get("toolChoice") or {}).get("tool", {}).get("name")
        if forced:
            content = [{"toolUse": {"toolUseId": "tooluse_spy", "name": forced, "input": {"city": "Paris"}}}]
            stop = "tool_use"
        else:
            content = [{"text": "spied"}]
            stop = "end_turn"
        self._send(200, {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": 4, "outputTokens": 2, "totalTokens": 6},
            "metrics": {"latencyMs": 1},
        })

    def _send(self, status: int, obj: Any):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def bedrock_spy(gateway):
    """A recording Bedrock stand-in, registered as providers `bedrock-spy` and (with a
    session token) `bedrock-spy-sts`, model SPY_MODEL; yields its list of
    (path, headers, body, signature problem) requests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BedrockSpyHandler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name, extra in (("bedrock-spy", {}), ("bedrock-spy-sts", {"session_token": SPY_SESSION_TOKEN})):
            status, body = gateway.admin(
                "POST",
                "/api/providers",
                {
                    "name": name,
                    "kind": "aws-bedrock",
                    "region": BEDROCK_REGION,
                    "endpoint": f"http://127.0.0.1:{server.server_port}",
                    "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY,
                             "secret_access_key": BEDROCK_SECRET_KEY, **extra},
                    "models": [SPY_MODEL],
                },
            )
            assert status == 201, body
        yield server.seen
        for name in ("bedrock-spy", "bedrock-spy-sts"):
            status, body = gateway.admin("DELETE", f"/api/providers/{name}")
            assert status == 204, body
    finally:
        server.shutdown()
        server.server_close()


def _assert_signed(seen, gateway) -> None:
    for path, headers, _, problem in seen:
        assert problem is None, problem
        assert gateway.key not in " ".join(headers.values())
        assert BEDROCK_SECRET_KEY not in " ".join(headers.values())


def test_spy_converse_request(gateway, bedrock_spy):
    with gateway.client_for() as c:
        bedrock_spy.clear()
        r = c.chat.completions.create(
            model=f"bedrock-spy/{SPY_MODEL}",
            messages=[{"role": "system", "content": "You are terse."}, *IMAGE_MESSAGES],
            max_tokens=32,
            temperature=0.3,
            stop=["END"],
        )
        assert r.choices[0].message.content == "spied"
        assert r.usage.prompt_tokens == 4 and r.usage.completion_tokens == 2
    _assert_signed(bedrock_spy, gateway)
    [(path, headers, body, _)] = bedrock_spy
    # The model id is one path segment: its ':' is percent-encoded.
    assert path == "/model/anthropic.claude-spy-v1%3A0/converse"
    assert headers["content-type"].startswith("application/json")
    assert body["system"] == [{"text": "You are terse."}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "What is in this picture?"},
                {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
            ],
        }
    ]
    assert body["inferenceConfig"]["maxTokens"] == 32
    assert body["inferenceConfig"]["temperature"] == 0.3
    assert body["inferenceConfig"]["stopSequences"] == ["END"]
    assert "model" not in body and "stream" not in body


def test_spy_tool_round_trip_request(gateway, bedrock_spy):
    with gateway.client_for() as c:
        bedrock_spy.clear()
        r = c.chat.completions.create(model=f"bedrock-spy:{SPY_MODEL}", tools=[WEATHER_TOOL], messages=TOOL_ROUND_TRIP)
        assert r.choices[0].message.content == "spied"
    _assert_signed(bedrock_spy, gateway)
    [(_, _, body, _)] = bedrock_spy
    assert body["system"] == [{"text": "You are terse."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    [use] = body["messages"][1]["content"]
    assert use["toolUse"]["toolUseId"] == "call_1"
    assert use["toolUse"]["name"] == "get_weather"
    assert use["toolUse"]["input"] == {"city": "Paris"}
    [result] = body["messages"][2]["content"]
    assert result["toolResult"]["toolUseId"] == "call_1"
    assert result["toolResult"]["content"] == [{"text": "18C and sunny"}]
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather"
    assert spec["inputSchema"]["json"] == WEATHER_TOOL["function"]["parameters"]


def test_spy_named_tool_choice(gateway, bedrock_spy):
    with gateway.client_for() as c:
        bedrock_spy.clear()
        r = c.chat.completions.create(
            model=f"bedrock-spy/{SPY_MODEL}",
            messages=WEATHER_MESSAGES,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
    _assert_signed(bedrock_spy, gateway)
    assert bedrock_spy[0][2]["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id == "tooluse_spy"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


class City(pydantic.BaseModel):
    city: str


def test_spy_structured_output_parse(gateway, bedrock_spy):
    """The SDK's `parse` with a pydantic model (response_format json_schema): the gateway
    forces a JSON tool on Bedrock and returns its input as the message content."""
    with gateway.client_for() as c:
        bedrock_spy.clear()
        r = c.chat.completions.parse(model=f"bedrock-spy/{SPY_MODEL}", messages=WEATHER_MESSAGES, response_format=City)
    _assert_signed(bedrock_spy, gateway)
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.parsed == City(city="Paris")
    assert choice.message.tool_calls in (None, [])


def test_spy_session_token_signed(gateway, bedrock_spy):
    with gateway.client_for() as c:
        bedrock_spy.clear()
        assert c.chat.completions.create(model=f"bedrock-spy-sts/{SPY_MODEL}", messages=MESSAGES).choices[0].message.content == "spied"
    _assert_signed(bedrock_spy, gateway)
    [(_, headers, _, _)] = bedrock_spy
    assert headers.get("x-amz-security-token") == SPY_SESSION_TOKEN


def test_spy_anthropic_client_request(gateway, bedrock_spy):
    with gateway.anthropic_for() as c:
        bedrock_spy.clear()
        m = c.messages.create(model=f"bedrock-spy/{SPY_MODEL}", max_tokens=MAX_TOKENS, system="Be brief.", messages=ANTHROPIC_MESSAGES)
        assert anthropic_text(m) == "spied"
    _assert_signed(bedrock_spy, gateway)
    [(path, _, body, _)] = bedrock_spy
    assert path == "/model/anthropic.claude-spy-v1%3A0/converse"
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Say hello."}]}]
    assert body["inferenceConfig"]["maxTokens"] == MAX_TOKENS
