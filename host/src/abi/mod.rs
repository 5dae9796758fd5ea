//! The ABI layer: decodes arguments from guest memory, calls the client, encodes results.
//! The only module that knows about wasmtime; each function is a thin wrapper over plain Rust.
//! Marshalling only: HTTP semantics (field-name syntax, combining repeated fields, the header
//! block) are methods of the response head in `http1`, and host errors become codes through
//! `HttpError::code` alone.

use crate::audit::{Audit, Refusal, Trail};
use crate::client::{Failure, Prepared, Request, Response};
use crate::ctx::HttpCtx;
use crate::error::HttpError;
use crate::error_code::ErrorCode;
use crate::guest_memory::{self as gm, GuestRange};
use wasmtime::{Caller, Extern, Linker};

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "async")]
pub use asynchronous::add_to_linker_async;

/// The import module name.
pub const MODULE: &str = "wasi_experimental_http";

/// The functions registered in [`MODULE`], as listed in `abi.md`.
pub const FUNCTIONS: &[&str] = &["req", "close", "header_get", "headers_get_all", "body_read"];

/// Registers the `wasi_experimental_http` functions in `linker`. `get` finds the store's
/// [`HttpCtx`] in its data, as `wasmtime_wasi::p1::add_to_linker_sync` does for WASI.
///
/// ```no_run
/// use wasmtime::{Engine, Linker, Module, Store};
/// use wasi_experimental_http_host::{add_to_linker, HttpCtx};
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
            let args = ReqArgs::new((
                url_ptr,
                url_len,
                method_ptr,
                method_len,
                headers_ptr,
                headers_len,
                body_ptr,
                body_len,
                status_ptr,
                handle_ptr,
            ));
            with_memory(&mut caller, get, |mem, ctx| req(mem, ctx, args))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "close",
        move |mut caller: Caller<'_, T>, handle: u32| -> u32 {
            result(guarded(|| close(get(caller.data_mut()), handle)))
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
            let name = GuestRange::new(name_ptr, name_len);
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            with_memory(&mut caller, get, |mem, ctx| {
                header_get(mem, ctx, handle, name, out)
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
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            with_memory(&mut caller, get, |mem, ctx| {
                headers_get_all(mem, ctx, handle, out)
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
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            with_memory(&mut caller, get, |mem, ctx| {
                body_read(mem, ctx, handle, out)
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
    result(memory_and_ctx(caller, get, f))
}

/// [`with_memory`] returning `f`'s value: `memory_not_found` if there is no memory export.
/// `f` runs under the panic guard.
fn memory_and_ctx<T: 'static, R>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut HttpCtx,
    f: impl FnOnce(&mut [u8], &mut HttpCtx) -> Result<R, ErrorCode>,
) -> Result<R, ErrorCode> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(ErrorCode::MemoryNotFound);
    };
    let (mem, data) = memory.data_and_store_mut(caller);
    guarded(|| f(mem, get(data)))
}

/// The panic guard: a panic in host code is logged and becomes `runtime_error` (12) for the
/// guest, never an unwind through wasmtime into the embedder. The store stays usable: a
/// response whose body was being read when the panic came fails with 12 (`abi.md`, "Order of
/// checks"; `ARCHITECTURE.md`, "Invariants").
fn guarded<R>(f: impl FnOnce() -> Result<R, ErrorCode>) -> Result<R, ErrorCode> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        log::error!(
            "a wasi_experimental_http host function panicked: {:?}",
            panic_message(&*panic)
        );
        Err(ErrorCode::RuntimeError)
    })
}

/// A panic's message, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The arguments of `req`.
#[derive(Debug, Clone, Copy)]
struct ReqArgs {
    url: GuestRange,
    method: GuestRange,
    headers: GuestRange,
    body: GuestRange,
    status_ptr: u32,
    handle_ptr: u32,
}

/// `req`'s ten parameters, in ABI order.
type ReqParams = (u32, u32, u32, u32, u32, u32, u32, u32, u32, u32);

impl ReqArgs {
    /// From `req`'s parameters in ABI order: four `(ptr, len)` inputs, then the two outputs.
    fn new(
        (
            url_ptr,
            url_len,
            method_ptr,
            method_len,
            headers_ptr,
            headers_len,
            body_ptr,
            body_len,
            status_ptr,
            handle_ptr,
        ): ReqParams,
    ) -> ReqArgs {
        ReqArgs {
            url: GuestRange::new(url_ptr, url_len),
            method: GuestRange::new(method_ptr, method_len),
            headers: GuestRange::new(headers_ptr, headers_len),
            body: GuestRange::new(body_ptr, body_len),
            status_ptr,
            handle_ptr,
        }
    }
}

/// A variable-size output: the buffer, and where the number of bytes written goes.
#[derive(Debug, Clone, Copy)]
struct Output {
    buf: GuestRange,
    written_ptr: u32,
}

impl Output {
    fn new(buf_ptr: u32, buf_len: u32, written_ptr: u32) -> Output {
        Output {
            buf: GuestRange::new(buf_ptr, buf_len),
            written_ptr,
        }
    }

    /// Checks both locations before anything else happens.
    fn check(self, mem: &[u8]) -> Result<(), ErrorCode> {
        self.buf.check(mem)?;
        gm::check_out(mem, self.written_ptr, 4)
    }

    /// Writes `value` to the buffer and its length to `written_ptr`, or reports the needed
    /// length on `buffer_too_small`.
    fn write(self, mem: &mut [u8], value: &[u8]) -> Result<(), ErrorCode> {
        let len = u32::try_from(value.len()).map_err(|_| ErrorCode::BufferTooSmall)?;
        if len > self.buf.len {
            gm::write_u32(mem, self.written_ptr, len)?;
            return Err(ErrorCode::BufferTooSmall);
        }
        GuestRange::new(self.buf.ptr, len)
            .bytes_mut(mem)?
            .copy_from_slice(value);
        gm::write_u32(mem, self.written_ptr, len)
    }
}

/// Logs a failed request with its (bounded, escaped) URL and its audit id, if any.
fn failed(url: &[u8], e: &HttpError, id: Option<u64>) {
    // Guest bytes in a log line: bounded, and escaped so they cannot forge log lines; without
    // the query, which often carries tokens (audit events leave it out too).
    let url = url.split(|&b| b == b'?').next().unwrap_or_default();
    let url = url.get(..256).unwrap_or(url);
    let url = String::from_utf8_lossy(url);
    match id {
        Some(id) => log::debug!("req {url:?} (request {id}): {e}"),
        None => log::debug!("req {url:?}: {e}"),
    }
}

/// `req`: see `abi.md`.
fn req(mem: &mut [u8], ctx: &mut HttpCtx, args: ReqArgs) -> Result<(), ErrorCode> {
    let audit = ctx.audit();
    let prepared = req_prepare(mem, ctx, args, audit.as_ref())?;
    let trail = prepared.trail(audit);
    let body = args.body.bytes(mem)?;
    let response = ctx.client().execute(&prepared, body, &ctx.call());
    req_finish(mem, ctx, args, response, trail)
}

/// `req` up to the network (steps 1 to 7 of `abi.md`'s order of checks): the request,
/// validated, admitted, and charged to the store's quotas; a refusal is audited. Shared by the
/// sync and async entry points.
fn req_prepare(
    mem: &[u8],
    ctx: &mut HttpCtx,
    args: ReqArgs,
    audit: Option<&Audit>,
) -> Result<Prepared, ErrorCode> {
    // A panic while admitting still ends in the request's one event: the panic guard would
    // turn it into `runtime_error` (12) anyway, so it is caught here, before the event.
    let admitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        req_admit(mem, ctx, args, audit)
    }))
    .unwrap_or_else(|panic| {
        log::error!(
            "a wasi_experimental_http host function panicked: {:?}",
            panic_message(&*panic)
        );
        Err(ErrorCode::RuntimeError.into())
    });
    let Some(audit) = audit else {
        return admitted.map_err(|refusal| refusal.code);
    };
    match admitted {
        Ok(prepared) => {
            ctx.audit_other();
            Ok(prepared)
        }
        Err(refusal) => {
            let url = args.url.bytes(mem).unwrap_or_default();
            let method = args.method.bytes(mem).unwrap_or_default();
            // A wait for room in the audit log's queue that the store's interrupt or deadline
            // ended is that code (`abi.md`, "Audit events").
            ctx.audit_denial(audit.denial(url, method, refusal))?;
            Err(refusal.code)
        }
    }
}

fn req_admit(
    mem: &[u8],
    ctx: &HttpCtx,
    args: ReqArgs,
    audit: Option<&Audit>,
) -> Result<Prepared, Refusal> {
    // Every range first, outputs included: nothing is sent if the results cannot be delivered.
    gm::check_out(mem, args.status_ptr, 2)?;
    gm::check_out(mem, args.handle_ptr, 4)?;
    for range in [args.url, args.method, args.headers, args.body] {
        range.check(mem)?;
    }
    if ctx.interrupted() {
        return Err(HttpError::Interrupted.code().into());
    }
    let request = Request {
        url: args.url.bytes(mem)?,
        method: args.method.bytes(mem)?,
        headers: args.headers.bytes(mem)?,
        body: args.body.bytes(mem)?,
    };
    let prepared = ctx.client().prepare(&request).map_err(|e| {
        failed(request.url, &e, audit.map(|a| a.id));
        Refusal::from(&e)
    })?;
    if !ctx.handles().has_capacity() {
        return Err(ErrorCode::TooManySessions.into());
    }
    if !ctx.handles().has_numbers() {
        return Err(ErrorCode::RuntimeError.into());
    }
    // Last: a request refused for any other reason costs no quota.
    prepared
        .charge(ctx.request_quotas())
        .map_err(|e| Refusal::from(&e))?;
    Ok(prepared)
}

/// `req` after the network: a handle for the response, status and handle written, the audit
/// record handed to the response (or emitted for a failure). Shared by the sync and async
/// entry points.
fn req_finish(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    args: ReqArgs,
    response: Result<Response, Failure>,
    trail: Option<Trail>,
) -> Result<(), ErrorCode> {
    let mut response = match response {
        Ok(response) => response,
        Err(failure) => {
            let url = args.url.bytes(mem).unwrap_or_default();
            failed(url, &failure.error, trail.as_ref().map(Trail::id));
            // A wait for room in the audit log's queue that the store's interrupt or deadline
            // ended is that code (`abi.md`, "Audit events").
            failure.audit(trail)?;
            return Err(failure.error.code());
        }
    };
    response.attach(trail);
    let status = response.head.status;
    let handle = ctx
        .handles_mut()
        .insert(response)
        .ok_or(ErrorCode::RuntimeError)?;
    gm::write_u16(mem, args.status_ptr, status)?;
    gm::write_u32(mem, args.handle_ptr, handle)
}

/// `close`: see `abi.md`.
fn close(ctx: &mut HttpCtx, handle: u32) -> Result<(), ErrorCode> {
    ctx.audit_other();
    ctx.handles_mut()
        .remove(handle)
        .map(drop)
        .ok_or(ErrorCode::InvalidHandle)
}

/// `header_get`: see `abi.md`.
fn header_get(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    handle: u32,
    name: GuestRange,
    out: Output,
) -> Result<(), ErrorCode> {
    name.check(mem)?;
    out.check(mem)?;
    let response = ctx.handles().get(handle).ok_or(ErrorCode::InvalidHandle)?;
    let name = std::str::from_utf8(name.bytes(mem)?).map_err(|_| HttpError::Utf8.code())?;
    let value = response
        .head
        .field_value(name.as_bytes())
        .map_err(|e| HttpError::from(e).code())?
        .ok_or(ErrorCode::HeaderNotFound)?;
    out.write(mem, &value)
}

/// `headers_get_all`: see `abi.md`.
fn headers_get_all(
    mem: &mut [u8],
    ctx: &mut HttpCtx,
    handle: u32,
    out: Output,
) -> Result<(), ErrorCode> {
    out.check(mem)?;
    let response = ctx.handles().get(handle).ok_or(ErrorCode::InvalidHandle)?;
    out.write(mem, &response.head.header_block())
}

/// `body_read`: see `abi.md`.
fn body_read(mem: &mut [u8], ctx: &mut HttpCtx, handle: u32, out: Output) -> Result<(), ErrorCode> {
    let controls = ctx.controls().clone();
    let response = body_read_begin(mem, ctx, handle, out)?;
    let n = response.read_body(out.buf.bytes_mut(mem)?, &controls)?;
    gm::write_u32(mem, out.written_ptr, u32::try_from(n).unwrap_or(u32::MAX))
}

/// `body_read` up to the network (steps 1 to 5 of the order of checks): the response to read.
/// Shared by the sync and async entry points.
fn body_read_begin<'c>(
    mem: &[u8],
    ctx: &'c mut HttpCtx,
    handle: u32,
    out: Output,
) -> Result<&'c mut Response, ErrorCode> {
    // Both checked before any byte leaves the connection, so a bad pointer loses no body data.
    out.check(mem)?;
    if ctx.interrupted() {
        return Err(HttpError::Interrupted.code());
    }
    let response = ctx
        .handles_mut()
        .get_mut(handle)
        .ok_or(ErrorCode::InvalidHandle)?;
    if out.buf.len == 0 {
        return Err(ErrorCode::BufferTooSmall);
    }
    Ok(response)
}
