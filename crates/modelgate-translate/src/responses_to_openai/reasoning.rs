//! Reasoning items ↔ the chat schema's reasoning fields. A chat message carries thinking
//! as `reasoning_content` (text) and, from Anthropic and Bedrock, `thinking_blocks` (with
//! the signatures the upstream needs to see again on the next turn). A Responses client
//! keeps reasoning as items it sends back unchanged, so the blocks ride in the item's
//! opaque `encrypted_content`, marked with [`PREFIX`]; foreign `encrypted_content` (from
//! OpenAI itself) is not ours to read and is left out.

use serde_json::{Value, json};

/// Marks `encrypted_content` written by this gateway.
pub const PREFIX: &str = "modelgate.thinking.v1:";

/// Thinking blocks → `encrypted_content`, when there are any.
pub fn seal(blocks: &[Value]) -> Option<String> {
    if blocks.is_empty() {
        return None;
    }
    Some(format!("{PREFIX}{}", Value::Array(blocks.to_vec())))
}

/// `encrypted_content` → the thinking blocks it carries (none if it is not ours).
pub fn open(encrypted: &str) -> Vec<Value> {
    encrypted
        .strip_prefix(PREFIX)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| match v {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.get("type").is_some())
        .collect()
}

/// A reasoning output item.
pub fn item(id: &str, summary: &str, blocks: &[Value]) -> Value {
    let mut item = json!({
        "type": "reasoning",
        "id": id,
        "summary": if summary.is_empty() { json!([]) } else { json!([{"type": "summary_text", "text": summary}]) },
    });
    if let Some(sealed) = seal(blocks) {
        item["encrypted_content"] = json!(sealed);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_survive_a_round_trip_and_foreign_content_is_ignored() {
        let blocks = vec![json!({"type": "thinking", "thinking": "hm", "signature": "sig"})];
        let sealed = seal(&blocks).unwrap_or_default();
        assert_eq!(open(&sealed), blocks);
        assert!(open("gAAAAABo-openai-opaque").is_empty());
        assert!(open(&format!("{PREFIX}not json")).is_empty());
        assert_eq!(seal(&[]), None);
    }
}
