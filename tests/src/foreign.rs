//! Builds the guests written in C and AssemblyScript, once per test process.
//!
//! - C (`tests/c-guests/*.c`, `examples/c/*.c`) with clang for `wasm32-wasi` against
//!   `guest/c/wasi_experimental_http.h`; on Debian: `apt-get install clang lld wasi-libc
//!   libclang-rt-dev-wasm32` (`.ci/run` does it).
//! - AssemblyScript (`tests/as-guests/*.ts`): `npm ci` (its committed lockfile pins
//!   AssemblyScript and `@assemblyscript/wasi-shim`, and links `guest/assemblyscript`), then
//!   `asc` with the shim's configuration; needs Node.js and npm (Debian `nodejs`, `npm`).
//!
//! A missing tool fails the test with the command that would install it: these tests never
//! skip themselves.
//!
//! Outputs go to `target/foreign-guests/` under the repository root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::guests::repo_root;

/// Compiler flags of every C guest: warnings are errors, like clippy's `-D warnings`.
const C_FLAGS: &[&str] = &["--target=wasm32-wasi", "-Wall", "-Wextra", "-Werror"];

fn out_dir() -> PathBuf {
    let dir = repo_root().join("target").join("foreign-guests");
    std::fs::create_dir_all(&dir).expect("create target/foreign-guests");
    dir
}

/// Runs `cmd`, returning its combined output as the error on failure.
fn run(mut cmd: Command, what: &str, hint: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}; {hint}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Memoizes one build per key for the whole process; concurrent callers wait for the first.
fn once(key: &str, build: impl FnOnce() -> Result<PathBuf, String>) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(key.to_string())
        .or_insert_with(build)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

const CLANG_HINT: &str = "install clang for wasm32-wasi (Debian: apt-get install clang lld \
                          wasi-libc libclang-rt-dev-wasm32; .ci/run does it)";

/// Compiles the C file `source` (relative to the repository root) for wasm32-wasi with
/// `extra` flags added to the common ones, and returns the `.wasm` path.
pub fn c_guest(source: &str, extra: &[&str]) -> PathBuf {
    let key = format!("c:{source}:{extra:?}");
    once(&key, || {
        let src = repo_root().join(source);
        let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("guest");
        let out = out_dir().join(format!("c-{stem}{}.wasm", extra.join("").replace('-', "_")));
        let mut cmd = Command::new("clang");
        cmd.args(C_FLAGS)
            .args(extra)
            .arg("-I")
            .arg(repo_root().join("guest").join("c"))
            .arg("-o")
            .arg(&out)
            .arg(&src);
        run(cmd, &format!("clang {source}"), CLANG_HINT)?;
        Ok(out)
    })
}

/// The AssemblyScript project of the tests, with its dependencies installed by `npm ci`.
fn as_project() -> PathBuf {
    once("npm ci", || {
        let dir = repo_root().join("tests").join("as-guests");
        let mut cmd = Command::new("npm");
        cmd.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir);
        run(
            cmd,
            "npm ci in tests/as-guests",
            "install Node.js and npm (Debian: apt-get install nodejs npm; .ci/run does it)",
        )?;
        Ok(dir)
    })
}

/// Compiles `tests/as-guests/<name>.ts` with `asc` and the wasi-shim configuration, adding
/// `extra` options (e.g. `-Oz`, `--runtime stub`), and returns the `.wasm` path.
pub fn as_guest(name: &str, extra: &[&str]) -> PathBuf {
    let dir = as_project();
    let key = format!("as:{name}:{extra:?}");
    once(&key, || {
        let out = out_dir().join(format!(
            "as-{name}{}.wasm",
            extra.join("").replace(['-', ' '], "_")
        ));
        let asc = dir.join("node_modules").join(".bin").join("asc");
        let mut cmd = Command::new(&asc);
        cmd.arg(format!("{name}.ts"))
            .args([
                "--config",
                "node_modules/@assemblyscript/wasi-shim/asconfig.json",
            ])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .current_dir(&dir);
        run(cmd, &format!("asc {name}.ts"), "npm ci installs asc")?;
        Ok(out)
    })
}

/// The size of a file in bytes.
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}
