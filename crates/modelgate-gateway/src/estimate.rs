//! Token estimates for when an upstream reports no usage. They are marked as estimated in
//! the usage record, and are deliberately simple and cheap: about four bytes of text per
//! token, and at least one token per streamed content chunk (servers stream roughly one
//! token per chunk). Billing uses the upstream's own `usage` whenever it is sent.

/// Tokens for a piece of generated or prompt text.
pub fn text_tokens(len_bytes: usize) -> u64 {
    (len_bytes as u64).div_ceil(4)
}

/// Tokens for one streamed chunk carrying `len_bytes` of text (0 → no tokens).
pub fn chunk_tokens(len_bytes: usize) -> u64 {
    if len_bytes == 0 {
        0
    } else {
        text_tokens(len_bytes).max(1)
    }
}

/// Prompt tokens of an OpenAI-schema request: the text under `messages`, `prompt` and
/// `input`, plus a small per-message overhead.
pub fn prompt_tokens(body: &[u8]) -> u64 {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return text_tokens(body.len());
    };
    let mut total = 0u64;
    for field in ["messages", "prompt", "input"] {
        if let Some(v) = value.get(field) {
            total += text_tokens(string_bytes(v));
            if let Some(messages) = v.as_array().filter(|_| field == "messages") {
                total += 4 * messages.len() as u64;
            }
        }
    }
    total
}

/// Completion tokens of a non-streamed response body without `usage`.
pub fn completion_tokens(body: &[u8]) -> u64 {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    value
        .get("choices")
        .and_then(|c| c.as_array())
        .map(|choices| {
            choices
                .iter()
                .map(|c| {
                    let text = c.get("message").map(string_bytes).unwrap_or(0)
                        + c.get("text").map(string_bytes).unwrap_or(0);
                    text_tokens(text)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Total bytes of all strings inside a JSON value.
fn string_bytes(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(string_bytes).sum(),
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "role" | "type" | "id"))
            .map(|(_, v)| string_bytes(v))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_never_zero_for_text() {
        assert_eq!(chunk_tokens(0), 0);
        assert_eq!(chunk_tokens(1), 1);
        assert_eq!(chunk_tokens(9), 3);
        let prompt =
            br#"{"model":"m","messages":[{"role":"user","content":"hello world, how are you"}]}"#;
        assert_eq!(prompt_tokens(prompt), 6 + 4);
        let resp = br#"{"choices":[{"message":{"role":"assistant","content":"12345678"}}]}"#;
        assert_eq!(completion_tokens(resp), 2);
        assert_eq!(
            prompt_tokens(br#"{"model":"m","input":["abcd","efgh"]}"#),
            2
        );
    }
}
