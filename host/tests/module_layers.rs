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
        &["client", "ctx", "error", "error_code", "guest_memory"],
    ),
    ("ctx", &["client", "config", "policy", "pool", "transport"]),
    (
        "client",
        &[
            "config",
            "error",
            "error_code",
            "http1",
            "policy",
            "pool",
            "transport",
            "url",
        ],
    ),
    ("pool", &["config", "transport", "url"]),
    ("transport", &["config", "error", "policy", "url"]),
    ("error", &["error_code", "http1", "url"]),
    ("guest_memory", &["error_code"]),
    ("policy", &["config", "url"]),
    ("http1", &["config"]),
    ("url", &[]),
    ("config", &[]),
    ("error_code", &[]),
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

/// Code without comments (line comments, doc comments): doc links are not dependencies.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let code = line.split("//").next().unwrap_or("");
        (!code.trim().is_empty()).then_some(code)
    })
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
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
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each top-level item in the group.
            let mut depth = 0;
            let mut item_start = true;
            let mut ident = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphanumeric() || c == '_') => ident.push(c),
                    _ if item_start && !ident.is_empty() => {
                        refs.insert(std::mem::take(&mut ident));
                        item_start = false;
                    }
                    _ => {}
                }
            }
            if !ident.is_empty() {
                refs.insert(ident);
            }
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

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        let targets = graph.entry(module.clone()).or_default();
        for line in code_lines(&text) {
            for target in crate_refs(line) {
                if target != module {
                    targets.insert(target);
                }
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
    let text = fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    for line in text.lines() {
        let t = line.trim();
        let ok = t.is_empty()
            || t.starts_with("//")
            || t.starts_with("#![")
            || (t.starts_with("mod ") && t.ends_with(';'))
            || (t.starts_with("pub use ") && t.ends_with(';'));
        assert!(
            ok,
            "lib.rs holds more than declarations and re-exports: {line:?}"
        );
    }
}

/// The scanner itself: grouped imports, paths in expressions, comments ignored.
#[test]
fn reference_scanner() {
    let refs = |s: &str| crate_refs(s).into_iter().collect::<Vec<_>>();
    assert_eq!(
        refs("use crate::{config::Limits, http1::{self, X}, url};"),
        ["config", "http1", "url"]
    );
    assert_eq!(refs("let x = crate::error::HttpError::Utf8;"), ["error"]);
    assert_eq!(refs("use mycrate::x;"), Vec::<String>::new());
    assert_eq!(code_lines("// crate::abi\ncode(); // crate::x").count(), 1);
}
