//! One TCP connect attempt, bounded by a budget and ended early by an interrupt.
//!
//! std's `TcpStream::connect_timeout` blocks in one uninterruptible wait. On Linux the connect
//! is started non-blocking (rustix, already in wasmtime's tree) and awaited with `poll` in
//! slices of at most [`SLICE`], the interrupt checked before each. Elsewhere the attempt is
//! std's, and an interrupt is noticed when it ends (at the latest after the connect timeout).

use crate::control::{Interrupt, SLICE};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connects to `addr` within `budget`, unless `interrupt` is set first.
#[cfg(target_os = "linux")]
pub(super) fn connect(
    addr: &SocketAddr,
    budget: Duration,
    interrupt: &Interrupt,
) -> io::Result<TcpStream> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto, sockopt};
    use std::time::Instant;

    interrupt.check()?;
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        Some(ipproto::TCP),
    )?;
    match rustix::net::connect(&fd, addr) {
        Ok(()) => {}
        Err(e) if e == Errno::INPROGRESS || e == Errno::INTR => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = Instant::now() + budget;
    loop {
        interrupt.check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let slice = Timespec::try_from(left.min(SLICE)).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
        match poll(&mut fds, Some(&slice)) {
            Ok(0) => continue,
            Ok(_) => break,
            Err(e) if e == Errno::INTR => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // Writable means the attempt finished: SO_ERROR says how.
    if let Err(e) = sockopt::socket_error(&fd)? {
        return Err(e.into());
    }
    let tcp = TcpStream::from(fd);
    tcp.set_nonblocking(false)?;
    Ok(tcp)
}

/// Connects to `addr` within `budget`; the interrupt is checked before the attempt only.
#[cfg(not(target_os = "linux"))]
pub(super) fn connect(
    addr: &SocketAddr,
    budget: Duration,
    interrupt: &Interrupt,
) -> io::Result<TcpStream> {
    interrupt.check()?;
    TcpStream::connect_timeout(addr, budget)
}
