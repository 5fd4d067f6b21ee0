//! Tidy: no circles between the modules of any crate. A module may use its children and
//! its siblings; when two modules use each other (directly or around a longer loop),
//! neither can be read, tested or moved alone — split out what both need instead.
//!
//! What counts as a use: a `crate::…` or `super::…` path in code (comments, `$crate`
//! paths of macros and `#[cfg(test)]` modules are left out; a test may reach anywhere).
//! A path names the longest module it reaches; a module using its own ancestors (their
//! shared helpers) or descendants is not an edge between siblings and is not counted.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b/mod.rs` and `a/b.rs` → `["a", "b"]`; `lib.rs` and `main.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments, macro `$crate` paths and its test module.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split(" // ").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("$crate::", "")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The paths (as segments) a use of `prefix` reaches, starting at `rest` (what follows
/// `prefix::`): `a::b::C`, or each element of `{a::X, b::{Y, Z}}`.
fn paths(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    paths(inner[start..i].trim(), prefix.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    paths(inner[start..i].trim(), prefix.clone(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let id = ident_at(rest);
    if id.is_empty() || id == "self" {
        out.push(prefix);
        return;
    }
    let mut next = prefix;
    next.push(id.to_owned());
    match rest[id.len()..].strip_prefix("::") {
        Some(tail) => paths(tail, next, out),
        None => out.push(next),
    }
}

/// The modules `code` (of module `me`) uses, as paths from the crate root.
fn uses(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        paths(&code[i + "crate::".len()..], Vec::new(), &mut out);
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        // `super::super::x` climbs twice.
        let mut rest = &code[i..];
        let mut base = me.to_vec();
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        paths(rest, base, &mut out);
    }
    out
}

/// The edges between sibling modules of one crate.
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.into_iter().map(|f| (module_of(src, &f), f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (me, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in uses(&code, me) {
            // The longest module the path reaches.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains_key(p))
                .unwrap_or_default();
            let related = target.starts_with(me) || me.starts_with(&target);
            if !related {
                edges.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// The loops of a graph (strongly connected components of two or more modules).
fn loops(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    // Reachability by repeated search: the graphs are small.
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for m in edges.keys() {
        let from_m = reach(m);
        if !from_m.contains(m) {
            continue;
        }
        let mut group: Vec<String> = from_m
            .iter()
            .filter(|other| reach(other).contains(m))
            .map(|p| p.join("::"))
            .collect();
        group.sort();
        found.insert(group);
    }
    found.into_iter().collect()
}

#[test]
fn no_module_of_any_crate_takes_part_in_a_circle() {
    let crates = workspace().join("crates");
    let mut problems = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        for group in loops(&graph(&src)) {
            problems.push(format!(
                "{}: the modules {} use each other",
                dir.file_name().unwrap().to_string_lossy(),
                group.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_a_circle_and_ignores_parents_and_tests() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n");
    write("a.rs", "use crate::b::X;\n");
    write(
        "b.rs",
        "// use crate::c::Y; (a comment)\nuse crate::{c::Y, d};\n",
    );
    write("c.rs", "use super::a::Z;\n");
    write("d.rs", "#[cfg(test)]\nmod tests { use crate::a::Z; }\n");
    let found = loops(&graph(src));
    assert_eq!(found, vec![vec!["a".to_owned(), "b".into(), "c".into()]]);
    // Breaking one link breaks the loop.
    write("c.rs", "use crate::d::W;\n");
    assert!(loops(&graph(src)).is_empty());
}
