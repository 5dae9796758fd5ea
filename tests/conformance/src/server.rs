//! The kit's loopback server: answers each request it receives with the case's next scripted
//! reply (the last one repeats), records every request, and stops when dropped.
//!
//! It listens on 127.0.0.1 at a port below 10000, so that a case can write the port with a
//! leading zero and still have at most five digits (abi.md, Request URLs, rule 8).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the server does after writing a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Keep the connection open and read the next request.
    KeepOpen,
    /// Keep the connection open and never read or write again (a stalled server).
    Stall,
    /// Close it (FIN).
    Close,
    /// Reset it (RST: SO_LINGER 0, then close), 500 ms after the reply (time for the client to
    /// have read the reply).
    Reset,
}

/// One scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The bytes written.
    pub bytes: Vec<u8>,
    /// Then.
    pub after: After,
    /// Written as soon as the connection is accepted, without waiting for a request (for a
    /// server that does not speak the client's protocol, such as plain HTTP to a TLS client).
    pub unprompted: bool,
}

/// One request as received: the head (through the empty line) and the body.
#[derive(Clone, Debug)]
pub struct Received {
    /// The head's bytes.
    pub head: Vec<u8>,
    /// The body's bytes (Content-Length framed).
    pub body: Vec<u8>,
}

struct Shared {
    stop: AtomicBool,
    replies: Vec<Reply>,
    next: Mutex<usize>,
    received: Mutex<Vec<Received>>,
    accepted: Mutex<usize>,
}

/// A running server.
pub struct Server {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

const POLL: Duration = Duration::from_millis(20);
/// A connection silent this long is dropped by the server.
const IDLE: Duration = Duration::from_secs(30);

fn bind_low_port(seed: u32) -> io::Result<TcpListener> {
    let mut last = None;
    for i in 0..200u32 {
        let port = 2000
            + (seed
                .wrapping_mul(7919)
                .wrapping_add(i.wrapping_mul(104_729)))
                % 7999;
        match TcpListener::bind(("127.0.0.1", port as u16)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port")))
}

impl Server {
    /// Starts a server with `replies`; `seed` varies the port between runs and cases.
    pub fn start(replies: Vec<Reply>, seed: u32) -> io::Result<Server> {
        let listener = bind_low_port(seed)?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            replies,
            next: Mutex::new(0),
            received: Mutex::new(Vec::new()),
            accepted: Mutex::new(0),
        });
        let s = shared.clone();
        let acceptor = thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        *s.accepted.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        let s2 = s.clone();
                        conns.push(thread::spawn(move || serve(stream, &s2)));
                    }
                    Err(_) => thread::sleep(POLL),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Ok(Server {
            port,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self
            .shared
            .accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end of a request head (CRLF CRLF, or LF LF), if complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads one request; `None` when the peer closed, the server stops, or nothing came for
/// [`IDLE`].
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> Option<Received> {
    let mut idle = Duration::ZERO;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = head_end(buf) {
            let len = content_length(&buf[..end]);
            if buf.len() >= end + len {
                let head = buf[..end].to_vec();
                let body = buf[end..end + len].to_vec();
                buf.drain(..end + len);
                return Some(Received { head, body });
            }
        }
        if shared.stop.load(Ordering::SeqCst) || idle >= IDLE {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                idle = Duration::ZERO;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                idle += POLL;
            }
            Err(_) => return None,
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    loop {
        let peek = {
            let next = shared.next.lock().unwrap_or_else(|e| e.into_inner());
            let i = (*next).min(shared.replies.len().saturating_sub(1));
            shared.replies.get(i).is_some_and(|r| r.unprompted)
        };
        if !peek {
            let Some(req) = read_request(&mut stream, &mut buf, shared) else {
                return;
            };
            shared
                .received
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(req);
        }
        let reply = {
            let mut next = shared.next.lock().unwrap_or_else(|e| e.into_inner());
            let i = (*next).min(shared.replies.len().saturating_sub(1));
            *next += 1;
            shared.replies.get(i).cloned()
        };
        let Some(reply) = reply else { return };
        if stream.write_all(&reply.bytes).is_err() {
            return;
        }
        let _ = stream.flush();
        match reply.after {
            After::KeepOpen => {}
            After::Stall => {
                while !shared.stop.load(Ordering::SeqCst) {
                    thread::sleep(POLL);
                }
                return;
            }
            After::Close => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            After::Reset => {
                thread::sleep(Duration::from_millis(500));
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
        }
    }
}
