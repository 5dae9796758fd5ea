//! End-to-end test harness: builds and runs real wasm guests and hand-written WAT modules
//! against the host library, with loopback HTTP/HTTPS servers to talk to.
//!
//! Nothing here touches the internet: every server binds a loopback address and every
//! `HttpCtx` the tests build admits only those.
// clippy.toml's allow-*-in-tests covers only `#[test]` and `#[cfg(test)]` code, not this
// library that the test binaries link.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "harness code: a panic is a test failure with a message, which is what a harness wants"
)]

pub mod abi;
pub mod foreign;
pub mod guests;
pub mod nginx;
pub mod proxy;
pub mod run;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use wasi_experimental_http_host::{HttpCtx, HttpCtxBuilder, Timeouts};

/// Timeouts short enough that a test waiting on a broken server fails in seconds, long enough
/// for a loaded two-core machine running debug builds.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        response_header: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        total: Duration::from_secs(60),
    }
}

/// Resolves `localhost` to 127.0.0.1 and refuses every other name, so that no test (and no
/// host bug) can send a DNS query off the machine. Tests that need names override it.
pub fn loopback_only_resolver(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if host.eq_ignore_ascii_case("localhost") {
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("e2e tests resolve no names ({host})"),
        ))
    }
}

/// A builder admitting exactly `origins` (allow-list entries), with [`test_timeouts`] and
/// [`loopback_only_resolver`].
pub fn ctx_builder<I, S>(origins: I) -> HttpCtxBuilder
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    HttpCtx::builder()
        .allowed_hosts(origins)
        .timeouts(test_timeouts())
        .resolver(loopback_only_resolver)
}

/// An `HttpCtx` admitting exactly `origins`, with [`test_timeouts`].
pub fn ctx_allowing<I, S>(origins: I) -> HttpCtx
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    ctx_builder(origins).build().expect("valid test HttpCtx")
}

/// [`ctx_allowing`] with [`test_timeouts`] changed by `adjust`, for tests that shorten (or
/// lengthen) one budget.
pub fn ctx_allowing_with_timeouts<I, S>(origins: I, adjust: impl FnOnce(&mut Timeouts)) -> HttpCtx
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut timeouts = test_timeouts();
    adjust(&mut timeouts);
    ctx_builder(origins)
        .timeouts(timeouts)
        .build()
        .expect("valid test HttpCtx")
}
