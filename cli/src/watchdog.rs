//! The `--wall-timeout` watchdog: a thread that sleeps until the end of the guest's wall-clock
//! budget, then stops the guest twice over: an epoch tick for running wasm (the store's epoch
//! deadline is one tick, so the guest traps at its next epoch check) and an interrupt for its
//! HTTP calls (the pending one returns `interrupted`, every later one fails at once). A run that
//! finishes first cancels it; it never outlives the run.

use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use wasi_experimental_http_host::InterruptHandle;
use wasmtime::Engine;

/// A running watchdog; [`Watchdog::stop`] (or dropping it) cancels and joins the thread.
#[derive(Debug)]
pub(crate) struct Watchdog {
    /// The end of the budget.
    deadline: Instant,
    /// Dropping it wakes the thread, which then returns without firing.
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the thread. The store of `engine` must have epoch interruption configured and an
    /// epoch deadline of one tick; `http` is the interrupt handle of that store's `HttpCtx`.
    pub(crate) fn start(
        deadline: Instant,
        engine: Engine,
        http: InterruptHandle,
    ) -> io::Result<Watchdog> {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("wall-timeout".to_owned())
            .spawn(move || {
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match cancelled.recv_timeout(left) {
                        // Cancelled: the run finished within the budget.
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        // Never fire early, whatever the timer's granularity.
                        Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                        Err(RecvTimeoutError::Timeout) => break,
                    }
                }
                log::debug!("wall-clock budget reached: stopping the guest");
                engine.increment_epoch();
                http.interrupt();
            })?;
        Ok(Watchdog {
            deadline,
            cancel: Some(cancel),
            thread: Some(thread),
        })
    }

    /// Cancels the watchdog (if it has not fired yet), waits for its thread, and says whether
    /// the budget ran out before the guest's run returned at `finished`. A guest the watchdog
    /// stopped always returns after the deadline, and so does one whose HTTP call ended with
    /// `deadline_exceeded` at the budget (the store's HTTP deadline is the same instant); a
    /// run that returned earlier finished in time, even if the thread fired before it was
    /// cancelled.
    pub(crate) fn stop(mut self, finished: Instant) -> bool {
        self.shutdown();
        finished >= self.deadline
    }

    fn shutdown(&mut self) {
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::debug!("the wall-timeout watchdog thread panicked");
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test, which is what we want.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Duration;

    fn http_handle() -> InterruptHandle {
        wasi_experimental_http_host::HttpCtx::new(None, None)
            .unwrap()
            .interrupt_handle()
    }

    #[test]
    fn fires_at_the_deadline_and_interrupts_http() {
        let http = http_handle();
        let deadline = Instant::now() + Duration::from_millis(50);
        let dog = Watchdog::start(deadline, Engine::default(), http.clone()).unwrap();
        while !http.is_interrupted() {
            assert!(
                Instant::now() < deadline + Duration::from_secs(5),
                "never fired"
            );
            thread::sleep(Duration::from_millis(5));
        }
        assert!(Instant::now() >= deadline);
        assert!(dog.stop(Instant::now()));
    }

    #[test]
    fn cancelled_before_the_deadline_it_never_fires_and_stops_at_once() {
        let http = http_handle();
        let deadline = Instant::now() + Duration::from_secs(60);
        let dog = Watchdog::start(deadline, Engine::default(), http.clone()).unwrap();
        let t = Instant::now();
        assert!(!dog.stop(Instant::now()));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!http.is_interrupted());
    }

    #[test]
    fn a_run_returning_after_the_deadline_is_a_timeout() {
        let deadline = Instant::now();
        let dog = Watchdog::start(deadline, Engine::default(), http_handle()).unwrap();
        assert!(dog.stop(deadline + Duration::from_millis(1)));
    }
}
