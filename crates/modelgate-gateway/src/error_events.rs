//! The event that ends a stream which cannot be completed, in the client's schema
//! ([`FrontSchema`]): an OpenAI chat chunk with an `error` object, a Responses
//! `response.failed`, or an Anthropic `error` event. Both stream kinds
//! (`stream.rs`, `bedrock_stream.rs`) end a broken stream with it.

use bytes::Bytes;

/// The schema of the client's API, which decides the shape of error events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontSchema {
    /// OpenAI chat and completions: a `data:` chunk with an `error` object.
    OpenAi,
    /// OpenAI Responses: a `response.failed` event.
    Responses,
    /// Anthropic Messages: an `error` event.
    Anthropic,
}

/// The SSE error event sent when a stream cannot be completed, in the client's schema.
pub fn error_event(front: FrontSchema, message: &str, code: &str) -> Bytes {
    match front {
        FrontSchema::OpenAi => {
            let body = serde_json::json!({
                "error": {"message": message, "type": "upstream_error", "param": null, "code": code}
            });
            Bytes::from(format!("data: {body}\n\n"))
        }
        FrontSchema::Anthropic => {
            let body = serde_json::json!({"type": "error", "error": {"type": "api_error", "message": message}});
            Bytes::from(format!("event: error\ndata: {body}\n\n"))
        }
        FrontSchema::Responses => {
            let body = serde_json::json!({"type": "response.failed", "response": {
                "object": "response", "status": "failed", "output": [],
                "error": {"code": code, "message": message},
            }});
            Bytes::from(format!("event: response.failed\ndata: {body}\n\n"))
        }
    }
}
