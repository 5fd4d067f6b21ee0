//! Test and benchmark support: [`MockUpstream`], an OpenAI-compatible server on
//! 127.0.0.1 port 0 that counts hits, records what it received, and misbehaves on demand.
//! The behaviour is chosen by the requested model's name, so one mock serves every case:
//!
//! | model contains | behaviour |
//! |---|---|
//! | (anything else) | a normal answer with usage (stream or not) |
//! | `no-usage` | never reports usage |
//! | `break` | stream: two chunks, then the connection is cut |
//! | `truncate` | stream: two chunks, then a clean close without `[DONE]` |
//! | `error-500` / `error-429` / `html-502` | that error (429 with `retry-after: 7`) |
//! | `echo-key` | 401 whose body echoes the `Authorization` header it received |
//! | `slow` | waits 3 s before answering |
//! | `drip` | stream: one chunk every 20 ms, forever (until the client goes away) |
//!
//! Chat completions answer with a call of the request's first tool (arguments
//! `{"city": "Paris"}`, streamed in pieces) when the model name contains `tool` and the
//! request has tools.
//!
//! [`MockUpstream::start_chat_only`] (the `mock-upstream --chat-only` binary) is the same
//! server without the Responses API: `POST /v1/responses` answers 404, like older vLLM or
//! Ollama.
//!
//! It also speaks Anthropic's Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`),
//! refusing requests without `x-api-key` or `anthropic-version` as Anthropic does; a model
//! name containing `tool` answers with a `tool_use` of the request's first tool, `truncate`
//! ends a stream without `message_stop`, `error-500` fails.
//!
//! And AWS Bedrock (`POST /model/{id}/converse` and `/converse-stream`, event-stream
//! frames): every request's SigV4 signature is recomputed with [`BEDROCK_ACCESS_KEY`] /
//! [`BEDROCK_SECRET_KEY`] in [`BEDROCK_REGION`] and refused with 403 when it does not match.
//!
//! The chat routes are as strict about the request body as the real APIs (chat
//! completions, OpenAI's and Azure's; Messages; Converse and ConverseStream): a body the
//! provider refuses gets the provider's 400 in its error shape, streamed or not, after the
//! model name's misbehaviour (if any). The rules, each with the documentation page that
//! states it, are in `src/strict/`.

mod mock;
mod strict;

pub use mock::{
    ANSWER, BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, CACHED_TOKENS, CUT_LONG_DELTAS,
    MockUpstream, PROMPT_TOKENS, Recorded,
};
