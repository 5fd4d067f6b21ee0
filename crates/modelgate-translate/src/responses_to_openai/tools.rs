//! Tools between the Responses and chat schemas, both ways.
//!
//! Going up, every tool the client runs itself becomes a chat function:
//! - `function` as it is;
//! - `custom` (free-form input, maybe with a grammar) as a function with one string
//!   argument, [`CUSTOM_INPUT`], the grammar quoted in its description;
//! - `namespace` (a group of functions, as Codex CLI sends its sub-agent tools) flattened
//!   into functions named `namespace__name`;
//! - `tool_search` run by the client (`execution: "client"`) as a function of that name.
//!
//! Built-in tools the upstream cannot run are refused with their name, with one exception:
//! a `web_search` the client marks as not needing live web access
//! (`external_web_access: false`, how Codex CLI sends its default cached search) is left out
//! and named in the dropped parameters, since refusing it would refuse every Codex request.
//!
//! Coming back, [`call_item`] turns a chat tool call into the item the client expects:
//! `function_call` (with its `namespace`), `custom_tool_call` or `tool_search_call`.

use super::CUSTOM_INPUT;
use crate::{Dropped, TranslateError};
use serde_json::{Value, json};

/// The function a client-run tool search becomes.
pub const TOOL_SEARCH: &str = "tool_search";
/// Joins a namespace and a function name into one chat function name.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// What the way back must know about the request's tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    /// Chat names of custom (free-form) tools.
    pub custom: Vec<String>,
    /// (chat name, namespace, name) of the functions of namespaces.
    pub namespaced: Vec<(String, String, String)>,
    /// The client runs tool search.
    pub tool_search: bool,
}

impl ToolNames {
    fn is_custom(&self, chat_name: &str) -> bool {
        self.custom.iter().any(|c| c == chat_name)
    }

    fn namespace_of(&self, chat_name: &str) -> Option<(&str, &str)> {
        self.namespaced
            .iter()
            .find(|(flat, _, _)| flat == chat_name)
            .map(|(_, ns, name)| (ns.as_str(), name.as_str()))
    }

    /// Whether the call's arguments stream as `function_call_arguments` deltas (custom
    /// inputs and tool searches are sent whole when the call is done).
    pub fn streams_arguments(&self, chat_name: &str) -> bool {
        !(self.is_custom(chat_name) || (self.tool_search && chat_name == TOOL_SEARCH))
    }
}

/// Responses tools → chat tools (appended to `out`, skipping names already there).
pub fn translate(
    list: &[Value],
    at: &str,
    names: &mut ToolNames,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), TranslateError> {
    for (i, tool) in list.iter().enumerate() {
        one(tool, &format!("{at}[{i}]"), None, names, out, dropped)?;
    }
    Ok(())
}

fn one(
    tool: &Value,
    at: &str,
    namespace: Option<&str>,
    names: &mut ToolNames,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), TranslateError> {
    let str_of = |k: &str| tool.get(k).and_then(Value::as_str).unwrap_or("");
    let name = match namespace {
        Some(ns) => {
            let flat = format!("{ns}{NAMESPACE_SEPARATOR}{}", str_of("name"));
            names
                .namespaced
                .push((flat.clone(), ns.to_owned(), str_of("name").to_owned()));
            flat
        }
        None => str_of("name").to_owned(),
    };
    let function = match str_of("type") {
        "function" => {
            let mut f = json!({"name": name, "parameters": parameters(tool)});
            if let Some(d) = tool.get("description").filter(|d| d.is_string()) {
                f["description"] = d.clone();
            }
            if let Some(s) = tool.get("strict").filter(|s| s.is_boolean()) {
                f["strict"] = s.clone();
            }
            f
        }
        "custom" => {
            names.custom.push(name.clone());
            let mut description = str_of("description").to_owned();
            if let Some(def) = tool.pointer("/format/definition").and_then(Value::as_str) {
                let syntax = tool
                    .pointer("/format/syntax")
                    .and_then(Value::as_str)
                    .unwrap_or("grammar");
                description.push_str(&format!(
                    "\n\nThe `{CUSTOM_INPUT}` argument is free-form text that must follow this {syntax} grammar:\n{def}"
                ));
            }
            json!({"name": name, "description": description, "parameters": {
                "type": "object",
                "properties": {CUSTOM_INPUT: {"type": "string", "description": "The tool's free-form input."}},
                "required": [CUSTOM_INPUT],
            }})
        }
        "namespace" if namespace.is_none() => {
            let inner = tool.get("tools").and_then(Value::as_array);
            for (j, t) in inner.into_iter().flatten().enumerate() {
                one(
                    t,
                    &format!("{at}.tools[{j}]"),
                    Some(&name),
                    names,
                    out,
                    dropped,
                )?;
            }
            return Ok(());
        }
        "tool_search" if str_of("execution") != "server" => {
            names.tool_search = true;
            let mut f = json!({"name": TOOL_SEARCH, "parameters": parameters(tool)});
            if let Some(d) = tool.get("description").filter(|d| d.is_string()) {
                f["description"] = d.clone();
            }
            f
        }
        "web_search" | "web_search_preview"
            if tool.get("external_web_access") == Some(&json!(false)) =>
        {
            let name = format!("tools.{}", str_of("type"));
            if !dropped.contains(&name) {
                dropped.push(name);
            }
            return Ok(());
        }
        other => {
            return Err(TranslateError::at(
                at,
                format!(
                    "the built-in tool '{other}' cannot run on this provider; remove it or use a provider with the OpenAI Responses API"
                ),
            ));
        }
    };
    let already = out
        .iter()
        .any(|t| t.pointer("/function/name") == function.get("name"));
    if !already {
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(())
}

fn parameters(tool: &Value) -> Value {
    tool.get("parameters")
        .filter(|p| p.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}))
}

/// The chat function name of a call item the client sends back.
pub fn chat_name(item: &Value) -> String {
    let name = item.get("name").and_then(Value::as_str).unwrap_or("");
    match item.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        _ => name.to_owned(),
    }
}

/// The output item for a chat tool call.
pub fn call_item(
    names: &ToolNames,
    id: &str,
    call_id: &str,
    chat_name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    if names.is_custom(chat_name) {
        let input = serde_json::from_str::<Value>(arguments)
            .ok()
            .and_then(|v| {
                v.get(CUSTOM_INPUT)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| arguments.to_owned());
        let (name, namespace) = match names.namespace_of(chat_name) {
            Some((ns, name)) => (name, Some(ns)),
            None => (chat_name, None),
        };
        let mut item = json!({"type": "custom_tool_call", "id": id, "call_id": call_id,
            "name": name, "input": input, "status": status});
        if let Some(ns) = namespace {
            item["namespace"] = json!(ns);
        }
        return item;
    }
    if names.tool_search && chat_name == TOOL_SEARCH {
        let arguments = serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({}));
        return json!({"type": "tool_search_call", "id": id, "call_id": call_id,
            "execution": "client", "arguments": arguments, "status": status});
    }
    let mut item = json!({"type": "function_call", "id": id, "call_id": call_id,
        "name": chat_name, "arguments": arguments, "status": status});
    if let Some((ns, name)) = names.namespace_of(chat_name) {
        item["name"] = json!(name);
        item["namespace"] = json!(ns);
    }
    item
}
