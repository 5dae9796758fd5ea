//! Idle keep-alive connections, keyed by origin, shared by every store built from one
//! configuration (see `HttpCtx::new_sibling`).

use crate::config::PoolConfig;
use crate::transport::Conn;
use crate::url::Origin;
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod sweeper;

/// How often the sweeper closes expired idle connections: an idle connection is closed at most
/// this long after its idle timeout, even if no store touches the pool again.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A bounded list of idle connections, newest last. A linear scan over at most
/// `max_idle_total` entries is simpler to audit than a map and fast at these sizes.
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    config: PoolConfig,
    idle: Mutex<VecDeque<(Conn, Instant)>>,
    /// Whether the sweeper knows this pool.
    watched: AtomicBool,
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                config,
                idle: Mutex::new(VecDeque::new()),
                watched: AtomicBool::new(false),
            }),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, VecDeque<(Conn, Instant)>> {
        // A panic elsewhere while holding the lock leaves a list of connections, still valid.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the expired idle connections out (the caller closes them, outside its locks);
    /// also the number left idle.
    fn take_expired(&self) -> (Vec<(Conn, Instant)>, usize) {
        let mut idle = self.lock();
        let expired = self.pop_expired(&mut idle);
        (expired, idle.len())
    }

    /// Removes the connections idle for too long. Entries are pushed in time order and only
    /// ever removed, so the expired ones are exactly a prefix: no scan, no allocation when
    /// none expired.
    fn pop_expired(&self, idle: &mut VecDeque<(Conn, Instant)>) -> Vec<(Conn, Instant)> {
        let now = Instant::now();
        let mut expired = Vec::new();
        while idle
            .front()
            .is_some_and(|(_, since)| now.duration_since(*since) >= self.config.idle_timeout)
        {
            expired.extend(idle.pop_front());
        }
        expired
    }
}

impl Pool {
    /// The most recently used healthy connection to `origin` that `store` may use (one that
    /// carried no request body, or carried only `store`'s), if any. Expired and dead
    /// connections met on the way are dropped.
    pub(crate) fn take(&self, origin: &Origin, store: u64) -> Option<Conn> {
        loop {
            // Only list surgery under the lock; closing sockets and health-check syscalls run
            // outside it, so sibling stores on other threads do not queue behind them.
            let (candidate, expired) = {
                let mut idle = self.inner.lock();
                let expired = self.inner.pop_expired(&mut idle);
                let candidate = idle
                    .iter()
                    .rposition(|(c, _)| {
                        c.origin == *origin && c.owner.is_none_or(|owner| owner == store)
                    })
                    .and_then(|i| idle.remove(i));
                (candidate, expired)
            };
            drop(expired);
            let (mut conn, _) = candidate?;
            if conn.is_idle_healthy() {
                return Some(conn);
            }
        }
    }

    /// Keeps a connection whose response was read to its framed end and that neither side
    /// asked to close, if it is still clean (the one gate for pool entry). The oldest
    /// connection makes room when a bound is reached; evicted sockets close outside the lock.
    pub(crate) fn put(&self, mut conn: Conn) {
        if self.inner.config.max_idle_total == 0 || self.inner.config.max_idle_per_origin == 0 {
            return;
        }
        if !conn.is_idle_healthy() {
            return;
        }
        conn.shrink();
        let mut evicted = Vec::new();
        {
            let mut idle = self.inner.lock();
            let same = idle.iter().filter(|(c, _)| c.origin == conn.origin).count();
            if same >= self.inner.config.max_idle_per_origin
                && let Some(i) = idle.iter().position(|(c, _)| c.origin == conn.origin)
            {
                evicted.extend(idle.remove(i));
            }
            if idle.len() >= self.inner.config.max_idle_total {
                evicted.extend(idle.pop_front());
            }
            idle.push_back((conn, Instant::now()));
        }
        drop(evicted);
        sweeper::watch(&self.inner);
    }

    /// Number of idle connections (for tests and metrics).
    pub(crate) fn idle_count(&self) -> usize {
        self.inner.lock().len()
    }
}
