//! The async entry point: the same five functions for embedders that call guests with
//! `call_async` on an async executor (`ARCHITECTURE.md`, "Async embedding").
//!
//! One implementation of the semantics: each function runs the sync path's own steps (the
//! same checks in the same order, the same codes); only the network wait moves to a worker
//! thread (`client::Client::execute_on_worker`, `read_on_worker`), whose completion wakes the
//! guest's future. The executor thread never blocks on the network. Dropping a call's future
//! interrupts its request: the connection is closed within one wait slice, never pooled.
//!
//! The price of not blocking: the request body is copied out of guest memory (a worker cannot
//! reach it), and body bytes are read into a host buffer, then copied into the guest's.

use super::{
    FUNCTIONS, MODULE, Output, ReqArgs, ReqParams, body_read_begin, close, guarded, header_get,
    headers_get_all, memory_and_ctx, req_finish, req_prepare, result,
};
use crate::client::{BodyRead, Failure};
use crate::ctx::HttpCtx;
use crate::error::HttpError;
use crate::error_code::ErrorCode;
use crate::guest_memory::{self as gm, GuestRange};
use wasmtime::{Caller, Linker};

/// Most body bytes one async `body_read` takes from the connection: bounds the host buffer
/// lent to the worker (reused across calls) whatever `buf_len` the guest passes.
const MAX_ASYNC_READ: usize = 256 * 1024;

/// Registers the `wasi_experimental_http` functions in `linker` for guests called with
/// `call_async`: the counterpart of [`add_to_linker`](crate::add_to_linker), with the same
/// ABI, checks and codes. Network waits run on the context's worker threads
/// ([`HttpCtxBuilder::async_workers`](crate::HttpCtxBuilder::async_workers)), so the executor
/// is never blocked; dropping the future of a call cancels its request.
///
/// Needs the crate feature `async`. No async runtime is involved: any executor that polls
/// wasmtime's futures works.
///
/// ```no_run
/// use wasmtime::{Engine, Linker, Module, Store};
/// use wasi_experimental_http_host::{add_to_linker_async, HttpCtx};
///
/// struct Data { http: HttpCtx }
///
/// # async fn run() -> wasmtime::Result<()> {
/// let engine = Engine::default();
/// let mut linker: Linker<Data> = Linker::new(&engine);
/// add_to_linker_async(&mut linker, |d: &mut Data| &mut d.http)?;
/// let http = HttpCtx::new(Some(vec!["https://api.example.com".into()]), Some(4))?;
/// let mut store = Store::new(&engine, Data { http });
/// let module = Module::from_file(&engine, "guest.wasm")?;
/// let instance = linker.instantiate_async(&mut store, &module).await?;
/// let run = instance.get_typed_func::<(), ()>(&mut store, "run")?;
/// run.call_async(&mut store, ()).await?;
/// # Ok(())
/// # }
/// ```
pub fn add_to_linker_async<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut HttpCtx + Send + Sync + Copy + 'static,
) -> wasmtime::Result<()> {
    debug_assert_eq!(FUNCTIONS.len(), 5);
    linker.func_wrap_async(
        MODULE,
        "req",
        move |mut caller: Caller<'_, T>, params: ReqParams| {
            let args = ReqArgs::new(params);
            Box::new(async move { result(req_async(&mut caller, get, args).await) })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "close",
        move |mut caller: Caller<'_, T>, (handle,): (u32,)| {
            let code = result(guarded(|| close(get(caller.data_mut()), handle)));
            Box::new(async move { code })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "header_get",
        move |mut caller: Caller<'_, T>,
              (handle, name_ptr, name_len, buf_ptr, buf_len, written_ptr): (
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
        )| {
            let name = GuestRange::new(name_ptr, name_len);
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            let code = result(memory_and_ctx(&mut caller, get, |mem, ctx| {
                header_get(mem, ctx, handle, name, out)
            }));
            Box::new(async move { code })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "headers_get_all",
        move |mut caller: Caller<'_, T>,
              (handle, buf_ptr, buf_len, written_ptr): (u32, u32, u32, u32)| {
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            let code = result(memory_and_ctx(&mut caller, get, |mem, ctx| {
                headers_get_all(mem, ctx, handle, out)
            }));
            Box::new(async move { code })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "body_read",
        move |mut caller: Caller<'_, T>,
              (handle, buf_ptr, buf_len, written_ptr): (u32, u32, u32, u32)| {
            let out = Output::new(buf_ptr, buf_len, written_ptr);
            Box::new(async move { result(body_read_async(&mut caller, get, handle, out).await) })
        },
    )?;
    Ok(())
}

/// `req`: the sync path's checks, the exchange on a worker, the sync path's results.
async fn req_async<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut HttpCtx + Send + Sync + Copy,
    args: ReqArgs,
) -> Result<(), ErrorCode> {
    let (exchange, trail) = memory_and_ctx(caller, get, |mem, ctx| {
        let audit = ctx.audit();
        let prepared = req_prepare(mem, ctx, args, audit.as_ref())?;
        let trail = prepared.trail(audit);
        // Bounded by `Limits::max_request_body`, checked by `req_prepare`.
        let body = args.body.bytes(mem)?.to_vec();
        let exchange = ctx.client().execute_on_worker(prepared, body, &ctx.call());
        Ok((exchange, trail))
    })?;
    let response = exchange.await.unwrap_or_else(|| {
        Err(Failure {
            error: HttpError::Internal("HTTP worker panicked"),
            stats: Box::default(),
        })
    });
    memory_and_ctx(caller, get, |mem, ctx| {
        req_finish(mem, ctx, args, response, trail)
    })
}

/// `body_read`: the sync path's checks, the read on a worker, the sync path's state rules.
async fn body_read_async<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut HttpCtx + Send + Sync + Copy,
    handle: u32,
    out: Output,
) -> Result<(), ErrorCode> {
    let read = memory_and_ctx(caller, get, |mem, ctx| {
        let (client, controls) = (ctx.client().clone(), ctx.controls().clone());
        let scratch = ctx.take_scratch();
        let response = match body_read_begin(mem, ctx, handle, out) {
            Ok(response) => response,
            Err(code) => {
                ctx.return_scratch(scratch);
                return Err(code);
            }
        };
        // A body that never comes back belongs to a cancelled call.
        match response.take_body(ErrorCode::Interrupted) {
            Ok(body) => {
                let len = usize::try_from(out.buf.len)
                    .unwrap_or(usize::MAX)
                    .min(MAX_ASYNC_READ);
                Ok(Some(client.read_on_worker(body, scratch, len, &controls)))
            }
            // Nothing to wait for: the end (0) or the sticky failure, as the sync path says.
            Err(done) => {
                ctx.return_scratch(scratch);
                let n = done?;
                gm::write_u32(mem, out.written_ptr, u32::try_from(n).unwrap_or(u32::MAX))?;
                Ok(None)
            }
        }
    })?;
    let Some(read) = read else {
        return Ok(());
    };
    let read = read.await;
    memory_and_ctx(caller, get, |mem, ctx| {
        let response = ctx
            .handles_mut()
            .get_mut(handle)
            .ok_or(ErrorCode::RuntimeError)?;
        let Some(BodyRead { body, buf, read }) = read else {
            return Err(response.fail(&HttpError::Internal("HTTP worker panicked")));
        };
        let settled = response.settle(body, read);
        let delivered = settled.and_then(|n| {
            let bytes = buf.get(..n).ok_or(ErrorCode::RuntimeError)?;
            let len = u32::try_from(n).map_err(|_| ErrorCode::RuntimeError)?;
            GuestRange::new(out.buf.ptr, len)
                .bytes_mut(mem)?
                .copy_from_slice(bytes);
            gm::write_u32(mem, out.written_ptr, len)
        });
        ctx.return_scratch(buf);
        delivered
    })
}
