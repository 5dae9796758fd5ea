//! One request from start to end of body: the readable loop that drives the sans-IO parser
//! over a connection.

use crate::error::HttpError;
use crate::http1::{self, BodyDecoder, Framing, HeadParser, ParseError, ResponseHead};
use crate::limits::{MAX_INTERIM_RESPONSES, MAX_METHOD_LEN};
use crate::policy::Admission;
use crate::transport::{self, Clock, Conn};
use crate::url::{Scheme, Target};
use crate::{ErrorCode, Shared};

use std::sync::Arc;

/// Request bodies up to this size are sent in the same write as the head.
const COALESCE_BODY: usize = 16 * 1024;

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
}

enum BodyState {
    Reading(Box<Body>),
    Done,
    Failed(ErrorCode),
}

struct Body {
    conn: Conn,
    decoder: BodyDecoder,
    clock: Clock,
    reusable: bool,
    received: u64,
    shared: Arc<Shared>,
}

/// A validated request the policy admitted, ready to go on the wire.
pub(crate) struct Prepared {
    target: Target,
    admission: Admission,
    head: Vec<u8>,
    idempotent: bool,
    is_head: bool,
}

fn utf8(bytes: &[u8]) -> Result<&str, HttpError> {
    std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)
}

/// Decodes and validates the arguments in the order `abi.md` gives ("Order of checks": for
/// each argument its length limit, then UTF-8, then syntax), then asks the allow-list.
pub(crate) fn prepare(shared: &Shared, req: &Request<'_>) -> Result<Prepared, HttpError> {
    let limits = &shared.limits;
    if req.url.len() > limits.max_url_len {
        return Err(HttpError::InvalidUrl("too long"));
    }
    let target = crate::url::parse_url(utf8(req.url)?, limits.max_url_len)?;
    if target.origin.scheme == Scheme::Https {
        // A name rustls would refuse at the handshake is refused here, before DNS or connect.
        transport::tls_server_name(&target.origin.host)?;
    }
    if req.method.is_empty() || req.method.len() > MAX_METHOD_LEN {
        return Err(HttpError::InvalidMethod);
    }
    let method = utf8(req.method)?;
    http1::validate_method(method)?;
    if req.headers.len() > limits.max_request_headers {
        return Err(HttpError::RequestHeadersTooLarge);
    }
    let head = http1::encode_request_head(method, &target, utf8(req.headers)?, req.body.len())?;
    if req.body.len() > limits.max_request_body {
        return Err(HttpError::RequestBodyTooLarge);
    }
    let admission = shared
        .allow_list
        .admit(&target.origin)
        .ok_or(HttpError::NotAllowed)?;
    Ok(Prepared {
        target,
        admission,
        head,
        idempotent: http1::is_idempotent(method),
        is_head: method == "HEAD",
    })
}

/// Sends a prepared request and reads the response head. The body stays on the connection.
pub(crate) fn execute(
    shared: &Arc<Shared>,
    req: &Prepared,
    body: &[u8],
) -> Result<Response, HttpError> {
    let mut clock = Clock::start(shared.timeouts.total, shared.timeouts.idle);
    // A pooled connection may have been closed by the server while idle; an idempotent request
    // is retried once on a fresh connection (RFC 9110 §9.2.2), anything else is not.
    if let Some(conn) = shared.pool.take(&req.target.origin) {
        clock.arm_header(shared.timeouts.response_header);
        match exchange(shared, conn, &req.head, body, req.is_head, &mut clock) {
            Err(e) if e.is_stale_connection() && req.idempotent => {
                log::debug!("pooled connection failed ({e}); retrying on a fresh one");
            }
            other => return other,
        }
    }
    let conn = transport::connect(shared, &req.target.origin, &req.admission, &mut clock)?;
    exchange(shared, conn, &req.head, body, req.is_head, &mut clock)
}

fn exchange(
    shared: &Arc<Shared>,
    mut conn: Conn,
    head: &[u8],
    body: &[u8],
    is_head: bool,
    clock: &mut Clock,
) -> Result<Response, HttpError> {
    // A small body goes out with the head in one write (one TLS record, one segment); a large
    // one is written straight from guest memory rather than copied.
    if body.len() <= COALESCE_BODY {
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head);
        request.extend_from_slice(body);
        conn.write_all(&request, clock)?;
    } else {
        conn.write_all(head, clock)?;
        conn.write_all(body, clock)?;
    }
    let limits = &shared.limits;
    let mut interim = 0;
    let head = loop {
        let mut parser = HeadParser::response(limits);
        let end = loop {
            if let Some(end) = parser.feed(conn.buffered()).map_err(HttpError::Parse)? {
                break end;
            }
            let started = !conn.buffered().is_empty() || interim > 0;
            match conn.fill(clock) {
                Ok(0) if started => return Err(HttpError::Incomplete),
                Ok(0) => {
                    return Err(HttpError::Terminated(
                        std::io::ErrorKind::UnexpectedEof.into(),
                    ));
                }
                Ok(_) => {}
                // Once response bytes have arrived, a reset is a truncated response, and must
                // not look like a stale pooled connection that is safe to retry.
                Err(HttpError::Terminated(_)) if started => return Err(HttpError::Incomplete),
                // Before any byte, a TLS EOF without close_notify is the peer hanging up, as
                // a plain EOF is.
                Err(HttpError::Incomplete) if !started => {
                    return Err(HttpError::Terminated(
                        std::io::ErrorKind::UnexpectedEof.into(),
                    ));
                }
                Err(e) => return Err(e),
            }
        };
        let parsed = http1::parse_head(conn.buffered().get(..end).unwrap_or_default())
            .map_err(HttpError::Parse)?;
        conn.consume(end);
        match parsed.status {
            // RFC 9110 §15.2.2: we never send Upgrade, so a switch is a protocol violation.
            101 => return Err(HttpError::Parse(ParseError::SwitchingProtocols)),
            // RFC 9110 §15.2: interim responses are skipped by a client that does not use them.
            100..=199 => {
                interim += 1;
                if interim > MAX_INTERIM_RESPONSES {
                    return Err(HttpError::Parse(ParseError::TooManyInterimResponses));
                }
            }
            _ => break parsed,
        }
    };
    clock.disarm_header();
    let framing = http1::framing(&head, is_head).map_err(HttpError::Parse)?;
    let reusable = head.keep_alive() && framing != Framing::Close;
    let body = Body {
        conn,
        decoder: BodyDecoder::new(framing),
        clock: clock.clone(),
        reusable,
        received: 0,
        shared: shared.clone(),
    };
    let state = if body.decoder.is_done() {
        body.release();
        BodyState::Done
    } else {
        BodyState::Reading(Box::new(body))
    };
    Ok(Response { head, body: state })
}

impl Response {
    /// Reads decoded body bytes into `out` (non-empty). `Ok(0)` only at the framed end; after an
    /// error the same code is returned again.
    pub(crate) fn read_body(&mut self, out: &mut [u8]) -> Result<usize, ErrorCode> {
        let BodyState::Reading(body) = &mut self.body else {
            return match self.body {
                BodyState::Failed(code) => Err(code),
                _ => Ok(0),
            };
        };
        match body.read(out) {
            Ok(n) => {
                // Release the connection as soon as the framed end is decoded, not when the guest
                // asks once more: the next request can reuse it even if the guest never does.
                if body.decoder.is_done()
                    && let BodyState::Reading(body) =
                        std::mem::replace(&mut self.body, BodyState::Done)
                {
                    body.release();
                }
                Ok(n)
            }
            Err(e) => {
                log::debug!("body read failed: {e}");
                let code = e.code();
                self.body = BodyState::Failed(code);
                Err(code)
            }
        }
    }
}

impl Body {
    fn read(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        let Some(max) = self.shared.limits.max_response_body else {
            return self.read_unlimited(out);
        };
        if let BodyDecoder::Length(announced) = self.decoder {
            // The server said up front that the body is over the limit.
            if self.received.saturating_add(announced) > max {
                return Err(HttpError::BodyTooLarge);
            }
        }
        // Deliver exactly up to the maximum; at the maximum, one more decoded byte (into a
        // scratch buffer) tells an over-long body from one that ends right there.
        let allowance = usize::try_from(max.saturating_sub(self.received)).unwrap_or(usize::MAX);
        if allowance == 0 {
            let mut scratch = [0u8; 1];
            return match self.read_unlimited(&mut scratch)? {
                0 => Ok(0),
                _ => Err(HttpError::BodyTooLarge),
            };
        }
        let n = out.len().min(allowance);
        self.read_unlimited(out.get_mut(..n).unwrap_or_default())
    }

    fn read_unlimited(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        // Mid-body, a reset is a truncated response like an EOF (abi.md, `body_read`).
        self.decode_more(out).map_err(|e| match e {
            HttpError::Terminated(_) => HttpError::Incomplete,
            other => other,
        })
    }

    fn decode_more(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        let limits = &self.shared.limits;
        // A decoder that already failed reports it before any I/O could block.
        if let BodyDecoder::Failed(e) = self.decoder {
            return Err(HttpError::Parse(e));
        }
        loop {
            if self.decoder.is_done() {
                return Ok(0);
            }
            if !self.conn.buffered().is_empty() {
                let p = self
                    .decoder
                    .decode(self.conn.buffered(), out, limits)
                    .map_err(HttpError::Parse)?;
                self.conn.consume(p.consumed);
                if p.produced > 0 {
                    return self.account(p.produced);
                }
                if p.consumed == 0 && !self.decoder.is_done() {
                    // The decoder always makes progress on non-empty input; if that ever broke,
                    // fail the body rather than spin in a host call.
                    return Err(HttpError::Parse(ParseError::ChunkSize));
                }
                continue;
            }
            let got = match self.decoder.direct_limit() {
                Some(limit) => {
                    let n = out.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
                    let dst = out.get_mut(..n).unwrap_or_default();
                    let got = self.conn.read_direct(dst, &self.clock)?;
                    if got > 0 {
                        self.decoder.advance_direct(got);
                        return self.account(got);
                    }
                    got
                }
                None => self.conn.fill(&self.clock)?,
            };
            if got == 0 {
                self.reusable = false;
                self.decoder.eof().map_err(|_| HttpError::Incomplete)?;
            }
        }
    }

    fn account(&mut self, n: usize) -> Result<usize, HttpError> {
        self.received = self.received.saturating_add(n as u64);
        Ok(n)
    }

    /// Returns the connection to the pool if the response ended cleanly and may be followed.
    fn release(self) {
        // Leftover bytes (ours, rustls's, the socket's) are the pool's entry check.
        if self.reusable && self.decoder.is_done() {
            self.shared.pool.put(self.conn);
        }
    }
}
