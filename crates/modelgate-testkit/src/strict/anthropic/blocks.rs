//! Anthropic content blocks: text, images, documents and tool results, as the Messages
//! API checks them (see the parent module for the request-level rules).

use crate::strict::{Rule, field, is_blank};
use serde_json::Value;

/// One content block (`at` is its path, for the message).
pub(super) fn block(b: &Value, at: &str, check_whitespace: bool) -> Rule {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => text_block(b, check_whitespace),
        "image" => image_source(b, at),
        "document" => document_source(b, at),
        "tool_result" => tool_result_content(b, at),
        "" => Err(format!(
            "{at}: Unable to extract tag using discriminator 'type'"
        )),
        _ => Ok(()),
    }
}

/// A `text` block's text is non-empty and (unless it ends a prefill) not only whitespace.
/// The API's answers: "messages: text content blocks must be non-empty", "messages: text
/// content blocks must contain non-whitespace text"
/// (<https://docs.anthropic.com/en/api/messages>, `messages.content` text blocks).
fn text_block(b: &Value, check_whitespace: bool) -> Rule {
    let text = b.get("text").and_then(Value::as_str).unwrap_or("");
    if text.is_empty() {
        return Err("messages: text content blocks must be non-empty".into());
    }
    if check_whitespace && is_blank(text) {
        return Err("messages: text content blocks must contain non-whitespace text".into());
    }
    Ok(())
}

/// An image's `source` is `base64` (media type JPEG, PNG, GIF or WebP), `url` or `file`.
/// <https://docs.anthropic.com/en/docs/build-with-claude/vision> ("image/jpeg, image/png,
/// image/gif, or image/webp"); the source types in <https://docs.anthropic.com/en/api/messages>.
fn image_source(b: &Value, at: &str) -> Rule {
    let source = b.get("source").unwrap_or(&Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source.get("media_type").and_then(Value::as_str);
            if !matches!(
                media,
                Some("image/jpeg" | "image/png" | "image/gif" | "image/webp")
            ) {
                return Err(format!(
                    "{at}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                ));
            }
            required_str(source, "data", &format!("{at}.image.source.base64"))
        }
        Some("url") => required_str(source, "url", &format!("{at}.image.source.url")),
        Some("file") => required_str(source, "file_id", &format!("{at}.image.source.file")),
        _ => Err(format!(
            "{at}.image.source: Input tag found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"
        )),
    }
}

/// A document's `source` is `base64` (a PDF), `text` (plain text), `content` (blocks),
/// `url` or `file`. <https://docs.anthropic.com/en/docs/build-with-claude/pdf-support> and
/// <https://docs.anthropic.com/en/docs/build-with-claude/citations> (plain text and custom
/// content documents).
fn document_source(b: &Value, at: &str) -> Rule {
    let source = b.get("source").unwrap_or(&Value::Null);
    let media = source.get("media_type").and_then(Value::as_str);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") if media != Some("application/pdf") => Err(format!(
            "{at}.document.source.base64.media_type: Input should be 'application/pdf'"
        )),
        Some("base64") => required_str(source, "data", &format!("{at}.document.source.base64")),
        Some("text") if media != Some("text/plain") => Err(format!(
            "{at}.document.source.text.media_type: Input should be 'text/plain'"
        )),
        Some("text") => required_str(source, "data", &format!("{at}.document.source.text")),
        Some("content") => match source.get("content") {
            Some(Value::String(_) | Value::Array(_)) => Ok(()),
            _ => Err(format!(
                "{at}.document.source.content.content: Field required"
            )),
        },
        Some("url") => required_str(source, "url", &format!("{at}.document.source.url")),
        Some("file") => required_str(source, "file_id", &format!("{at}.document.source.file")),
        _ => Err(format!(
            "{at}.document.source: Input tag found using 'type' does not match any of the expected tags: 'base64', 'text', 'content', 'url', 'file'"
        )),
    }
}

fn required_str(obj: &Value, key: &str, at: &str) -> Rule {
    match obj.get(key) {
        Some(Value::String(_)) => Ok(()),
        _ => Err(format!("{at}.{key}: Field required")),
    }
}

/// A `tool_result`'s `content` is a string or blocks of type `text`, `image`, `document`,
/// `search_result` (or `tool_reference`, tool search's); its text blocks follow the text
/// rules. <https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use>
/// ("content … can be a string … or a list of nested content blocks … text, image, or
/// document").
fn tool_result_content(b: &Value, at: &str) -> Rule {
    let Some(Value::Array(inner)) = field(b, "content") else {
        return Ok(());
    };
    for (k, c) in inner.iter().enumerate() {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "text" => text_block(c, true)?,
            "image" => image_source(c, &format!("{at}.tool_result.content.{k}"))?,
            "document" => document_source(c, &format!("{at}.tool_result.content.{k}"))?,
            "search_result" | "tool_reference" => {}
            other => {
                return Err(format!(
                    "{at}.tool_result.content.{k}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', 'image', 'search_result', 'document', 'tool_reference'"
                ));
            }
        }
    }
    Ok(())
}
