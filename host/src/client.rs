//! One request from start to end of body: the readable loop that drives the sans-IO parser
//! over a connection. [`Client`] is what the stores of one configuration share.

use crate::audit::{Ending, Observer, Stats, Trail};
use crate::config::{Limits, MAX_INTERIM_RESPONSES, MAX_METHOD_LEN, Timeouts};
use crate::control::Controls;
use crate::credentials::Injections;
use crate::error::{HttpError, IoFailure, Stage, TimeoutPhase};
use crate::error_code::ErrorCode;
use crate::http1::{self, BodyDecoder, Framing, HeadParser, ParseError, ResponseHead, StatusClass};
use crate::policy::{Admission, AllowList};
use crate::pool::Pool;
use crate::quota::{Quota, QuotaKind, QuotaLimits, Quotas};
use crate::transport::{Clock, Conn, Dialer, Endpoint};
use crate::url;
#[cfg(feature = "async")]
use crate::workers::{Completion, Workers};
use std::sync::Arc;
use std::time::Instant;
use zeroize::Zeroizing;

/// Request bodies up to this size are sent in the same write as the head.
const COALESCE_BODY: usize = 16 * 1024;

/// Configuration and connection pool shared by every store made from one builder.
pub(crate) struct Client {
    /// Which origins requests may go to.
    pub(crate) allow_list: AllowList,
    /// Time budgets of each request.
    pub(crate) timeouts: Timeouts,
    /// Size bounds.
    pub(crate) limits: Limits,
    /// Resolution, address policy, TLS, connect timeout.
    pub(crate) dialer: Dialer,
    /// Idle keep-alive connections.
    pub(crate) pool: Pool,
    /// Header fields the host adds for matching origins.
    pub(crate) injections: Injections,
    /// The embedder's audit callback.
    pub(crate) observer: Option<Arc<Observer>>,
    /// Whether audit events show query strings.
    pub(crate) audit_query: bool,
    /// Quotas every context of the builder is charged to.
    pub(crate) quotas: Vec<Quota>,
    /// Limits of the quota each context gets for itself.
    pub(crate) per_context_quota: Option<QuotaLimits>,
    /// Where a test build panics on purpose (feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    pub(crate) panic_at: Option<&'static str>,
    /// Threads that run the blocking calls of async guests.
    #[cfg(feature = "async")]
    pub(crate) workers: Arc<Workers>,
}

/// Who a request is for and under which controls (`abi.md`, "Interrupts and the embedder's
/// deadline", "Connection reuse and retries").
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// The store's interrupt (or a child, for one async call) and the embedder's cap on the
    /// overall deadline: the same carrier a body read gets.
    pub(crate) controls: Controls,
    /// The store's id (owner of connections that carried its bodies).
    pub(crate) store: u64,
    /// When the guest's call began: the overall deadline counts from here (for an async call,
    /// time waiting for a worker included).
    pub(crate) started: Instant,
    /// The quotas its response body is charged to.
    pub(crate) quotas: Quotas,
}

/// A request as the guest passed it: raw bytes from guest memory.
pub(crate) struct Request<'a> {
    pub(crate) url: &'a [u8],
    pub(crate) method: &'a [u8],
    pub(crate) headers: &'a [u8],
    pub(crate) body: &'a [u8],
}

/// An open response: its head, and the body still on the connection.
pub(crate) struct Response {
    pub(crate) head: ResponseHead,
    body: BodyState,
    /// How the exchange went so far, for the audit event.
    stats: Stats,
    /// Body bytes delivered to the guest.
    received: u64,
    /// The audit record, emitted once: at the first body failure, else when the response is
    /// dropped (closed, or dropped with its store).
    trail: Option<Trail>,
}

/// A request that failed before a response head: the error, and how far it got.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: HttpError,
    /// Boxed: failures are rare, and `Result`s stay small.
    pub(crate) stats: Box<Stats>,
}

impl Failure {
    /// Emits the request's audit event, if it has one. `Err` with `interrupted` or
    /// `deadline_exceeded` when the store's controls ended a wait for room in the audit log's
    /// queue: the code `req` then returns.
    pub(crate) fn audit(&self, trail: Option<Trail>) -> Result<(), ErrorCode> {
        let Some(trail) = trail else {
            return Ok(());
        };
        let ending = Ending {
            status: None,
            code: self.error.code(),
            received_bytes: 0,
            body_complete: false,
        };
        trail.finish(&self.stats, ending, Some(&self.error))
    }
}

enum BodyState {
    Reading(Box<Body>),
    /// Taken out for a read (on a worker, for an async `body_read`). If it never comes back
    /// (the async call's future was dropped, or the read panicked) the response fails with
    /// this code: `interrupted` and `runtime_error` respectively.
    InFlight(ErrorCode),
    Done,
    /// The code a failed body keeps returning (`abi.md`, `body_read`).
    Failed(ErrorCode),
}

/// The rest of a response's body, still on its connection.
pub(crate) struct Body {
    conn: Conn,
    decoder: BodyDecoder,
    clock: Clock,
    reusable: bool,
    received: u64,
    client: Arc<Client>,
    quotas: Quotas,
}

#[cfg(feature = "async")]
/// What a body read on a worker gives back: the body, the buffer (read bytes first), the outcome.
pub(crate) struct BodyRead {
    pub(crate) body: Box<Body>,
    pub(crate) buf: Vec<u8>,
    pub(crate) read: Result<usize, HttpError>,
}

/// A validated request the policy admitted, ready to go on the wire.
pub(crate) struct Prepared {
    endpoint: Endpoint,
    /// The origin's `host[:port]`, as the `Host` field carries it.
    authority: String,
    admission: Admission,
    /// The serialized head, injected fields and a proxy's credentials included: built once at
    /// its final size, wiped when dropped.
    head: http1::RequestHead,
    body_len: usize,
    idempotent: bool,
    is_head: bool,
}

impl Prepared {
    /// What the request weighs against a sent-bytes quota: head and body, as serialized,
    /// without the host's credential fields (injected fields, the proxy's `Connection` and
    /// `Proxy-Authorization`): counting them would let a guest learn a secret's length by
    /// probing the quota, or read it in the audit events (`abi.md`, "Quotas").
    pub(crate) fn sent_bytes(&self) -> u64 {
        (self.head.guest_len() as u64).saturating_add(self.body_len as u64)
    }

    /// Charges the request to `quotas`, all or none.
    pub(crate) fn charge(&self, quotas: &Quotas) -> Result<(), HttpError> {
        quotas
            .charge_request(self.sent_bytes())
            .map_err(HttpError::QuotaExceeded)
    }

    /// The audit record of this request, if the client has an observer.
    pub(crate) fn trail(&self, audit: Option<crate::audit::Audit>) -> Option<Trail> {
        audit.map(|a| {
            a.trail(
                &self.endpoint.origin,
                &self.authority,
                self.head.bytes(),
                self.sent_bytes(),
            )
            .through(self.endpoint.proxy_name())
        })
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, HttpError> {
    std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)
}

impl Client {
    /// Decodes and validates the arguments in the order `abi.md` gives ("Order of checks": for
    /// each argument its length limit, then UTF-8, then syntax), then asks the allow-list.
    /// Each length is checked here, once, on the raw bytes.
    pub(crate) fn prepare(&self, req: &Request<'_>) -> Result<Prepared, HttpError> {
        self.fault("prepare");
        let limits = &self.limits;
        if req.url.len() > limits.max_url_len {
            return Err(url::UrlError("too long").into());
        }
        let target = url::parse_url(utf8(req.url)?)?;
        let authority = target.origin.authority();
        let mut endpoint = Endpoint::new(target.origin)?;
        endpoint.via = self.dialer.proxies.route(&endpoint.origin);
        if req.method.len() > MAX_METHOD_LEN {
            return Err(http1::RequestError::Method.into());
        }
        let method = utf8(req.method)?;
        http1::validate_method(method)?;
        if req.headers.len() > limits.max_request_headers {
            return Err(HttpError::RequestHeadersTooLarge);
        }
        let header_block = utf8(req.headers)?;
        let target = endpoint.request_target(&target.path_and_query);
        let parts = http1::RequestParts {
            method,
            target: &target,
            authority: &authority,
            header_block,
            body_len: req.body.len(),
        };
        parts.check()?;
        if req.body.len() > limits.max_request_body {
            return Err(HttpError::RequestBodyTooLarge);
        }
        let admission = self
            .allow_list
            .admit(&endpoint.origin)
            .ok_or(HttpError::NotAllowed)?;
        // After the allow-list, so that a guest cannot probe which refused origins have
        // injected headers (`abi.md`, "Order of checks").
        let injected = if self.injections.is_empty() {
            Vec::new()
        } else {
            self.injections.for_origin(&endpoint.origin, header_block)?
        };
        // The head is written once, credentials last, into a buffer of its final size that is
        // wiped when dropped (`http1::RequestHead`).
        let head = match (injected.is_empty(), endpoint.proxy_fields()) {
            (true, None) => parts.encode(&[])?,
            (_, proxy) => {
                let mut fields = injected;
                fields.extend(proxy.into_iter().flatten());
                parts.encode(&fields)?
            }
        };
        Ok(Prepared {
            endpoint,
            authority,
            admission,
            head,
            body_len: req.body.len(),
            idempotent: http1::is_idempotent(method),
            is_head: method == "HEAD",
        })
    }

    /// Sends a prepared request and reads the response head. The body stays on the connection.
    pub(crate) fn execute(
        self: &Arc<Self>,
        req: &Prepared,
        body: &[u8],
        call: &Call,
    ) -> Result<Response, Failure> {
        let mut stats = Stats::default();
        match self.try_execute(req, body, call, &mut stats) {
            Ok(mut response) => {
                response.stats = stats;
                Ok(response)
            }
            Err(error) => Err(Failure {
                error,
                stats: Box::new(stats),
            }),
        }
    }

    fn try_execute(
        self: &Arc<Self>,
        req: &Prepared,
        body: &[u8],
        call: &Call,
        stats: &mut Stats,
    ) -> Result<Response, HttpError> {
        let mut clock = Clock::start(&self.timeouts, call.started, &call.controls);
        // An async call may have waited for a worker: nothing is taken or sent for a call
        // that is already interrupted or out of time.
        if call.controls.interrupt.is_set() {
            return Err(HttpError::Interrupted);
        }
        if clock.total_left().is_zero() {
            return Err(HttpError::Timeout(TimeoutPhase::Total));
        }
        // A pooled connection may have been closed by the server while idle; an idempotent
        // request is retried once on a fresh connection (RFC 9110 §9.2.2), anything else is not.
        if let Some(conn) = self.pool.take(&req.endpoint.origin, call.store) {
            clock.arm_header();
            stats.reused = true;
            match self.exchange(conn, req, body, call, &mut clock, stats) {
                Err(e) if e.is_stale_connection() && req.idempotent => {
                    log::debug!("pooled connection failed ({e}); retrying on a fresh one");
                    stats.reused = false;
                }
                other => return other,
            }
        }
        let conn =
            self.dialer
                .connect(&req.endpoint, &req.admission, &mut clock, &mut stats.phases)?;
        self.exchange(conn, req, body, call, &mut clock, stats)
    }

    #[cfg(feature = "async")]
    /// [`Client::execute`] on a worker thread, for the async entry points. Dropping the
    /// returned future interrupts the request (its connection is closed, never pooled); if no
    /// worker took it up yet, the request and its body's copy are dropped then and there.
    pub(crate) fn execute_on_worker(
        self: &Arc<Self>,
        req: Prepared,
        body: Vec<u8>,
        call: &Call,
    ) -> Completion<Result<Response, Failure>> {
        let call = Call {
            controls: call.controls.child(),
            ..call.clone()
        };
        let cancel = call.controls.interrupt.clone();
        let client = self.clone();
        self.workers.spawn(
            move || client.execute(&req, &body, &call),
            move || cancel.set(),
        )
    }

    #[cfg(feature = "async")]
    /// A body read of up to `len` bytes on a worker thread, for the async entry points: the
    /// body and the bytes come back with the outcome. Dropping the future interrupts the read;
    /// the body is then dropped with its connection.
    pub(crate) fn read_on_worker(
        &self,
        mut body: Box<Body>,
        mut buf: Vec<u8>,
        len: usize,
        controls: &Controls,
    ) -> Completion<BodyRead> {
        let call = controls.child();
        let cancel = call.interrupt.clone();
        self.workers.spawn(
            move || {
                buf.resize(len, 0);
                let read = body.read_into(&mut buf, &call);
                BodyRead { body, buf, read }
            },
            move || cancel.set(),
        )
    }

    fn exchange(
        self: &Arc<Self>,
        mut conn: Conn,
        req: &Prepared,
        body: &[u8],
        call: &Call,
        clock: &mut Clock,
        stats: &mut Stats,
    ) -> Result<Response, HttpError> {
        let head = req.head.bytes();
        let began = Instant::now();
        if !body.is_empty() {
            // A server that ignores the body would read it as a next request: the connection
            // stays with the store that wrote it (`abi.md`, "Connection reuse and retries").
            conn.owner = Some(call.store);
        }
        let sent =
            |r: Result<(), IoFailure>| r.map_err(|f| HttpError::from_io(f, Stage::BeforeResponse));
        // A small body goes out with the head in one write (one TLS record, one segment); a
        // large one is written straight from guest memory rather than copied.
        if body.len() <= COALESCE_BODY {
            let mut request = Zeroizing::new(Vec::with_capacity(head.len() + body.len()));
            request.extend_from_slice(head);
            request.extend_from_slice(body);
            sent(conn.write_all(&request, clock))?;
        } else {
            sent(conn.write_all(head, clock))?;
            sent(conn.write_all(body, clock))?;
        }
        let mut interim = 0;
        let head = loop {
            let mut parser = HeadParser::response(&self.limits);
            let end = loop {
                if let Some(end) = parser.feed(conn.buffered())? {
                    break end;
                }
                let stage = if conn.buffered().is_empty() && interim == 0 {
                    Stage::BeforeResponse
                } else {
                    Stage::InResponse
                };
                match conn.fill(clock) {
                    Ok(0) => return Err(HttpError::eof(stage)),
                    Ok(_) => {}
                    Err(failure) => return Err(HttpError::from_io(failure, stage)),
                }
            };
            // The parser found `end` in these very bytes.
            let bytes = conn.buffered().get(..end);
            debug_assert!(bytes.is_some(), "head end beyond the buffer");
            let bytes = bytes.ok_or(HttpError::Internal("head end beyond the buffer"))?;
            let parsed = http1::parse_head(bytes)?;
            conn.consume(end);
            match parsed.class()? {
                // RFC 9110 §15.2: interim responses are skipped by a client that does not use
                // them.
                StatusClass::Interim => {
                    interim += 1;
                    if interim > MAX_INTERIM_RESPONSES {
                        return Err(ParseError::TooManyInterimResponses.into());
                    }
                }
                StatusClass::Final => break parsed,
            }
        };
        // Through a proxy in absolute-form, a 407 is the proxy's (RFC 9110 §15.5.8).
        if head.status == 407 && req.endpoint.absolute_form() {
            return Err(crate::error::ProxyError::AuthRequired(407).into());
        }
        clock.disarm_header();
        let now = Instant::now();
        stats.phases.head = Some(now.saturating_duration_since(began));
        stats.head_at = Some(now);
        let framing = http1::framing(&head, req.is_head)?;
        // A body is the guest's bytes on the wire: a server (or proxy) it desynchronizes could
        // read the next request on this connection, credentials included, as this body's
        // continuation and echo it back. Such a connection is never reused.
        let reusable = head.keep_alive()
            && framing != Framing::Close
            && (body.is_empty() || req.head.host_fields_len() == 0);
        let body = Body {
            conn,
            decoder: BodyDecoder::new(framing),
            clock: clock.clone(),
            reusable,
            received: 0,
            client: self.clone(),
            quotas: call.quotas.clone(),
        };
        let body = Box::new(body);
        let state = if body.decoder.is_done() {
            body.release();
            BodyState::Done
        } else {
            BodyState::Reading(body)
        };
        Ok(Response {
            head,
            body: state,
            stats: Stats::default(),
            received: 0,
            trail: None,
        })
    }
}

impl Client {
    /// Panics at `point` if a test asked for it (feature `fault-injection`, for the panic
    /// guard's tests); nothing otherwise.
    fn fault(&self, point: &'static str) {
        #[cfg(feature = "fault-injection")]
        if self.panic_at == Some(point) {
            panic!("fault injected at {point}");
        }
        let _ = point;
    }
}

impl Response {
    /// Reads decoded body bytes into `out` (non-empty). `Ok(0)` only at the framed end; after an
    /// error the same code is returned again. `controls` are the store's current ones (they
    /// may have changed since the request was sent).
    pub(crate) fn read_body(
        &mut self,
        out: &mut [u8],
        controls: &Controls,
    ) -> Result<usize, ErrorCode> {
        let mut body = match self.take_body(ErrorCode::RuntimeError) {
            Ok(body) => body,
            Err(done) => return done,
        };
        let read = body.read_into(out, controls);
        self.settle(body, read)
    }

    /// Takes the body out for a read elsewhere (a worker), leaving it in flight; `Err` with the
    /// call's result when there is nothing to read: `Ok(0)` at the end, the sticky code after
    /// a failure.
    pub(crate) fn take_body(
        &mut self,
        if_lost: ErrorCode,
    ) -> Result<Box<Body>, Result<usize, ErrorCode>> {
        match std::mem::replace(&mut self.body, BodyState::InFlight(if_lost)) {
            BodyState::Reading(body) => Ok(body),
            BodyState::Done => {
                self.body = BodyState::Done;
                Err(Ok(0))
            }
            BodyState::Failed(code) => {
                self.body = BodyState::Failed(code);
                Err(Err(code))
            }
            // A read that never gave the body back took it with it.
            BodyState::InFlight(code) => Err(Err(self.fail_with(code))),
        }
    }

    /// Puts a body back after a read and turns the read's outcome into the call's result: at
    /// the framed end the connection is released at once (the next request can reuse it even
    /// if the guest never asks again); a failure is sticky and closes the connection.
    pub(crate) fn settle(
        &mut self,
        body: Box<Body>,
        read: Result<usize, HttpError>,
    ) -> Result<usize, ErrorCode> {
        match read {
            Ok(n) => {
                self.received = self.received.saturating_add(n as u64);
                if body.decoder.is_done() {
                    body.release();
                    self.body = BodyState::Done;
                } else {
                    self.body = BodyState::Reading(body);
                }
                Ok(n)
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// Fails the body for good with the code of `e` (a body still taken is dropped with its
    /// connection by whoever holds it).
    pub(crate) fn fail(&mut self, e: &HttpError) -> ErrorCode {
        match &self.trail {
            Some(t) => log::debug!("request {}: body read failed: {e}", t.id()),
            None => log::debug!("body read failed: {e}"),
        }
        self.fail_with(e.code())
    }

    fn fail_with(&mut self, code: ErrorCode) -> ErrorCode {
        self.body = BodyState::Failed(code);
        self.audit(code);
        code
    }

    /// Gives the response its audit record (emitted when it ends).
    pub(crate) fn attach(&mut self, trail: Option<Trail>) {
        self.trail = trail;
    }

    /// Emits the audit event with `code`, once.
    fn audit(&mut self, code: ErrorCode) {
        if let Some(trail) = self.trail.take() {
            let ending = Ending {
                status: Some(self.head.status),
                code,
                received_bytes: self.received,
                body_complete: matches!(self.body, BodyState::Done),
            };
            // A body read fails with its own code, and `close` cannot fail: a give-up only
            // ends the wait (`abi.md`, "Audit events").
            let _ = trail.finish(&self.stats, ending, None);
        }
    }
}

impl Drop for Response {
    /// Closed, or dropped with its store: the audit event, if not emitted at a failure. A body
    /// still in flight belongs to a cancelled async read.
    fn drop(&mut self) {
        let code = match self.body {
            BodyState::Failed(code) | BodyState::InFlight(code) => code,
            BodyState::Reading(_) | BodyState::Done => ErrorCode::Success,
        };
        self.audit(code);
    }
}

impl Body {
    /// Reads decoded body bytes into `out` under the call's controls (the store's current
    /// interrupt and deadline).
    pub(crate) fn read_into(
        &mut self,
        out: &mut [u8],
        controls: &Controls,
    ) -> Result<usize, HttpError> {
        self.clock.update(controls);
        self.client.fault("body_read");
        // Past the overall deadline nothing more is delivered, not even bytes the host already
        // holds: how many arrived with the head depends on the host's reads, and the guest
        // must see one outcome (`abi.md`, "Timeouts and limits").
        if self.clock.total_left().is_zero() {
            return Err(self.clock.expired(TimeoutPhase::Total));
        }
        self.read(out)
    }

    fn read(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        let max = self.client.limits.max_response_body;
        if max.is_none() && !self.quotas.limit_received() {
            return self.decode_more(out);
        }
        let mut allowance = out.len() as u64;
        if let Some(max) = max {
            if let BodyDecoder::Length(announced) = self.decoder {
                // The server said up front that the body is over the limit.
                if self.received.saturating_add(announced) > max {
                    return Err(HttpError::BodyTooLarge);
                }
            }
            allowance = allowance.min(max.saturating_sub(self.received));
        }
        let at_body_limit = allowance == 0;
        // Taken from the received-bytes quotas before the read; what is not delivered is
        // given back after it (`Quotas::reserve_read`).
        let reservation = if at_body_limit {
            None
        } else {
            self.quotas.reserve_read(allowance)
        };
        if let Some(reserved) = &reservation {
            allowance = reserved.bytes();
        }
        // Deliver exactly up to the limit; at the limit, one more decoded byte (into a scratch
        // buffer, never delivered) tells an over-long body from one that ends right there.
        if allowance == 0 {
            let mut scratch = [0u8; 1];
            return match self.decode_more(&mut scratch)? {
                0 => Ok(0),
                _ if at_body_limit => Err(HttpError::BodyTooLarge),
                _ => Err(HttpError::QuotaExceeded(QuotaKind::ReceivedBytes)),
            };
        }
        let n = usize::try_from(allowance)
            .unwrap_or(usize::MAX)
            .min(out.len());
        let read = self.decode_more(out.get_mut(..n).unwrap_or_default());
        if let Some(reserved) = reservation {
            let delivered = read.as_ref().map_or(0, |&got| got as u64);
            self.quotas.settle_read(reserved, delivered);
        }
        read
    }

    fn decode_more(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        // Mid-body, an EOF or a reset is a truncated response (abi.md, `body_read`).
        let stage = Stage::InResponse;
        // A decoder that already failed reports it before any I/O could block.
        if let BodyDecoder::Failed(e) = self.decoder {
            return Err(e.into());
        }
        loop {
            if self.decoder.is_done() {
                return Ok(0);
            }
            if !self.conn.buffered().is_empty() {
                let p = self
                    .decoder
                    .decode(self.conn.buffered(), out, &self.client.limits)?;
                self.conn.consume(p.consumed);
                if p.produced > 0 {
                    return Ok(self.account(p.produced));
                }
                // The decoder always makes progress on non-empty input; if that ever broke,
                // fail the body rather than spin in a host call.
                let progressed = p.consumed > 0 || self.decoder.is_done();
                debug_assert!(progressed, "body decoder made no progress");
                if !progressed {
                    return Err(HttpError::Internal("body decoder made no progress"));
                }
                continue;
            }
            let got = match self.decoder.direct_limit() {
                Some(limit) => {
                    let n = out.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
                    let dst = out.get_mut(..n).unwrap_or_default();
                    let got = self
                        .conn
                        .read_direct(dst, &self.clock)
                        .map_err(|f| HttpError::from_io(f, stage))?;
                    if got > 0 {
                        self.decoder.advance_direct(got);
                        return Ok(self.account(got));
                    }
                    got
                }
                None => self
                    .conn
                    .fill(&self.clock)
                    .map_err(|f| HttpError::from_io(f, stage))?,
            };
            if got == 0 {
                self.reusable = false;
                self.decoder.eof()?;
            }
        }
    }

    fn account(&mut self, n: usize) -> usize {
        self.received = self.received.saturating_add(n as u64);
        n
    }

    /// Returns the connection to the pool if the response ended cleanly and may be followed.
    fn release(self: Box<Self>) {
        // Leftover bytes (ours, rustls's, the socket's) are the pool's entry check.
        if self.reusable && self.decoder.is_done() {
            self.client.pool.put(self.conn);
        }
    }
}
