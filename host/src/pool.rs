//! Idle keep-alive connections, keyed by origin, shared by every store built from one
//! configuration (see `HttpCtx::new_sibling`).

use crate::config::PoolConfig;
use crate::transport::Conn;
use crate::url::Origin;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

/// A bounded list of idle connections, newest last. A linear scan over at most
/// `max_idle_total` entries is simpler to audit than a map and fast at these sizes.
pub(crate) struct Pool {
    config: PoolConfig,
    idle: Mutex<VecDeque<(Conn, Instant)>>,
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            config,
            idle: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Conn, Instant)>> {
        // A panic elsewhere while holding the lock leaves a list of connections, still valid.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used healthy connection to `origin` that `store` may use (one that
    /// carried no request body, or carried only `store`'s), if any. Expired and dead
    /// connections met on the way are dropped.
    pub(crate) fn take(&self, origin: &Origin, store: u64) -> Option<Conn> {
        loop {
            // Only list surgery under the lock; closing sockets and health-check syscalls run
            // outside it, so sibling stores on other threads do not queue behind them.
            let (candidate, expired) = {
                let mut idle = self.lock();
                let expired = self.pop_expired(&mut idle);
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

    /// Keeps a connection whose response was read to its framed end and that neither side
    /// asked to close, if it is still clean (the one gate for pool entry). The oldest
    /// connection makes room when a bound is reached; evicted sockets close outside the lock.
    pub(crate) fn put(&self, mut conn: Conn) {
        if self.config.max_idle_total == 0 || self.config.max_idle_per_origin == 0 {
            return;
        }
        if !conn.is_idle_healthy() {
            return;
        }
        conn.shrink();
        let mut evicted = Vec::new();
        {
            let mut idle = self.lock();
            let same = idle.iter().filter(|(c, _)| c.origin == conn.origin).count();
            if same >= self.config.max_idle_per_origin
                && let Some(i) = idle.iter().position(|(c, _)| c.origin == conn.origin)
            {
                evicted.extend(idle.remove(i));
            }
            if idle.len() >= self.config.max_idle_total {
                evicted.extend(idle.pop_front());
            }
            idle.push_back((conn, Instant::now()));
        }
        drop(evicted);
    }

    /// Number of idle connections (for tests and metrics).
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().len()
    }
}
