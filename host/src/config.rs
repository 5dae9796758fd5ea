//! Configuration values: every tunable bound of the host, with its default and why, and the
//! error a bad configuration gives.
//!
//! All defaults live here, in one place, so an auditor can read them at a glance. This module
//! is a leaf: it imports nothing from the crate (`ARCHITECTURE.md`, "Layers").

use std::fmt;
use std::time::Duration;

/// A configuration mistake, reported when the context is built, never at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(msg: impl Into<String>) -> ConfigError {
        ConfigError(msg.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Time budgets of one request. Each bound has its own error code, so a guest can tell
/// which phase stalled.
///
/// Defaults are seconds, not minutes: a guest blocked in a host call cannot be interrupted
/// by wasmtime's epoch or fuel deadlines, so these are what bounds a stuck guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect, per address tried. Default 5 s: a loaded but healthy server accepts in
    /// milliseconds; longer usually means a black-holed address.
    pub connect: Duration,
    /// From the moment the connection is ready (TLS handshake included) until the whole
    /// response header section has arrived. Default 10 s.
    pub response_header: Duration,
    /// Longest wait for any progress on the connection (a write accepted, a byte read).
    /// Default 10 s.
    pub idle: Duration,
    /// Overall deadline from the start of `req` until the body's end: defeats a server that
    /// drips one byte per idle interval. Default 30 s.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response_header: Duration::from_secs(10),
            idle: Duration::from_secs(10),
            total: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// These timeouts, if a context may have them: every one greater than zero.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.connect.is_zero()
            || self.response_header.is_zero()
            || self.idle.is_zero()
            || self.total.is_zero()
        {
            return Err(ConfigError::new("timeouts must be greater than zero"));
        }
        Ok(())
    }
}

/// Size bounds on everything a guest or a server sends. Memory per open response is bounded by
/// these whatever the peer does, because they are checked on partial input too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest status line or header/trailer field line. Default 100 KiB, curl's per-line limit:
    /// real sites send single lines far above the 8 KiB servers accept in requests (a large
    /// `Content-Security-Policy`, `Set-Cookie` or `Link`), and a client refusing what curl and
    /// browsers accept breaks on them. The line limit costs no memory of its own: a line lives
    /// in the head buffer, which the section limit bounds.
    pub max_header_line: usize,
    /// Largest header (or trailer) section. Default 256 KiB, what browsers accept in one
    /// response head (Chromium's limit), and what bounds memory: a response's head buffer grows
    /// to at most this (plus one read), and its parsed fields hold at most as much again.
    /// The 0.10 guest crate reserves 64 KiB for `headers_get_all`: a section above that reaches
    /// an old guest as `buffer_too_small` from `headers_get_all` only (`header_get` and the body
    /// still work), where a 64 KiB limit would have refused the whole response.
    pub max_header_section: usize,
    /// Most header fields in one response. Default 100, as in hyper.
    pub max_header_count: usize,
    /// Longest chunk-size line, extensions included. Default 4 KiB.
    pub max_chunk_line: usize,
    /// Largest response body, if set. Default none: bodies are streamed, so size costs the host
    /// no memory, only time, which the timeouts bound.
    pub max_response_body: Option<u64>,
    /// Largest request body a guest may send. Default 16 MiB.
    pub max_request_body: usize,
    /// Largest request header block a guest may pass. Default 64 KiB.
    pub max_request_headers: usize,
    /// Longest URL. Default 8 KiB, as RFC 9110 §4.1 recommends supporting at least.
    pub max_url_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_line: 100 * 1024,
            max_header_section: 256 * 1024,
            max_header_count: 100,
            max_chunk_line: 4 * 1024,
            max_response_body: None,
            max_request_body: 16 * 1024 * 1024,
            max_request_headers: 64 * 1024,
            max_url_len: 8 * 1024,
        }
    }
}

/// Bounds of the idle keep-alive connection pool shared by the stores of one embedder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Idle connections kept per origin. Default 8.
    pub max_idle_per_origin: usize,
    /// Idle connections kept in all. Default 64. Zero disables reuse.
    pub max_idle_total: usize,
    /// How long an idle connection is kept. Default 30 s, below the 60-75 s that common servers
    /// allow, so we rarely pick a connection the server is about to close.
    pub idle_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_idle_per_origin: 8,
            max_idle_total: 64,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Most worker threads that run the blocking calls of async guests (`add_to_linker_async`),
/// shared by every store of one configuration. Threads start on demand and end when idle, so
/// the number only bounds a burst: 32 in-flight calls of slow servers keep 32 threads (64 KiB
/// of stack each in use, typically), and a 33rd call waits for a free one.
pub const DEFAULT_ASYNC_WORKERS: usize = 32;

/// `n` as the most worker threads of the async entry points, if it may be: at least 1.
pub(crate) fn check_async_workers(n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(ConfigError::new("async_workers must be at least 1"));
    }
    Ok(n)
}

/// Responses one store may hold open at once when the embedder gives no number.
/// The 0.10 host had no default bound; 16 keeps a store's sockets and buffers small.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: u32 = 16;

/// Interim (1xx) responses skipped before the final one; more is treated as malformed.
pub(crate) const MAX_INTERIM_RESPONSES: usize = 32;

/// Bytes read from a socket at a time into a response's buffer.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Longest method name accepted from a guest.
pub(crate) const MAX_METHOD_LEN: usize = 64;
