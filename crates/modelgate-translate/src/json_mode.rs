//! JSON mode (`response_format` `json_object` / `json_schema`) on targets without it
//! (Anthropic, Bedrock): the answer is asked for as the input of a synthetic tool,
//! [`JSON_TOOL`], whose input schema is the requested one, and the response side turns a
//! call of it back into the message content.
//!
//! The client's own tools stay usable. How the tool choice is set:
//!
//! | client's tools and `tool_choice`            | sent                                        |
//! |---------------------------------------------|---------------------------------------------|
//! | no tools, or `tool_choice: "none"`          | the JSON tool, forced                       |
//! | tools, `tool_choice` absent/`auto`/`required` | "any tool": the model calls one of the client's tools, or answers through the JSON tool |
//! | tools, a named `tool_choice`                | the client's choice, unchanged              |
//!
//! "Any tool" rather than "auto" so that a final answer is always JSON: the model can no
//! longer answer in free text, which JSON mode forbids anyway.

use crate::TranslateError;
use crate::util::ToolChoice;
use serde_json::{Value, json};

/// Name of the tool that carries JSON-mode output.
pub const JSON_TOOL: &str = "json_response";

/// How the tool choice is set for a JSON-mode request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonChoice<'a> {
    /// Only the JSON tool may be called.
    Forced,
    /// Some tool must be called: one of the client's, or the JSON tool for the answer.
    AnyTool,
    /// The client named a tool: its choice is kept.
    Client(&'a str),
}

/// The rule of the table above for the client's `tool_choice`, given whether it sent
/// tools the target will see.
pub(crate) fn json_choice<'a>(client: Option<ToolChoice<'a>>, has_tools: bool) -> JsonChoice<'a> {
    match client {
        _ if !has_tools => JsonChoice::Forced,
        Some(ToolChoice::None) => JsonChoice::Forced,
        Some(ToolChoice::Named(name)) => JsonChoice::Client(name),
        None | Some(ToolChoice::Auto | ToolChoice::Required) => JsonChoice::AnyTool,
    }
}

/// The JSON tool's description: alone it is the answer, beside the client's tools it is
/// the way to give the final answer.
pub(crate) fn description(beside_client_tools: bool) -> &'static str {
    if beside_client_tools {
        "Give your final answer by calling this tool, with the answer as JSON matching this schema. Call the other tools first when you need them."
    } else {
        "Respond with the answer as JSON matching this schema."
    }
}

/// The schema JSON mode must follow, if `response_format` asks for JSON.
pub(crate) fn schema(format: Option<&Value>) -> Result<Option<Value>, TranslateError> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "object"}))),
        Some("json_schema") => Ok(Some(
            format
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
        )),
        _ => Err(TranslateError::at(
            "response_format",
            "response_format.type must be text, json_object or json_schema",
        )),
    }
}

/// The finish reason of an answer given through the JSON tool: `stop`, unless the output
/// limit cut it (`length`) or the model also called the client's tools (`tool_calls`).
pub(crate) fn finish_reason(upstream: &'static str, called_client_tools: bool) -> &'static str {
    match upstream {
        "length" => "length",
        _ if called_client_tools => "tool_calls",
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_choice_rule() {
        for (client, has_tools, want) in [
            (None, false, JsonChoice::Forced),
            (Some(ToolChoice::Auto), false, JsonChoice::Forced),
            (Some(ToolChoice::None), true, JsonChoice::Forced),
            (None, true, JsonChoice::AnyTool),
            (Some(ToolChoice::Auto), true, JsonChoice::AnyTool),
            (Some(ToolChoice::Required), true, JsonChoice::AnyTool),
            (Some(ToolChoice::Named("f")), true, JsonChoice::Client("f")),
        ] {
            assert_eq!(
                json_choice(client, has_tools),
                want,
                "{client:?} {has_tools}"
            );
        }
    }

    #[test]
    fn finish_reasons() {
        for (upstream, client, want) in [
            ("tool_calls", false, "stop"),
            ("stop", false, "stop"),
            ("length", false, "length"),
            ("length", true, "length"),
            ("tool_calls", true, "tool_calls"),
        ] {
            assert_eq!(finish_reason(upstream, client), want, "{upstream} {client}");
        }
    }
}
