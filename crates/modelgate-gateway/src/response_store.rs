//! Responses the gateway keeps itself, so that `previous_response_id` works on backends
//! that have no Responses API (chat-completions servers, Anthropic, Bedrock) like it does
//! on OpenAI. Only responses the gateway made by translation are kept (their ids start with
//! [`OWN_PREFIX`]); a native backend keeps its own.
//!
//! Each kept response holds only its own turn — the request's `input` items and the
//! response's `output` items — and the id of the response it continued, so a long
//! conversation costs memory linear in its length. A continuation walks the chain back and
//! replays every turn's items before the new input. A response is readable (and
//! continuable, deletable) only by the user who created it, and expires [`TTL_MS`] after
//! it was made; at most [`MAX_KEPT`] responses and [`MAX_BYTES`] of them are kept per
//! process (the oldest go first). Kept in
//! memory: they do not survive a restart and are not shared between replicas.

use modelgate_core::GatewayError;
use modelgate_translate::pairs::{Event, EventMapper};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Ids of responses the gateway made: `resp_` + the gateway's own id prefix.
pub const OWN_PREFIX: &str = "resp_mg_";
/// How long a kept response stays readable: one day.
pub const TTL_MS: i64 = 24 * 3600 * 1000;
/// The most responses kept at once.
pub const MAX_KEPT: usize = 20_000;
/// The most bytes (their JSON size) kept at once.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;
/// The longest chain replayed for one request.
const MAX_CHAIN: usize = 1_000;
/// The largest conversation replayed for one request (JSON size), like a request body.
pub const MAX_CHAIN_BYTES: usize = 32 * 1024 * 1024;
/// One user's share of the kept bytes (a fraction of the store's cap).
const USER_SHARE: usize = 8;

#[derive(Debug, Clone)]
struct Kept {
    user_id: String,
    expires_at: i64,
    previous: Option<String>,
    /// Shared, so a continuation takes them out of the lock without copying.
    input: Arc<Vec<Value>>,
    response: Arc<Value>,
    /// Its JSON size, counted against [`MAX_BYTES`] and its user's share.
    bytes: usize,
    /// The JSON size of the whole conversation up to it (what a continuation replays).
    chain_bytes: usize,
}

/// The kept responses of this process.
#[derive(Debug)]
pub struct ResponseStore {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl Default for ResponseStore {
    fn default() -> Self {
        Self::with_max_bytes(MAX_BYTES)
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<String, Kept>,
    /// Ids in the order they were kept (for expiry and the caps).
    order: VecDeque<String>,
    /// The sum of the kept responses' sizes.
    bytes: usize,
    /// Each user's kept bytes and ids, oldest first: a user over their share loses their
    /// own oldest responses, never someone else's.
    users: HashMap<String, (usize, VecDeque<String>)>,
}

/// One turn to keep: who made it, what it continued and what it sent.
#[derive(Debug, Clone)]
pub struct Turn {
    pub user_id: String,
    pub previous: Option<String>,
    pub input: Vec<Value>,
}

impl ResponseStore {
    /// A store keeping at most `max_bytes` of responses.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a finished response (its `id` is read from it).
    pub fn keep(&self, turn: Turn, response: Value, now_ms: i64) {
        let Some(id) = response
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let bytes = json_size(&turn.input) + json_size(&response);
        let user_cap = self.max_bytes / USER_SHARE;
        if bytes > user_cap {
            return;
        }
        let mut inner = self.lock();
        inner.purge(now_ms);
        inner.remove(&id);
        while inner.by_id.len() >= MAX_KEPT || inner.bytes + bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.remove(&oldest);
        }
        loop {
            let oldest = match inner.users.get_mut(&turn.user_id) {
                Some((used, ids)) if *used + bytes > user_cap => ids.pop_front(),
                _ => None,
            };
            match oldest {
                Some(old) => inner.remove(&old),
                None => break,
            }
        }
        let chain_bytes = bytes
            + turn
                .previous
                .as_ref()
                .and_then(|p| inner.by_id.get(p))
                .map_or(0, |k| k.chain_bytes);
        inner.order.push_back(id.clone());
        inner.bytes += bytes;
        let share = inner.users.entry(turn.user_id.clone()).or_default();
        share.0 += bytes;
        share.1.push_back(id.clone());
        let kept = Kept {
            user_id: turn.user_id,
            expires_at: now_ms + TTL_MS,
            previous: turn.previous,
            input: Arc::new(turn.input),
            response: Arc::new(response),
            bytes,
            chain_bytes,
        };
        inner.by_id.insert(id, kept);
    }

    /// The response object, for its creator.
    pub fn get(&self, id: &str, user_id: &str, now_ms: i64) -> Result<Value, GatewayError> {
        let inner = self.lock();
        inner
            .visible(id, user_id, now_ms)
            .map(|k| Value::clone(&k.response))
            .ok_or_else(|| not_found(id))
    }

    /// Deletes a response of its creator.
    pub fn delete(&self, id: &str, user_id: &str, now_ms: i64) -> Result<(), GatewayError> {
        let mut inner = self.lock();
        if inner.visible(id, user_id, now_ms).is_none() {
            return Err(not_found(id));
        }
        inner.remove(id);
        inner.order.retain(|o| o != id);
        Ok(())
    }

    /// A Responses request's `previous_response_id`, when the gateway kept that response:
    /// the conversation's items go before the new input. Returns the turn to keep (unless
    /// the request says `store: false`).
    pub fn continue_conversation(
        &self,
        user_id: &str,
        value: &mut serde_json::Value,
    ) -> Result<Option<Turn>, GatewayError> {
        use serde_json::Value;
        let store = value.get("store").and_then(Value::as_bool) != Some(false);
        let continues = value
            .get("previous_response_id")
            .is_some_and(|p| !p.is_null());
        if !store && !continues {
            // Nothing to keep and nothing to replay (Codex's every request): no copy.
            return Ok(None);
        }
        let current: Vec<Value> = match value.get("input") {
            Some(Value::String(s)) => vec![serde_json::json!({"role": "user", "content": s})],
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let previous = match value.get("previous_response_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => {
                return Err(
                    GatewayError::bad_request("previous_response_id must be a string")
                        .with_param("previous_response_id"),
                );
            }
        };
        if let Some(id) = &previous {
            if !id.starts_with(OWN_PREFIX) {
                return Err(GatewayError::bad_request(format!(
                    "previous_response_id '{id}' was not made through this gateway; this provider has no Responses API of its own, so send the conversation's items in input"
                ))
                .with_param("previous_response_id"));
            }
            let mut items = self.history(id, user_id, modelgate_core::now_millis())?;
            items.extend(current.iter().cloned());
            value["input"] = Value::Array(items);
        }
        Ok(store.then(|| Turn {
            user_id: user_id.to_owned(),
            previous,
            input: current,
        }))
    }

    /// A native Responses request continuing a response the gateway kept (the
    /// conversation moved to a provider with a Responses API): the items go inline and the
    /// id, which the upstream cannot know, is left out.
    pub fn inline_own_previous(
        &self,
        user_id: &str,
        body: &bytes::Bytes,
    ) -> Result<bytes::Bytes, GatewayError> {
        let mut value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| GatewayError::bad_request(format!("invalid JSON body: {e}")))?;
        let own = value
            .get("previous_response_id")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|id| id.starts_with(OWN_PREFIX));
        if !own {
            return Ok(body.clone());
        }
        self.continue_conversation(user_id, &mut value)?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("previous_response_id");
            // What the gateway made is not the native provider's to verify: our reasoning
            // items (their content sealed for Anthropic) go, and so do our item ids.
            if let Some(Value::Array(items)) = obj.get_mut("input") {
                items.retain(|i| {
                    i.get("type").and_then(Value::as_str) != Some("reasoning")
                        || i.get("encrypted_content")
                            .and_then(Value::as_str)
                            .is_some_and(|c| {
                                !c.starts_with(
                                    modelgate_translate::responses_to_openai::reasoning::PREFIX,
                                )
                            })
                });
                for item in items.iter_mut() {
                    let ours = item
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| id.split_once('_'))
                        .is_some_and(|(_, rest)| rest.starts_with("mg_"));
                    if ours && let Some(o) = item.as_object_mut() {
                        o.remove("id");
                    }
                }
            }
        }
        Ok(bytes::Bytes::from(value.to_string()))
    }

    /// Every item of the conversation up to and including `id` (each turn's input, then
    /// its output), oldest first.
    pub fn history(
        &self,
        id: &str,
        user_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Value>, GatewayError> {
        // Under the lock only the shared turns are taken; the items are copied after.
        let turns = {
            let inner = self.lock();
            let first = inner
                .visible(id, user_id, now_ms)
                .ok_or_else(|| not_found(id))?;
            if first.chain_bytes > MAX_CHAIN_BYTES {
                return Err(GatewayError::bad_request(format!(
                    "the conversation up to '{id}' is larger than a request may be; send its items in input instead"
                ))
                .with_param("previous_response_id"));
            }
            let mut turns = Vec::new();
            let mut next = Some(id.to_owned());
            while let Some(current) = next {
                if turns.len() >= MAX_CHAIN {
                    return Err(GatewayError::bad_request(format!(
                        "the conversation before '{id}' is longer than {MAX_CHAIN} responses"
                    ))
                    .with_param("previous_response_id"));
                }
                let kept = inner
                    .visible(&current, user_id, now_ms)
                    .ok_or_else(|| not_found(&current))?;
                turns.push((kept.input.clone(), kept.response.clone()));
                next = kept.previous.clone();
            }
            turns
        };
        let mut items = Vec::new();
        for (input, response) in turns.into_iter().rev() {
            items.extend(input.iter().cloned());
            if let Some(output) = response.get("output").and_then(Value::as_array) {
                items.extend(output.iter().cloned());
            }
        }
        Ok(items)
    }
}

impl Inner {
    fn remove(&mut self, id: &str) {
        if let Some(k) = self.by_id.remove(id) {
            self.bytes -= k.bytes;
            if let Some((used, ids)) = self.users.get_mut(&k.user_id) {
                *used -= k.bytes;
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.users.remove(&k.user_id);
                }
            }
        }
    }

    fn visible(&self, id: &str, user_id: &str, now_ms: i64) -> Option<&Kept> {
        self.by_id
            .get(id)
            .filter(|k| k.user_id == user_id && k.expires_at > now_ms)
    }

    /// Drops expired responses from the front of the queue.
    fn purge(&mut self, now_ms: i64) {
        while let Some(front) = self.order.front() {
            match self.by_id.get(front) {
                Some(k) if k.expires_at > now_ms => break,
                _ => {
                    if let Some(id) = self.order.pop_front() {
                        self.remove(&id);
                    }
                }
            }
        }
    }
}

/// Keeps a streamed response when its final event (`response.completed` or
/// `response.incomplete`) goes to the client.
pub struct Keeping {
    pub inner: Box<dyn EventMapper>,
    pub store: std::sync::Arc<ResponseStore>,
    pub turn: Option<Turn>,
}

impl EventMapper for Keeping {
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let out = self.inner.on_event(event);
        for e in &out {
            if let Event::Data {
                name: Some(name),
                data,
            } = e
                && (name == "response.completed" || name == "response.incomplete")
                && let Some(turn) = self.turn.take()
            {
                let response = data.get("response").cloned().unwrap_or_default();
                self.store
                    .keep(turn, response, modelgate_core::now_millis());
            }
        }
        out
    }

    fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Event> {
        self.inner.fail(code, message)
    }
}

/// The size of a value as JSON (what keeping it costs, roughly).
fn json_size<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn not_found(id: &str) -> GatewayError {
    GatewayError::not_found(format!("Response with id '{id}' not found."))
        .with_param("previous_response_id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(user: &str, previous: Option<&str>, text: &str) -> Turn {
        Turn {
            user_id: user.into(),
            previous: previous.map(str::to_owned),
            input: vec![json!({"role": "user", "content": text})],
        }
    }

    fn response(id: &str, text: &str) -> Value {
        json!({"id": id, "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}]})
    }

    #[test]
    fn a_chain_replays_every_turn_in_order() {
        let store = ResponseStore::default();
        store.keep(turn("u", None, "one"), response("resp_mg_1", "1"), 0);
        store.keep(
            turn("u", Some("resp_mg_1"), "two"),
            response("resp_mg_2", "2"),
            10,
        );
        let items = store.history("resp_mg_2", "u", 20).unwrap_or_default();
        let texts: Vec<String> = items
            .iter()
            .map(|i| {
                i.get("content")
                    .and_then(|c| {
                        c.as_str().map(str::to_owned).or_else(|| {
                            c.pointer("/0/text")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                    })
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(texts, ["one", "1", "two", "2"]);
    }

    #[test]
    fn only_the_creator_sees_a_response_and_only_until_it_expires() {
        let store = ResponseStore::default();
        store.keep(turn("u", None, "one"), response("resp_mg_1", "1"), 0);
        assert!(store.get("resp_mg_1", "u", 1).is_ok());
        assert!(store.get("resp_mg_1", "someone-else", 1).is_err());
        assert!(store.history("resp_mg_1", "someone-else", 1).is_err());
        assert!(store.get("resp_mg_1", "u", TTL_MS + 1).is_err());
        assert!(store.delete("resp_mg_1", "someone-else", 1).is_err());
        assert!(store.delete("resp_mg_1", "u", 1).is_ok());
        assert!(store.get("resp_mg_1", "u", 2).is_err());
    }

    #[test]
    fn a_user_over_their_share_loses_their_own_oldest_not_anyone_elses() {
        let store = ResponseStore::with_max_bytes(8_000);
        store.keep(
            turn("quiet", None, "keep me"),
            response("resp_mg_q", "1"),
            0,
        );
        let big = "x".repeat(300);
        for i in 0..10 {
            store.keep(
                turn("busy", None, &big),
                response(&format!("resp_mg_b{i}"), "1"),
                0,
            );
        }
        assert!(store.get("resp_mg_q", "quiet", 1).is_ok());
        assert!(store.get("resp_mg_b0", "busy", 1).is_err());
        assert!(store.get("resp_mg_b9", "busy", 1).is_ok());
        let inner = store.lock();
        assert!(inner.users["busy"].0 <= 1_000);
        assert_eq!(
            inner.bytes,
            inner.by_id.values().map(|k| k.bytes).sum::<usize>()
        );
    }

    #[test]
    fn the_byte_cap_evicts_the_oldest_first() {
        let store = ResponseStore::with_max_bytes(24_000);
        let big = "x".repeat(1_000);
        for i in 0..4 {
            store.keep(
                turn("u", None, &big),
                response(&format!("resp_mg_{i}"), "1"),
                0,
            );
        }
        let inner = store.lock();
        assert!(inner.bytes <= 24_000);
        assert!(!inner.by_id.contains_key("resp_mg_0"));
        assert!(inner.by_id.contains_key("resp_mg_3"));
        assert_eq!(
            inner.bytes,
            inner.by_id.values().map(|k| k.bytes).sum::<usize>()
        );
    }

    #[test]
    fn expired_responses_are_purged_when_new_ones_arrive() {
        let store = ResponseStore::default();
        store.keep(turn("u", None, "one"), response("resp_mg_1", "1"), 0);
        store.keep(
            turn("u", None, "two"),
            response("resp_mg_2", "2"),
            TTL_MS + 5,
        );
        assert_eq!(store.lock().by_id.len(), 1);
    }
}
