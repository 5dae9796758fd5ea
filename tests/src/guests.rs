//! Builds the wasm guest programs the tests run.
//!
//! The guests live in workspaces of their own (`tests/guests`, `tests/compat-guest`,
//! `examples`) because they target `wasm32-wasip1`; a native `cargo test` never links them.
//! Each workspace is built once per test process, with `cargo build --release`, into its own
//! `target/` directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip1";

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Environment that would leak the native test build's settings into the wasm build.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
    "CARGO_INCREMENTAL",
];

fn ensure_target_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(out) = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
        else {
            // No rustup: the toolchain is managed otherwise; let the build report a missing target.
            return;
        };
        let installed = String::from_utf8_lossy(&out.stdout);
        if !installed.lines().any(|l| l.trim() == TARGET) {
            let status = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()
                .expect("run rustup target add");
            assert!(status.success(), "rustup target add {TARGET} failed");
        }
    });
}

/// Builds (once per process) the workspace `workspace` (relative to the repository root) and
/// returns the path of its binary `name` (a `.wasm` file). Panics with the build's output on
/// failure.
pub fn guest_wasm(workspace: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    // Held across the build: concurrent tests wait for the first one instead of racing cargo.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let dir = built
        .entry(workspace.to_string())
        .or_insert_with(|| build_workspace(workspace))
        .clone();
    drop(built);
    let dir = dir.unwrap_or_else(|e| panic!("{e}"));
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "{workspace} built, but {} does not exist",
        wasm.display()
    );
    wasm
}

fn build_workspace(workspace: &str) -> Result<PathBuf, String> {
    ensure_target_installed();
    let root = repo_root().join(workspace);
    let manifest = root.join("Cargo.toml");
    let target_dir = root.join("target");
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo for {workspace}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building {workspace} for {TARGET} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(TARGET).join("release"))
}
