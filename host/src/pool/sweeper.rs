//! The process's one pool sweeper: a thread that runs while some pool holds idle connections,
//! closing the expired ones every [`SWEEP_EVERY`], and ends when none does. No thread per
//! context, and none at all for an embedder whose pools stay empty.

use super::{Inner, SWEEP_EVERY};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::thread;

struct State {
    pools: Vec<Weak<Inner>>,
    running: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    pools: Vec::new(),
    running: false,
});

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called after a connection was put into `pool`: makes sure the sweeper will look at it.
pub(super) fn watch(pool: &Arc<Inner>) {
    let mut state = lock();
    if !pool.watched.swap(true, Ordering::SeqCst) {
        state.pools.push(Arc::downgrade(pool));
    }
    if !state.running {
        let started = thread::Builder::new()
            .name("wasi-http-pool-sweeper".into())
            .spawn(run);
        // Without the thread, expired connections are still closed by the pool's own
        // operations; only the bound after the last one is lost.
        state.running = started.is_ok();
    }
}

fn run() {
    // A panic must not leave `running` set with no thread: the next `watch` starts another.
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            if thread::panicking() {
                lock().running = false;
            }
        }
    }
    let _exit = Exit;
    loop {
        thread::sleep(SWEEP_EVERY);
        let mut state = lock();
        // Sweeping under the sweeper's lock: a `watch` that comes meanwhile waits, so a
        // connection pooled after the last look always finds the thread running or starts a
        // new one. Expired sockets are closed after the lock is released.
        let mut idle = 0;
        let mut closed = Vec::new();
        let mut alive = Vec::new();
        state.pools.retain(|pool| match pool.upgrade() {
            Some(pool) => {
                let (expired, left) = pool.take_expired();
                closed.push(expired);
                if left == 0 {
                    pool.watched.store(false, Ordering::SeqCst);
                }
                idle += left;
                let keep = left > 0;
                // A pool whose last owner is gone is dropped outside the lock too.
                alive.push(pool);
                keep
            }
            None => false,
        });
        let stop = idle == 0;
        if stop {
            // Decided under the lock: a `watch` after this finds `running` cleared and starts
            // a new sweeper.
            state.running = false;
        }
        drop(state);
        drop(closed);
        drop(alive);
        if stop {
            return;
        }
    }
}
