// The packaged README is the crate's front page on crates.io and docs.rs; its example is a
// doctest, so the first code a user copies compiles.
#![doc = include_str!("../README.md")]
//!
//! # Layers
//!
//! Three layers, pick the smallest that fits:
//!
//! - **core** (always; `no_std`, no allocator): [`Request`] borrows the method, URL, header
//!   block and body; [`send`] returns an [`IncomingResponse`] that reads the body and headers
//!   into caller buffers and closes its handle on drop. A module using only this layer is a
//!   few kilobytes of wasm.
//! - **`alloc`** feature: `IncomingResponse::read_to_end`, `header_string`,
//!   `headers_string`.
//! - **`http`** feature (std): the API of the original 0.10 crate — `request`,
//!   `send_request`, `Response { status_code, .. }` with `body_read`, `body_read_all`,
//!   `header_get` and `headers_get_all` — over the `http` 1.x types, so existing guests
//!   compile after swapping the dependency.
//!
//! Below them, two layers shaped like the `wasi`/`wasip1` crates:
//!
//! - [`checked`]: one safe function per host function, taking slices and returning
//!   `Result<_, Error>`; the handle is the caller's to close.
//! - [`raw`]: the imports themselves ([`raw::imports`], `unsafe`, documented with their
//!   abi.md SYNOPSIS), the module name and the function list.
//!
//! # A POST with headers
//!
//! ```no_run
//! use wasi_experimental_http::{Error, HeaderBlock, Request};
//!
//! let mut block = [0u8; 128];
//! let mut headers = HeaderBlock::new(&mut block);
//! headers.add("Content-Type", "text/plain")?;
//!
//! let mut res = Request::post("http://127.0.0.1:8080/echo")
//!     .headers(headers.as_bytes())
//!     .body(b"hello")
//!     .send()?;
//!
//! let mut ct = [0u8; 64];
//! match res.header("content-type", &mut ct) {
//!     Ok(n) => { /* &ct[..n] is the value */ }
//!     Err(e) => { /* e.needed() says how big a buffer would have worked */ }
//! }
//!
//! let mut buf = [0u8; 1024];
//! loop {
//!     let n = res.read(&mut buf)?;
//!     if n == 0 {
//!         break; // end of body
//!     }
//!     // use buf[..n]
//! }
//! # Ok::<(), Error>(())
//! ```
//!
//! Off wasm32 the imports are replaced by stubs that return [`Error::RuntimeError`]'s code, so
//! code using this crate still compiles, links and unit-tests natively (see [`raw`]).
//!
//! abi.md (shipped in this package, and at the root of its repository) is the normative
//! specification of the ABI; the documentation here cites its sections by name.
#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
// Unit tests run natively and use std freely.
#[cfg(test)]
extern crate std;

pub mod checked;
mod error;
mod header_block;
pub mod raw;
mod response;

#[cfg(feature = "alloc")]
mod alloc_ext;
#[cfg(feature = "http")]
mod compat;

pub use error::{Error, HeaderError, HttpError, UnknownCode};
pub use header_block::{HeaderBlock, HeaderLines, header_lines};
pub use response::{IncomingResponse, Request, send};

#[cfg(feature = "alloc")]
pub use alloc_ext::MAX_HEADER_BUFFER;
#[cfg(feature = "http")]
pub use compat::{
    CompatError, Response, header_map_to_string, request, send_request, string_to_header_map,
};
