//! ARCHITECTURE.md stays true: every crate of the workspace has a row in its code map,
//! every file or folder a row names exists, every top-level module of a crate's `src/`
//! is named in that crate's row (a new module means a new line in the map), and each
//! crate depends on the workspace crates its row lists, never on one its row forbids.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The code map's rows: (crate folder, the row's text).
fn rows(map: &str) -> Vec<(String, String)> {
    map.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("| `crates/")?;
            let (name, _) = rest.split_once('`')?;
            Some((format!("crates/{name}"), line.to_owned()))
        })
        .collect()
}

/// The backticked words of a text.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_architecture_map_names_every_crate_and_module_and_nothing_that_is_gone() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let rows = rows(&map);
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = format!("crates/{}", entry.unwrap().file_name().to_string_lossy());
        if !rows.iter().any(|(c, _)| *c == name) {
            problems.push(format!("{name} has no row in the code map"));
        }
    }
    for (krate, row) in &rows {
        let dir = root().join(krate);
        let src = dir.join("src");
        for word in quoted(row) {
            let looks_like_path =
                word.ends_with(".rs") || word.ends_with('/') || word.contains(".rs ");
            if !looks_like_path || word.contains(' ') || word.contains("::") {
                continue;
            }
            let exists = [&src, &dir, &root()]
                .iter()
                .any(|base| base.join(word.trim_end_matches('/')).exists())
                || walk(&src)
                    .iter()
                    .any(|p| p.ends_with(word.trim_end_matches('/')));
            if !exists {
                problems.push(format!(
                    "{krate}: the map names `{word}`, which does not exist"
                ));
            }
        }
        let Ok(entries) = std::fs::read_dir(&src) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let file = entry.file_name().to_string_lossy().into_owned();
            let named = if entry.path().is_dir() {
                format!("{file}/")
            } else if file.ends_with(".rs") && file != "lib.rs" && file != "main.rs" {
                file.clone()
            } else {
                continue;
            };
            if file == "bin"
                || row.contains(&named)
                || row.contains(&format!("`{}", named.trim_end_matches('/')))
            {
                continue;
            }
            problems.push(format!(
                "{krate}: `{named}` is not in its row of the code map"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md is out of date:\n{}",
        problems.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// A crate's `[dependencies]` (not dev- or build-dependencies): their names.
fn dependencies(cargo_toml: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once(['=', '.']) {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[test]
fn each_crate_depends_on_what_its_row_says_and_on_nothing_it_forbids() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut problems = Vec::new();
    for (krate, row) in rows(&map) {
        // The last column: what the crate may depend on.
        let allowed = row
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap_or("")
            .to_owned();
        let toml = std::fs::read_to_string(root().join(&krate).join("Cargo.toml")).unwrap();
        let words: Vec<&str> = allowed
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .collect();
        for dep in dependencies(&toml) {
            if let Some(short) = dep.strip_prefix("modelgate-")
                && !allowed.contains("everything")
                && !words.contains(&short)
            {
                problems.push(format!(
                    "{krate} depends on {dep}, which its row's last column does not list"
                ));
            }
            if allowed.contains(&format!("No {dep}.")) {
                problems.push(format!("{krate} depends on {dep}, which its row forbids"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's dependency column is out of date:\n{}",
        problems.join("\n")
    );
}
