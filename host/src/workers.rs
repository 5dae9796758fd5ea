//! A small bounded pool of worker threads for the async entry points, completed through
//! `std::task::Waker`: no async runtime (`ARCHITECTURE.md`, "Async embedding").
//!
//! A blocking network call of an async guest runs here, so the executor thread that polls the
//! guest's future is never blocked. Threads start on demand up to a maximum, and end after
//! [`IDLE_EXIT`] without work; with none busy the pool costs nothing. Jobs beyond the maximum
//! wait in a queue, in order.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

/// How long an idle worker waits for a job before its thread ends.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// A queued job: called with `true` to run it, `false` to complete it unrun (no thread could
/// be started for it).
type Job = Box<dyn FnOnce(bool) + Send>;

/// The pool. Shared by every store of one configuration.
pub(crate) struct Workers {
    max: usize,
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl Workers {
    /// A pool of at most `max` threads (at least one); none is started yet.
    pub(crate) fn new(max: usize) -> Arc<Workers> {
        Arc::new(Workers {
            max: max.max(1),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and cannot poison it; a poisoned lock still holds a
        // consistent queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a worker. The returned future completes with its result (`None` if the job
    /// panicked); dropping the future calls `on_drop`, which should make the job end promptly
    /// (e.g. set its interrupt). A job whose future is dropped before a worker took it is
    /// dropped at once, with everything it owns (a request body's copy, a connection): it
    /// does not wait in the queue for a worker to skip it.
    pub(crate) fn spawn<R: Send + 'static, F: FnOnce() -> R + Send + 'static>(
        self: &Arc<Self>,
        job: F,
        on_drop: impl FnOnce() + Send + 'static,
    ) -> Completion<R> {
        let slot = Arc::new(Mutex::new(Slot {
            result: None,
            waker: None,
        }));
        let filled = slot.clone();
        // Taken by the worker that runs it, or by the future's drop if that comes first.
        let work = Arc::new(Mutex::new(Some(job)));
        let queued = work.clone();
        let job: Job = Box::new(move |run| {
            let job = lock(&queued).take();
            let result = match job {
                Some(job) if run => {
                    let result = catch_unwind(AssertUnwindSafe(job)).ok();
                    if result.is_none() {
                        log::error!(
                            "an HTTP worker job panicked; the call fails with runtime_error"
                        );
                    }
                    result
                }
                // Cancelled (already dropped), or no thread could run it.
                _ => None,
            };
            let waker = {
                let mut slot = filled.lock().unwrap_or_else(|e| e.into_inner());
                slot.result = Some(result);
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        let start_thread = {
            let mut state = self.lock();
            state.queue.push_back(job);
            // Each queued job claims an idle worker; start one more if none is left over.
            let start = state.queue.len() > state.idle && state.threads < self.max;
            if start {
                state.threads += 1;
            }
            start
        };
        if start_thread {
            let pool = self.clone();
            let spawned = thread::Builder::new()
                .name("wasi-http-worker".into())
                .spawn(move || pool.run());
            if spawned.is_err() {
                log::warn!("could not start an HTTP worker thread");
                let stranded = {
                    let mut state = self.lock();
                    state.threads -= 1;
                    // With no thread at all, nothing would ever run the queue: complete its
                    // jobs unrun (their calls fail with runtime_error) rather than hang them.
                    if state.threads == 0 {
                        std::mem::take(&mut state.queue)
                    } else {
                        VecDeque::new()
                    }
                };
                for job in stranded {
                    job(false);
                }
            }
        }
        self.work.notify_one();
        Completion {
            slot,
            on_drop: Some(Box::new(move || {
                // Not started yet: drop it here (a running job is the worker's to finish).
                drop(lock(&work).take());
                on_drop();
            })),
        }
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job(true);
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }

    /// Threads currently alive (for tests).
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

/// Locks a job's cell. Nothing panics while it is held (the job runs after it is taken out).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Slot<R> {
    /// `Some(None)`: the job panicked.
    result: Option<Option<R>>,
    waker: Option<Waker>,
}

/// The result of a job on a worker, as a future. `None` if the job panicked.
pub(crate) struct Completion<R> {
    slot: Arc<Mutex<Slot<R>>>,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl<R> Future for Completion<R> {
    type Output = Option<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<R> Drop for Completion<R> {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Polls `f` on this thread until ready, asserting the waker was used.
    fn block_on<R>(mut f: Completion<R>) -> Option<R> {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut f).poll(&mut cx) {
                return r;
            }
            while !flag.0.swap(false, Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[test]
    fn runs_jobs_and_wakes_the_waiter() {
        let pool = Workers::new(2);
        let f = pool.spawn(|| 40 + 2, || {});
        assert_eq!(block_on(f), Some(42));
    }

    #[test]
    fn at_most_max_threads_and_jobs_queue_in_order() {
        let pool = Workers::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let futures: Vec<_> = (0..8)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                pool.spawn(
                    move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    },
                    || {},
                )
            })
            .collect();
        let results: Vec<_> = futures.into_iter().map(block_on).collect();
        assert_eq!(results, (0..8).map(Some).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert!(pool.threads() <= 2);
    }

    #[test]
    fn a_panicking_job_completes_with_none_and_the_pool_lives_on() {
        let pool = Workers::new(1);
        let f = pool.spawn(|| -> u8 { panic!("job panics") }, || {});
        assert_eq!(block_on(f), None);
        assert_eq!(block_on(pool.spawn(|| 7, || {})), Some(7));
    }

    #[test]
    fn a_job_whose_future_was_dropped_before_it_started_is_skipped() {
        let pool = Workers::new(1);
        let ran = Arc::new(AtomicBool::new(false));
        let busy = pool.spawn(|| thread::sleep(Duration::from_millis(100)), || {});
        let r = ran.clone();
        drop(pool.spawn(move || r.store(true, Ordering::SeqCst), || {}));
        assert_eq!(block_on(busy), Some(()));
        assert_eq!(block_on(pool.spawn(|| 1, || {})), Some(1));
        assert!(!ran.load(Ordering::SeqCst), "the dropped job ran");
    }

    /// What a cancelled job owns (for the async `req`, the copy of the request body) goes with
    /// the cancellation, not when a worker gets round to the queued job.
    #[test]
    fn a_job_cancelled_in_the_queue_drops_what_it_owns_at_once() {
        let pool = Workers::new(1);
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let gate = release.clone();
        let busy = pool.spawn(
            move || {
                let (open, cv) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
            },
            || {},
        );
        let body = Arc::new(vec![7u8; 1 << 20]);
        let weak = Arc::downgrade(&body);
        let queued = pool.spawn(move || body.len(), || {});
        assert!(weak.upgrade().is_some(), "the queued job holds the body");
        drop(queued);
        assert!(
            weak.upgrade().is_none(),
            "the cancelled job's body outlived the cancellation while the worker was busy"
        );
        *release.0.lock().unwrap() = true;
        release.1.notify_all();
        assert_eq!(block_on(busy), Some(()));
    }

    #[test]
    fn dropping_the_future_calls_on_drop() {
        let pool = Workers::new(1);
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let f = pool.spawn(
            || thread::sleep(Duration::from_millis(10)),
            move || d.store(true, Ordering::SeqCst),
        );
        drop(f);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
