//! The ABI layer: decodes arguments from guest memory, calls the client, encodes results.
//! The only module that knows about wasmtime; each function is a thin wrapper over plain Rust.

use crate::client::{self, Request};
use crate::guest_memory as gm;
use crate::{ErrorCode, HttpCtx};
use wasmtime::{Caller, Extern, Linker};

/// The import module name.
pub const MODULE: &str = "wasi_experimental_http";

/// The functions registered in [`MODULE`], as listed in `abi.md`.
pub const FUNCTIONS: &[&str] = &["req", "close", "header_get", "headers_get_all", "body_read"];

/// Registers the `wasi_experimental_http` functions in `linker`. `get` finds the store's
/// [`HttpCtx`] in its data, as `wasmtime_wasi::p1::add_to_linker_sync` does for WASI.
///
/// ```no_run
/// use wasmtime::{Engine, Linker, Module, Store};
/// use wasi_experimental_http_wasmtime::{add_to_linker, HttpCtx};
///
/// struct Data { http: HttpCtx }
///
/// let engine = Engine::default();
/// let mut linker: Linker<Data> = Linker::new(&engine);
/// add_to_linker(&mut linker, |d: &mut Data| &mut d.http)?;
/// let http = HttpCtx::new(Some(vec!["https://api.example.com".into()]), Some(4))?;
/// let mut store = Store::new(&engine, Data { http });
/// let module = Module::from_file(&engine, "guest.wasm")?;
/// let instance = linker.instantiate(&mut store, &module)?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut HttpCtx + Send + Sync + Copy + 'static,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "req",
        move |mut caller: Caller<'_, T>,
              url_ptr: u32,
              url_len: u32,
              method_ptr: u32,
              method_len: u32,
              headers_ptr: u32,
              headers_len: u32,
              body_ptr: u32,
              body_len: u32,
              status_ptr: u32,
              handle_ptr: u32|
              -> u32 {
            with_memory(&mut caller, get, |mem, ctx| {
                req(
                    mem,
                    ctx,
                    [
                        url_ptr,
                        url_len,
                        method_ptr,
                        method_len,
                        headers_ptr,
                        headers_len,
                        body_ptr,
                        body_len,
                    ],
                    status_ptr,
                    handle_ptr,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "close",
        move |mut caller: Caller<'_, T>, handle: u32| -> u32 {
            result(close(get(caller.data_mut()), handle))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "header_get",
        move |mut caller: Caller<'_, T>,
              handle: u32,
              name_ptr: u32,
              name_len: u32,
              buf_ptr: u32,
              buf_len: u32,
              written_ptr: u32|
              -> u32 {
            with_memory(&mut caller, get, |mem, ctx| {
                header_get(
                    mem,
                    ctx,
                    handle,
                    name_ptr,
                    name_len,
                    buf_ptr,
                    buf_len,
                    written_ptr,
                )
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "headers_get_all",
        move |mut caller: Caller<'_, T>,
              handle: u32,
              buf_ptr: u32,
              buf_len: u32,
              written_ptr: u32|
              -> u32 {
            with_memory(&mut caller, get, |mem, ctx| {
                headers_get_all(mem, ctx, handle, buf_ptr, buf_len, written_ptr)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "body_read",
        move |mut caller: Caller<'_, T>,
              handle: u32,
              buf_ptr: u32,
              buf_len: u32,
              written_ptr: u32|
              -> u32 {
            with_memory(&mut caller, get, |mem, ctx| {
                body_read(mem, ctx, handle, buf_ptr, buf_len, written_ptr)
            })
        },
    )?;
    Ok(())
}

fn result(r: Result<(), ErrorCode>) -> u32 {
    match r {
        Ok(()) => ErrorCode::Success.code(),
        Err(code) => code.code(),
    }
}

/// Finds the exported memory and hands it, with the store's context, to `f`.
fn with_memory<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut HttpCtx,
    f: impl FnOnce(&mut [u8], &mut HttpCtx) -> Result<(), ErrorCode>,
) -> u32 {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return ErrorCode::MemoryNotFound.code();
    };
    let (mem, data) = memory.data_and_store_mut(caller);
    result(f(mem, get(data)))
}

/// `req`: see `abi.md`.
fn req(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    [
        url_ptr,
        url_len,
        method_ptr,
        method_len,
        headers_ptr,
        headers_len,
        body_ptr,
        body_len,
    ]: [u32; 8],
    status_ptr: u32,
    handle_ptr: u32,
) -> Result<(), ErrorCode> {
    // Every range first, outputs included: nothing is sent if the results cannot be delivered.
    gm::check(mem, status_ptr, 2)?;
    gm::check(mem, handle_ptr, 4)?;
    gm::check(mem, url_ptr, url_len)?;
    gm::check(mem, method_ptr, method_len)?;
    gm::check(mem, headers_ptr, headers_len)?;
    gm::check(mem, body_ptr, body_len)?;
    let request = Request {
        url: gm::bytes(mem, url_ptr, url_len)?,
        method: gm::bytes(mem, method_ptr, method_len)?,
        headers: gm::bytes(mem, headers_ptr, headers_len)?,
        body: gm::bytes(mem, body_ptr, body_len)?,
    };
    let log_failure = |e: crate::error::HttpError| {
        // Guest bytes in a log line: bounded, and escaped so they cannot forge log lines.
        let url = request.url.get(..256).unwrap_or(request.url);
        log::debug!("req {:?}: {e}", String::from_utf8_lossy(url));
        e.code()
    };
    let prepared = client::prepare(&ctx.shared, &request).map_err(log_failure)?;
    if !ctx.has_capacity() {
        return Err(ErrorCode::TooManySessions);
    }
    if !ctx.has_handle_numbers() {
        return Err(ErrorCode::RuntimeError);
    }
    let response = client::execute(&ctx.shared, &prepared, request.body).map_err(log_failure)?;
    let status = response.head.status;
    let handle = ctx.insert(response).ok_or(ErrorCode::RuntimeError)?;
    gm::write_u16(mem, status_ptr, status)?;
    gm::write_u32(mem, handle_ptr, handle)
}

/// `close`: see `abi.md`.
fn close(ctx: &mut HttpCtx, handle: u32) -> Result<(), ErrorCode> {
    ctx.responses
        .remove(&handle)
        .map(drop)
        .ok_or(ErrorCode::InvalidHandle)
}

/// Writes `value` to the guest's buffer, or reports the needed length on `buffer_too_small`.
fn write_out(
    mem: &mut [u8],
    value: &[u8],
    buf_ptr: u32,
    buf_len: u32,
    written_ptr: u32,
) -> Result<(), ErrorCode> {
    let len = u32::try_from(value.len()).map_err(|_| ErrorCode::BufferTooSmall)?;
    if len > buf_len {
        gm::write_u32(mem, written_ptr, len)?;
        return Err(ErrorCode::BufferTooSmall);
    }
    gm::bytes_mut(mem, buf_ptr, len)?.copy_from_slice(value);
    gm::write_u32(mem, written_ptr, len)
}

/// `header_get`: see `abi.md`.
#[allow(clippy::too_many_arguments, reason = "mirrors the ABI signature")]
fn header_get(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    handle: u32,
    name_ptr: u32,
    name_len: u32,
    buf_ptr: u32,
    buf_len: u32,
    written_ptr: u32,
) -> Result<(), ErrorCode> {
    gm::check(mem, name_ptr, name_len)?;
    gm::check(mem, buf_ptr, buf_len)?;
    gm::check(mem, written_ptr, 4)?;
    let response = ctx.responses.get(&handle).ok_or(ErrorCode::InvalidHandle)?;
    let name = gm::str(mem, name_ptr, name_len)?;
    if name.is_empty() || !name.bytes().all(crate::http1::is_tchar) {
        return Err(ErrorCode::InvalidEncoding);
    }
    // RFC 9110 §5.3: field lines of one name combine, in order, with ", ".
    let mut value: Option<Vec<u8>> = None;
    for v in response.head.values_ignore_case(name.as_bytes()) {
        match value.as_mut() {
            None => value = Some(v.to_vec()),
            Some(acc) => {
                acc.extend_from_slice(b", ");
                acc.extend_from_slice(v);
            }
        }
    }
    let value = value.ok_or(ErrorCode::HeaderNotFound)?;
    write_out(mem, &value, buf_ptr, buf_len, written_ptr)
}

/// `headers_get_all`: see `abi.md`.
fn headers_get_all(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    handle: u32,
    buf_ptr: u32,
    buf_len: u32,
    written_ptr: u32,
) -> Result<(), ErrorCode> {
    gm::check(mem, buf_ptr, buf_len)?;
    gm::check(mem, written_ptr, 4)?;
    let response = ctx.responses.get(&handle).ok_or(ErrorCode::InvalidHandle)?;
    let mut block = Vec::new();
    for field in &response.head.fields {
        block.extend_from_slice(&field.name);
        block.push(b':');
        block.extend_from_slice(&field.value);
        block.push(b'\n');
    }
    write_out(mem, &block, buf_ptr, buf_len, written_ptr)
}

/// `body_read`: see `abi.md`.
fn body_read(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    handle: u32,
    buf_ptr: u32,
    buf_len: u32,
    written_ptr: u32,
) -> Result<(), ErrorCode> {
    gm::check(mem, buf_ptr, buf_len)?;
    // Checked before any byte leaves the connection, so a bad pointer loses no body data.
    gm::check(mem, written_ptr, 4)?;
    let response = ctx
        .responses
        .get_mut(&handle)
        .ok_or(ErrorCode::InvalidHandle)?;
    if buf_len == 0 {
        return Err(ErrorCode::BufferTooSmall);
    }
    let n = response.read_body(gm::bytes_mut(mem, buf_ptr, buf_len)?)?;
    gm::write_u32(mem, written_ptr, u32::try_from(n).unwrap_or(u32::MAX))
}
