//! Audit events: one record per `req` call, saying what a guest tried to reach and what became
//! of it (`README.md`, "For operators"). The embedder subscribes with
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
//! What events never carry: body bytes, header values, query strings (unless the embedder
//! asks for them with [`HttpCtxBuilder::audit_query`](crate::HttpCtxBuilder::audit_query)), or
//! anything the guest sent that failed validation (an invalid URL has no origin in its event).
//! The strings they do carry from the guest (origin, method, path) passed the URL and method
//! rules, and [`Event::to_json`] escapes every string it writes.

use crate::error::HttpError;
use crate::error_code::ErrorCode;
use crate::quota::QuotaKind;
use crate::url::{self, Origin, Scheme};
use std::fmt::{self, Write as _};
use std::io;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
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
    /// Request head and body bytes, as serialized (`abi.md`, "Quotas").
    pub sent_bytes: u64,
    /// Response body bytes delivered to the guest.
    pub received_bytes: u64,
    /// Whether the request went on an idle pooled connection.
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
    /// `--audit-log` (fields in `README.md`, "For operators"). Every string is escaped:
    /// control characters, quotes and backslashes cannot end the record or forge another.
    pub fn to_json(&self) -> String {
        let mut j = Json(String::with_capacity(256));
        j.0.push('{');
        j.field("time");
        j.time(self.time);
        j.field("event");
        j.string(match self.kind {
            EventKind::Denied(_) => "denied",
            EventKind::Completed(_) => "completed",
        });
        j.field("request_id");
        j.num(self.request_id);
        j.field("labels");
        j.0.push('{');
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                j.0.push(',');
            }
            j.string(k);
            j.0.push(':');
            j.string(v);
        }
        j.0.push('}');
        j.field("origin");
        j.opt_string(self.origin);
        j.field("method");
        j.opt_string(self.method);
        match &self.kind {
            EventKind::Denied(d) => {
                j.field("reason");
                j.string(d.reason.name());
                match d.reason {
                    DenyReason::Address(ip) => {
                        j.field("address");
                        j.string(&ip.to_string());
                    }
                    DenyReason::Quota(kind) => {
                        j.field("quota");
                        j.string(kind.name());
                    }
                    _ => {}
                }
                j.code(d.code);
            }
            EventKind::Completed(c) => {
                j.field("path");
                j.string(c.path);
                j.field("status");
                match c.status {
                    Some(s) => j.num(u64::from(s)),
                    None => j.0.push_str("null"),
                }
                j.code(c.code);
                j.field("sent_bytes");
                j.num(c.sent_bytes);
                j.field("received_bytes");
                j.num(c.received_bytes);
                j.field("reused");
                j.0.push_str(if c.reused { "true" } else { "false" });
                j.field("body_complete");
                j.0.push_str(if c.body_complete { "true" } else { "false" });
                let p = &c.phases;
                for (name, d) in [
                    ("dns_us", p.dns),
                    ("connect_us", p.connect),
                    ("tls_us", p.tls),
                    ("head_us", p.head),
                    ("body_us", p.body),
                ] {
                    j.field(name);
                    match d {
                        Some(d) => j.num(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
                        None => j.0.push_str("null"),
                    }
                }
                j.field("proxy");
                j.opt_string(c.proxy);
                j.field("proxy_status");
                match c.proxy_status {
                    Some(s) => j.num(u64::from(s)),
                    None => j.0.push_str("null"),
                }
            }
        }
        j.0.push('}');
        j.0
    }
}

/// A JSON object being written; fields are comma-separated as they come.
struct Json(String);

// Written by hand rather than with `write!`: an event is formatted on the guest's thread for
// every request, and `core::fmt` made that ~13 k instructions (`bench/src/bin/audit_overhead.rs`).
impl Json {
    /// `name` is one of this file's constant field names: no escaping needed.
    fn field(&mut self, name: &str) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
    }

    fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        for &d in digits.get(i..).unwrap_or_default() {
            self.0.push(char::from(d));
        }
    }

    /// `n` in exactly `width` digits (leading zeros), for dates and times.
    fn padded(&mut self, n: u64, width: u32) {
        let mut div = 10u64.pow(width.saturating_sub(1));
        while div > 0 {
            self.0.push(char::from(b'0' + (n / div % 10) as u8));
            div /= 10;
        }
    }

    fn code(&mut self, code: ErrorCode) {
        self.field("code");
        self.num(u64::from(code.code()));
        self.field("code_name");
        self.string(code.name());
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.0.push_str("null"),
        }
    }

    /// RFC 8259 §7: `"` and `\` escaped, every control character (and DEL, and the Unicode line
    /// separators some log viewers break on) as `\uXXXX`.
    fn string(&mut self, s: &str) {
        self.0.push('"');
        let mut rest = s;
        // Runs of printable ASCII (the common case: whole strings) are copied at once.
        while let Some(at) = rest
            .bytes()
            .position(|b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f)
        {
            let (clean, tail) = rest.split_at(at);
            self.0.push_str(clean);
            let mut chars = tail.chars();
            let Some(c) = chars.next() else { break };
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                    let _ = write!(self.0, "\\u{:04x}", u32::from(c));
                }
                c => self.0.push(c),
            }
            rest = chars.as_str();
        }
        self.0.push_str(rest);
        self.0.push('"');
    }

    /// RFC 3339 UTC with microseconds, e.g. `"2026-11-29T23:10:00.123456Z"`.
    fn time(&mut self, t: SystemTime) {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        self.0.push('"');
        self.padded(y, 4);
        self.0.push('-');
        self.padded(m, 2);
        self.0.push('-');
        self.padded(d, 2);
        self.0.push('T');
        self.padded(rem / 3600, 2);
        self.0.push(':');
        self.padded(rem % 3600 / 60, 2);
        self.0.push(':');
        self.padded(rem % 60, 2);
        self.0.push('.');
        self.padded(u64::from(since.subsec_micros()), 6);
        self.0.push_str("Z\"");
    }
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

/// How long the audit log's writer lets lines gather after a write (see [`JsonLinesLog`]).
const BATCH_WINDOW: Duration = Duration::from_millis(1);

/// A JSON Lines sink for audit events, off the request path: [`JsonLinesLog::observer`]
/// formats each event ([`Event::to_json`]) on the guest's thread and hands the line to a
/// writer thread, which writes and flushes `out` within about a millisecond: an idle writer
/// wakes for the first line; under traffic it writes every line queued since its last write in
/// one write, then flushes, then waits 1 ms for more. The guest's call never waits for the disk unless
/// 4096 lines are already queued (then it waits for room: memory stays bounded, and no event
/// is dropped). Dropping the log waits (up to 10 s) until every line queued so far is written.
/// A failed write is logged once; later lines are still attempted.
///
/// ```no_run
/// use wasi_experimental_http_wasmtime::{HttpCtx, JsonLinesLog};
/// let log = JsonLinesLog::new(std::fs::File::create("audit.jsonl")?)?;
/// let ctx = HttpCtx::builder().on_event(log.observer()).build()?;
/// // ... run guests; drop `ctx` (and its siblings), then `log`.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonLinesLog {
    tx: SyncSender<String>,
    /// Lines sent and not yet written.
    pending: Arc<AtomicU64>,
}

impl fmt::Debug for JsonLinesLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesLog")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl JsonLinesLog {
    /// Starts the writer thread for `out`.
    pub fn new(mut out: impl io::Write + Send + 'static) -> io::Result<JsonLinesLog> {
        let (tx, rx) = sync_channel::<String>(4096);
        let pending = Arc::new(AtomicU64::new(0));
        let done = pending.clone();
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || {
                let mut failed = false;
                let mut batch = String::new();
                while let Ok(line) = rx.recv() {
                    batch.clear();
                    batch.push_str(&line);
                    let mut n = 1;
                    while let Ok(more) = rx.try_recv() {
                        batch.push_str(&more);
                        n += 1;
                    }
                    let written = out.write_all(batch.as_bytes()).and_then(|()| out.flush());
                    if let Err(e) = written
                        && !std::mem::replace(&mut failed, true)
                    {
                        log::error!("writing the audit log failed: {e}");
                    }
                    done.fetch_sub(n, Ordering::AcqRel);
                    // Under traffic, lines gather for a moment and go out in one write: a
                    // guest's send then wakes no thread and the log costs one system call per
                    // batch, not per line. Idle, the thread blocks in `recv` above.
                    std::thread::sleep(BATCH_WINDOW);
                }
            })?;
        Ok(JsonLinesLog { tx, pending })
    }

    /// The callback for [`HttpCtxBuilder::on_event`](crate::HttpCtxBuilder::on_event).
    pub fn observer(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let (tx, pending) = (self.tx.clone(), self.pending.clone());
        move |event| {
            let mut line = event.to_json();
            line.push('\n');
            pending.fetch_add(1, Ordering::AcqRel);
            if tx.send(line).is_err() {
                pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl Drop for JsonLinesLog {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The embedder's callback, shared by every context of one builder.
pub(crate) struct Observer {
    f: Box<dyn Fn(&Event<'_>) + Send + Sync>,
    lost: AtomicU64,
}

impl Observer {
    pub(crate) fn new(f: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Observer {
        Observer {
            f: Box::new(f),
            lost: AtomicU64::new(0),
        }
    }

    /// Calls the observer. A panic is caught here: logged, counted ([`Observer::lost`]), and the
    /// request goes on as if the observer had returned.
    fn emit(&self, event: &Event<'_>) {
        if catch_unwind(AssertUnwindSafe(|| (self.f)(event))).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            log::error!(
                "the audit observer panicked; event of request {} lost",
                event.request_id
            );
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
}

/// Formats an origin as events show it.
fn origin_text(origin: &Origin) -> String {
    let scheme = match origin.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    format!("{scheme}://{}", origin.authority())
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
    /// A new request of a context with these labels.
    pub(crate) fn begin(observer: &Arc<Observer>, labels: &Labels, with_query: bool) -> Audit {
        Audit {
            observer: observer.clone(),
            id: NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed),
            labels: labels.clone(),
            with_query,
        }
    }

    /// Emits the event of a refused request, with what the guest's URL and method say when
    /// they are valid.
    pub(crate) fn denied(&self, url: &[u8], method: &[u8], refusal: Refusal) {
        let origin = std::str::from_utf8(url)
            .ok()
            .and_then(|u| url::parse_url(u).ok())
            .map(|t| origin_text(&t.origin));
        let method = std::str::from_utf8(method)
            .ok()
            .filter(|m| crate::http1::validate_method(m).is_ok());
        self.observer.emit(&Event {
            time: SystemTime::now(),
            request_id: self.id,
            labels: &self.labels,
            origin: origin.as_deref(),
            method,
            kind: EventKind::Denied(Denied {
                reason: refusal.reason,
                code: refusal.code,
            }),
        });
    }

    /// The record of a request about to go on the network, from its origin and serialized
    /// head (`METHOD SP target SP ...`).
    pub(crate) fn trail(self, origin: &Origin, head: &[u8], sent_bytes: u64) -> Trail {
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
        Trail {
            origin: origin_text(origin),
            method: String::from_utf8_lossy(method).into_owned(),
            path: String::from_utf8_lossy(path).into_owned(),
            sent_bytes,
            audit: self,
            emitted: false,
            proxy: None,
        }
    }
}

/// The audit record of a request on the network, emitted once as [`EventKind::Completed`]. A
/// record dropped unemitted belongs to an async call whose future was dropped (cancelled)
/// before its response head, or to a panic: it is emitted then, without a status, as
/// `interrupted` (36) or `runtime_error` (12) respectively.
pub(crate) struct Trail {
    audit: Audit,
    origin: String,
    method: String,
    path: String,
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
            self.emit(&Stats::default(), ending, None);
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
    /// refused after resolution (nothing was sent).
    pub(crate) fn finish(mut self, stats: &Stats, ending: Ending, error: Option<&HttpError>) {
        self.emit(stats, ending, error);
    }

    fn emit(&mut self, stats: &Stats, ending: Ending, error: Option<&HttpError>) {
        self.emitted = true;
        let audit = &self.audit;
        let kind = match error {
            Some(e) if e.prohibited_address().is_some() => {
                let refusal = Refusal::from(e);
                EventKind::Denied(Denied {
                    reason: refusal.reason,
                    code: refusal.code,
                })
            }
            _ => {
                let mut phases = stats.phases;
                phases.body = stats.head_at.map(|at| at.elapsed());
                EventKind::Completed(Completed {
                    path: &self.path,
                    status: ending.status,
                    code: ending.code,
                    sent_bytes: self.sent_bytes,
                    received_bytes: ending.received_bytes,
                    reused: stats.reused,
                    body_complete: ending.body_complete,
                    phases,
                    proxy: self.proxy.as_deref(),
                    proxy_status: error.and_then(HttpError::proxy_status),
                })
            }
        };
        audit.observer.emit(&Event {
            time: SystemTime::now(),
            request_id: audit.id,
            labels: &audit.labels,
            origin: Some(&self.origin),
            method: Some(&self.method),
            kind,
        });
    }
}

impl fmt::Debug for Trail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trail")
            .field("request_id", &self.audit.id)
            .field("origin", &self.origin)
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

    #[test]
    fn numbers_and_times_are_written_exactly() {
        for n in [0, 7, 10, 99, 1234567890, u64::MAX] {
            let mut j = Json(String::new());
            j.num(n);
            assert_eq!(j.0, n.to_string());
        }
        let mut j = Json(String::new());
        // 2026-11-29T23:47:40.938366Z
        j.time(UNIX_EPOCH + Duration::new(1_795_996_060, 938_366_000));
        assert_eq!(j.0, "\"2026-11-29T23:47:40.938366Z\"");
    }

    #[test]
    fn strings_cannot_break_out_of_the_record() {
        let mut j = Json(String::new());
        j.string("plain ascii, then é and \u{85}");
        assert_eq!(j.0, "\"plain ascii, then é and \\u0085\"");
        let mut j = Json(String::new());
        j.string("a\"b\\c\nd\re\u{0}f\u{7f}g\u{2028}");
        assert_eq!(
            j.0,
            "\"a\\\"b\\\\c\\u000ad\\u000de\\u0000f\\u007fg\\u2028\""
        );
    }
}
