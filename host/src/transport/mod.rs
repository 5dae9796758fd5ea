//! The only module that owns sockets and clocks: resolution, connect, TLS, and reads/writes
//! under per-phase deadlines. Reads and writes return their failures unclassified
//! ([`IoFailure`]): the caller knows how far the exchange got and classifies them with
//! `HttpError::from_io`.

mod clock;
mod connect;
mod proxy;
mod tls;

pub(crate) use clock::Clock;
pub(crate) use proxy::{Proxies, ProxySettings};
pub(crate) use tls::{Roots, server_name as tls_server_name};

use crate::audit::Phases;
use crate::config::READ_CHUNK;
use crate::control::{Interrupt, SLICE};
use crate::error::{HttpError, IoFailure, TimeoutPhase};
use crate::policy::{AddressPolicy, Admission, OriginPattern};
use crate::url::{Host, Origin, Scheme, UrlError};
use clock::deadline;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Resolves a host name and port to addresses.
pub(crate) type Resolver = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// Name resolution through the system resolver (`std::net::ToSocketAddrs`).
pub(crate) fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// Where a request goes: the origin, and for `https` the name its certificate is verified
/// against, computed once when the request is prepared.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Scheme, host and port.
    pub(crate) origin: Origin,
    /// `Some` exactly for `https`.
    tls_name: Option<ServerName<'static>>,
    /// The egress proxy the request goes through, if any (`Proxies::route`).
    pub(crate) via: Option<Arc<proxy::Proxy>>,
}

impl Endpoint {
    /// An endpoint for `origin`; an `https` host rustls cannot verify is refused here, before
    /// DNS or connect.
    pub(crate) fn new(origin: Origin) -> Result<Endpoint, UrlError> {
        let tls_name = match origin.scheme {
            Scheme::Https => Some(tls_server_name(&origin.host)?),
            Scheme::Http => None,
        };
        Ok(Endpoint {
            origin,
            tls_name,
            via: None,
        })
    }
}

/// What connecting needs, and nothing more: how to resolve, which addresses are permitted,
/// the TLS configuration, and the connect timeout per address.
pub(crate) struct Dialer {
    /// Name resolution.
    pub(crate) resolver: Box<Resolver>,
    /// Which resolved addresses may be connected to.
    pub(crate) address_policy: AddressPolicy,
    /// Shared by every TLS connection to an origin without a client certificate.
    pub(crate) tls: Arc<rustls::ClientConfig>,
    /// For origins matching a pattern, the configuration presenting its client certificate
    /// (the first matching pattern wins). Each has its own session cache, so a session made
    /// with one identity is never resumed for another.
    pub(crate) identities: Vec<(OriginPattern, Arc<rustls::ClientConfig>)>,
    /// Budget of one TCP connect attempt.
    pub(crate) connect_timeout: Duration,
    /// The egress proxies and the targets that bypass them.
    pub(crate) proxies: Proxies,
}

/// A TCP socket whose every read and write is bounded by one deadline, re-armed before each
/// system call. rustls may make several socket calls inside one `read` or `write` (a record
/// arriving a byte at a time); the deadline bounds all of them together, so a dripping peer
/// cannot stretch one TLS call past the phase's budget. Each wait is cut into slices of at most
/// [`SLICE`], with the interrupt checked before each.
pub(crate) struct Socket {
    tcp: TcpStream,
    deadline: Instant,
    interrupt: Interrupt,
    /// The receive and send timeouts last set on the socket: a slice is nearly always the full
    /// [`SLICE`], and setting an unchanged timeout again would cost a system call
    /// per read and per write.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl Socket {
    fn new(tcp: TcpStream, interrupt: Interrupt) -> Socket {
        Socket {
            tcp,
            deadline: Instant::now(),
            interrupt,
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Sets the receive timeout to `slice`, unless it is set to that already.
    fn set_read_slice(&mut self, slice: Duration) -> io::Result<()> {
        let tcp = &self.tcp;
        set_once(&mut self.read_timeout, slice, |t| tcp.set_read_timeout(t))
    }

    /// Sets the send timeout to `slice`, unless it is set to that already.
    fn set_write_slice(&mut self, slice: Duration) -> io::Result<()> {
        let tcp = &self.tcp;
        set_once(&mut self.write_timeout, slice, |t| tcp.set_write_timeout(t))
    }

    /// The next slice of the wait: an error if interrupted or past the deadline.
    fn slice(&self) -> io::Result<Duration> {
        self.interrupt.check()?;
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left.min(SLICE))
    }
}

/// Calls `set` with `slice` unless `last` says it is set already, and remembers it. A failed
/// call forgets the value, so that the next call sets it again.
fn set_once(
    last: &mut Option<Duration>,
    slice: Duration,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    if *last != Some(slice) {
        *last = None;
        set(Some(slice))?;
        *last = Some(slice);
    }
    Ok(())
}

/// Whether a socket call ran out of its slice: the wait goes on with the next slice. On unix an
/// expired socket timeout is `EAGAIN` (`WouldBlock`), and `ETIMEDOUT` (`TimedOut`) is the
/// kernel giving up on the connection, a real failure; Windows reports the timeout as
/// `TimedOut`.
fn slice_expired(e: &io::Error) -> bool {
    match e.kind() {
        io::ErrorKind::WouldBlock => true,
        io::ErrorKind::TimedOut => cfg!(windows),
        _ => false,
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let slice = self.slice()?;
            self.set_read_slice(slice)?;
            match self.tcp.read(buf) {
                Err(e) if slice_expired(&e) => continue,
                other => return other,
            }
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let slice = self.slice()?;
            self.set_write_slice(slice)?;
            match self.tcp.write(buf) {
                Err(e) if slice_expired(&e) => continue,
                other => return other,
            }
        }
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
    /// The store that sent a request body on this connection, if any: only that store may reuse
    /// it (`abi.md`, "Connection reuse and retries").
    pub(crate) owner: Option<u64>,
}

impl Conn {
    fn new(stream: Stream, origin: &Origin) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_CHUNK],
            pos: 0,
            end: 0,
            origin: origin.clone(),
            owner: None,
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
        let socket = self.stream.socket();
        socket.deadline = deadline_at;
        socket.interrupt.clone_from(&clock.interrupt);
        phase
    }

    /// Reads once more into the buffer; 0 means EOF.
    pub(crate) fn fill(&mut self, clock: &Clock) -> Result<usize, IoFailure> {
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
            .map_err(|error| IoFailure { error, phase })?;
        self.end += n;
        Ok(n)
    }

    /// Reads straight into the caller's buffer (the guest's memory): the copy-once path.
    pub(crate) fn read_direct(
        &mut self,
        out: &mut [u8],
        clock: &Clock,
    ) -> Result<usize, IoFailure> {
        let phase = self.arm(clock);
        self.stream
            .read(out)
            .map_err(|error| IoFailure { error, phase })
    }

    /// Writes everything, re-arming the deadline before each partial write.
    pub(crate) fn write_all(&mut self, mut data: &[u8], clock: &Clock) -> Result<(), IoFailure> {
        while !data.is_empty() {
            let phase = self.arm(clock);
            match self.stream.write(data) {
                Ok(0) => {
                    let error = io::ErrorKind::WriteZero.into();
                    return Err(IoFailure { error, phase });
                }
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(IoFailure { error, phase }),
            }
        }
        let phase = self.arm(clock);
        self.stream
            .flush()
            .map_err(|error| IoFailure { error, phase })
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
        socket_is_quiet(&self.stream.socket().tcp)
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

/// Whether an idle socket has nothing to read and is not closed: a peek that would block.
/// On Linux one `recv(MSG_PEEK | MSG_DONTWAIT)`; elsewhere the socket is made non-blocking
/// around a peek (three system calls).
#[cfg(target_os = "linux")]
fn socket_is_quiet(tcp: &TcpStream) -> bool {
    use rustix::net::{RecvFlags, recv};
    matches!(
        recv(tcp, &mut [0u8; 1], RecvFlags::PEEK | RecvFlags::DONTWAIT),
        Err(rustix::io::Errno::AGAIN)
    )
}

#[cfg(not(target_os = "linux"))]
fn socket_is_quiet(tcp: &TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let peeked = tcp.peek(&mut [0u8; 1]);
    let restored = tcp.set_nonblocking(false).is_ok();
    restored && matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl Dialer {
    /// The TLS configuration for `origin`: the one presenting its client certificate, if a
    /// pattern binds one, else the shared one. Direct and proxied connections alike.
    pub(crate) fn tls_for(&self, origin: &Origin) -> &Arc<rustls::ClientConfig> {
        self.identities
            .iter()
            .find(|(pattern, _)| pattern.matches(origin))
            .map_or(&self.tls, |(_, config)| config)
    }

    /// Opens a connection for `endpoint`: through its egress proxy if it has one, else
    /// directly.
    pub(crate) fn connect(
        &self,
        endpoint: &Endpoint,
        admission: &Admission,
        clock: &mut Clock,
        phases: &mut Phases,
    ) -> Result<Conn, HttpError> {
        match &endpoint.via {
            Some(via) => proxy::connect(self, via, endpoint, admission, clock, phases),
            None => self.connect_direct(endpoint, admission, clock, phases),
        }
    }

    /// Resolves, applies the address policy to each address, connects to the first permitted
    /// address that answers, and completes the TLS handshake for `https`. Arms the clock's
    /// response-header deadline once TCP is connected (the handshake counts toward it).
    /// Records the time of each phase in `phases`.
    fn connect_direct(
        &self,
        endpoint: &Endpoint,
        admission: &Admission,
        clock: &mut Clock,
        phases: &mut Phases,
    ) -> Result<Conn, HttpError> {
        let origin = &endpoint.origin;
        let addrs: Vec<SocketAddr> = match &origin.host {
            Host::V4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), origin.port)],
            Host::V6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), origin.port)],
            Host::Name(name) => {
                let began = Instant::now();
                let resolved = (self.resolver)(name, origin.port);
                phases.dns = Some(began.elapsed());
                // Nor can it be interrupted: an interrupt that came meanwhile is honoured as
                // soon as it returns.
                if clock.interrupt.is_set() {
                    return Err(HttpError::Interrupted);
                }
                // The system resolver cannot be interrupted; its time still counts. Once the
                // deadline has passed, that is the failure, whatever the resolver answered: a
                // slow failure is a timeout first.
                if clock.total_left().is_zero() {
                    return Err(HttpError::Timeout(TimeoutPhase::Total));
                }
                // The port is the URL's, whatever a custom resolver put in its answers.
                resolved
                    .map_err(HttpError::Dns)?
                    .into_iter()
                    .map(|a| SocketAddr::new(a.ip(), origin.port))
                    .collect()
            }
        };
        if addrs.is_empty() {
            return Err(HttpError::Dns(io::Error::other("no addresses")));
        }
        let first = addrs.first().map(SocketAddr::ip);
        let permitted: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| self.address_policy.permits(a.ip(), admission))
            .collect();
        if let (true, Some(first)) = (permitted.is_empty(), first) {
            return Err(HttpError::AddressProhibited(first));
        }
        let began = Instant::now();
        let mut last = HttpError::ConnectionRefused;
        let mut tcp = None;
        for addr in permitted {
            let left = clock.total_left();
            if left.is_zero() {
                return Err(clock.expired(TimeoutPhase::Total));
            }
            // On a tie the overall deadline is blamed (`abi.md`, Precedence).
            let (budget, phase) = if left <= self.connect_timeout {
                (left, TimeoutPhase::Total)
            } else {
                (self.connect_timeout, TimeoutPhase::Connect)
            };
            match connect::connect(&addr, budget, &clock.interrupt) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => {
                    log::debug!("connect to {addr} failed: {e}");
                    last = HttpError::from_connect(e, phase);
                    // Where the connect wait cannot be interrupted (not Linux), an interrupt
                    // that came meanwhile is honoured when the attempt ends, whatever its
                    // outcome (`abi.md`, "Interrupts and the embedder's deadline").
                    if matches!(last, HttpError::Interrupted) || clock.interrupt.is_set() {
                        return Err(HttpError::Interrupted);
                    }
                }
            }
        }
        phases.connect = Some(began.elapsed());
        let tcp = tcp.ok_or(last)?;
        // Requests are written whole; Nagle would only delay the last segment.
        tcp.set_nodelay(true).map_err(HttpError::Io)?;
        clock.arm_header();
        let stream = match &endpoint.tls_name {
            None => Stream::Plain(Socket::new(tcp, clock.interrupt.clone())),
            Some(name) => {
                let began = Instant::now();
                let handshake = tls::handshake(self.tls_for(origin), name.clone(), tcp, clock);
                phases.tls = Some(began.elapsed());
                Stream::Tls(Box::new(handshake?))
            }
        };
        Ok(Conn::new(stream, origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket's timeout is set once per value (a syscall saved per read and write), set
    /// again when the slice changes, and again after a failed attempt.
    #[test]
    fn a_timeout_is_set_once_per_value_and_again_after_a_failure() {
        let (mut last, mut calls) = (None, Vec::new());
        let ten = Duration::from_millis(10);
        let three = Duration::from_millis(3);
        for slice in [ten, ten, three, three, ten] {
            set_once(&mut last, slice, |t| {
                calls.push(t);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(calls, [Some(ten), Some(three), Some(ten)]);
        let failed = set_once(&mut last, three, |_| Err(io::ErrorKind::Other.into()));
        assert!(failed.is_err());
        assert_eq!(last, None, "a failed set is forgotten");
        set_once(&mut last, three, |t| {
            calls.push(t);
            Ok(())
        })
        .unwrap();
        assert_eq!(calls.len(), 4, "set again after the failure");
    }
}
