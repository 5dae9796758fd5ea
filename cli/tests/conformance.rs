//! The conformance kit (`tests/conformance`, abi.md "Conformance kit") against this CLI: every
//! case must pass. A failure prints the case's rule, the expected and actual output, and the
//! path of the generated module.

#[test]
fn wasmtime_http_passes_the_conformance_kit() {
    let cli = vec![env!("CARGO_BIN_EXE_wasmtime-http").to_string()];
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance");
    std::fs::create_dir_all(&dir).unwrap();
    let outcomes = conformance::run_all(&cli, "", &dir, 2);
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("FAIL {}\n{}", o.name, o.detail))
        .collect();
    println!(
        "conformance kit: {} cases, {} failed",
        outcomes.len(),
        failed.len()
    );
    // The kit is the whole spec-level suite: it must not shrink by accident.
    assert!(outcomes.len() >= 60, "only {} cases", outcomes.len());
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
