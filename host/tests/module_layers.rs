//! The module graph of the host crate is the layering `ARCHITECTURE.md` draws: every
//! `crate::` reference in `host/src` is an edge between top-level modules; each edge must be
//! one the table below allows, the edges must form no cycle, and `lib.rs` must be a pure
//! façade (module declarations, re-exports, attributes and docs).
//!
//! When a change needs a new edge, add it here and to `ARCHITECTURE.md` ("Layers") in the same
//! commit; an edge that would close a cycle fails the test whatever the table says.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each module and the modules it may import from. The order is the layering, top first.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "abi",
        &[
            "audit",
            "client",
            "ctx",
            "error",
            "error_code",
            "guest_memory",
        ],
    ),
    (
        "ctx",
        &[
            "audit",
            "client",
            "config",
            "control",
            "credentials",
            "error_code",
            "policy",
            "pool",
            "quota",
            "transport",
            "workers",
        ],
    ),
    (
        "client",
        &[
            "audit",
            "config",
            "control",
            "credentials",
            "error",
            "error_code",
            "http1",
            "policy",
            "pool",
            "quota",
            "transport",
            "url",
            "workers",
        ],
    ),
    (
        "audit",
        &["control", "error", "error_code", "http1", "quota", "url"],
    ),
    ("fuzzing", &["config", "error", "http1", "policy", "url"]),
    ("pool", &["config", "transport", "url"]),
    (
        "transport",
        &[
            "audit", "config", "control", "error", "http1", "policy", "url",
        ],
    ),
    ("control", &["error", "error_code"]),
    ("error", &["error_code", "http1", "quota", "url"]),
    ("quota", &["config"]),
    ("credentials", &["config", "http1", "policy", "url"]),
    ("guest_memory", &["error_code"]),
    ("policy", &["config", "url"]),
    ("http1", &["config"]),
    ("url", &[]),
    ("config", &[]),
    ("error_code", &[]),
    ("workers", &[]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/http1/body.rs` → `http1`), `None` for lib.rs.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src_dir()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(name) => Some(name.to_owned()),
        None => Some(first),
    }
}

/// The file's code without comments (line, doc and block comments: doc links are not
/// dependencies), as one string so that imports wrapped over several lines are seen whole.
/// String literals are kept (a `//` inside one is not a comment).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_str = true;
                out.push(c);
            }
            // A char literal holding a quote must not open a string.
            ('\'', Some('"')) => {
                out.push(c);
                out.extend(chars.next());
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The first segment of each item of a `{a, b::c, d::{e}}` group (the text after `{`).
fn group_heads(group: &str, refs: &mut BTreeSet<String>) {
    let mut depth = 0;
    let mut item_start = true;
    let mut ident = String::new();
    for c in group.chars() {
        let ends_ident = !(c.is_ascii_alphanumeric() || c == '_');
        if item_start && ends_ident && !ident.is_empty() {
            refs.insert(std::mem::take(&mut ident));
            item_start = false;
        }
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !ends_ident => ident.push(c),
            _ => {}
        }
    }
    if !ident.is_empty() {
        refs.insert(ident);
    }
}

/// Every top-level module named after `crate::`, including inside `crate::{a, b::c}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        if start > 0 && is_ident_byte(bytes[start - 1]) {
            continue; // e.g. `mycrate::`
        }
        let rest = code[from..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            group_heads(group, &mut refs);
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            refs.insert(ident);
        }
    }
    refs
}

/// How many `super::` a path may climb from a file and stay inside its top-level module:
/// 0 in `src/x.rs` and `src/x/mod.rs`, 1 in `src/x/y.rs`, and so on.
fn super_allowance(path: &Path) -> usize {
    let rel = path.strip_prefix(src_dir()).unwrap();
    let depth = rel.components().count().saturating_sub(1);
    let is_mod = rel.file_name().is_some_and(|f| f == "mod.rs");
    if is_mod {
        depth.saturating_sub(1)
    } else {
        depth
    }
}

/// The longest run of `super::` in the code before its first `#[cfg(test)]` (test modules'
/// `use super::*` name their own file).
fn max_super_run(code: &str) -> usize {
    let code = code.split("#[cfg(test)]").next().unwrap_or(code);
    let mut best = 0;
    for (i, _) in code.match_indices("super::") {
        if i > 0 && is_ident_byte(code.as_bytes()[i - 1]) {
            continue;
        }
        let mut n = 0;
        let mut rest = &code[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            n += 1;
            rest = r;
        }
        best = best.max(n);
    }
    best
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let code = strip_comments(&fs::read_to_string(&file).unwrap());
        // `super::` that climbs out of the top-level module is an import this scan would not
        // see as an edge: refuse it, so every cross-module import is written `crate::`.
        assert!(
            max_super_run(&code) <= super_allowance(&file),
            "{}: `super::` leaves its top-level module; import with `crate::`",
            file.display()
        );
        let targets = graph.entry(module.clone()).or_default();
        for target in crate_refs(&code) {
            if target != module {
                targets.insert(target);
            }
        }
    }
    graph
}

#[test]
fn every_edge_is_an_allowed_layer_edge() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let graph = edges();
    let mut bad = Vec::new();
    for (module, targets) in &graph {
        let Some(ok) = allowed.get(module.as_str()) else {
            bad.push(format!("module `{module}` is not in the layer table"));
            continue;
        };
        for t in targets {
            if !ok.contains(t.as_str()) {
                bad.push(format!("{module} -> {t}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "edges outside ARCHITECTURE.md's layers: {bad:#?}"
    );
    // The table names only modules that exist.
    for module in allowed.keys() {
        assert!(graph.contains_key(*module), "no module `{module}` in src");
    }
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = edges();
    // Kahn's algorithm: repeatedly remove modules nothing left depends on.
    let mut remaining = graph.clone();
    loop {
        let free: Vec<String> = remaining
            .keys()
            .filter(|m| !remaining.values().any(|deps| deps.contains(*m)))
            .cloned()
            .collect();
        if free.is_empty() {
            break;
        }
        for m in free {
            remaining.remove(&m);
        }
    }
    assert!(
        remaining.is_empty(),
        "a cycle runs through (or above) these modules: {:?}",
        remaining.keys().collect::<Vec<_>>()
    );
}

#[test]
fn lib_rs_is_a_facade() {
    let code = strip_comments(&fs::read_to_string(src_dir().join("lib.rs")).unwrap());
    // Attributes (`#![forbid(..)]`, `#[cfg(feature = "..")]`) are fine; what remains must be
    // `mod x;` and `pub use ..;` statements and nothing else.
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let ok = statement.starts_with("mod ")
            || statement.starts_with("pub mod ")
            || statement.starts_with("pub use ");
        assert!(
            ok,
            "lib.rs holds more than declarations and re-exports: {statement:?}"
        );
    }
}

/// The scanner itself: grouped imports (on one line or wrapped), paths in expressions,
/// comments ignored, strings kept, `super::` climbing counted.
#[test]
fn reference_scanner() {
    let refs = |s: &str| {
        crate_refs(&strip_comments(s))
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        refs("use crate::{config::Limits, http1::{self, X}, url};"),
        ["config", "http1", "url"]
    );
    assert_eq!(refs("use crate::{a, b};"), ["a", "b"]);
    assert_eq!(refs("use crate::{a,b::c};"), ["a", "b"]);
    assert_eq!(
        refs("use crate::{\n    client::Client,\n    pool::{Pool},\n};"),
        ["client", "pool"]
    );
    assert_eq!(refs("let x = crate::error::HttpError::Utf8;"), ["error"]);
    assert_eq!(refs("use mycrate::x;"), Vec::<String>::new());
    assert_eq!(
        refs("// crate::abi\ncode(); /* crate::x */"),
        Vec::<String>::new()
    );
    assert_eq!(refs(r#"f("http://x"); crate::url::parse();"#), ["url"]);
    assert_eq!(
        refs("let q = '\"'; crate::url::f(); // \"crate::abi"),
        ["url"]
    );
    assert_eq!(max_super_run("use super::super::x; use super::y;"), 2);
    assert_eq!(
        max_super_run("#[cfg(test)]\nmod tests { use super::super::*; }"),
        0
    );
}
