//! The only module that owns sockets and clocks: resolution, connect, TLS, and reads/writes
//! under per-phase deadlines.

use crate::Shared;
use crate::error::{HttpError, TimeoutPhase};
use crate::limits::READ_CHUNK;
use crate::policy::Admission;
use crate::url::{Host, Origin, Scheme};
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Longest budget the clock represents; larger configured timeouts mean "practically never"
/// rather than overflowing `Instant` (which would be an immediate timeout or a panic).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

fn deadline(now: Instant, budget: Duration) -> Instant {
    now.checked_add(budget.min(FOREVER)).unwrap_or(now)
}

/// The deadlines of one request. Every read and write re-arms the socket timeout from here.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    total: Instant,
    header: Option<Instant>,
    idle: Duration,
}

impl Clock {
    /// Starts the overall deadline now.
    pub(crate) fn start(total: Duration, idle: Duration) -> Clock {
        Clock {
            total: deadline(Instant::now(), total),
            header: None,
            idle: idle.min(FOREVER),
        }
    }

    /// Arms the response-header deadline (when the connection is ready for the request).
    pub(crate) fn arm_header(&mut self, budget: Duration) {
        self.header = Some(deadline(Instant::now(), budget));
    }

    /// Disarms it once the header section has arrived.
    pub(crate) fn disarm_header(&mut self) {
        self.header = None;
    }

    /// The time the next blocking call may take, and the phase to blame if it runs out.
    /// Deadlines win ties over the idle bound: they are what the guest configured as absolute.
    /// An expired budget is `Err` with the phase that expired.
    pub(crate) fn budget(&self) -> Result<(Duration, TimeoutPhase), TimeoutPhase> {
        let now = Instant::now();
        let mut best = (self.idle, TimeoutPhase::Idle);
        if let Some(h) = self.header {
            let left = h.saturating_duration_since(now);
            if left <= best.0 {
                best = (left, TimeoutPhase::ResponseHeader);
            }
        }
        let left = self.total.saturating_duration_since(now);
        if left <= best.0 {
            best = (left, TimeoutPhase::Total);
        }
        if best.0.is_zero() {
            return Err(best.1);
        }
        Ok(best)
    }

    /// What is left of the overall deadline.
    pub(crate) fn total_left(&self) -> Duration {
        self.total.saturating_duration_since(Instant::now())
    }
}

/// A TCP socket whose every read and write is bounded by one deadline, re-armed before each
/// system call. rustls may make several socket calls inside one `read` or `write` (a record
/// arriving a byte at a time); the deadline bounds all of them together, so a dripping peer
/// cannot stretch one TLS call past the phase's budget.
pub(crate) struct Socket {
    tcp: TcpStream,
    deadline: Instant,
}

impl Socket {
    fn new(tcp: TcpStream) -> Socket {
        Socket {
            tcp,
            deadline: Instant::now(),
        }
    }

    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Plain TCP or TLS over TCP.
pub(crate) enum Stream {
    /// `http`.
    Plain(Socket),
    /// `https`.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Socket>>),
}

impl Stream {
    fn socket(&mut self) -> &mut Socket {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &mut s.sock,
        }
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let r = match self {
                Stream::Plain(s) => s.read(out),
                Stream::Tls(s) => s.read(out),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(data),
            Stream::Tls(s) => s.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection with its read buffer. The buffer holds at most one head's worth of bytes
/// (bounded by the header limits) or `READ_CHUNK` body bytes. It is zeroed only when it grows,
/// never per read: `buf[pos..end]` is unconsumed data, `buf[end..]` free space.
pub(crate) struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    pub(crate) origin: Origin,
}

impl Conn {
    fn new(stream: Stream, origin: &Origin) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_CHUNK],
            pos: 0,
            end: 0,
            origin: origin.clone(),
        }
    }

    /// Bytes read but not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.end);
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        }
    }

    /// Sets the socket's deadline for the next call from the request's clock. An expired budget
    /// is not an error here: rustls may still hold decrypted bytes to deliver without touching
    /// the socket, and any socket call fails at once with the expired phase.
    fn arm(&mut self, clock: &Clock) -> TimeoutPhase {
        let now = Instant::now();
        let (deadline_at, phase) = match clock.budget() {
            Ok((budget, phase)) => (deadline(now, budget), phase),
            Err(phase) => (now, phase),
        };
        self.stream.socket().deadline = deadline_at;
        phase
    }

    /// Reads once more into the buffer; 0 means EOF.
    pub(crate) fn fill(&mut self, clock: &Clock) -> Result<usize, HttpError> {
        let phase = self.arm(clock);
        // Make room: move unconsumed bytes to the front when little space is left, and grow
        // only when the buffer is full of unconsumed bytes (a head in progress, whose size the
        // head parser bounds).
        if self.buf.len() - self.end < READ_CHUNK / 2 && self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() + READ_CHUNK, 0);
        }
        let limit = self.buf.len().min(self.end + READ_CHUNK);
        let n = self
            .stream
            .read(self.buf.get_mut(self.end..limit).unwrap_or_default())
            .map_err(|e| HttpError::from_io(e, phase))?;
        self.end += n;
        Ok(n)
    }

    /// Reads straight into the caller's buffer (the guest's memory): the copy-once path.
    pub(crate) fn read_direct(
        &mut self,
        out: &mut [u8],
        clock: &Clock,
    ) -> Result<usize, HttpError> {
        let phase = self.arm(clock);
        self.stream
            .read(out)
            .map_err(|e| HttpError::from_io(e, phase))
    }

    /// Writes everything, re-arming the deadline before each partial write.
    pub(crate) fn write_all(&mut self, mut data: &[u8], clock: &Clock) -> Result<(), HttpError> {
        while !data.is_empty() {
            let phase = self.arm(clock);
            match self.stream.write(data) {
                Ok(0) => return Err(HttpError::Terminated(io::ErrorKind::WriteZero.into())),
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HttpError::from_io(e, phase)),
            }
        }
        let phase = self.arm(clock);
        self.stream
            .flush()
            .map_err(|e| HttpError::from_io(e, phase))
    }

    /// Whether an idle connection may carry another request: nothing left over in our buffer
    /// or in rustls's plaintext buffer, no close_notify, and nothing (no EOF, no stray bytes)
    /// waiting on the socket. Bytes a server sent beyond a response must never become the
    /// start of the next response.
    pub(crate) fn is_idle_healthy(&mut self) -> bool {
        if !self.buffered().is_empty() {
            return false;
        }
        if let Stream::Tls(tls) = &mut self.stream {
            match tls.conn.process_new_packets() {
                Ok(state) if state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed() => {}
                _ => return false,
            }
        }
        let tcp = &self.stream.socket().tcp;
        if tcp.set_nonblocking(true).is_err() {
            return false;
        }
        let peeked = tcp.peek(&mut [0u8; 1]);
        let restored = tcp.set_nonblocking(false).is_ok();
        restored && matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Drops the head-sized buffer capacity an idle connection does not need.
    pub(crate) fn shrink(&mut self) {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            self.buf.truncate(READ_CHUNK);
            self.buf.shrink_to_fit();
        }
    }
}

/// Resolves, applies the address policy to each address, connects to the first permitted
/// address that answers, and completes the TLS handshake for `https`.
pub(crate) fn connect(
    shared: &Shared,
    origin: &Origin,
    admission: &Admission,
    clock: &mut Clock,
) -> Result<Conn, HttpError> {
    let addrs: Vec<SocketAddr> = match &origin.host {
        Host::V4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), origin.port)],
        Host::V6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), origin.port)],
        // The port is the URL's, whatever a custom resolver put in its answers.
        Host::Name(name) => (shared.resolver)(name, origin.port)
            .map_err(HttpError::Dns)?
            .into_iter()
            .map(|a| SocketAddr::new(a.ip(), origin.port))
            .collect(),
    };
    if addrs.is_empty() {
        return Err(HttpError::Dns(io::Error::other("no addresses")));
    }
    // The system resolver cannot be interrupted; its time still counts.
    if clock.total_left().is_zero() {
        return Err(HttpError::Timeout(TimeoutPhase::Total));
    }
    let permitted: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| shared.address_policy.permits(a.ip(), admission))
        .collect();
    if permitted.is_empty() {
        return Err(HttpError::AddressProhibited);
    }
    let mut last = HttpError::ConnectionRefused;
    let mut tcp = None;
    for addr in permitted {
        let left = clock.total_left();
        if left.is_zero() {
            return Err(HttpError::Timeout(TimeoutPhase::Total));
        }
        let (budget, phase) = if left < shared.timeouts.connect {
            (left, TimeoutPhase::Total)
        } else {
            (shared.timeouts.connect, TimeoutPhase::Connect)
        };
        match TcpStream::connect_timeout(&addr, budget) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => {
                log::debug!("connect to {addr} failed: {e}");
                last = match e.kind() {
                    io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        HttpError::Timeout(phase)
                    }
                    _ => HttpError::Io(e),
                };
            }
        }
    }
    let tcp = tcp.ok_or(last)?;
    // Requests are written whole; Nagle would only delay the last segment.
    tcp.set_nodelay(true).map_err(HttpError::Io)?;
    clock.arm_header(shared.timeouts.response_header);
    let stream = match origin.scheme {
        Scheme::Http => Stream::Plain(Socket::new(tcp)),
        Scheme::Https => Stream::Tls(Box::new(handshake(shared, origin, tcp, clock)?)),
    };
    Ok(Conn::new(stream, origin))
}

fn handshake(
    shared: &Shared,
    origin: &Origin,
    tcp: TcpStream,
    clock: &Clock,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, Socket>, HttpError> {
    let name = tls_server_name(&origin.host)?;
    let mut conn =
        rustls::ClientConnection::new(shared.tls.clone(), name).map_err(HttpError::from_tls)?;
    let mut sock = Socket::new(tcp);
    while conn.is_handshaking() {
        let (budget, phase) = clock.budget().map_err(HttpError::Timeout)?;
        sock.deadline = deadline(Instant::now(), budget);
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(match HttpError::from_io(e, phase) {
                // EOF before the handshake completed: the peer hung up before any response.
                HttpError::Incomplete => HttpError::Terminated(io::ErrorKind::UnexpectedEof.into()),
                other => other,
            });
        }
    }
    Ok(rustls::StreamOwned::new(conn, sock))
}

/// The name rustls verifies the certificate against (and sends as SNI for DNS names).
pub(crate) fn tls_server_name(host: &Host) -> Result<ServerName<'static>, HttpError> {
    Ok(match host {
        Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|_| HttpError::InvalidUrl("host is not a valid TLS server name"))?,
        Host::V4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
        Host::V6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// An embedder's "no timeout" (`Duration::MAX`) must neither panic nor fire at once.
    #[test]
    fn huge_timeouts_mean_practically_never() {
        let mut clock = Clock::start(Duration::MAX, Duration::MAX);
        clock.arm_header(Duration::MAX);
        let (budget, _) = clock.budget().unwrap();
        assert!(budget > Duration::from_secs(3600));
    }

    /// The first bound to expire is the one blamed.
    #[test]
    fn budget_names_the_tightest_phase() {
        let mut clock = Clock::start(Duration::from_secs(30), Duration::from_secs(10));
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::Idle);
        clock.arm_header(Duration::from_secs(1));
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::ResponseHeader);
        let clock = Clock::start(Duration::ZERO, Duration::from_secs(10));
        assert_eq!(clock.budget(), Err(TimeoutPhase::Total));
    }
}
