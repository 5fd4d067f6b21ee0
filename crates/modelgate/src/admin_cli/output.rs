//! Rendering answers for people: aligned text tables (one function for every list),
//! field/value tables for single objects, confirmations, the once-only secret of a new
//! key, and the usage report; or, with `--json`, the server's JSON pretty-printed.

use super::call::{Column, View};
use anyhow::Context;
use serde_json::{Map, Value};

/// How many items of an array a list cell shows before `+N`.
const LIST_CELL_ITEMS: usize = 3;

/// The text to print for a successful answer (`None`: an empty body, e.g. 204).
pub fn render(view: &View, answer: Option<&Value>, json: bool) -> anyhow::Result<String> {
    if json {
        return match answer {
            Some(v) => Ok(format!("{}\n", serde_json::to_string_pretty(v)?)),
            None => Ok(String::new()),
        };
    }
    let answer = answer.unwrap_or(&Value::Null);
    Ok(match view {
        View::Done(message) => format!("{message}\n"),
        View::List(columns) => list_table(columns, items(answer)?),
        View::Object => object_table(answer.as_object().context("expected a JSON object")?),
        View::NewKey => new_key(answer)?,
        View::Usage => usage(answer)?,
    })
}

/// The items of a list answer: `{"data": [...]}` (or a bare array).
fn items(answer: &Value) -> anyhow::Result<&[Value]> {
    answer
        .get("data")
        .unwrap_or(answer)
        .as_array()
        .map(Vec::as_slice)
        .context("expected a list answer ({\"data\": [...]})")
}

/// Lays rows out under a header, columns two spaces apart and left-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A list as a table of the given columns.
fn list_table(columns: &[Column], items: &[Value]) -> String {
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|(_, key)| {
                    let v = if key.is_empty() { item } else { &item[*key] };
                    cell(v, Some(LIST_CELL_ITEMS))
                })
                .collect()
        })
        .collect();
    table(&headers, &rows)
}

/// One object as FIELD / VALUE rows, arrays in full.
fn object_table(object: &Map<String, Value>) -> String {
    let rows: Vec<Vec<String>> = object
        .iter()
        .map(|(k, v)| vec![clean(k), cell(v, None)])
        .collect();
    table(&["FIELD", "VALUE"], &rows)
}

/// The answer to `keys create`: the secret, set apart, with a warning that it is shown once.
fn new_key(answer: &Value) -> anyhow::Result<String> {
    let key = answer["key"]
        .as_str()
        .context("the server's answer has no \"key\"")?;
    Ok(format!(
        "Created key {} ({}).\nCopy it now; it is shown only this once:\n\n    {}\n\n",
        cell(&answer["name"], None),
        cell(&answer["id"], None),
        clean(key),
    ))
}

/// The usage report: a totals line, then the `breakdown` as a table whose columns are
/// the keys of its first item (`name`, the totals' fields, then the rest).
fn usage(answer: &Value) -> anyhow::Result<String> {
    let totals = answer.get("totals").unwrap_or(answer);
    let fields = ["cost_usd", "input_tokens", "output_tokens", "requests"];
    let line: Vec<String> = fields
        .iter()
        .map(|f| format!("{f}={}", cell(&totals[*f], None)))
        .collect();
    let mut out = format!("Total: {}\n", line.join("  "));
    let breakdown = match answer.get("breakdown") {
        Some(b) => b
            .as_array()
            .context("\"breakdown\" is not a list")?
            .as_slice(),
        None => &[],
    };
    if let Some(first) = breakdown.first().and_then(Value::as_object) {
        // `name` first, then the totals' fields in their order, then whatever else.
        let leading: Vec<&str> = std::iter::once("name").chain(fields).collect();
        let known = leading.iter().copied().filter(|k| first.contains_key(*k));
        let rest = first
            .keys()
            .map(String::as_str)
            .filter(|k| !leading.contains(k));
        let keys: Vec<&str> = known.chain(rest).collect();
        let headers: Vec<String> = keys.iter().map(|k| k.to_uppercase()).collect();
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = breakdown
            .iter()
            .map(|item| keys.iter().map(|k| cell(&item[*k], None)).collect())
            .collect();
        out.push('\n');
        out.push_str(&table(&headers, &rows));
    }
    Ok(out)
}

/// One value as a table cell: `-` for null or empty, arrays comma-joined (at most
/// `max_items`, then `+N`), `{"group": "eng"}` as `group:eng`, `{"org": true}` as `org`,
/// an object with a `name` as that name, any other object as compact JSON.
pub fn cell(v: &Value, max_items: Option<usize>) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => clean(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.is_f64(), n.as_f64()) {
            (true, Some(f)) => decimal(f),
            _ => n.to_string(),
        },
        Value::Array(a) if a.is_empty() => "-".to_owned(),
        Value::Array(a) => {
            let shown = max_items.unwrap_or(a.len()).min(a.len());
            let mut parts: Vec<String> = a[..shown].iter().map(|v| cell(v, None)).collect();
            if shown < a.len() {
                parts.push(format!("+{}", a.len() - shown));
            }
            parts.join(",")
        }
        Value::Object(o) => match (o.len(), o.iter().next(), o.get("name")) {
            (1, Some((k, Value::Bool(true))), _) => clean(k),
            (1, Some((k, v @ (Value::String(_) | Value::Number(_)))), _) => {
                format!("{}:{}", clean(k), cell(v, None))
            }
            (_, _, Some(Value::String(name))) => clean(name),
            _ => clean(&Value::Object(o.clone()).to_string()),
        },
    }
}

/// A float with at most six decimals and no trailing zeros (`0.30000000000000004` → `0.3`).
fn decimal(f: f64) -> String {
    let s = format!("{f:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Control characters (newlines, terminal escapes) become spaces, so server text can
/// neither break the table nor drive the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_trim() {
        let t = table(
            &["NAME", "ROLE"],
            &[
                vec!["alice".into(), "admin".into()],
                vec!["bo".into(), "member".into()],
            ],
        );
        assert_eq!(t, "NAME   ROLE\nalice  admin\nbo     member\n");
        assert_eq!(table(&["A", "B"], &[]), "A  B\n");
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&json!(null), None), "-");
        assert_eq!(cell(&json!([]), None), "-");
        assert_eq!(cell(&json!(["a", "b", "c", "d", "e"]), Some(3)), "a,b,c,+2");
        assert_eq!(cell(&json!(["a", "b"]), Some(3)), "a,b");
        assert_eq!(cell(&json!({"org": true}), None), "org");
        assert_eq!(cell(&json!({"group": "eng"}), None), "group:eng");
        assert_eq!(cell(&json!([{"name": "b1", "limit_usd": 5}]), None), "b1");
        assert_eq!(cell(&json!({"a": 1, "b": 2}), None), r#"{"a":1,"b":2}"#);
        assert_eq!(cell(&json!(0.1 + 0.2), None), "0.3");
        assert_eq!(cell(&json!(12), None), "12");
        assert_eq!(cell(&json!(2.0), None), "2");
        assert_eq!(cell(&json!("x\n\u{1b}[31my"), None), "x  [31my");
    }

    #[test]
    fn lists_render_columns_and_whole_items() {
        let answer = json!({"data": [{"org": true}, {"group": "eng"}]});
        let out = render(&View::List(&[("SHARED WITH", "")]), Some(&answer), false).unwrap();
        assert_eq!(out, "SHARED WITH\norg\ngroup:eng\n");
        let answer = json!({"data": [{"name": "a", "role": "admin"}]});
        let out = render(
            &View::List(&[("NAME", "name"), ("RPM", "rpm")]),
            Some(&answer),
            false,
        )
        .unwrap();
        assert_eq!(out, "NAME  RPM\na     -\n");
    }

    #[test]
    fn json_mode_prints_the_answer_or_nothing() {
        let v = json!({"a": 1});
        let out = render(&View::Done("ok".into()), Some(&v), true).unwrap();
        assert_eq!(out, "{\n  \"a\": 1\n}\n");
        assert_eq!(render(&View::Done("ok".into()), None, true).unwrap(), "");
        assert_eq!(
            render(&View::Done("ok".into()), None, false).unwrap(),
            "ok\n"
        );
    }

    #[test]
    fn new_keys_and_usage() {
        let v = json!({"id": "key_1", "name": "laptop", "key": "mg_secret"});
        let out = render(&View::NewKey, Some(&v), false).unwrap();
        assert!(out.contains("\n    mg_secret\n"), "{out}");
        assert!(out.contains("key_1"));
        assert!(render(&View::NewKey, Some(&json!({})), false).is_err());

        let v = json!({
            "totals": {"cost_usd": 1.5, "input_tokens": 10, "output_tokens": 5, "requests": 2},
            "breakdown": [{"share": 1.0, "name": "m1", "cost_usd": 1.5, "requests": 2}],
        });
        let out = render(&View::Usage, Some(&v), false).unwrap();
        assert_eq!(
            out,
            "Total: cost_usd=1.5  input_tokens=10  output_tokens=5  requests=2\n\n\
             NAME  COST_USD  REQUESTS  SHARE\nm1    1.5       2         1\n"
        );
    }
}
