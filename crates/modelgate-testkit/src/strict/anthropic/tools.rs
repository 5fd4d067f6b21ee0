//! Anthropic tools: definitions, `tool_choice`, and the pairing of `tool_use` and
//! `tool_result` blocks across turns (see the parent module for the other rules).

use super::role;
use crate::strict::{Rule, field, join_ids};
use serde_json::Value;

/// Custom tools are named by `^[a-zA-Z0-9_-]{1,128}$` and have an `input_schema`.
/// <https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use>
/// (tool definitions: `name` must match that pattern; older pages said `{1,64}`, the API
/// now answers with the 128 limit) and <https://docs.anthropic.com/en/api/messages> (`tools`).
pub(super) fn tools(body: &Value) -> Rule {
    let Some(v) = field(body, "tools") else {
        return Ok(());
    };
    let Some(tools) = v.as_array() else {
        return Err("tools: Input should be a valid list".into());
    };
    for (i, t) in tools.iter().enumerate() {
        if !matches!(t.get("type").and_then(Value::as_str), None | Some("custom")) {
            continue; // Server and client tools of Anthropic's own have fixed names.
        }
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        if name.chars().count() > 128 {
            return Err(format!(
                "tools.{i}.custom.name: String should have at most 128 characters"
            ));
        }
        if !valid_tool_name(name) {
            return Err(format!(
                "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            ));
        }
        if field(t, "input_schema").is_none() {
            return Err(format!("tools.{i}.custom.input_schema: Field required"));
        }
    }
    Ok(())
}

/// `^[a-zA-Z0-9_-]{1,128}$`.
pub(crate) fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `tool_choice` comes with `tools`; its `type` is `auto`, `any`, `tool` or `none`, and a
/// `tool` choice names one of the tools.
/// <https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use>
/// and <https://docs.anthropic.com/en/api/messages> (`tool_choice`).
pub(super) fn tool_choice(body: &Value) -> Rule {
    let Some(choice) = field(body, "tool_choice") else {
        return Ok(());
    };
    let kind = choice.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "auto" | "any" | "tool" | "none") {
        return Err(format!(
            "tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
        ));
    }
    let tools = field(body, "tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty());
    let Some(tools) = tools else {
        return Err("tool_choice may only be specified while providing tools.".into());
    };
    if kind == "tool" {
        let name = choice.get("name").and_then(Value::as_str);
        let Some(name) = name else {
            return Err("tool_choice.tool.name: Field required".into());
        };
        if !tools
            .iter()
            .any(|t| t.get("name").and_then(Value::as_str) == Some(name))
        {
            return Err(format!(
                "tool_choice.tool.name: tool '{name}' was not found in tools"
            ));
        }
    }
    Ok(())
}

/// A block and where it sits: (message index, block index, block).
type Located<'a> = (usize, usize, &'a Value);

/// Consecutive messages of one role: the API takes them as one turn.
struct Turn<'a> {
    role: &'a str,
    /// The index of its first message.
    first: usize,
    blocks: Vec<Located<'a>>,
}

/// The messages as the API sees them: consecutive messages of one role are one turn.
fn turns(messages: &[Value]) -> Vec<Turn<'_>> {
    let mut out: Vec<Turn<'_>> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let blocks: Vec<Located<'_>> = match m.get("content") {
            Some(Value::Array(a)) => a.iter().enumerate().map(|(j, b)| (i, j, b)).collect(),
            _ => Vec::new(),
        };
        match out.last_mut() {
            Some(turn) if turn.role == role(m) => turn.blocks.extend(blocks),
            _ => out.push(Turn {
                role: role(m),
                first: i,
                blocks,
            }),
        }
    }
    out
}

fn is_type(b: &Value, kind: &str) -> bool {
    b.get("type").and_then(Value::as_str) == Some(kind)
}

/// The `key` of the blocks of type `kind` (the ids of `tool_use` or `tool_result` blocks).
fn ids<'a>(blocks: &[Located<'a>], kind: &str, key: &str) -> Vec<&'a str> {
    blocks
        .iter()
        .filter(|(_, _, b)| is_type(b, kind))
        .map(|(_, _, b)| str_of(b, key))
        .collect()
}

fn str_of<'a>(b: &'a Value, key: &str) -> &'a str {
    b.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Every `tool_use` of an assistant turn is answered by a `tool_result` with its id at the
/// start of the next (user) turn, and every `tool_result` answers a `tool_use` of the turn
/// before. <https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use>
/// ("Tool result blocks must immediately follow their corresponding tool use blocks …
/// the tool_result blocks must come FIRST in the content array").
pub(super) fn tool_pairing(messages: &[Value]) -> Rule {
    let turns = turns(messages);
    for (t, turn) in turns.iter().enumerate() {
        let previous_uses = match t.checked_sub(1).map(|p| &turns[p]) {
            Some(prev) if prev.role == "assistant" => ids(&prev.blocks, "tool_use", "id"),
            _ => Vec::new(),
        };
        if turn.role == "user" {
            for (i, j, b) in &turn.blocks {
                let id = str_of(b, "tool_use_id");
                if is_type(b, "tool_result") && !previous_uses.contains(&id) {
                    return Err(format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    ));
                }
            }
        }
        let uses = ids(&turn.blocks, "tool_use", "id");
        // A final assistant turn (a prefill) may end with a tool_use.
        let Some(next) = turns.get(t + 1).filter(|_| turn.role == "assistant") else {
            continue;
        };
        if uses.is_empty() {
            continue;
        }
        let results = ids(&next.blocks, "tool_result", "tool_use_id");
        let missing: Vec<&str> = uses
            .iter()
            .copied()
            .filter(|u| !results.contains(u))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                turn.first,
                join_ids(&missing)
            ));
        }
        let leading = next
            .blocks
            .iter()
            .take_while(|(_, _, b)| is_type(b, "tool_result"))
            .count();
        if leading < results.len() {
            return Err(format!(
                "messages.{}: Did not find {} tool_result block(s) at the beginning of this message. Messages following tool_use blocks must begin with a matching number of tool_result blocks.",
                next.first,
                results.len()
            ));
        }
    }
    Ok(())
}
