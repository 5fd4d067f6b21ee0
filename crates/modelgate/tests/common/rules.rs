//! Access tables: a test states who may do what as rows — who, `"METHOD /path"`, body,
//! expected answer — and [`Callers::check`] runs them in order against the gateway,
//! naming the row that failed. A new rule is one more row.
//!
//! ```ignore
//! let t = gw.callers().key("mallory", &mallory);
//! #[rustfmt::skip]
//! t.check(&[
//!     ("mallory", "GET /api/users",           NONE,              error(403)),
//!     ("admin",   "PATCH /api/users/mallory", json!({"rpm": 1}), status(200).with(json!({"rpm": 1}))),
//! ]).await;
//! ```
//!
//! (`#[rustfmt::skip]` keeps a table's rows one line each, aligned in columns.)

use super::{ADMIN_KEY, Gw};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::fmt::Write as _;

/// No request body.
pub const NONE: Value = Value::Null;

/// One rule: the caller named `.0` (see [`Callers`]) sends `.1` (`"METHOD /path?query"`)
/// with the JSON body `.2` ([`NONE`] for none), and gets the answer `.3`.
pub type Rule<'a> = (&'a str, &'a str, Value, Expect);

/// The answer a rule expects: a status, and for an error the OpenAI error shape with
/// what it must say; for any answer, what its JSON body holds and headers it lacks.
#[derive(Debug, Clone)]
pub struct Expect {
    status: u16,
    error: bool,
    code: Option<&'static str>,
    param: Option<&'static str>,
    kind: Option<&'static str>,
    says: Vec<String>,
    with: Vec<Value>,
    fields: Vec<(&'static str, Value)>,
    lengths: Vec<(&'static str, usize)>,
    without_headers: Vec<&'static str>,
}

/// An answer with this status (nothing else checked unless added).
pub fn status(status: u16) -> Expect {
    Expect {
        status,
        error: false,
        code: None,
        param: None,
        kind: None,
        says: Vec::new(),
        with: Vec::new(),
        fields: Vec::new(),
        lengths: Vec::new(),
        without_headers: Vec::new(),
    }
}

/// An OpenAI-shaped error with this status (as [`super::expect_error`] checks it).
pub fn error(status: u16) -> Expect {
    Expect {
        error: true,
        ..self::status(status)
    }
}

/// An OpenAI-shaped error with this status and `code`.
pub fn code(status: u16, code: &'static str) -> Expect {
    error(status).code(code)
}

impl Expect {
    /// The error's `code`.
    pub fn code(mut self, code: &'static str) -> Self {
        self.error = true;
        self.code = Some(code);
        self
    }

    /// The error's `param`.
    pub fn param(mut self, param: &'static str) -> Self {
        self.error = true;
        self.param = Some(param);
        self
    }

    /// The error's `type`.
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.error = true;
        self.kind = Some(kind);
        self
    }

    /// Text the error's message contains.
    pub fn says(mut self, text: impl Into<String>) -> Self {
        self.error = true;
        self.says.push(text.into());
        self
    }

    /// The body has these fields (see [`assert_has`]).
    pub fn with(mut self, fields: Value) -> Self {
        self.with.push(fields);
        self
    }

    /// The body's value at a JSON pointer (`"/data"`) is exactly `value`; a missing one
    /// reads as null.
    pub fn field(mut self, pointer: &'static str, value: Value) -> Self {
        self.fields.push((pointer, value));
        self
    }

    /// The body's array at a JSON pointer has `n` items.
    pub fn length(mut self, pointer: &'static str, n: usize) -> Self {
        self.lengths.push((pointer, n));
        self
    }

    /// The answer has no such header.
    pub fn without_header(mut self, name: &'static str) -> Self {
        self.without_headers.push(name);
        self
    }

    /// What is wrong with an answer, if anything.
    fn problems(&self, status: u16, headers: &HeaderMap, body: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if status != self.status {
            out.push(format!("status {status}, expected {}", self.status));
        }
        for name in &self.without_headers {
            if let Some(v) = headers.get(*name) {
                out.push(format!("header {name}: {v:?}, expected none"));
            }
        }
        if self.error {
            let err = &body["error"];
            if !headers.contains_key("x-request-id") {
                out.push("no x-request-id header".into());
            }
            let message = err["message"].as_str().unwrap_or_default();
            if message.is_empty() {
                out.push("no error message".into());
            }
            if !err["type"].is_string() {
                out.push("no error type".into());
            }
            for (what, want) in [
                ("code", self.code),
                ("param", self.param),
                ("type", self.kind),
            ] {
                if let Some(want) = want
                    && err[what] != want
                {
                    out.push(format!("error {what} {}, expected {want:?}", err[what]));
                }
            }
            for text in &self.says {
                if !message.contains(text.as_str()) {
                    out.push(format!("the message does not say {text:?}"));
                }
            }
        }
        for want in &self.with {
            missing(body, want, "", &mut out);
        }
        for (pointer, want) in &self.fields {
            let got = body.pointer(pointer).unwrap_or(&Value::Null);
            if got != want {
                out.push(format!("{pointer} is {got}, expected {want}"));
            }
        }
        for (pointer, n) in &self.lengths {
            let got = body
                .pointer(pointer)
                .and_then(Value::as_array)
                .map(Vec::len);
            if got != Some(*n) {
                out.push(format!("{pointer} has {got:?} items, expected {n}"));
            }
        }
        out
    }
}

/// Asserts that `got` has every field of `want`, recursively through objects (a null
/// wanted also matches a missing field); arrays and other values must be equal.
pub fn assert_has(got: &Value, want: Value) {
    let mut problems = Vec::new();
    missing(got, &want, "", &mut problems);
    assert!(problems.is_empty(), "{}\n  in {got}", problems.join("\n  "));
}

/// What `got` lacks of `want` (see [`assert_has`]), at the JSON pointer `at`.
fn missing(got: &Value, want: &Value, at: &str, out: &mut Vec<String>) {
    match want {
        Value::Object(fields) => {
            for (name, w) in fields {
                let g = got.get(name).unwrap_or(&Value::Null);
                missing(g, w, &format!("{at}/{name}"), out);
            }
        }
        _ if got != want => out.push(format!("{at} is {got}, expected {want}")),
        _ => {}
    }
}

/// How a caller proves who they are.
#[derive(Debug, Clone, Copy)]
enum Credential<'a> {
    /// Nothing (signing in, say).
    Anonymous,
    Key(&'a str),
    /// A browser: the session cookie and, if any, the CSRF token it echoes.
    Session {
        cookie: &'a str,
        csrf: Option<&'a str>,
    },
}

/// The callers a table's rows name, and the runner of tables. `"admin"` is the
/// bootstrap admin key.
pub struct Callers<'a> {
    gw: &'a Gw,
    named: Vec<(&'a str, Credential<'a>)>,
}

impl Gw {
    /// The callers of an access table: `"admin"`, and whoever is added.
    pub fn callers(&self) -> Callers<'_> {
        Callers {
            gw: self,
            named: vec![("admin", Credential::Key(ADMIN_KEY))],
        }
    }
}

impl<'a> Callers<'a> {
    /// `name` calls with the AI key `key`.
    pub fn key(mut self, name: &'a str, key: &'a str) -> Self {
        self.named.push((name, Credential::Key(key)));
        self
    }

    /// `name` calls with no credential at all.
    pub fn anonymous(mut self, name: &'a str) -> Self {
        self.named.push((name, Credential::Anonymous));
        self
    }

    /// `name` calls as a browser with the session `cookie`, echoing `csrf` if given.
    pub fn session(mut self, name: &'a str, cookie: &'a str, csrf: Option<&'a str>) -> Self {
        self.named
            .push((name, Credential::Session { cookie, csrf }));
        self
    }

    /// Runs the rules in order (each may change what the next sees) and panics at the
    /// first that does not hold, naming it. Returns each answer's JSON body (null if none).
    pub async fn check(&self, rules: &[Rule<'_>]) -> Vec<Value> {
        let mut bodies = Vec::with_capacity(rules.len());
        for (i, (who, request, body, expect)) in rules.iter().enumerate() {
            let mut row = format!("rule {} of {}: {who} {request}", i + 1, rules.len());
            if !body.is_null() {
                let _ = write!(row, " {body}");
            }
            let (status, headers, text) = self.send(who, request, body, &row).await;
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let problems = expect.problems(status, &headers, &answer);
            assert!(
                problems.is_empty(),
                "{row}\n  {}\n  answer: {status} {text}",
                problems.join("\n  ")
            );
            bodies.push(answer);
        }
        bodies
    }

    /// Sends one rule's request; the answer's status, headers and body.
    async fn send(
        &self,
        who: &str,
        request: &str,
        body: &Value,
        row: &str,
    ) -> (u16, HeaderMap, String) {
        let Some((method, path)) = request.split_once(' ') else {
            panic!("{row}: a request reads \"METHOD /path\"");
        };
        let Some((_, credential)) = self.named.iter().find(|(n, _)| *n == who) else {
            panic!("{row}: no caller is named {who:?}");
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.gw.http.request(method, self.gw.url(path));
        req = match *credential {
            Credential::Anonymous => req,
            Credential::Key(key) => req.bearer_auth(key),
            Credential::Session { cookie, csrf } => {
                let req = req.header(reqwest::header::COOKIE, format!("mg_session={cookie}"));
                match csrf {
                    Some(token) => req.header("x-csrf-token", token),
                    None => req,
                }
            }
        };
        if !body.is_null() {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }
}
