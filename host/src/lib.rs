// The packaged README is the crate's front page on crates.io and docs.rs; its example is a
// doctest, so the first code a user copies compiles.
#![doc = include_str!("../README.md")]
//!
//! # The crate
//!
//! - [`add_to_linker`] registers the five functions; [`HttpCtx`] is the per-store state.
//! - HTTP/1.1 is implemented here over `std::net::TcpStream` and rustls; no HTTP client
//!   library, no async runtime. The guest is suspended in a blocking host call; every wait is
//!   bounded by [`Timeouts`].
//! - Response bodies stream from the socket into guest memory; host memory per open response
//!   is a small fixed buffer whatever the body size.
//! - Where a request may go is decided by an allow-list of origins and an [`AddressPolicy`].
//!
//! The layers, each testable alone, are described in `ARCHITECTURE.md`: `abi` (guest memory,
//! codes) → `ctx` (per-store state) → `client` (the request loop) → `pool` / `transport`
//! (sockets, TLS, deadlines) → `error` (the one funnel to codes) → `http1` (sans-IO parser and
//! serializer) / `policy` / `url` → `config` / `error_code`.
//!
//! This file is a façade: module declarations and re-exports only.

#![forbid(unsafe_code)]

mod abi;
mod audit;
mod client;
mod config;
mod control;
mod credentials;
mod ctx;
mod error;
mod error_code;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guest_memory;
mod http1;
mod policy;
mod pool;
mod quota;
mod transport;
mod url;
#[cfg(feature = "async")]
mod workers;

#[cfg(feature = "async")]
pub use abi::add_to_linker_async;
pub use abi::{FUNCTIONS, MODULE, add_to_linker};
pub use audit::{Completed, Denied, DenyReason, Event, EventKind, JsonLinesLog, Phases};
pub use config::{
    ConfigError, DEFAULT_ASYNC_WORKERS, DEFAULT_MAX_CONCURRENT_REQUESTS, Limits, PoolConfig,
    Timeouts,
};
pub use ctx::{HttpCtx, HttpCtxBuilder, InterruptHandle};
pub use error_code::ErrorCode;
pub use policy::AddressPolicy;
pub use quota::{Quota, QuotaKind, QuotaLimits, QuotaUsage};
