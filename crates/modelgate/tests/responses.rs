//! The OpenAI Responses API (`POST /v1/responses`) on every backend kind: passed through to
//! an upstream that has it, translated to chat completions for one that has not (found out
//! once, on its 404), to Messages for Anthropic and to Converse for Bedrock; streamed event
//! by event in the order the SDKs expect; metered like chat.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use modelgate_testkit::{
    ANSWER, BEDROCK_ACCESS_KEY, BEDROCK_REGION, BEDROCK_SECRET_KEY, MockUpstream, PROMPT_TOKENS,
};
use serde_json::{Value, json};

const BEDROCK_CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

/// One gateway with the three backend kinds a Responses client must reach.
async fn setup() -> (Gw, MockUpstream, MockUpstream) {
    let mock = MockUpstream::start(&[]).await;
    let chat_only = MockUpstream::start_chat_only(&["llama"]).await;
    let gw = start_gateway().await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "claude", "kind": "anthropic", "endpoint": mock.origin(), "api_key": "sk-ant",
                "models": ["claude-x", "claude-tool"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    gw.add_mock("vllm", &chat_only).await;
    let r = gw
        .post(
            "/api/providers",
            ADMIN_KEY,
            json!({"name": "bedrock", "kind": "aws-bedrock", "region": BEDROCK_REGION, "endpoint": mock.origin(),
                "auth": {"type": "aws-sigv4", "access_key_id": BEDROCK_ACCESS_KEY, "secret_access_key": BEDROCK_SECRET_KEY},
                "models": [BEDROCK_CLAUDE, "meta.tool-model", "meta.exception-model"]}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    (gw, mock, chat_only)
}

async fn create(gw: &Gw, body: Value) -> reqwest::Response {
    gw.post("/v1/responses", ADMIN_KEY, body).await
}

/// A successful SSE body as (event name, data) pairs.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    sse_events(resp).await
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// A model on each backend kind: Anthropic, a chat-only OpenAI-compatible server, Bedrock.
fn model_of(i: usize) -> String {
    match i {
        0 => "claude:claude-x".to_owned(),
        1 => "vllm:llama".to_owned(),
        _ => format!("bedrock:{BEDROCK_CLAUDE}"),
    }
}

#[tokio::test]
async fn a_text_answer_on_every_backend_kind() {
    let (gw, mock, chat_only) = setup().await;
    for i in 0..3 {
        let model = model_of(i);
        let r = create(
            &gw,
            json!({"model": model, "instructions": "Be brief.", "input": "hi", "max_output_tokens": 50,
                "metadata": {"ticket": "7"}}),
        )
        .await;
        assert_eq!(r.status(), 200, "{model}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "response", "{model}: {v}");
        assert_eq!(v["status"], "completed", "{model}: {v}");
        assert_eq!(v["model"], model);
        assert_eq!(v["metadata"]["ticket"], "7");
        let message = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "message")
            .unwrap();
        assert!(
            message["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains(ANSWER.split_whitespace().next().unwrap()),
            "{model}: {v}"
        );
        // Anthropic and Bedrock count cache reads apart; Responses includes them.
        assert!(
            v["usage"]["input_tokens"].as_u64().unwrap() >= PROMPT_TOKENS,
            "{model}: {v}"
        );
        assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }
    // The instructions became Anthropic's system prompt, max_output_tokens its max_tokens.
    let sent = mock.last_json("/v1/messages").unwrap();
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["model"], "claude-x");
    // The chat-only server was asked for its Responses route once, then chat completions.
    assert_eq!(chat_only.hits("/v1/responses"), 1);
    assert_eq!(chat_only.hits("/v1/chat/completions"), 1);
    let sent = chat_only.last_json("/v1/chat/completions").unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    // Learned: the next request goes straight to chat completions.
    let r = create(&gw, json!({"model": "vllm:llama", "input": "again"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(chat_only.hits("/v1/responses"), 1);
    assert_eq!(chat_only.hits("/v1/chat/completions"), 2);
    // Metered like chat, under the responses operation.
    let records = gw.org_records().await;
    let ok: Vec<&Value> = records
        .iter()
        .filter(|r| r["api"] == "responses" && r["status"] == 200)
        .collect();
    assert_eq!(ok.len(), 4, "{records:?}");
}

#[tokio::test]
async fn streams_follow_the_responses_event_order_on_every_backend_kind() {
    let (gw, _mock, _chat_only) = setup().await;
    for i in 0..3 {
        let model = model_of(i);
        let evs =
            events(create(&gw, json!({"model": model, "input": "hi", "stream": true})).await).await;
        let n = names(&evs);
        assert_eq!(
            &n[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ],
            "{model}: {n:?}"
        );
        assert!(n.contains(&"response.output_text.delta"), "{model}: {n:?}");
        assert_eq!(
            n[n.len() - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{model}: {n:?}"
        );
        let text: String = evs
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap().to_owned())
            .collect();
        let (_, done) = evs.last().unwrap();
        assert_eq!(done["response"]["status"], "completed");
        assert_eq!(
            done["response"]["output"][0]["content"][0]["text"], text,
            "{model}"
        );
        assert!(
            done["response"]["usage"]["input_tokens"].as_u64().unwrap() >= PROMPT_TOKENS,
            "{model}"
        );
        // Sequence numbers count up from 0.
        for (k, (_, d)) in evs.iter().enumerate() {
            assert_eq!(d["sequence_number"], k as u64, "{model}");
        }
    }
}

#[tokio::test]
async fn function_calls_round_trip_through_anthropic_and_bedrock() {
    let (gw, mock, _chat_only) = setup().await;
    let tools = json!([{"type": "function", "name": "weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    for model in ["claude:claude-tool", "bedrock:meta.tool-model"] {
        let r = create(
            &gw,
            json!({"model": model, "input": "weather in Paris?", "tools": tools}),
        )
        .await;
        assert_eq!(r.status(), 200, "{model}");
        let v: Value = r.json().await.unwrap();
        let call = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "function_call")
            .unwrap_or_else(|| panic!("{model}: {v}"))
            .clone();
        assert_eq!(call["name"], "weather");
        assert_eq!(
            serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
            json!({"city": "Paris"})
        );
        // Streamed, the call's arguments arrive as argument events.
        let evs = events(
            create(&gw, json!({"model": model, "input": "weather in Paris?", "tools": tools, "stream": true})).await,
        )
        .await;
        let n = names(&evs);
        assert!(
            n.contains(&"response.function_call_arguments.done"),
            "{model}: {n:?}"
        );
        // The second turn: the call and its output go back.
        let input = json!([
            {"role": "user", "content": [{"type": "input_text", "text": "weather in Paris?"}]},
            call,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        ]);
        let r = create(&gw, json!({"model": model, "input": input, "tools": tools})).await;
        assert_eq!(r.status(), 200, "{model}");
    }
    let sent = mock.last_json("/v1/messages").unwrap();
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns[1]["content"][0]["type"], "tool_use", "{sent}");
    assert_eq!(turns[2]["content"][0]["type"], "tool_result", "{sent}");
    assert_eq!(turns[2]["content"][0]["content"], "sunny", "{sent}");
}

#[tokio::test]
async fn built_in_tools_and_unsupported_inputs_are_refused_by_name() {
    let (gw, _mock, _chat_only) = setup().await;
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "news?", "tools": [{"type": "web_search"}]}),
    )
    .await;
    let err = expect_error(r, 400).await;
    assert!(
        err["message"].as_str().unwrap().contains("web_search"),
        "{err}"
    );
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": [{"type": "item_reference", "id": "msg_1"}]}),
    )
    .await;
    expect_error(r, 400).await;
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "x", "background": true}),
    )
    .await;
    expect_error(r, 400).await;
}

#[tokio::test]
async fn a_broken_translated_stream_ends_with_response_failed() {
    let (gw, _mock, _chat_only) = setup().await;
    let evs = events(
        create(
            &gw,
            json!({"model": "bedrock:meta.exception-model", "input": "hi", "stream": true}),
        )
        .await,
    )
    .await;
    let n = names(&evs);
    assert_eq!(n.last(), Some(&"response.failed"), "{n:?}");
    assert!(!n.contains(&"response.completed"));
    // A stream the gateway finds cut short (no message_stop) ends with the translator's
    // own response.failed, in sequence, after response.created.
    let evs = events(
        create(
            &gw,
            json!({"model": "claude:claude-truncate", "input": "hi", "stream": true}),
        )
        .await,
    )
    .await;
    let n = names(&evs);
    assert_eq!(n.first(), Some(&"response.created"), "{n:?}");
    assert_eq!(n.last(), Some(&"response.failed"), "{n:?}");
    let (_, failed) = evs.last().unwrap();
    assert_eq!(failed["sequence_number"], evs.len() as u64 - 1);
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["code"], "stream_incomplete");
    assert!(
        failed["response"]["id"]
            .as_str()
            .unwrap()
            .starts_with("resp_")
    );
}

#[tokio::test]
async fn dropped_parameters_are_named() {
    let (gw, _mock, _chat_only) = setup().await;
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "hi", "top_logprobs": 2, "truncation": "auto"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let dropped = r.headers()["x-modelgate-dropped-params"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        dropped.contains("top_logprobs") && dropped.contains("truncation"),
        "{dropped}"
    );
}

#[tokio::test]
async fn previous_response_id_continues_a_translated_conversation_for_its_creator_only() {
    let (gw, mock, _chat_only) = setup().await;
    let first = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "My name is Ada."}),
    )
    .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_"), "{id}");
    // The second turn, streamed: the upstream sees the whole conversation.
    let evs = events(
        create(
            &gw,
            json!({"model": "claude:claude-x", "input": "What is my name?", "previous_response_id": id, "stream": true}),
        )
        .await,
    )
    .await;
    let (name, done) = evs.last().unwrap();
    assert_eq!(name, "response.completed");
    assert_eq!(done["response"]["previous_response_id"], id);
    let second_id = done["response"]["id"].as_str().unwrap().to_owned();
    let sent = mock.last_json("/v1/messages").unwrap();
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{sent}");
    assert_eq!(turns[0]["content"][0]["text"], "My name is Ada.");
    assert_eq!(turns[1]["role"], "assistant");
    assert_eq!(turns[1]["content"][0]["text"], ANSWER);
    assert_eq!(turns[2]["content"][0]["text"], "What is my name?");
    // A third turn continues the streamed one, with both earlier turns before it.
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "Again?", "previous_response_id": second_id}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = mock.last_json("/v1/messages").unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 5, "{sent}");

    // Readable by its creator; another user cannot read, continue or delete it.
    let r = gw.get(&format!("/v1/responses/{id}"), ADMIN_KEY).await;
    assert_eq!(r.status(), 200);
    let kept: Value = r.json().await.unwrap();
    assert_eq!(kept["id"], id);
    gw.share_with_org("claude").await;
    let member = gw.member_key("bob", None).await;
    expect_error(gw.get(&format!("/v1/responses/{id}"), &member).await, 404).await;
    let r = gw
        .post(
            "/v1/responses",
            &member,
            json!({"model": "claude:claude-x", "input": "x", "previous_response_id": id}),
        )
        .await;
    expect_error(r, 404).await;
    expect_error(
        gw.delete(&format!("/v1/responses/{id}"), &member, None)
            .await,
        404,
    )
    .await;
    // Deleted by its creator, it is gone.
    let r = gw
        .delete(&format!("/v1/responses/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["deleted"], true);
    expect_error(gw.get(&format!("/v1/responses/{id}"), ADMIN_KEY).await, 404).await;
    // store: false keeps nothing.
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "x", "store": false}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    let unstored = v["id"].as_str().unwrap();
    expect_error(
        gw.get(&format!("/v1/responses/{unstored}"), ADMIN_KEY)
            .await,
        404,
    )
    .await;
    // An id the gateway did not make cannot be continued on a translated backend.
    let r = create(
        &gw,
        json!({"model": "claude:claude-x", "input": "x", "previous_response_id": "resp_from_openai"}),
    )
    .await;
    expect_error(r, 400).await;
}

#[tokio::test]
async fn responses_fail_over_like_chat_and_are_budgeted_by_max_output_tokens() {
    let (gw, mock, chat_only) = setup().await;
    // The chat-only server fails with 503 (after its missing Responses route is found):
    // the next candidate, on Anthropic, answers.
    let r = create(
        &gw,
        json!({"model": "vllm:llama-error-503", "models": ["claude:claude-x"], "input": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-provider"], "claude");
    assert_eq!(chat_only.hits("/v1/chat/completions"), 1);
    assert_eq!(mock.hits("/v1/messages"), 1);

    // A member whose allocation covers a few hundred tokens: the worst case of a request
    // is its input plus max_output_tokens, reserved before any upstream call.
    let r = gw
        .patch(
            "/api/providers/claude",
            ADMIN_KEY,
            json!({"prices": {"claude-x": {"input": 100.0, "output": 100.0}}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    gw.share_with_org("claude").await;
    let key = gw.budgeted_member("ann", "small", 0.05, "monthly").await;
    let before = mock.hits("/v1/messages");
    for body in [
        // A large max_output_tokens is the worst case.
        json!({"model": "claude:claude-x", "input": "hi", "max_output_tokens": 100_000}),
        // A reasoning effort raises the output limit the translation sends (a thinking
        // budget): the reservation counts that limit, not the client's small one.
        json!({"model": "claude:claude-x", "input": "hi", "max_output_tokens": 50,
            "reasoning": {"effort": "high"}}),
    ] {
        expect_error(gw.post("/v1/responses", &key, body).await, 402).await;
        assert_eq!(
            mock.hits("/v1/messages"),
            before,
            "refused before any upstream call"
        );
    }
    // A request that fits is answered and charged.
    let r = gw
        .post(
            "/v1/responses",
            &key,
            json!({"model": "claude:claude-x", "input": "hi", "max_output_tokens": 50}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = gw.get("/api/allocations/small", ADMIN_KEY).await;
    let v: Value = r.json().await.unwrap();
    assert!(v["used_usd"].as_f64().unwrap() > 0.0, "{v}");
}
