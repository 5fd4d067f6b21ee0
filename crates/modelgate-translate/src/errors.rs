//! Error bodies between schemas: an upstream's error, relayed in the caller's schema.

use serde_json::{Value, json};

/// Anthropic's error `type` for an HTTP status.
pub fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    }
}

/// Any upstream error body (OpenAI-, Anthropic- or Bedrock-shaped) → its message.
pub fn message_of(body: &Value) -> Option<String> {
    match body.get("error") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(err) => err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        // Bedrock: {"message": "..."} (sometimes "Message").
        None => body
            .get("message")
            .or_else(|| body.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// An upstream error → Anthropic's `{"type":"error","error":{type,message}}`.
pub fn to_anthropic(status: u16, body: &Value) -> Value {
    json!({"type": "error", "error": {
        "type": anthropic_type(status),
        "message": message_of(body).unwrap_or_else(|| format!("upstream error (status {status})")),
    }})
}

/// An upstream error → OpenAI's `{"error":{message,type,param,code}}`.
pub fn to_openai(status: u16, body: &Value) -> Value {
    let upstream_type = body
        .get("error")
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("upstream_error");
    json!({"error": {
        "message": message_of(body).unwrap_or_else(|| format!("upstream error (status {status})")),
        "type": upstream_type,
        "param": null,
        "code": null,
    }})
}
