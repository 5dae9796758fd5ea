//! Drift guard (abi.md, introduction): the functions and codes written in `abi.md` are
//! exactly those the host registers and the guest crate imports, with the signatures abi.md
//! documents.

// clippy.toml allows these inside #[test] only; the helpers here need them too.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] (servers, fixtures, parsers) panic on failure"
)]

use std::path::Path;

use e2e::guests::repo_root;
use e2e::run::{engine, linker, try_instantiate_wat};
use wasi_experimental_http_host::{ErrorCode, FUNCTIONS, HttpCtx, MODULE};
use wasmtime::{Store, ValType};

/// Parameter count of each function (abi.md "Functions"; every parameter and result is i32).
const SIGNATURES: &[(&str, usize)] = &[
    ("req", 10),
    ("close", 1),
    ("header_get", 6),
    ("headers_get_all", 4),
    ("body_read", 4),
];

fn abi_md() -> String {
    let path = repo_root().join("abi.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Rows `| N | `name` | meaning |` of the table under `## Error codes`.
fn documented_codes(md: &str) -> Vec<(u32, String)> {
    let mut in_section = false;
    let mut rows = Vec::new();
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            in_section = h.trim() == "Error codes";
            continue;
        }
        if !in_section {
            continue;
        }
        // `^\| (\d+) \| `([a-z0-9_]+)` \| (.+) \|$`
        let Some(rest) = line.strip_prefix("| ") else {
            continue;
        };
        let Some((num, rest)) = rest.split_once(" | `") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once("` | ") else {
            continue;
        };
        let well_formed = !num.is_empty()
            && num.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && rest.len() > 2
            && rest.ends_with(" |");
        if well_formed {
            rows.push((num.parse().unwrap(), name.to_string()));
        }
    }
    rows
}

/// Names from level-3 headings of the form ``### `name` `` (optionally followed by text).
fn documented_functions(md: &str) -> Vec<String> {
    md.lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
        .filter(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect()
}

/// Function names declared inside the guest crate's `extern` block linked to the
/// `wasi_experimental_http` import module.
fn guest_imports() -> Vec<String> {
    let mut names = Vec::new();
    let mut files = Vec::new();
    collect_rs(&repo_root().join("guest").join("src"), &mut files);
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find("wasm_import_module = \"wasi_experimental_http\"") {
            rest = &rest[at..];
            let Some(open) = rest.find('{') else { break };
            let block = &rest[open + 1..];
            let close = matching_brace(block).unwrap_or(block.len());
            for decl in block[..close].split("fn ").skip(1) {
                let name: String = decl
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if decl[name.len()..].trim_start().starts_with('(') {
                    names.push(name);
                }
            }
            rest = &block[close..];
        }
    }
    names
}

fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect_rs(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// abi.md "Error codes": the host's `ErrorCode` enum is the single source of truth for the
// numbers, and abi.md's table must say the same, row for row.
#[test]
fn abi_md_error_table_equals_error_code_enum() {
    let documented = documented_codes(&abi_md());
    let actual: Vec<(u32, String)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.code(), c.name().to_string()))
        .collect();
    assert!(
        !documented.is_empty(),
        "no rows found under `## Error codes` in abi.md"
    );
    assert_eq!(documented, actual, "abi.md table vs ErrorCode::ALL");
}

// The guest crate's `Error` mirrors the codes (without `success`, which is not an error): same
// numbers, same names, none missing, none extra.
#[test]
fn guest_error_enum_equals_error_code_enum() {
    let guest: Vec<(u32, String)> = wasi_experimental_http::Error::ALL
        .iter()
        .map(|e| (e.code(), e.name().to_string()))
        .collect();
    let host: Vec<(u32, String)> = ErrorCode::ALL
        .iter()
        .filter(|c| **c != ErrorCode::Success)
        .map(|c| (c.code(), c.name().to_string()))
        .collect();
    assert_eq!(guest, host, "guest Error::ALL vs host ErrorCode::ALL");
}

// abi.md "Compatibility with the 0.10 ABI": codes 0..=13 keep the 0.10 ABI's meanings and numbers.
#[test]
fn original_codes_keep_their_numbers() {
    let original = [
        "success",
        "invalid_handle",
        "memory_not_found",
        "memory_access_error",
        "buffer_too_small",
        "header_not_found",
        "utf8_error",
        "destination_not_allowed",
        "invalid_method",
        "invalid_encoding",
        "invalid_url",
        "request_error",
        "runtime_error",
        "too_many_sessions",
    ];
    for (n, name) in original.iter().enumerate() {
        let c = ErrorCode::from_code(n as u32).unwrap();
        assert_eq!(c.name(), *name);
    }
}

// Drift guard, abi.md "Functions": abi.md documents exactly the functions the host registers.
#[test]
fn abi_md_functions_equal_host_functions() {
    let documented = documented_functions(&abi_md());
    assert_eq!(
        sorted(documented.clone()),
        sorted(FUNCTIONS.iter().map(|s| s.to_string()).collect()),
        "### `name` headings in abi.md vs host FUNCTIONS"
    );
    assert_eq!(
        documented.len(),
        FUNCTIONS.len(),
        "a function documented twice"
    );
}

// Drift guard, abi.md "Functions": the guest crate imports exactly those functions.
#[test]
fn guest_crate_imports_equal_host_functions() {
    let imports = guest_imports();
    assert_eq!(
        sorted(imports),
        sorted(FUNCTIONS.iter().map(|s| s.to_string()).collect()),
        "fns in guest/src's `wasi_experimental_http` extern block vs host FUNCTIONS"
    );
}

// abi.md "Functions": the host registers each function with the documented signature (all
// parameters and the result i32) under the module name "wasi_experimental_http".
#[test]
fn host_registers_documented_signatures() {
    assert_eq!(MODULE, "wasi_experimental_http");
    let names: Vec<&str> = SIGNATURES.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        sorted(names.iter().map(|s| s.to_string()).collect()),
        sorted(FUNCTIONS.iter().map(|s| s.to_string()).collect())
    );
    let linker = linker();
    let mut store = Store::new(
        engine(),
        e2e::run::State {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
            http: HttpCtx::new(None, None).unwrap(),
        },
    );
    for (name, params) in SIGNATURES {
        let f = linker
            .get(&mut store, MODULE, name)
            .unwrap_or_else(|e| panic!("host does not register {MODULE}::{name}: {e:?}"))
            .into_func()
            .unwrap_or_else(|| panic!("{name} is not a function"));
        let ty = f.ty(&store);
        let p: Vec<ValType> = ty.params().collect();
        let r: Vec<ValType> = ty.results().collect();
        assert_eq!(p.len(), *params, "{name} parameter count");
        assert!(
            p.iter().all(|t| matches!(t, ValType::I32)),
            "{name} params {p:?}"
        );
        assert!(
            matches!(r.as_slice(), [ValType::I32]),
            "{name} results {r:?}"
        );
    }
}

fn import_wat(sig_of: impl Fn(&str, usize) -> String) -> String {
    let mut wat = String::from("(module\n");
    for (name, params) in SIGNATURES {
        wat.push_str(&format!(
            "  (import \"wasi_experimental_http\" \"{name}\" (func {}))\n",
            sig_of(name, *params)
        ));
    }
    wat.push_str("  (memory (export \"memory\") 1))\n");
    wat
}

// abi.md "Functions": a module importing all five with the documented signatures links
// against the host; one with a wrong signature does not (so the check can fail).
#[test]
fn module_importing_all_functions_with_documented_signatures_instantiates() {
    let good = import_wat(|_, n| format!("(param{}) (result i32)", " i32".repeat(n)));
    if let Err(e) = try_instantiate_wat(&good, HttpCtx::new(None, None).unwrap()) {
        panic!("documented signatures do not link: {e:?}\n{good}");
    }
    // Negative controls: one parameter too many, an i64 result, no result.
    type Signature = dyn Fn(&str, usize) -> String;
    let variants: [&Signature; 3] = [
        &|name, n| {
            let n = if name == "close" { n + 1 } else { n };
            format!("(param{}) (result i32)", " i32".repeat(n))
        },
        &|name, n| {
            let r = if name == "body_read" { "i64" } else { "i32" };
            format!("(param{}) (result {r})", " i32".repeat(n))
        },
        &|name, n| {
            let r = if name == "req" { "" } else { "(result i32)" };
            format!("(param{}) {r}", " i32".repeat(n))
        },
    ];
    for v in variants {
        let bad = import_wat(v);
        assert!(
            try_instantiate_wat(&bad, HttpCtx::new(None, None).unwrap()).is_err(),
            "a wrong signature linked:\n{bad}"
        );
    }
}

// abi.md "Compatibility with the 0.10 ABI": every guest we build, including the one compiled
// against crates.io wasi-experimental-http 0.10.0, imports from "wasi_experimental_http" only
// functions the host registers, with exactly the documented signatures.
#[test]
fn built_guests_import_only_documented_functions() {
    let guests = [
        ("tests/guests", "fetch"),
        ("tests/guests", "multi"),
        ("tests/compat-guest", "compat"),
        ("examples/minimal-get", "minimal_get"),
        ("examples", "post-echo"),
        ("examples", "http-get"),
    ];
    for (ws, name) in guests {
        let module = e2e::run::load_module(&e2e::guests::guest_wasm(ws, name));
        let mut seen = 0;
        for import in module.imports() {
            if import.module() != MODULE {
                continue;
            }
            seen += 1;
            let (_, params) = SIGNATURES
                .iter()
                .find(|(n, _)| *n == import.name())
                .unwrap_or_else(|| panic!("{name} imports unknown {MODULE}::{}", import.name()));
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                panic!("{name}: {} is not a function import", import.name());
            };
            let p: Vec<ValType> = ty.params().collect();
            let r: Vec<ValType> = ty.results().collect();
            assert_eq!(
                p.len(),
                *params,
                "{name}: {} parameter count",
                import.name()
            );
            assert!(p.iter().all(|t| matches!(t, ValType::I32)), "{name}: {p:?}");
            assert!(matches!(r.as_slice(), [ValType::I32]), "{name}: {r:?}");
        }
        assert!(seen > 0, "{name} imports nothing from {MODULE}");
    }
}

// ---------------------------------------------------------------------------------------------
// The C header and the AssemblyScript package state the ABI a second and a third time; both
// are checked here against abi.md itself, so a change to the table or a synopsis that is not
// carried to them fails.

/// `(code, name)` rows of abi.md's table, without `success`.
fn documented_error_rows() -> Vec<(u32, String)> {
    documented_codes(&abi_md())
}

/// Whitespace runs collapsed to one space, so that line breaks do not matter.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every `WEH_IMPORT("name") ... ;` declaration in `text`, squashed: the C synopses.
fn c_declarations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("WEH_IMPORT(\"") {
        rest = &rest[at..];
        let end = rest.find(';').unwrap();
        let decl = squash(&rest[..=end]);
        // The macro's own definition (`WEH_IMPORT(n)`) does not match the quoted form.
        out.push(decl);
        rest = &rest[end..];
    }
    out
}

fn guest_file(path: &str) -> String {
    let p = repo_root().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `(value, NAME)` of every `PREFIXNAME = N,` (C) or `const NAME: u32 = N;` (AS) line.
fn constants(text: &str, parse: impl Fn(&str) -> Option<(String, u32)>) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| parse(l.trim()))
        .map(|(n, v)| (v, n))
        .collect()
}

/// The `return "..."` string of each `case PREFIX<NAME>:` in the function starting at `func`.
fn switch_cases(text: &str, func: &str, prefix: &str) -> Vec<(String, String)> {
    let body = &text[text
        .find(func)
        .unwrap_or_else(|| panic!("{func} not found"))..];
    let body = &body[..body.find("default:").unwrap()];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("case "))
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| {
            let (name, ret) = l.split_once(": return \"")?;
            Some((name.to_string(), ret.strip_suffix("\";")?.to_string()))
        })
        .collect()
}

// guest/c: the five prototypes in the header are abi.md's C synopses, token for token.
#[test]
fn c_header_prototypes_equal_abi_md_synopses() {
    let documented = c_declarations(&abi_md());
    let header = c_declarations(&guest_file("guest/c/wasi_experimental_http.h"));
    assert_eq!(
        documented.len(),
        FUNCTIONS.len(),
        "abi.md C synopses: {documented:#?}"
    );
    assert_eq!(
        sorted(header),
        sorted(documented.clone()),
        "header vs abi.md"
    );
    for f in FUNCTIONS {
        assert!(
            documented
                .iter()
                .any(|d| d.starts_with(&format!("WEH_IMPORT(\"{f}\") uint32_t weh_{f}("))),
            "no C synopsis for {f}"
        );
    }
}

// guest/c: enum weh_error has every code of abi.md's table, WEH_ + the name in upper case, and
// weh_error_name returns the abi.md name and weh_strerror a message for each.
#[test]
fn c_header_codes_equal_abi_md_table() {
    let header = guest_file("guest/c/wasi_experimental_http.h");
    let enum_rows = constants(&header, |l| {
        let (name, value) = l.strip_prefix("WEH_")?.split_once(" = ")?;
        Some((
            name.to_ascii_lowercase(),
            value.strip_suffix(',')?.parse().ok()?,
        ))
    });
    let table = documented_error_rows();
    assert!(!table.is_empty());
    assert_eq!(enum_rows, table, "enum weh_error vs abi.md");
    let names = switch_cases(&header, "const char *weh_error_name(", "WEH_");
    let want: Vec<(String, String)> = table
        .iter()
        .map(|(_, n)| (n.to_ascii_uppercase(), n.clone()))
        .collect();
    assert_eq!(names, want, "weh_error_name vs abi.md");
    let messages = switch_cases(&header, "const char *weh_strerror(", "WEH_");
    assert_eq!(
        messages.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        want.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        "weh_strerror cases vs abi.md"
    );
    assert!(messages.iter().all(|(_, m)| m.len() > 10), "{messages:?}");
}

// guest/assemblyscript: ErrorCode has every code of the table, errorName returns the abi.md
// name and errorMessage a message for each.
#[test]
fn assemblyscript_codes_equal_abi_md_table() {
    let errors = guest_file("guest/assemblyscript/errors.ts");
    let consts = constants(&errors, |l| {
        let (name, value) = l.strip_prefix("export const ")?.split_once(": u32 = ")?;
        Some((
            name.to_ascii_lowercase(),
            value.strip_suffix(';')?.parse().ok()?,
        ))
    });
    let table = documented_error_rows();
    assert_eq!(consts, table, "ErrorCode vs abi.md");
    let want: Vec<(String, String)> = table
        .iter()
        .map(|(_, n)| (n.to_ascii_uppercase(), n.clone()))
        .collect();
    assert_eq!(
        switch_cases(&errors, "function errorName(", "ErrorCode."),
        want,
        "errorName vs abi.md"
    );
    let messages = switch_cases(&errors, "function errorMessage(", "ErrorCode.");
    assert_eq!(
        messages.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        want.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        "errorMessage cases vs abi.md"
    );
}

// guest/assemblyscript: the `@external` imports of the package's index and of its `raw.ts`
// (the original package's raw entry point) are exactly the host's functions, each with the
// documented parameter count.
#[test]
fn assemblyscript_imports_equal_host_functions() {
    for file in [
        "guest/assemblyscript/index.ts",
        "guest/assemblyscript/raw.ts",
    ] {
        assemblyscript_imports_equal_host_functions_in(file);
    }
}

fn assemblyscript_imports_equal_host_functions_in(file: &str) {
    let index = guest_file(file);
    let mut found = Vec::new();
    let mut rest = index.as_str();
    while let Some(at) = rest.find("@external(\"wasi_experimental_http\", \"") {
        rest = &rest[at + "@external(\"wasi_experimental_http\", \"".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        let decl = &rest[rest.find('(').unwrap() + 1..];
        let params = &decl[..decl.find(')').unwrap()];
        let count = params.split(',').filter(|p| !p.trim().is_empty()).count();
        found.push((name.to_string(), count));
    }
    let mut want: Vec<(String, usize)> = SIGNATURES
        .iter()
        .map(|(n, p)| (n.to_string(), *p))
        .collect();
    want.sort();
    found.sort();
    assert_eq!(
        found, want,
        "AssemblyScript @external declarations in {file}"
    );
}
