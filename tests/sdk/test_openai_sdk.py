"""The official OpenAI Python SDK against modelgate, fronting the mock upstream.

The mock (crates/modelgate-testkit) answers "Hello from the mock upstream." and reports
7 prompt tokens (2 cached); a stream sends "Hel", "lo1", "lo2". Clients are made with
`max_retries=0`, so error tests are fast and every request is counted once.
"""

from __future__ import annotations

import json

import openai
import pytest

from weather import WEATHER_MESSAGES, WEATHER_TOOL, WEATHER_TOOL_TURN

ANSWER = "Hello from the mock upstream."
STREAMED = "Hello1lo2"  # the mock's three stream chunks
PROMPT_TOKENS = 7
CACHED_TOKENS = 2
MESSAGES = [{"role": "user", "content": "Say hello."}]

MODEL_IDS = ["mock/m1", "mock:m1", "m1"]


# --- chat completions -------------------------------------------------------------------


@pytest.mark.parametrize("model", MODEL_IDS)
def test_chat_non_stream(client, model):
    r = client.chat.completions.create(model=model, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == ANSWER
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.prompt_tokens == PROMPT_TOKENS
    assert r.usage.completion_tokens == len(ANSWER.split(" "))
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details is not None
    assert r.usage.prompt_tokens_details.cached_tokens == CACHED_TOKENS


def test_chat_non_stream_raw_response_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="mock/m1", messages=MESSAGES)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.parse().choices[0].message.content == ANSWER


@pytest.mark.parametrize("model", MODEL_IDS)
def test_chat_stream(client, model):
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    text = ""
    finish = None
    chunks = 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk"
        # Without stream_options.include_usage no chunk carries usage (the gateway asks the
        # upstream for usage itself and must hide that chunk).
        assert chunk.usage is None, chunk
        assert chunk.choices, f"unexpected chunk without choices: {chunk}"
        for choice in chunk.choices:
            if choice.delta.content:
                text += choice.delta.content
            if choice.finish_reason:
                finish = choice.finish_reason
    assert text == STREAMED
    assert finish == "stop"
    assert chunks == 4  # three content chunks and the stop chunk


def test_chat_stream_include_usage(client):
    stream = client.chat.completions.create(
        model="mock/m1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == STREAMED
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == PROMPT_TOKENS
    assert last.usage.completion_tokens == 3
    assert last.usage.total_tokens == PROMPT_TOKENS + 3
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_helper(client):
    """The SDK's higher-level `chat.completions.stream` helper accumulates the answer."""
    with client.chat.completions.stream(model="mock/m1", messages=MESSAGES) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == STREAMED
    assert final.choices[0].message.content == STREAMED
    assert final.choices[0].finish_reason == "stop"


# --- completions, embeddings, models ----------------------------------------------------


def test_completions(client):
    r = client.completions.create(model="mock/m1", prompt="Say hello.")
    assert r.object == "text_completion"
    assert r.choices[0].text == ANSWER
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.prompt_tokens == PROMPT_TOKENS
    assert r.usage.completion_tokens == len(ANSWER.split(" "))


def test_completions_stream(client):
    stream = client.completions.create(model="m1", prompt="Say hello.", stream=True)
    text = "".join(getattr(c.choices[0], "text", None) or "" for c in stream if c.choices)
    assert text == STREAMED


@pytest.mark.parametrize("encoding_format", [None, "float"], ids=["default", "float"])
def test_embeddings(client, encoding_format):
    kwargs = {} if encoding_format is None else {"encoding_format": encoding_format}
    r = client.embeddings.create(model="mock/emb-1", input=["first", "second"], **kwargs)
    assert r.object == "list"
    assert len(r.data) == 2
    assert [d.index for d in r.data] == [0, 1]
    for d in r.data:
        assert d.embedding == pytest.approx([0.1, 0.2, 0.3])
    assert r.usage.prompt_tokens == PROMPT_TOKENS


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    for want in ("mock/m1", "m1", "mock/emb-1", "emb-1"):
        assert want in ids, ids
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("model", ["m1", "mock/m1"])
def test_models_retrieve(client, model):
    m = client.models.retrieve(model)
    assert m.id == model
    assert m.object == "model"
    assert m.owned_by == "mock"


# --- errors -----------------------------------------------------------------------------


def test_wrong_key_is_authentication_error(gateway):
    # A fresh client (so a fresh connection) per request: after a 401 the gateway may close
    # a kept-alive connection without saying so (test_connection_reusable_after_401 in
    # test_anthropic_sdk.py).
    with gateway.client_for(api_key="mg-not-a-real-key-0000000000") as bad:
        with pytest.raises(openai.AuthenticationError) as e:
            bad.chat.completions.create(model="mock/m1", messages=MESSAGES)
        assert e.value.status_code == 401
    with gateway.client_for(api_key="mg-not-a-real-key-0000000000") as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert e.value.status_code == 404
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


@pytest.mark.parametrize("model", ["mock/error-500", "mock:error-500"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_upstream_500_is_relayed(client, model, stream):
    with pytest.raises(openai.APIStatusError) as e:
        r = client.chat.completions.create(model=model, messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert isinstance(e.value, openai.InternalServerError)
    assert e.value.status_code == 500
    assert "mock exploded" in e.value.message


def test_broken_stream_raises(client):
    stream = client.chat.completions.create(model="mock:break-model", messages=MESSAGES, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    # Only the two chunks sent before the cut arrived, and the error names no status: it
    # came in the stream, after the 200.
    assert text == "Hello1"
    assert not isinstance(e.value, openai.APIStatusError)
    assert e.value.message
    assert e.value.code == "stream_broken"


# --- an anthropic-kind provider (the gateway translates OpenAI <-> Anthropic) -----------
#
# The provider `claude` talks to the mock's Anthropic Messages endpoint, which reports 7
# input tokens plus 2 cache reads and 5 output tokens, streams "Hel" + "lo", and answers
# models named `*tool*` with "Let me check." and a tool_use of the first tool with input
# {"city": "Paris"}.

CLAUDE_STREAMED = "Hello"
CLAUDE_MODEL_IDS = ["claude/claude-x", "claude:claude-x", "claude-x"]


@pytest.mark.parametrize("model", CLAUDE_MODEL_IDS)
def test_anthropic_provider_chat_non_stream(client, model):
    r = client.chat.completions.create(model=model, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == ANSWER
    assert choice.message.tool_calls in (None, [])
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    # OpenAI's prompt_tokens include the cache reads Anthropic counts apart.
    assert r.usage.prompt_tokens == PROMPT_TOKENS + CACHED_TOKENS
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details is not None
    assert r.usage.prompt_tokens_details.cached_tokens == CACHED_TOKENS


def test_anthropic_provider_system_and_params(client):
    raw = client.chat.completions.with_raw_response.create(
        model="claude/claude-x",
        messages=[{"role": "system", "content": "You are terse."}, *MESSAGES],
        max_tokens=32,
        temperature=1.5,
        stop=["\n\n", "END"],
        seed=1,
        presence_penalty=0.5,
    )
    assert raw.status_code == 200
    assert raw.parse().choices[0].message.content == ANSWER
    dropped = raw.headers.get("x-modelgate-dropped-params", "")
    assert sorted(p.strip() for p in dropped.split(",")) == ["presence_penalty", "seed"], dropped
    # Claude takes temperatures up to 1 and no whitespace-only stop sequence: both are
    # brought within its rules, and named.
    adjusted = raw.headers.get("x-modelgate-adjusted-params", "")
    assert sorted(p.strip() for p in adjusted.split(",")) == ["stop", "temperature"], adjusted


@pytest.mark.parametrize("model", CLAUDE_MODEL_IDS)
def test_anthropic_provider_chat_stream(client, model):
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    text = ""
    finish = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        assert chunk.usage is None, chunk
        for choice in chunk.choices:
            if choice.delta.content:
                text += choice.delta.content
            if choice.finish_reason:
                assert finish is None, "two finish reasons"
                finish = choice.finish_reason
    assert text == CLAUDE_STREAMED
    assert finish == "stop"


def test_anthropic_provider_chat_stream_include_usage(client):
    stream = client.chat.completions.create(
        model="claude/claude-x",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == CLAUDE_STREAMED
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == PROMPT_TOKENS + CACHED_TOKENS
    assert last.usage.completion_tokens == 5
    assert last.usage.total_tokens == last.usage.prompt_tokens + 5
    assert all(c.usage is None for c in chunks[:-1])


def test_anthropic_provider_chat_stream_helper(client):
    with client.chat.completions.stream(model="claude/claude-x", messages=MESSAGES) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == CLAUDE_STREAMED
    assert final.choices[0].message.content == CLAUDE_STREAMED
    assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", ["claude-tool", "claude/claude-tool"])
def test_anthropic_provider_tool_call(client, model):
    r = client.chat.completions.create(model=model, messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == WEATHER_TOOL["function"]["name"]
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # The text block before the tool_use is kept as the message content.
    assert choice.message.content == "Let me check."


def test_anthropic_provider_tool_call_stream(client):
    stream = client.chat.completions.create(
        model="claude-tool", messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL], stream=True
    )
    text = ""
    finish = None
    calls: dict[int, dict] = {}
    for chunk in stream:
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
                finish = choice.finish_reason
    assert text == CLAUDE_STREAMED
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["name"] == WEATHER_TOOL["function"]["name"]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


def test_anthropic_provider_tool_call_stream_helper(client):
    with client.chat.completions.stream(
        model="claude-tool", messages=WEATHER_MESSAGES, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == WEATHER_TOOL["function"]["name"]
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Paris"}


def test_anthropic_provider_tool_result_turn(client):
    """A tool round trip in OpenAI's shape translates (assistant tool_calls, tool message)."""
    r = client.chat.completions.create(
        model="claude/claude-x",
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        messages=[
            *WEATHER_MESSAGES,
            *WEATHER_TOOL_TURN,
        ],
    )
    assert r.choices[0].message.content == ANSWER
    assert r.choices[0].finish_reason == "stop"


def test_anthropic_provider_embeddings_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="claude/claude-x", input="x")
    assert e.value.status_code == 400


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_provider_500_is_relayed(client, stream):
    with pytest.raises(openai.InternalServerError) as e:
        r = client.chat.completions.create(model="claude/claude-error-500", messages=MESSAGES, stream=stream)
        if stream:
            list(r)
    assert e.value.status_code == 500
    assert "mock exploded" in e.value.message


def test_anthropic_provider_truncated_stream_raises(client):
    """The Anthropic upstream ends its stream without message_stop: the OpenAI client gets
    an error in the stream, not a normal end."""
    stream = client.chat.completions.create(model="claude/claude-truncate", messages=MESSAGES, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    assert text == CLAUDE_STREAMED
    assert not isinstance(e.value, openai.APIStatusError)
    assert e.value.message


def test_models_list_includes_anthropic_provider(client):
    ids = [m.id for m in client.models.list()]
    for want in ("claude/claude-x", "claude/claude-tool"):
        assert want in ids, ids


# --- usage (keep last: it checks what the tests above sent) -----------------------------


def test_usage_counts_requests(gateway):
    with gateway.client_for() as c:
        status, before = gateway.admin("GET", "/api/usage")
        assert status == 200, before
        c.chat.completions.create(model="mock/m1", messages=MESSAGES)
        list(c.chat.completions.create(model="m1", messages=MESSAGES, stream=True))
        c.embeddings.create(model="emb-1", input=["a", "b"])
    status, after = gateway.admin("GET", "/api/usage")
    assert status == 200, after
    totals = after["totals"]
    # Every successful generation request this session is metered (possibly more: errors
    # may be recorded too).
    assert gateway.generated > 0
    assert totals["requests"] >= gateway.generated, (totals, gateway.generated)
    assert totals["requests"] - before["totals"]["requests"] >= 3
    assert totals["input_tokens"] - before["totals"]["input_tokens"] >= 3 * PROMPT_TOKENS
    assert totals["output_tokens"] > before["totals"]["output_tokens"]
    # The newest records are the three requests above, made with the SDK test key.
    newest = {(r["api"], r["model"], r["stream"]): r for r in after["data"][:3]}
    assert set(newest) == {
        ("chat.completions", "m1", False),
        ("chat.completions", "m1", True),
        ("embeddings", "emb-1", False),
    }, after["data"][:3]
    for r in newest.values():
        assert r["key_id"] == gateway.key_id
        assert r["provider"] == "mock"
        assert r["status"] == 200
        assert r["usage"]["input_tokens"] == PROMPT_TOKENS
