//! Audit events: one record per `req` call, saying what a guest tried to reach and what became
//! of it (`abi.md`, "Audit events", defines every field). The embedder subscribes with
//! [`HttpCtxBuilder::on_event`](crate::HttpCtxBuilder::on_event).
//!
//! Every `req` call that reaches the store's context ends in exactly one event:
//! - [`EventKind::Denied`] when it was refused before anything was sent: by the allow-list, the
//!   address policy (after name resolution), a quota, a limit, a validation rule, an interrupt;
//! - [`EventKind::Completed`] otherwise, when its response is closed (or dropped with its
//!   store), when its body fails, or when the request fails on the network before a response
//!   head arrived (then without a status; an async call cancelled by dropping its future is
//!   `interrupted`).
//!
//! A guest that repeats a refused call does not write a line per call: consecutive identical
//! denials of one context are coalesced into one event with a [`Denied::count`] (see
//! [`Denials`]), and a call waiting for room in a [`JsonLinesLog`]'s queue gives up when its
//! store is interrupted or its deadline passes (`abi.md`, "Audit events").
//!
//! What events never carry: body bytes, header values, query strings (unless the embedder
//! asks for them with [`HttpCtxBuilder::audit_query`](crate::HttpCtxBuilder::audit_query)), or
//! anything the guest sent that failed validation (an invalid URL has no origin in its event).
//! The strings they do carry from the guest (origin, method, path) passed the URL and method
//! rules, and [`Event::to_json`] escapes every string it writes.

use crate::control::{Controls, SLICE};
use crate::error::HttpError;
use crate::error_code::ErrorCode;
use crate::quota::QuotaKind;
use crate::url::{self, Origin, Scheme};
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Request ids: one counter for the process, so ids are unique across all contexts.
static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// Labels an embedder puts on a context's events (e.g. `tenant`), in the order set.
pub(crate) type Labels = Arc<[(String, String)]>;

/// One audit record. Fields may be added in later versions (the type is `#[non_exhaustive]`);
/// existing ones keep their meaning.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event<'a> {
    /// When the event was emitted.
    pub time: SystemTime,
    /// Unique in the process; also in the host's debug log lines about the request.
    pub request_id: u64,
    /// The context's labels ([`HttpCtx::set_label`](crate::HttpCtx::set_label)).
    pub labels: &'a [(String, String)],
    /// `scheme://host[:port]` (the port only when not the scheme's default), when the URL was
    /// valid.
    pub origin: Option<&'a str>,
    /// The method, when it was valid.
    pub method: Option<&'a str>,
    /// What happened.
    pub kind: EventKind<'a>,
}

/// Denied or completed; see the module documentation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind<'a> {
    /// Refused before anything was sent.
    Denied(Denied),
    /// Attempted on the network: succeeded or failed.
    Completed(Completed<'a>),
}

/// A request refused before anything was sent.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Denied {
    /// Which rule refused it.
    pub reason: DenyReason,
    /// The code `req` returned.
    pub code: ErrorCode,
    /// How many `req` calls this event stands for: 1, or the number of identical denials of
    /// one context that followed it and were coalesced into this event (same labels, origin,
    /// method, reason and code, one after the other); the event then has the request id of
    /// the first of them and the time of the last (`abi.md`, "Audit events").
    pub count: u64,
}

/// The rule that refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// No allow entry admits the origin, or a deny entry matches it (code 7).
    AllowList,
    /// The address policy prohibited every resolved address; the first one (code 15; code 38
    /// when it was the egress proxy's address).
    Address(IpAddr),
    /// A quota's limit (code 37).
    Quota(QuotaKind),
    /// A size or count limit: request body or header block size, the concurrency limit
    /// (codes 30, 31, 13).
    Limit,
    /// The guest's arguments broke a rule: memory ranges, UTF-8, URL, method, header block
    /// (codes 3, 6, 8, 9, 10, 34).
    Invalid,
    /// The embedder interrupted the store (code 36).
    Interrupted,
    /// The host could not take the request (code 12).
    Internal,
}

impl DenyReason {
    /// The name used in JSON: `allow_list`, `address`, `quota`, `limit`, `invalid`,
    /// `interrupted`, `internal`.
    pub fn name(self) -> &'static str {
        match self {
            DenyReason::AllowList => "allow_list",
            DenyReason::Address(_) => "address",
            DenyReason::Quota(_) => "quota",
            DenyReason::Limit => "limit",
            DenyReason::Invalid => "invalid",
            DenyReason::Interrupted => "interrupted",
            DenyReason::Internal => "internal",
        }
    }

    /// The reason for a refusal with this code and no more detail.
    fn of_code(code: ErrorCode) -> DenyReason {
        match code {
            ErrorCode::DestinationNotAllowed => DenyReason::AllowList,
            ErrorCode::TooManySessions
            | ErrorCode::RequestBodyTooLarge
            | ErrorCode::RequestHeadersTooLarge => DenyReason::Limit,
            ErrorCode::Interrupted => DenyReason::Interrupted,
            ErrorCode::RuntimeError => DenyReason::Internal,
            _ => DenyReason::Invalid,
        }
    }
}

/// A request attempted on the network.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Completed<'a> {
    /// The URL's path; with the query only if the embedder asked for it.
    pub path: &'a str,
    /// The final status, if a response head arrived.
    pub status: Option<u16>,
    /// The final code: 0 when the response was closed (or dropped) without an error, else
    /// the code of the failure (`req`'s or `body_read`'s).
    pub code: ErrorCode,
    /// Request head and body bytes as serialized, without the fields the host injects,
    /// counted once per request (`abi.md`, "Audit events").
    pub sent_bytes: u64,
    /// Response body bytes delivered to the guest.
    pub received_bytes: u64,
    /// Whether the connection that carried the request to its end came from the pool (`false`
    /// after a retry on a fresh connection).
    pub reused: bool,
    /// Whether the guest read the body to its framed end.
    pub body_complete: bool,
    /// Time spent in each phase. Through an egress proxy, `dns` and `connect` are the
    /// proxy's, and `tls` the handshake with the origin through the tunnel.
    pub phases: Phases,
    /// The egress proxy the request went through (`http://host[:port]`, never its
    /// credentials), if any.
    pub proxy: Option<&'a str>,
    /// The proxy's status when its answer was the failure: a refused `CONNECT`
    /// (`proxy_tunnel_refused`) or 407 (`proxy_auth_required`).
    pub proxy_status: Option<u16>,
}

/// Time spent in each phase of a request; `None` for a phase that did not happen (DNS for an
/// IP literal; DNS, connect and TLS on a reused connection; TLS for `http`; the body of a
/// request that failed before its head).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Phases {
    /// Name resolution.
    pub dns: Option<Duration>,
    /// TCP connect, every address tried.
    pub connect: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
    /// From the first byte written to the final response head parsed.
    pub head: Option<Duration>,
    /// From the head to the end of the body, its failure, or the response's close.
    pub body: Option<Duration>,
}

impl Event<'_> {
    /// The event as one line of JSON (no trailing newline), the format of the CLI's
    /// `--audit-log` (fields in `abi.md`, "Audit events"). Every string is escaped:
    /// control characters, quotes and backslashes cannot end the record or forge another.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_json(&mut out);
        // Every byte written is ASCII or comes from a `&str` whole: always UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Appends [`Event::to_json`]'s line (no trailing newline) to `out`, without allocating
    /// anything but `out`'s growth: what a sink that batches lines into one buffer wants.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.reserve(512);
        let mut j = Json(out);
        j.raw(b"{\"time\":");
        j.time(self.time);
        j.raw(match self.kind {
            EventKind::Denied(_) => b",\"event\":\"denied\"".as_slice(),
            EventKind::Completed(_) => b",\"event\":\"completed\"",
        });
        j.raw(b",\"request_id\":");
        j.num(self.request_id);
        j.raw(b",\"labels\":");
        j.0.push(b'{');
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                j.0.push(b',');
            }
            j.string(k);
            j.0.push(b':');
            j.string(v);
        }
        j.0.push(b'}');
        j.raw(b",\"origin\":");
        j.opt_string(self.origin);
        j.raw(b",\"method\":");
        j.opt_string(self.method);
        match &self.kind {
            EventKind::Denied(d) => {
                j.raw(b",\"reason\":");
                j.string(d.reason.name());
                match d.reason {
                    DenyReason::Address(ip) => {
                        j.raw(b",\"address\":");
                        j.string(&ip.to_string());
                    }
                    DenyReason::Quota(kind) => {
                        j.raw(b",\"quota\":");
                        j.string(kind.name());
                    }
                    _ => {}
                }
                j.code(d.code);
                j.raw(b",\"count\":");
                j.num(d.count);
            }
            EventKind::Completed(c) => {
                j.raw(b",\"path\":");
                j.string(c.path);
                j.raw(b",\"status\":");
                j.opt_num(c.status.map(u64::from));
                j.code(c.code);
                j.raw(b",\"sent_bytes\":");
                j.num(c.sent_bytes);
                j.raw(b",\"received_bytes\":");
                j.num(c.received_bytes);
                j.raw(b",\"reused\":");
                j.bool(c.reused);
                j.raw(b",\"body_complete\":");
                j.bool(c.body_complete);
                let p = &c.phases;
                for (name, d) in [
                    (b",\"dns_us\":".as_slice(), p.dns),
                    (b",\"connect_us\":".as_slice(), p.connect),
                    (b",\"tls_us\":".as_slice(), p.tls),
                    (b",\"head_us\":".as_slice(), p.head),
                    (b",\"body_us\":".as_slice(), p.body),
                ] {
                    j.raw(name);
                    j.opt_num(d.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)));
                }
                j.raw(b",\"proxy\":");
                j.opt_string(c.proxy);
                j.raw(b",\"proxy_status\":");
                j.opt_num(c.proxy_status.map(u64::from));
            }
        }
        j.0.push(b'}');
    }
}

/// The log's line for `count` events lost (see [`JsonLinesLog`]).
fn write_lost_json(out: &mut Vec<u8>, time: SystemTime, count: u64) {
    let mut j = Json(out);
    j.raw(b"{\"time\":");
    j.time(time);
    j.raw(b",\"event\":\"lost\",\"count\":");
    j.num(count);
    j.0.push(b'}');
}

/// A JSON object being appended to a buffer; fields are comma-separated as they come.
struct Json<'o>(&'o mut Vec<u8>);

// Written by hand rather than with `write!`, into bytes: an event is formatted for every request
// (on the log's writer thread, or on the guest's for a callback that calls `to_json`), and
// `core::fmt` made that ~13 k instructions (`bench/src/bin/audit_overhead.rs`; BENCHMARKS.md).
impl Json<'_> {
    /// Constant JSON text, e.g. a field's `,"name":` (names are this file's constants: no
    /// escaping needed; whole separators keep this to one copy per field).
    fn raw(&mut self, text: &[u8]) {
        self.0.extend_from_slice(text);
    }

    fn num(&mut self, n: u64) {
        self.0.extend_from_slice(url::decimal(n, &mut [0; 20]));
    }

    fn opt_num(&mut self, n: Option<u64>) {
        match n {
            Some(n) => self.num(n),
            None => self.0.extend_from_slice(b"null"),
        }
    }

    fn bool(&mut self, b: bool) {
        self.0
            .extend_from_slice(if b { b"true".as_slice() } else { b"false" });
    }

    fn code(&mut self, code: ErrorCode) {
        self.raw(b",\"code\":");
        self.num(u64::from(code.code()));
        // Code names are constants in `[a-z_]`: nothing to escape.
        self.raw(b",\"code_name\":\"");
        self.raw(code.name().as_bytes());
        self.raw(b"\"");
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.0.extend_from_slice(b"null"),
        }
    }

    /// RFC 8259 §7: `"` and `\` escaped, every control character (and DEL, and the Unicode line
    /// separators some log viewers break on) as `\uXXXX`.
    fn string(&mut self, s: &str) {
        self.0.push(b'"');
        // The common case, a string with nothing to escape, checked without branching per
        // byte (the compiler vectorizes the fold) and copied at once.
        if !s.bytes().fold(false, |any, b| any | needs_escape(b)) {
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
            return;
        }
        let mut rest = s;
        // Runs of printable ASCII (the common case: whole strings) are copied at once.
        while let Some(at) = rest.bytes().position(needs_escape) {
            let (clean, tail) = rest.split_at(at);
            self.0.extend_from_slice(clean.as_bytes());
            let mut chars = tail.chars();
            let Some(c) = chars.next() else { break };
            match c {
                '"' => self.0.extend_from_slice(b"\\\""),
                '\\' => self.0.extend_from_slice(b"\\\\"),
                c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let u = u32::from(c);
                    self.0.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        let nibble = (u >> shift & 0xf) as usize;
                        self.0.push(HEX.get(nibble).copied().unwrap_or(b'0'));
                    }
                }
                c => {
                    let mut utf8 = [0u8; 4];
                    self.0
                        .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
            rest = chars.as_str();
        }
        self.0.extend_from_slice(rest.as_bytes());
        self.0.push(b'"');
    }

    /// RFC 3339 UTC with microseconds, e.g. `"2026-11-29T23:10:00.123456Z"`.
    fn time(&mut self, t: SystemTime) {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        let mut s = *b"\"0000-00-00T00:00:00.000000Z\"";
        // Each (offset, width, value): digits written right to left.
        for (end, width, mut v) in [
            (5, 4, y),
            (8, 2, m),
            (11, 2, d),
            (14, 2, rem / 3600),
            (17, 2, rem % 3600 / 60),
            (20, 2, rem % 60),
            (27, 6, u64::from(since.subsec_micros())),
        ] {
            for i in (end - width..end).rev() {
                if let Some(b) = s.get_mut(i) {
                    *b = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        }
        self.0.extend_from_slice(&s);
    }
}

/// Whether a string byte needs a second look: a control character, `"`, `\\`, DEL, or part of a
/// non-ASCII character (which may be a C1 control or a line separator).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm,
/// "chrono-Compatible Low-Level Date Algorithms", for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// An event owned, so that it can be formatted later on another thread: what the request
/// path hands to a [`JsonLinesLog`] (moving its strings, never copying them).
pub(crate) struct Record {
    time: SystemTime,
    request_id: u64,
    labels: Labels,
    /// The origin, method and path, one after the other (a denied request has no path).
    text: String,
    /// Where the origin ends in `text`, if the event has one.
    origin_end: Option<usize>,
    /// Where the method ends in `text`, if the event has one.
    method_end: Option<usize>,
    kind: RecordKind,
    /// Bytes this record holds besides `text` (copied labels), for the queue's bound.
    extra_bytes: usize,
}

enum RecordKind {
    Denied(Denied),
    /// The path is `text`'s rest, and the proxy is here: the `Completed` holds neither.
    Completed(Completed<'static>, Option<Arc<str>>),
}

impl Record {
    /// A copy of `event` (the slow path: for [`JsonLinesLog::observer`]).
    fn of(event: &Event<'_>) -> Record {
        let mut text = String::new();
        let origin_end = event.origin.map(|o| {
            text.push_str(o);
            text.len()
        });
        let method_end = event.method.map(|m| {
            text.push_str(m);
            text.len()
        });
        let kind = match &event.kind {
            EventKind::Denied(d) => RecordKind::Denied(*d),
            EventKind::Completed(c) => {
                text.push_str(c.path);
                RecordKind::Completed(
                    Completed {
                        path: "",
                        proxy: None,
                        ..c.clone()
                    },
                    c.proxy.map(Arc::from),
                )
            }
        };
        Record {
            time: event.time,
            request_id: event.request_id,
            labels: Labels::from(event.labels),
            text,
            origin_end,
            method_end,
            kind,
            extra_bytes: event.labels.iter().map(|(k, v)| k.len() + v.len()).sum(),
        }
    }

    /// What the record weighs against the queue's byte bound.
    fn weight(&self) -> usize {
        self.text.capacity() + self.extra_bytes
    }

    /// Calls `f` with the event this record holds.
    fn with_event<R>(&self, f: impl FnOnce(&Event<'_>) -> R) -> R {
        let origin = self.origin_end.and_then(|end| self.text.get(..end));
        let method = self
            .method_end
            .and_then(|end| self.text.get(self.origin_end.unwrap_or(0)..end));
        let kind = match &self.kind {
            RecordKind::Denied(d) => EventKind::Denied(*d),
            RecordKind::Completed(c, proxy) => EventKind::Completed(Completed {
                path: self
                    .text
                    .get(self.method_end.or(self.origin_end).unwrap_or(0)..)
                    .unwrap_or_default(),
                proxy: proxy.as_deref(),
                ..c.clone()
            }),
        };
        f(&Event {
            time: self.time,
            request_id: self.request_id,
            labels: &self.labels,
            origin,
            method,
            kind,
        })
    }
}

/// How long the audit log's writer lets lines gather after a write (see [`JsonLinesLog`]).
const BATCH_WINDOW: Duration = Duration::from_millis(1);
/// Events queued and not yet taken by the writer, at most.
const MAX_QUEUED_EVENTS: usize = 4096;
/// Bytes of strings queued and not yet taken by the writer, at most (one event may go past
/// it): long URLs cannot make the queue large.
const MAX_QUEUED_BYTES: usize = 1 << 20;
/// How far past [`MAX_QUEUED_EVENTS`] and [`MAX_QUEUED_BYTES`] (as many again) the events of
/// calls that gave up waiting for room may still be queued; past that they are counted as lost.
const RESERVE_FACTOR: usize = 2;

/// A JSON Lines sink for audit events, off the request path: the CLI's `--audit-log`.
/// Attach it with [`HttpCtxBuilder::audit_log`](crate::HttpCtxBuilder::audit_log): a request
/// then hands its event's record to the log without formatting it (its strings are moved, not
/// copied) and a writer thread formats the lines ([`Event::to_json`]), writes and flushes them
/// within about a millisecond: an idle writer wakes for the first event; under traffic it
/// takes every event queued since its last write, writes them in one write, flushes, then
/// waits 1 ms for more. A guest's call never waits for the disk unless 4096 events (or 1 MiB
/// of their strings) are already queued: then it waits for room, so memory stays bounded and
/// no event is dropped. That wait ends when the call's store is interrupted or its deadline
/// passes (checked every 10 ms, as network waits are): the call then returns `interrupted`
/// (36) or `deadline_exceeded` (23) and its event is queued beyond the bound, up to as many
/// events (and bytes) again; past that reserve such an event is counted, and the writer
/// writes one `{"time":...,"event":"lost","count":N}` line for them before its next batch. An
/// event already queued is never lost. Dropping the log waits (up to 10 s) until every event
/// queued so far is written; contexts still attached keep writing after that, until the last
/// one is dropped. A failed write (or a panic in `out`) is logged once and loses that batch;
/// later lines are still attempted.
///
/// [`JsonLinesLog::observer`] gives the same log as a callback for
/// [`on_event`](crate::HttpCtxBuilder::on_event), for an embedder that composes observers;
/// it copies each event's strings first.
///
/// ```no_run
/// use wasi_experimental_http_host::{HttpCtx, JsonLinesLog};
/// let log = JsonLinesLog::new(std::fs::File::create("audit.jsonl")?)?;
/// let ctx = HttpCtx::builder().audit_log(&log).build()?;
/// // ... run guests; drop `ctx` (and its siblings), then `log`.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonLinesLog {
    sender: LogSender,
}

/// What the guests' threads and the writer thread share.
struct LogShared {
    state: Mutex<LogState>,
    /// The writer waits here for events (or for its last sender to go).
    events: Condvar,
    /// Guests wait here for room, and a dropped [`JsonLinesLog`] for the queue to drain.
    room: Condvar,
}

#[derive(Default)]
struct LogState {
    /// Events not yet taken by the writer.
    queued: Vec<Record>,
    /// Bytes of their strings.
    queued_bytes: usize,
    /// Events taken by the writer and not yet written.
    writing: usize,
    /// The writer is blocked on `events` (a sender must wake it).
    writer_idle: bool,
    /// Threads blocked on `room` (the writer must wake them).
    waiting_for_room: usize,
    /// The log and the contexts' handles still alive: the writer ends when none is left and
    /// the queue is empty.
    senders: usize,
    /// The writer thread has ended (it cannot panic in practice: writes and formatting run
    /// under a panic guard; this is the last line of defence). Events are then dropped, never
    /// waited for.
    writer_gone: bool,
    /// Events dropped because the writer was gone.
    dropped: u64,
    /// Events of calls that gave up waiting for room when even the reserve was full: the
    /// writer reports their number in a `lost` line.
    lost: u64,
}

impl LogState {
    /// Whether a call must wait for room before queueing.
    fn full(&self) -> bool {
        self.queued.len() >= MAX_QUEUED_EVENTS || self.queued_bytes >= MAX_QUEUED_BYTES
    }

    /// Whether the reserve for calls that gave up waiting is full too.
    fn beyond_reserve(&self) -> bool {
        self.queued.len() >= MAX_QUEUED_EVENTS * RESERVE_FACTOR
            || self.queued_bytes >= MAX_QUEUED_BYTES * RESERVE_FACTOR
    }
}

impl LogShared {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        // Nothing panics while holding the lock; the state stays consistent either way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the writer gone when its thread ends, and wakes whoever waits for it.
struct WriterGone(Arc<LogShared>);

impl Drop for WriterGone {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.writer_gone = true;
        st.dropped += st.queued.len() as u64;
        st.queued.clear();
        st.queued_bytes = 0;
        st.writing = 0;
        self.0.room.notify_all();
    }
}

/// One holder of the log: the [`JsonLinesLog`], an observer, or a builder's contexts.
pub(crate) struct LogSender(Arc<LogShared>);

impl LogSender {
    pub(crate) fn clone_sender(&self) -> LogSender {
        self.0.lock().senders += 1;
        LogSender(self.0.clone())
    }

    /// Queues `record`, waiting for room while the queue is full. With `controls`, the wait
    /// ends when they stop the call: `Err` with their code, the record queued within the
    /// reserve or else counted as lost. Without (an embedder's callback), it waits for room.
    pub(crate) fn push(
        &self,
        record: Record,
        controls: Option<&Controls>,
    ) -> Result<(), ErrorCode> {
        let shared = &*self.0;
        let mut st = shared.lock();
        let mut outcome = Ok(());
        while st.full() && !st.writer_gone {
            if let Some(code) = controls.and_then(Controls::stopped) {
                outcome = Err(code);
                break;
            }
            st.waiting_for_room += 1;
            st = match controls {
                // An interrupt signals no condition variable: the wait is cut into slices, and
                // the last one ends at the deadline.
                Some(c) => {
                    let left = c.deadline.map_or(SLICE, |d| {
                        d.saturating_duration_since(Instant::now()).min(SLICE)
                    });
                    shared
                        .room
                        .wait_timeout(st, left)
                        .map(|(st, _)| st)
                        .unwrap_or_else(|e| e.into_inner().0)
                }
                None => shared.room.wait(st).unwrap_or_else(PoisonError::into_inner),
            };
            st.waiting_for_room -= 1;
        }
        if st.writer_gone {
            st.dropped += 1;
            return outcome;
        }
        if outcome.is_err() && st.beyond_reserve() {
            st.lost += 1;
            return outcome;
        }
        st.queued_bytes += record.weight();
        st.queued.push(record);
        // Waking is a system call: only when the writer sleeps on the condition variable,
        // which under traffic it does not (it is writing, or in its batch window).
        if std::mem::take(&mut st.writer_idle) {
            shared.events.notify_one();
        }
        outcome
    }
}

impl Drop for LogSender {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.senders -= 1;
        if st.senders == 0 && std::mem::take(&mut st.writer_idle) {
            self.0.events.notify_one();
        }
    }
}

impl fmt::Debug for JsonLinesLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.sender.0.lock();
        f.debug_struct("JsonLinesLog")
            .field("pending", &(st.queued.len() + st.writing))
            .field("dropped", &st.dropped)
            .field("lost", &st.lost)
            .finish()
    }
}

impl JsonLinesLog {
    /// Starts the writer thread for `out`.
    pub fn new(mut out: impl io::Write + Send + 'static) -> io::Result<JsonLinesLog> {
        let shared = Arc::new(LogShared {
            state: Mutex::new(LogState {
                senders: 1,
                ..LogState::default()
            }),
            events: Condvar::new(),
            room: Condvar::new(),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || {
                // However the thread ends, senders stop waiting for it.
                let _gone = WriterGone(writer.clone());
                // Below the request threads' priority (Linux: nice +10 for this thread only),
                // so that formatting and writing yield the CPU to requests in flight. Best
                // effort: an error leaves the default.
                #[cfg(target_os = "linux")]
                let _ = rustix::process::setpriority_process(None, 10);
                let mut failed = false;
                let mut batch: Vec<Record> = Vec::new();
                let mut bytes: Vec<u8> = Vec::new();
                loop {
                    let mut st = writer.lock();
                    while st.queued.is_empty() && st.lost == 0 && st.senders > 0 {
                        st.writer_idle = true;
                        st = writer
                            .events
                            .wait(st)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    st.writer_idle = false;
                    if st.queued.is_empty() && st.lost == 0 {
                        return; // no sender left, nothing queued
                    }
                    let lost = std::mem::take(&mut st.lost);
                    // Take the whole queue; the guests go on appending to the spare vector.
                    std::mem::swap(&mut st.queued, &mut batch);
                    st.queued_bytes = 0;
                    st.writing = batch.len();
                    if st.waiting_for_room > 0 {
                        writer.room.notify_all();
                    }
                    drop(st);
                    // Counted before the batch: they gave up while older events waited.
                    if lost > 0 {
                        write_lost_json(&mut bytes, SystemTime::now(), lost);
                        bytes.push(b'\n');
                    }
                    for record in batch.drain(..) {
                        record.with_event(|e| e.write_json(&mut bytes));
                        bytes.push(b'\n');
                    }
                    // The embedder's writer may panic: that batch is lost, the log goes on.
                    let written = catch_unwind(AssertUnwindSafe(|| {
                        out.write_all(&bytes).and_then(|()| out.flush())
                    }))
                    .unwrap_or_else(|_| Err(io::Error::other("the writer panicked")));
                    if let Err(e) = written
                        && !std::mem::replace(&mut failed, true)
                    {
                        log::error!("writing the audit log failed: {e}");
                    }
                    bytes.clear();
                    // A burst's buffers are not kept for ever.
                    bytes.shrink_to(MAX_QUEUED_BYTES / 8);
                    batch.shrink_to(MAX_QUEUED_EVENTS / 8);
                    let mut st = writer.lock();
                    st.writing = 0;
                    if st.waiting_for_room > 0 {
                        writer.room.notify_all();
                    }
                    drop(st);
                    // Under traffic, events gather for a moment and go out in one write: a
                    // guest's event then wakes no thread and the log costs one system call per
                    // batch, not per line. Idle, the thread blocks on `events` above.
                    std::thread::sleep(BATCH_WINDOW);
                }
            })?;
        Ok(JsonLinesLog {
            sender: LogSender(shared),
        })
    }

    /// This log as a callback for [`HttpCtxBuilder::on_event`](crate::HttpCtxBuilder::on_event):
    /// each event's strings are copied on the guest's thread, and the line is formatted and
    /// written as [`HttpCtxBuilder::audit_log`](crate::HttpCtxBuilder::audit_log) does. Prefer
    /// `audit_log`, which copies nothing, unless events must also go elsewhere.
    pub fn observer(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let sender = self.sender.clone_sender();
        // No controls: the callback does not know whose call it reports, so it waits for room.
        move |event| {
            let _ = sender.push(Record::of(event), None);
        }
    }

    /// A handle for a builder's contexts.
    pub(crate) fn sender(&self) -> LogSender {
        self.sender.clone_sender()
    }
}

impl Drop for JsonLinesLog {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let shared = &*self.sender.0;
        let mut st = shared.lock();
        while st.queued.len() + st.writing > 0 && !st.writer_gone {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st.waiting_for_room += 1;
            st = shared
                .room
                .wait_timeout(st, left)
                .map(|(st, _)| st)
                .unwrap_or_else(|e| e.into_inner().0);
            st.waiting_for_room -= 1;
        }
    }
}

/// The embedder's event callback ([`HttpCtxBuilder::on_event`](crate::HttpCtxBuilder::on_event)).
pub(crate) type Callback = Box<dyn Fn(&Event<'_>) + Send + Sync>;

/// The embedder's callback and audit log, shared by every context of one builder.
pub(crate) struct Observer {
    f: Option<Callback>,
    log: Option<LogSender>,
    lost: AtomicU64,
}

impl Observer {
    /// The observer of a builder with this callback and this log; `None` without either.
    pub(crate) fn new(f: Option<Callback>, log: Option<LogSender>) -> Option<Observer> {
        (f.is_some() || log.is_some()).then(|| Observer {
            f,
            log,
            lost: AtomicU64::new(0),
        })
    }

    /// Calls the callback, then hands the record to the log. A panic in the callback is
    /// caught here: logged, counted ([`Observer::lost`]), and the request goes on as if the
    /// callback had returned (the log still gets the event). `Err` with the code of
    /// `controls` when they ended a wait for room in the log's queue.
    fn emit(&self, record: Record, controls: &Controls) -> Result<(), ErrorCode> {
        if let Some(f) = &self.f
            && catch_unwind(AssertUnwindSafe(|| record.with_event(|e| f(e)))).is_err()
        {
            self.lost.fetch_add(1, Ordering::Relaxed);
            log::error!(
                "the audit observer panicked; event of request {} lost",
                record.request_id
            );
        }
        match &self.log {
            Some(log) => log.push(record, Some(controls)),
            None => Ok(()),
        }
    }

    /// Events whose observer call panicked.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// What is known of a request when it starts, for its event.
#[derive(Clone)]
pub(crate) struct Audit {
    observer: Arc<Observer>,
    pub(crate) id: u64,
    labels: Labels,
    with_query: bool,
    /// The store's controls when the request began: they end a wait for room in the log's
    /// queue (the interrupt as it is then, the deadline as it was).
    controls: Controls,
}

/// An origin as events show it: `scheme://authority` (`authority` as [`Origin::authority`]
/// gives it), appended to `out`.
fn push_origin(out: &mut String, scheme: Scheme, authority: &str) {
    out.push_str(match scheme {
        Scheme::Http => "http://",
        Scheme::Https => "https://",
    });
    out.push_str(authority);
}

/// Why a request was refused: its code, with the detail the event shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    reason: DenyReason,
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Refusal {
        Refusal {
            code,
            reason: DenyReason::of_code(code),
        }
    }
}

impl From<&HttpError> for Refusal {
    fn from(e: &HttpError) -> Refusal {
        let code = e.code();
        let reason = match (e, e.prohibited_address()) {
            (_, Some(ip)) => DenyReason::Address(ip),
            (HttpError::QuotaExceeded(kind), _) => DenyReason::Quota(*kind),
            _ => DenyReason::of_code(code),
        };
        Refusal { code, reason }
    }
}

impl Audit {
    /// A new request of a context with these labels, under the store's `controls`.
    pub(crate) fn begin(
        observer: &Arc<Observer>,
        labels: &Labels,
        with_query: bool,
        controls: &Controls,
    ) -> Audit {
        Audit {
            observer: observer.clone(),
            id: NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed),
            labels: labels.clone(),
            with_query,
            controls: controls.clone(),
        }
    }

    /// The record of a refused request, with what the guest's URL and method say when they
    /// are valid: for the context's [`Denials`].
    pub(crate) fn denial(&self, url: &[u8], method: &[u8], refusal: Refusal) -> Record {
        let mut text = String::new();
        let origin_end = std::str::from_utf8(url)
            .ok()
            .and_then(|u| url::parse_url(u).ok())
            .map(|t| {
                push_origin(&mut text, t.origin.scheme, &t.origin.authority());
                text.len()
            });
        let method_end = std::str::from_utf8(method)
            .ok()
            .filter(|m| crate::http1::validate_method(m).is_ok())
            .map(|m| {
                text.push_str(m);
                text.len()
            });
        Record {
            time: SystemTime::now(),
            request_id: self.id,
            labels: self.labels.clone(),
            text,
            origin_end,
            method_end,
            kind: RecordKind::Denied(Denied {
                reason: refusal.reason,
                code: refusal.code,
                count: 1,
            }),
            extra_bytes: 0,
        }
    }

    /// The record of a request about to go on the network, from its origin (`authority` as
    /// [`Origin::authority`] gives it) and serialized head (`METHOD SP target SP ...`).
    pub(crate) fn trail(
        self,
        origin: &Origin,
        authority: &str,
        head: &[u8],
        sent_bytes: u64,
    ) -> Trail {
        let mut words = head.splitn(3, |&b| b == b' ');
        let method = words.next().unwrap_or_default();
        let target = words.next().unwrap_or_default();
        // An absolute-form target (through a proxy) shows its path, as origin-form does.
        let target = match target.windows(3).position(|w| w == b"://") {
            Some(i) if !target.starts_with(b"/") => {
                let after = target.get(i + 3..).unwrap_or_default();
                let path = after.iter().position(|&b| b == b'/').unwrap_or(after.len());
                after.get(path..).unwrap_or_default()
            }
            _ => target,
        };
        let path = if self.with_query {
            target
        } else {
            target.split(|&b| b == b'?').next().unwrap_or_default()
        };
        // One allocation for the three strings, written without `core::fmt`: this runs for
        // every request of an audited context.
        // The head was serialized from strings and split at ASCII bytes: always UTF-8.
        let text =
            |b| std::str::from_utf8(b).map_or_else(|_| String::from_utf8_lossy(b), Cow::Borrowed);
        let (method, path) = (text(method), text(path));
        let mut text =
            String::with_capacity("https://".len() + authority.len() + method.len() + path.len());
        push_origin(&mut text, origin.scheme, authority);
        let origin_end = text.len();
        text.push_str(&method);
        let method_end = text.len();
        text.push_str(&path);
        Trail {
            text,
            origin_end,
            method_end,
            sent_bytes,
            audit: self,
            emitted: false,
            proxy: None,
        }
    }
}

/// How long repeats of one denial gather into one event before it is emitted (at the next
/// call of the context: no timer runs).
pub(crate) const REPEAT_WINDOW: Duration = Duration::from_secs(1);

/// One context's denials, coalesced (`abi.md`, "Audit events"). A denial unlike the one before
/// it is emitted at once, with a count of 1. Identical ones following it (same labels, origin,
/// method, reason and code) are counted into one pending event instead, emitted (with their
/// number as its count, the first one's request id and the last one's time) at the first of:
/// the context's next denial unlike them, its next request admitted to the network, its next
/// `close`, the first repeat more than [`REPEAT_WINDOW`] after the first, and the context's
/// drop. A guest looping on one refused call thus writes about a line a second, and no call
/// goes uncounted.
pub(crate) struct Denials {
    observer: Option<Arc<Observer>>,
    /// What the last denial emitted on its own was, to compare the next with.
    last: Option<DenialKey>,
    /// Repeats of `last` not yet emitted (the count in the record), and when the first came.
    repeats: Option<(Record, Instant)>,
}

/// What makes two denials the same event.
struct DenialKey {
    labels: Labels,
    text: String,
    origin_end: Option<usize>,
    method_end: Option<usize>,
    reason: DenyReason,
    code: ErrorCode,
}

impl DenialKey {
    fn of(record: &Record) -> Option<DenialKey> {
        match record.kind {
            RecordKind::Denied(d) => Some(DenialKey {
                labels: record.labels.clone(),
                text: record.text.clone(),
                origin_end: record.origin_end,
                method_end: record.method_end,
                reason: d.reason,
                code: d.code,
            }),
            RecordKind::Completed(..) => None,
        }
    }

    fn matches(&self, record: &Record) -> bool {
        let RecordKind::Denied(d) = record.kind else {
            return false;
        };
        d.reason == self.reason
            && d.code == self.code
            && record.origin_end == self.origin_end
            && record.method_end == self.method_end
            && record.text == self.text
            && (Arc::ptr_eq(&record.labels, &self.labels) || record.labels == self.labels)
    }
}

impl Denials {
    /// The denials of a context whose builder has this observer (none: nothing is recorded).
    pub(crate) fn new(observer: Option<Arc<Observer>>) -> Denials {
        Denials {
            observer,
            last: None,
            repeats: None,
        }
    }

    /// Emits or counts the denial `record` (from [`Audit::denial`]) under the store's
    /// `controls`. `Err` with their code if they ended a wait for room in the log's queue.
    pub(crate) fn push(&mut self, record: Record, controls: &Controls) -> Result<(), ErrorCode> {
        let Some(observer) = self.observer.clone() else {
            return Ok(());
        };
        let now = Instant::now();
        let repeat = self.last.as_ref().is_some_and(|last| last.matches(&record));
        let mut flushed = Ok(());
        if let Some((_, since)) = &self.repeats
            && (!repeat || now.saturating_duration_since(*since) >= REPEAT_WINDOW)
        {
            flushed = self.flush(controls);
        }
        if repeat {
            match &mut self.repeats {
                Some((summary, _)) => {
                    if let RecordKind::Denied(d) = &mut summary.kind {
                        d.count = d.count.saturating_add(1);
                    }
                    summary.time = record.time;
                }
                None => self.repeats = Some((record, now)),
            }
            return flushed;
        }
        self.last = DenialKey::of(&record);
        let emitted = observer.emit(record, controls);
        flushed.and(emitted)
    }

    /// Emits the pending repeats, if any.
    pub(crate) fn flush(&mut self, controls: &Controls) -> Result<(), ErrorCode> {
        match (self.repeats.take(), &self.observer) {
            (Some((summary, _)), Some(observer)) => observer.emit(summary, controls),
            _ => Ok(()),
        }
    }

    /// Emits the pending repeats and forgets the last denial: something else happened in the
    /// context, so the next denial is news again.
    pub(crate) fn end_run(&mut self, controls: &Controls) -> Result<(), ErrorCode> {
        self.last = None;
        self.flush(controls)
    }
}

/// The audit record of a request on the network, emitted once as [`EventKind::Completed`]. A
/// record dropped unemitted belongs to an async call whose future was dropped (cancelled)
/// before its response head, or to a panic: it is emitted then, without a status, as
/// `interrupted` (36) or `runtime_error` (12) respectively.
pub(crate) struct Trail {
    audit: Audit,
    /// The origin, method and path, one after the other.
    text: String,
    origin_end: usize,
    method_end: usize,
    sent_bytes: u64,
    emitted: bool,
    /// The egress proxy's name, if the request goes through one.
    proxy: Option<Arc<str>>,
}

impl Drop for Trail {
    fn drop(&mut self) {
        if !self.emitted {
            // Unemitted: a cancelled async call, or a panic unwinding through the request (the
            // guest then gets `runtime_error` from the panic guard).
            let code = if std::thread::panicking() {
                ErrorCode::RuntimeError
            } else {
                ErrorCode::Interrupted
            };
            let ending = Ending {
                status: None,
                code,
                received_bytes: 0,
                body_complete: false,
            };
            // Nobody to give a code to: a give-up only ends the wait.
            let _ = self.emit(&Stats::default(), ending, None);
        }
    }
}

/// How a request went, for its `Completed` event.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    /// Phase times so far.
    pub(crate) phases: Phases,
    /// Whether it went on a pooled connection.
    pub(crate) reused: bool,
    /// When the final head was parsed.
    pub(crate) head_at: Option<Instant>,
}

/// How a response ended.
pub(crate) struct Ending {
    pub(crate) status: Option<u16>,
    pub(crate) code: ErrorCode,
    pub(crate) received_bytes: u64,
    pub(crate) body_complete: bool,
}

impl Trail {
    /// Records the egress proxy the request goes through.
    pub(crate) fn through(mut self, proxy: Option<&Arc<str>>) -> Trail {
        self.proxy = proxy.cloned();
        self
    }

    /// The id of the request, for log lines.
    pub(crate) fn id(&self) -> u64 {
        self.audit.id
    }

    /// Emits the `Completed` event, or a `Denied` one for a request the address policy
    /// refused after resolution (nothing was sent). `Err` with `interrupted` or
    /// `deadline_exceeded` when the store's controls ended a wait for room in the log's queue.
    pub(crate) fn finish(
        mut self,
        stats: &Stats,
        ending: Ending,
        error: Option<&HttpError>,
    ) -> Result<(), ErrorCode> {
        self.emit(stats, ending, error)
    }

    fn emit(
        &mut self,
        stats: &Stats,
        ending: Ending,
        error: Option<&HttpError>,
    ) -> Result<(), ErrorCode> {
        self.emitted = true;
        let (origin_end, method_end) = (Some(self.origin_end), Some(self.method_end));
        let kind = match error {
            Some(e) if e.prohibited_address().is_some() => {
                let refusal = Refusal::from(e);
                // A denied event has no path (nor its memory: the record may wait in a queue).
                self.text.truncate(self.method_end);
                self.text.shrink_to_fit();
                RecordKind::Denied(Denied {
                    reason: refusal.reason,
                    code: refusal.code,
                    count: 1,
                })
            }
            _ => {
                let mut phases = stats.phases;
                phases.body = stats.head_at.map(|at| at.elapsed());
                RecordKind::Completed(
                    Completed {
                        path: "",
                        status: ending.status,
                        code: ending.code,
                        sent_bytes: self.sent_bytes,
                        received_bytes: ending.received_bytes,
                        reused: stats.reused,
                        body_complete: ending.body_complete,
                        phases,
                        proxy: None,
                        proxy_status: error.and_then(HttpError::proxy_status),
                    },
                    self.proxy.take(),
                )
            }
        };
        // The strings move into the record: nothing is copied or formatted here.
        let record = Record {
            time: SystemTime::now(),
            request_id: self.audit.id,
            labels: self.audit.labels.clone(),
            text: std::mem::take(&mut self.text),
            origin_end,
            method_end,
            kind,
            extra_bytes: 0,
        };
        self.audit.observer.emit(record, &self.audit.controls)
    }
}

impl fmt::Debug for Trail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trail")
            .field("request_id", &self.audit.id)
            .field("origin", &self.text.get(..self.origin_end))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        // 2000-02-29, a leap day of a century leap year.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // 2026-11-29.
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }

    fn written(f: impl FnOnce(&mut Json<'_>)) -> String {
        let mut out = Vec::new();
        f(&mut Json(&mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_and_times_are_written_exactly() {
        for n in [0, 7, 10, 99, 1234567890, u64::MAX] {
            assert_eq!(written(|j| j.num(n)), n.to_string());
        }
        // 2026-11-29T23:47:40.938366Z
        let t = UNIX_EPOCH + Duration::new(1_795_996_060, 938_366_000);
        assert_eq!(written(|j| j.time(t)), "\"2026-11-29T23:47:40.938366Z\"");
        let t = UNIX_EPOCH + Duration::new(951_782_400, 5_000);
        assert_eq!(written(|j| j.time(t)), "\"2000-02-29T00:00:00.000005Z\"");
    }

    #[test]
    fn strings_cannot_break_out_of_the_record() {
        assert_eq!(
            written(|j| j.string("plain ascii, then é and \u{85}")),
            "\"plain ascii, then é and \\u0085\""
        );
        assert_eq!(
            written(|j| j.string("a\"b\\c\nd\re\u{0}f\u{7f}g\u{2028}h\u{1f600}")),
            "\"a\\\"b\\\\c\\u000ad\\u000de\\u0000f\\u007fg\\u2028h\u{1f600}\""
        );
    }

    fn event(id: u64) -> Event<'static> {
        Event {
            time: UNIX_EPOCH,
            request_id: id,
            labels: &[],
            origin: Some("http://127.0.0.1:8080"),
            method: Some("GET"),
            kind: EventKind::Denied(Denied {
                reason: DenyReason::AllowList,
                code: ErrorCode::DestinationNotAllowed,
                count: 1,
            }),
        }
    }

    /// A record (the log's copy of an event) gives back the same event, field for field.
    #[test]
    fn records_hold_whole_events() {
        let labels = [("tenant".to_string(), "a\"b".to_string())];
        let completed = Event {
            time: UNIX_EPOCH + Duration::from_micros(1_795_996_060_938_366),
            request_id: 42,
            labels: &labels,
            origin: Some("https://example.com:8443"),
            method: Some("POST"),
            kind: EventKind::Completed(Completed {
                path: "/a/b?c",
                status: Some(201),
                code: ErrorCode::Success,
                sent_bytes: 10,
                received_bytes: 20,
                reused: true,
                body_complete: false,
                phases: Phases {
                    dns: None,
                    connect: Some(Duration::from_micros(5)),
                    tls: Some(Duration::from_micros(6)),
                    head: Some(Duration::from_micros(7)),
                    body: None,
                },
                proxy: Some("http://proxy:3128"),
                proxy_status: Some(407),
            }),
        };
        let denied = Event {
            origin: None,
            method: Some("GET"),
            kind: EventKind::Denied(Denied {
                reason: DenyReason::Address("10.0.0.1".parse().unwrap()),
                code: ErrorCode::DestinationIpProhibited,
                count: 3,
            }),
            ..completed.clone()
        };
        let no_method = Event {
            method: None,
            ..denied.clone()
        };
        for event in [completed, denied, no_method] {
            let record = Record::of(&event);
            assert_eq!(record.with_event(|e| e.to_json()), event.to_json());
        }
    }

    /// A sink whose writes block until the test opens a gate, recording what it got.
    #[derive(Clone)]
    struct Gated {
        open: Arc<(Mutex<bool>, Condvar)>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl io::Write for Gated {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let (open, cv) = &*self.open;
            let mut o = open.lock().unwrap();
            while !*o {
                o = cv.wait(o).unwrap();
            }
            self.got.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Lines come out whole and in order; a full queue makes the sender wait (nothing is
    /// dropped, memory stays bounded); dropping the log writes everything queued.
    #[test]
    fn log_lines_are_whole_ordered_bounded_and_flushed_on_drop() {
        let gate = Gated {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            got: Arc::new(Mutex::new(Vec::new())),
        };
        let log = JsonLinesLog::new(gate.clone()).unwrap();
        let observer = log.observer();
        let total = MAX_QUEUED_EVENTS as u64 * 2 + 10;
        let sent = Arc::new(AtomicU64::new(0));
        let sender = {
            let sent = sent.clone();
            std::thread::spawn(move || {
                for id in 0..total {
                    observer(&event(id));
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // The writer holds one batch (blocked in `write`), the queue fills, the sender waits.
        std::thread::sleep(Duration::from_millis(300));
        let stuck_at = sent.load(Ordering::SeqCst);
        assert!(
            stuck_at <= MAX_QUEUED_EVENTS as u64 * 2 + 1 && stuck_at < total,
            "the sender did not wait for room: {stuck_at} of {total} sent"
        );
        {
            let (open, cv) = &*gate.open;
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
        sender.join().unwrap();
        drop(log);
        let got = String::from_utf8(gate.got.lock().unwrap().clone()).unwrap();
        assert_eq!(got.lines().count() as u64, total);
        for (id, line) in got.lines().enumerate() {
            assert_eq!(line, event(id as u64).to_json());
        }
    }

    /// A sink that panics loses that batch only: guests never wait on a dead writer, and
    /// later lines are written.
    #[test]
    fn a_panicking_sink_loses_a_batch_and_nothing_else() {
        struct PanicsOnce {
            panicked: bool,
            got: Arc<Mutex<Vec<u8>>>,
        }
        impl io::Write for PanicsOnce {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if !std::mem::replace(&mut self.panicked, true) {
                    panic!("sink failure");
                }
                self.got.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = JsonLinesLog::new(PanicsOnce {
            panicked: false,
            got: got.clone(),
        })
        .unwrap();
        let observer = log.observer();
        observer(&event(1));
        let start = Instant::now();
        let pending = |log: &JsonLinesLog| {
            let st = log.sender.0.lock();
            st.writing + st.queued.len()
        };
        while pending(&log) > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "first batch stuck"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        for id in 2..=MAX_QUEUED_EVENTS as u64 * 2 {
            observer(&event(id));
        }
        drop(observer);
        drop(log);
        let got = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert!(!got.contains("\"request_id\":1,"));
        assert_eq!(got.lines().count(), MAX_QUEUED_EVENTS * 2 - 1);
    }

    /// An idle writer wakes for a lone line at once, without waiting for more.
    #[test]
    fn a_lone_line_is_written_promptly() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let gate = Gated {
            open: Arc::new((Mutex::new(true), Condvar::new())),
            got: got.clone(),
        };
        let log = JsonLinesLog::new(gate).unwrap();
        let observer = log.observer();
        std::thread::sleep(Duration::from_millis(50)); // the writer is idle now
        observer(&event(7));
        let start = Instant::now();
        while got.lock().unwrap().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "line never written"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            got.lock().unwrap().as_slice(),
            format!("{}\n", event(7).to_json()).as_bytes()
        );
        drop(log);
    }

    /// A gated log whose writer is stuck in its first write, and a thread sending `n` events
    /// (more than a batch and a full queue), waiting for room (no controls) once it is full.
    fn stuck_log(n: u64) -> (JsonLinesLog, Gated, std::thread::JoinHandle<()>) {
        let gate = Gated {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            got: Arc::new(Mutex::new(Vec::new())),
        };
        let log = JsonLinesLog::new(gate.clone()).unwrap();
        let observer = log.observer();
        let filler = std::thread::spawn(move || {
            for id in 0..n {
                observer(&event(id));
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        (log, gate, filler)
    }

    fn open(gate: &Gated) {
        let (open, cv) = &*gate.open;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }

    fn record(id: u64) -> Record {
        Record::of(&event(id))
    }

    /// A call waiting for room in a stalled log's queue returns when its store is interrupted
    /// or its deadline passes, within a slice; its event and every event queued before are
    /// written once the sink moves again.
    #[test]
    fn an_interrupt_or_a_deadline_ends_the_wait_for_room_and_nothing_is_lost() {
        let total = MAX_QUEUED_EVENTS as u64 * 2 + 10;
        let (log, gate, filler) = stuck_log(total);
        let sender = log.sender();
        let controls = Controls::default();
        let interrupt = controls.interrupt.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            interrupt.set();
        });
        let start = Instant::now();
        assert_eq!(
            sender.push(record(1_000_001), Some(&controls)),
            Err(ErrorCode::Interrupted)
        );
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_millis(260),
            "the wait ended {waited:?} after it began, the interrupt came at 200 ms"
        );
        setter.join().unwrap();
        let soon = Controls {
            deadline: Some(Instant::now() + Duration::from_millis(100)),
            ..Controls::default()
        };
        let start = Instant::now();
        assert_eq!(
            sender.push(record(1_000_002), Some(&soon)),
            Err(ErrorCode::DeadlineExceeded)
        );
        assert!(start.elapsed() < Duration::from_millis(160));
        open(&gate);
        filler.join().unwrap();
        drop(sender);
        drop(log);
        let got = String::from_utf8(gate.got.lock().unwrap().clone()).unwrap();
        assert_eq!(got.lines().count() as u64, total + 2, "an event was lost");
        for id in [1_000_001, 1_000_002] {
            assert!(got.contains(&event(id).to_json()), "event {id} missing");
        }
    }

    /// Calls that give up when even the reserve is full are counted, and the count is
    /// written: every event is either a line or in a `lost` line's count.
    #[test]
    fn past_the_reserve_events_of_calls_that_gave_up_are_counted_in_a_lost_line() {
        let total = MAX_QUEUED_EVENTS as u64 * 2 + 10;
        let (log, gate, filler) = stuck_log(total);
        let sender = log.sender();
        let stopped = Controls::default();
        stopped.interrupt.set();
        let extra = MAX_QUEUED_EVENTS as u64 * 2;
        for id in 0..extra {
            assert_eq!(
                sender.push(record(2_000_000 + id), Some(&stopped)),
                Err(ErrorCode::Interrupted)
            );
        }
        open(&gate);
        filler.join().unwrap();
        drop(sender);
        drop(log);
        let got = String::from_utf8(gate.got.lock().unwrap().clone()).unwrap();
        let mut lines = 0;
        let mut lost = 0;
        for line in got.lines() {
            if line.contains("\"event\":\"lost\"") {
                let count = line.rsplit("\"count\":").next().unwrap();
                lost += count.trim_end_matches('}').parse::<u64>().unwrap();
            } else {
                lines += 1;
            }
        }
        assert!(lost > 0, "the reserve was not bounded");
        assert_eq!(lines + lost, total + extra);
    }

    /// Identical denials of one context after the first are counted into one event, emitted
    /// at the next different denial, at a flush (the next admitted request, a close, the
    /// context's drop), or at the first repeat after the window; counts add up to the calls.
    #[test]
    fn repeated_denials_are_coalesced_and_every_call_is_counted() {
        let seen = Arc::new(Mutex::new(Vec::<(u64, u64, String)>::new()));
        let s = seen.clone();
        let callback: Callback = Box::new(move |e: &Event<'_>| {
            if let EventKind::Denied(d) = &e.kind {
                s.lock()
                    .unwrap()
                    .push((e.request_id, d.count, e.origin.unwrap_or("").to_owned()));
            }
        });
        let observer = Arc::new(Observer::new(Some(callback), None).unwrap());
        let labels = Labels::from(Vec::new());
        let controls = Controls::default();
        let mut denials = Denials::new(Some(observer.clone()));
        let deny = |denials: &mut Denials, url: &str| {
            let audit = Audit::begin(&observer, &labels, false, &controls);
            let refusal = Refusal::from(ErrorCode::DestinationNotAllowed);
            let id = audit.id;
            denials
                .push(audit.denial(url.as_bytes(), b"GET", refusal), &controls)
                .unwrap();
            id
        };
        let take = || std::mem::take(&mut *seen.lock().unwrap());
        let first = deny(&mut denials, "http://a.test/1");
        let second = deny(&mut denials, "http://a.test/2"); // same origin: same event
        for _ in 0..998 {
            deny(&mut denials, "http://a.test/");
        }
        assert_eq!(take(), [(first, 1, "http://a.test".to_owned())]);
        deny(&mut denials, "http://b.test/");
        assert_eq!(
            take(),
            [
                (second, 999, "http://a.test".to_owned()),
                (second + 999, 1, "http://b.test".to_owned())
            ],
            "the repeats, then the different denial"
        );
        for _ in 0..3 {
            deny(&mut denials, "http://b.test/");
        }
        denials.end_run(&controls).unwrap();
        assert_eq!(take()[0].1, 3);
        // After the run ended, the same denial is news again.
        deny(&mut denials, "http://b.test/");
        assert_eq!(take()[0].1, 1);
        // Repeats older than the window go out at the next repeat, which starts a new run.
        deny(&mut denials, "http://b.test/");
        std::thread::sleep(REPEAT_WINDOW + Duration::from_millis(50));
        deny(&mut denials, "http://b.test/");
        assert_eq!(take().iter().map(|e| e.1).collect::<Vec<_>>(), [1]);
        denials.flush(&controls).unwrap();
        assert_eq!(take().iter().map(|e| e.1).collect::<Vec<_>>(), [1]);
    }
}
