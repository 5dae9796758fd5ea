//! Loading the module: WebAssembly (binary or text), compiled through the engine's cache, or,
//! only with `--allow-precompiled`, a module `wasmtime compile` produced.

use std::path::Path;

use wasmtime::error::Context as _;
use wasmtime::{Engine, Module, Precompiled, bail};

/// Reads `path` and compiles it, or deserializes it if it is precompiled and `allow_precompiled`.
pub(crate) fn module(
    engine: &Engine,
    path: &Path,
    allow_precompiled: bool,
) -> wasmtime::Result<Module> {
    let bytes = std::fs::read(path).context("failed to read the file")?;
    match Engine::detect_precompiled(&bytes) {
        None => Module::new(engine, &bytes),
        Some(Precompiled::Module) if allow_precompiled => precompiled(engine, &bytes),
        Some(Precompiled::Module) => bail!(
            "this is a precompiled module (`wasmtime compile`); it holds native code that is \
             loaded without verification, so it runs only with --allow-precompiled"
        ),
        Some(Precompiled::Component) => bail!("this is a precompiled component, not a module"),
    }
}

/// The one `unsafe` of this program.
#[allow(unsafe_code)]
fn precompiled(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
    // SAFETY: `Module::deserialize` requires that `bytes` come from `Module::serialize` or
    // `Engine::precompile_module` (what `wasmtime compile` calls) and were not tampered with:
    // wasmtime checks the format, its version and the engine's configuration, but cannot
    // check the native code. The user asserted exactly that trust with --allow-precompiled,
    // as `wasmtime run` asks for it with the same flag.
    unsafe { Module::deserialize(engine, bytes) }
}
