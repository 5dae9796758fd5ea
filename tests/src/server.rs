//! Loopback HTTP/1.1 servers for the end-to-end tests.
//!
//! Every server listens on `127.0.0.1:0` (or a given loopback address), runs in background
//! threads and stops when dropped. Every blocking operation is bounded: sockets use short
//! timeouts polled against a stop flag and an idle deadline, so a misbehaving client (or a
//! failing test) can never hang the suite.
//!
//! Two behaviours share one connection loop:
//! - [`TestServer::scripted`]: replies come from a queue of [`Reply`] scripts (raw bytes, pauses,
//!   generated bodies, close), one per received request, in order of arrival.
//! - [`TestServer::echo`]: answers every request with `200`, echoing the body (POST/PUT) or
//!   describing the request (other methods).
//!
//! Both record every request ([`TestServer::requests`]) and count accepted connections
//! ([`TestServer::accepted`]), so a test can prove that nothing reached the network.
//! Both also run over TLS ([`TestServer::scripted_tls`], [`TestServer::echo_tls`]) with a
//! `rustls::ServerConfig` from [`crate::tls`], and then record what each TLS handshake
//! negotiated ([`TestServer::tls_handshakes`]): what the client sent is only visible here.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked socket operations wake up to look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// A connection with no progress for this long is dropped by the server.
const IDLE_LIMIT: Duration = Duration::from_secs(20);
/// Request heads larger than this are answered with 431 and the connection closed.
const MAX_HEAD: usize = 1024 * 1024;
/// Request bodies larger than this are answered with 413 and the connection closed.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The exact bytes received: head (through the blank line) followed by the body.
    pub raw: Vec<u8>,
    /// Request method, as sent.
    pub method: String,
    /// Request target (path and query), as sent.
    pub target: String,
    /// Header fields in order, names and values as sent (value trimmed of SP/HTAB).
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length framed; the host never sends chunked requests).
    pub body: Vec<u8>,
}

impl Request {
    /// Every value of the header `name` (ASCII case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The head (request line and fields, through the blank line) as text.
    pub fn head(&self) -> String {
        let end = find(&self.raw, b"\r\n\r\n").map_or(self.raw.len(), |i| i + 4);
        String::from_utf8_lossy(&self.raw[..end]).into_owned()
    }
}

/// One step of a scripted reply.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Pause (interruptible by the server stopping).
    Sleep(Duration),
    /// Write `n` bytes of the deterministic pattern (see [`pattern_fill`]), generated on the
    /// fly: a multi-gigabyte body costs the server no memory.
    Pattern(u64),
}

/// A scripted reply to one request: steps, then optionally close the connection.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    steps: Vec<Step>,
    close_after: bool,
}

impl Reply {
    /// An empty script; add steps with [`Reply::send`], [`Reply::sleep`], [`Reply::pattern`].
    pub fn new() -> Reply {
        Reply::default()
    }

    /// A reply made of one raw chunk; the connection stays open afterwards.
    pub fn raw(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::new().send(bytes)
    }

    /// A reply made of one raw chunk, after which the server closes the connection.
    pub fn raw_then_close(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::raw(bytes).close()
    }

    /// Appends a write of `bytes`.
    pub fn send(mut self, bytes: impl AsRef<[u8]>) -> Reply {
        self.steps.push(Step::Send(bytes.as_ref().to_vec()));
        self
    }

    /// Appends a pause.
    pub fn sleep(mut self, d: Duration) -> Reply {
        self.steps.push(Step::Sleep(d));
        self
    }

    /// Appends `n` generated pattern bytes.
    pub fn pattern(mut self, n: u64) -> Reply {
        self.steps.push(Step::Pattern(n));
        self
    }

    /// Closes the connection after the last step (a TLS server sends close_notify first).
    pub fn close(mut self) -> Reply {
        self.close_after = true;
        self
    }
}

/// Period of the body pattern. A prime, so no buffer size or alignment used by the host or the
/// guests divides it: a dropped, duplicated or reordered slice changes the checksum unless it
/// is a whole number of periods, and then it changes the byte count.
pub const PATTERN_PERIOD: usize = 65_521;

fn pattern_block() -> &'static [u8] {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| {
        // xorshift64*: cheap, deterministic, no run of equal bytes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..PATTERN_PERIOD)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    })
}

/// Fills `buf` with the pattern bytes starting at stream offset `offset`.
pub fn pattern_fill(offset: u64, buf: &mut [u8]) {
    let block = pattern_block();
    let mut pos = (offset % PATTERN_PERIOD as u64) as usize;
    let mut out = 0;
    while out < buf.len() {
        let n = (PATTERN_PERIOD - pos).min(buf.len() - out);
        buf[out..out + n].copy_from_slice(&block[pos..pos + n]);
        out += n;
        pos = 0;
    }
}

/// Calls `f` with consecutive slices of the first `len` pattern bytes, without allocating them.
pub fn pattern_for_each(len: u64, mut f: impl FnMut(&[u8])) {
    let block = pattern_block();
    let mut left = len;
    while left > 0 {
        let n = left.min(PATTERN_PERIOD as u64) as usize;
        f(&block[..n]);
        left -= n as u64;
    }
}

/// 64-bit FNV-1a, the checksum the test guests print for bodies they do not keep.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a64(pub u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a64 {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Self::default();
        h.update(bytes);
        h
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    /// The hash as the guests print it: 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// What the server observed in one TLS handshake, recorded when it completed or failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsHandshake {
    /// The SNI host name the client sent (`None`: no server_name extension).
    pub sni: Option<String>,
    /// The ALPN protocol negotiated (`None`: none; also when the server offers no ALPN list).
    pub alpn: Option<Vec<u8>>,
    /// The protocol version negotiated (`None` if the handshake failed before choosing one).
    pub version: Option<rustls::ProtocolVersion>,
    /// `None` if the handshake completed; otherwise why it failed, as the `Debug` form of the
    /// `rustls::Error` (e.g. `NoApplicationProtocol`) or the I/O error's text.
    pub error: Option<String>,
    /// Whether the client presented a certificate (that the server verified).
    pub client_certificate: bool,
}

enum Behaviour {
    Scripted(Mutex<VecDeque<Reply>>),
    Echo,
}

struct Shared {
    stop: AtomicBool,
    accepted: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    /// Each connection's thread, with a clone of its socket that drop shuts down to unblock
    /// the thread at once.
    conns: Mutex<Vec<(JoinHandle<()>, TcpStream)>>,
    behaviour: Behaviour,
    tls: Option<Arc<rustls::ServerConfig>>,
    handshakes: Mutex<Vec<TlsHandshake>>,
}

/// A loopback HTTP/1.1 (or HTTPS) server running in background threads; stops on drop.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server answering the n-th request (across all connections) with `replies[n]`; when
    /// the queue is empty, connections are closed without a reply.
    pub fn scripted(replies: Vec<Reply>) -> TestServer {
        Self::start(
            "127.0.0.1:0",
            Behaviour::Scripted(Mutex::new(replies.into())),
            None,
        )
        .expect("start scripted server")
    }

    /// [`TestServer::scripted`] over TLS.
    pub fn scripted_tls(replies: Vec<Reply>, tls: Arc<rustls::ServerConfig>) -> TestServer {
        Self::start(
            "127.0.0.1:0",
            Behaviour::Scripted(Mutex::new(replies.into())),
            Some(tls),
        )
        .expect("start scripted TLS server")
    }

    /// The echo server (see the module documentation) on `127.0.0.1:0`.
    pub fn echo() -> TestServer {
        Self::echo_at("127.0.0.1:0").expect("start echo server")
    }

    /// The echo server on a given address.
    pub fn echo_at(addr: &str) -> io::Result<TestServer> {
        Self::start(addr, Behaviour::Echo, None)
    }

    /// The echo server over TLS on `127.0.0.1:0`.
    pub fn echo_tls(tls: Arc<rustls::ServerConfig>) -> TestServer {
        Self::start("127.0.0.1:0", Behaviour::Echo, Some(tls)).expect("start echo TLS server")
    }

    /// The echo server over TLS on a given address (e.g. `[::1]:0`).
    pub fn echo_tls_at(addr: &str, tls: Arc<rustls::ServerConfig>) -> io::Result<TestServer> {
        Self::start(addr, Behaviour::Echo, Some(tls))
    }

    fn start(
        addr: &str,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<TestServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            behaviour,
            tls,
            handshakes: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name(format!("test-server-{addr}"))
            .spawn(move || accept_loop(&listener, &s))?;
        Ok(TestServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` (or `https://`), suitable as an allow-list entry.
    pub fn origin(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        match self.addr {
            SocketAddr::V4(a) => format!("{scheme}://{a}"),
            SocketAddr::V6(a) => format!("{scheme}://[{}]:{}", a.ip(), a.port()),
        }
    }

    /// [`TestServer::origin`] followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Number of TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Every TLS handshake that completed or failed so far, in order (empty for plain HTTP).
    pub fn tls_handshakes(&self) -> Vec<TlsHandshake> {
        self.shared
            .handshakes
            .lock()
            .expect("handshakes lock")
            .clone()
    }

    /// Waits (bounded) until at least `n` TLS handshakes were recorded, then returns them. A
    /// failed handshake is recorded by the server thread after it sent its alert, so the client
    /// may see the failure first.
    pub fn wait_tls_handshakes(&self, n: usize) -> Vec<TlsHandshake> {
        wait_for_len(
            n,
            Duration::from_secs(10),
            Duration::from_millis(10),
            || self.tls_handshakes(),
        )
    }

    /// Asserts that no connection was accepted and no request received, after giving a
    /// connection that might be sitting in the listen backlog time to be accepted.
    pub fn assert_untouched(&self) {
        thread::sleep(POLL * 3);
        assert_eq!(self.accepted(), 0, "the server accepted a connection");
        assert!(
            self.requests().is_empty(),
            "the server received a request: {:?}",
            self.requests()
        );
    }

    /// Waits (bounded) until at least `n` requests were received, then returns them.
    pub fn wait_requests(&self, n: usize) -> Vec<Request> {
        wait_for_len(
            n,
            Duration::from_secs(10),
            Duration::from_millis(10),
            || self.requests(),
        )
    }
}

/// Takes `snapshot()` every `every` until it holds at least `n` items or `within` has passed,
/// and returns the last one: the caller's assertion on it reports a shortfall.
pub(crate) fn wait_for_len<T>(
    n: usize,
    within: Duration,
    every: Duration,
    mut snapshot: impl FnMut() -> Vec<T>,
) -> Vec<T> {
    let deadline = Instant::now() + within;
    loop {
        let items = snapshot();
        if items.len() >= n || Instant::now() > deadline {
            return items;
        }
        thread::sleep(every);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let conns = match self.shared.conns.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => return,
        };
        for (_, socket) in &conns {
            let _ = socket.shutdown(Shutdown::Both);
        }
        for (worker, _) in conns {
            let _ = worker.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                let s = Arc::clone(shared);
                let worker = thread::spawn(move || {
                    let _ = serve_connection(stream, &s);
                });
                let mut conns = shared.conns.lock().expect("conns lock");
                // A long-running server (the echo-server binary) must not accumulate them.
                conns.retain(|(w, _)| !w.is_finished());
                conns.push((worker, clone));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(POLL))?;
    match &shared.tls {
        None => Conn::new(stream, shared).run(),
        Some(cfg) => {
            let tls = rustls::ServerConnection::new(Arc::clone(cfg)).map_err(io::Error::other)?;
            let io = TlsStream {
                inner: rustls::StreamOwned::new(tls, stream),
                handshakes: &shared.handshakes,
                recorded: false,
            };
            Conn::new(io, shared).run()
        }
    }
}

/// A transport the connection loop can close politely.
trait Transport: Read + Write {
    /// Ends the connection: TLS sends close_notify; both shut the TCP write side.
    fn finish(&mut self);
}

impl Transport for TcpStream {
    fn finish(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// A server-side TLS stream that records its handshake once, when it completes or fails. The
/// handshake itself stays lazy (driven by the first read), as rustls does it.
struct TlsStream<'a> {
    inner: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    handshakes: &'a Mutex<Vec<TlsHandshake>>,
    recorded: bool,
}

impl TlsStream<'_> {
    /// Records the handshake if it just ended: completed, or failed with `result`'s error (a
    /// timeout is not an end, the loop above retries it).
    fn observe<T>(&mut self, result: &io::Result<T>) {
        if self.recorded {
            return;
        }
        let error = match result {
            Err(e) if is_timeout(e) => return,
            Err(e) => Some(
                match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(tls) => format!("{tls:?}"),
                    None => e.to_string(),
                },
            ),
            Ok(_) if self.inner.conn.is_handshaking() => return,
            Ok(_) => None,
        };
        self.recorded = true;
        let conn = &self.inner.conn;
        let h = TlsHandshake {
            sni: conn.server_name().map(str::to_string),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            version: conn.protocol_version(),
            error,
            client_certificate: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
        };
        if let Ok(mut all) = self.handshakes.lock() {
            all.push(h);
        }
    }
}

impl Read for TlsStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        self.observe(&r);
        r
    }
}

impl Write for TlsStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.observe(&r);
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Transport for TlsStream<'_> {
    fn finish(&mut self) {
        self.inner.conn.send_close_notify();
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.inner.conn.wants_write() && Instant::now() < deadline {
            if self.inner.conn.write_tls(&mut self.inner.sock).is_err() {
                break;
            }
        }
        let _ = self.inner.sock.shutdown(Shutdown::Write);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

struct Conn<'a, S: Transport> {
    io: S,
    shared: &'a Shared,
    buf: Vec<u8>,
}

enum Next {
    Request(Request),
    /// The peer closed cleanly between requests, or the connection is dead.
    Closed,
    /// The bytes received are not HTTP/1.1; answer 400 and close.
    Garbage,
    /// The head or body is over the server's limits; answer with this status and close.
    TooLarge(u16),
}

impl<'a, S: Transport> Conn<'a, S> {
    fn new(io: S, shared: &'a Shared) -> Self {
        Conn {
            io,
            shared,
            buf: Vec::new(),
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Reads more bytes into `self.buf`; `Ok(false)` on EOF, error on stop or idle timeout.
    fn fill(&mut self) -> io::Result<bool> {
        let deadline = Instant::now() + IDLE_LIMIT;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.stopping() {
                return Err(io::Error::other("server stopping"));
            }
            match self.io.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if is_timeout(&e) => {
                    if Instant::now() > deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "idle"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn next_request(&mut self) -> Next {
        // Head.
        let head_end = loop {
            // A TLS ClientHello (0x16) or other binary data sent to a plain server: answer like
            // a real HTTP server would instead of waiting for a blank line that never comes.
            if self.buf.first().is_some_and(|b| !b.is_ascii_uppercase()) {
                return Next::Garbage;
            }
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Next::TooLarge(431);
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) if self.buf.is_empty() => return Next::Closed,
                Ok(false) => return Next::Garbage,
                Err(_) => return Next::Closed,
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(':') {
                Some((n, v)) => (n.to_string(), v.trim_matches([' ', '\t']).to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect();
        let content_length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if content_length > MAX_BODY {
            return Next::TooLarge(413);
        }
        // Body.
        let total = head_end + content_length;
        while self.buf.len() < total {
            match self.fill() {
                Ok(true) => {}
                // A truncated body is still recorded: the test wants to see what arrived.
                Ok(false) | Err(_) => break,
            }
        }
        let take = total.min(self.buf.len());
        let raw: Vec<u8> = self.buf.drain(..take).collect();
        let body = raw.get(head_end..).unwrap_or_default().to_vec();
        Next::Request(Request {
            raw,
            method,
            target,
            headers,
            body,
        })
    }

    /// Writes all of `bytes`, retrying timeouts until the idle limit.
    fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let mut deadline = Instant::now() + IDLE_LIMIT;
        while !bytes.is_empty() {
            if self.stopping() {
                return Err(io::Error::other("server stopping"));
            }
            match self.io.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bytes = &bytes[n..];
                    deadline = Instant::now() + IDLE_LIMIT;
                }
                Err(e) if is_timeout(&e) => {
                    if Instant::now() > deadline {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let deadline = Instant::now() + IDLE_LIMIT;
        loop {
            match self.io.flush() {
                Ok(()) => return Ok(()),
                Err(e) if is_timeout(&e) && Instant::now() < deadline && !self.stopping() => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn play(&mut self, reply: &Reply) -> io::Result<()> {
        for step in &reply.steps {
            match step {
                Step::Send(b) => self.write_all(b)?,
                Step::Sleep(d) => {
                    let end = Instant::now() + *d;
                    while Instant::now() < end {
                        if self.stopping() {
                            return Err(io::Error::other("server stopping"));
                        }
                        thread::sleep(POLL.min(end.saturating_duration_since(Instant::now())));
                    }
                }
                Step::Pattern(n) => {
                    let block = pattern_block();
                    let mut left = *n;
                    while left > 0 {
                        let k = left.min(PATTERN_PERIOD as u64) as usize;
                        self.write_all(&block[..k])?;
                        left -= k as u64;
                    }
                }
            }
        }
        Ok(())
    }

    fn run(mut self) -> io::Result<()> {
        loop {
            let req = match self.next_request() {
                Next::Request(r) => r,
                Next::Closed => return Ok(()),
                Next::Garbage => {
                    let _ = self.write_all(
                        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    self.io.finish();
                    return Ok(());
                }
                Next::TooLarge(status) => {
                    let _ = self.write_all(
                        format!(
                            "HTTP/1.1 {status} Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    self.io.finish();
                    return Ok(());
                }
            };
            self.shared
                .requests
                .lock()
                .expect("requests lock")
                .push(req.clone());
            let reply = match &self.shared.behaviour {
                Behaviour::Scripted(queue) => queue.lock().expect("queue lock").pop_front(),
                Behaviour::Echo => Some(echo_reply(&req)),
            };
            let Some(reply) = reply else {
                self.io.finish();
                return Ok(());
            };
            self.play(&reply)?;
            if reply.close_after {
                self.io.finish();
                return Ok(());
            }
        }
    }
}

/// The echo server's answer to `req`.
pub fn echo_reply(req: &Request) -> Reply {
    let body: Vec<u8> = if req.method == "POST" || req.method == "PUT" {
        req.body.clone()
    } else {
        let mut d = format!("{} {}\n", req.method, req.target);
        for (n, v) in &req.headers {
            d.push_str(&format!("{n}: {v}\n"));
        }
        d.into_bytes()
    };
    let content_type = req.header("content-type").unwrap_or("text/plain");
    let close = req
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"));
    let mut head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut reply = Reply::raw(head);
    if req.method != "HEAD" {
        reply = reply.send(body);
    }
    if close { reply.close() } else { reply }
}

/// Position of the first occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
