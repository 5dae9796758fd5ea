//! The deadlines of one request: an overall deadline, a response-header deadline armed when
//! the connection is ready, and an idle bound per wait (`abi.md`, "Timeouts and limits").

use crate::config::Timeouts;
use crate::control::{Controls, Interrupt};
use crate::error::{HttpError, TimeoutPhase};
use std::time::{Duration, Instant};

/// Longest budget the clock represents; larger configured timeouts mean "practically never"
/// rather than overflowing `Instant` (which would be an immediate timeout or a panic).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// `now + budget`, saturating at [`FOREVER`].
pub(crate) fn deadline(now: Instant, budget: Duration) -> Instant {
    now.checked_add(budget.min(FOREVER)).unwrap_or(now)
}

/// The deadlines of one request, and the interrupt that ends its waits. Every read and write
/// re-arms the socket from here.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// The request's own overall deadline (`Timeouts::total` from the start).
    total: Instant,
    /// The embedder's deadline for the store (`HttpCtx::set_deadline`), if any.
    cap: Option<Instant>,
    header: Option<Instant>,
    header_budget: Duration,
    idle: Duration,
    /// Ends every wait of this request when set.
    pub(crate) interrupt: Interrupt,
}

impl Clock {
    /// Starts the overall deadline at `started` (when the call began), under the call's
    /// `controls`: its interrupt, and the embedder's deadline as a cap.
    pub(crate) fn start(timeouts: &Timeouts, started: Instant, controls: &Controls) -> Clock {
        Clock {
            total: deadline(started, timeouts.total),
            cap: controls.deadline,
            header: None,
            header_budget: timeouts.response_header,
            idle: timeouts.idle.min(FOREVER),
            interrupt: controls.interrupt.clone(),
        }
    }

    /// Takes the controls of a later call (a body read): the embedder's deadline may have
    /// changed since, and an async call brings an interrupt of its own.
    pub(crate) fn update(&mut self, controls: &Controls) {
        self.cap = controls.deadline;
        self.interrupt.clone_from(&controls.interrupt);
    }

    /// The overall deadline: the request's, or the embedder's if that comes first.
    fn total(&self) -> Instant {
        self.cap.map_or(self.total, |cap| cap.min(self.total))
    }

    /// Arms the response-header deadline (when the connection is ready for the request).
    pub(crate) fn arm_header(&mut self) {
        self.header = Some(deadline(Instant::now(), self.header_budget));
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
        let left = self.total().saturating_duration_since(now);
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
        self.total().saturating_duration_since(Instant::now())
    }

    /// The failure to report for a timer of `phase` found expired. The interrupt outranks
    /// every timer (`abi.md`, "Interrupts and the embedder's deadline", Precedence): a store
    /// interrupted by the time the host notices is `interrupted`, whatever else expired.
    pub(crate) fn expired(&self, phase: TimeoutPhase) -> HttpError {
        if self.interrupt.is_set() {
            HttpError::Interrupted
        } else {
            HttpError::Timeout(phase)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(total: Duration, header: Duration, idle: Duration) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            response_header: header,
            idle,
            total,
        }
    }

    /// An embedder's "no timeout" (`Duration::MAX`) must neither panic nor fire at once.
    #[test]
    fn huge_timeouts_mean_practically_never() {
        let forever = timeouts(Duration::MAX, Duration::MAX, Duration::MAX);
        let mut clock = Clock::start(&forever, Instant::now(), &Controls::default());
        clock.arm_header();
        let (budget, _) = clock.budget().unwrap();
        assert!(budget > Duration::from_secs(3600));
    }

    /// The first bound to expire is the one blamed.
    #[test]
    fn budget_names_the_tightest_phase() {
        let secs = Duration::from_secs;
        let mut clock = Clock::start(
            &timeouts(secs(30), secs(1), secs(10)),
            Instant::now(),
            &Controls::default(),
        );
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::Idle);
        clock.arm_header();
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::ResponseHeader);
        clock.disarm_header();
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::Idle);
        let clock = Clock::start(
            &timeouts(Duration::ZERO, secs(1), secs(10)),
            Instant::now(),
            &Controls::default(),
        );
        assert_eq!(clock.budget(), Err(TimeoutPhase::Total));
    }

    /// An expired timer found while the store is interrupted is reported as the interrupt.
    #[test]
    fn the_interrupt_outranks_every_expired_timer() {
        let clock = Clock::start(
            &timeouts(Duration::ZERO, Duration::ZERO, Duration::ZERO),
            Instant::now(),
            &Controls::default(),
        );
        for phase in [
            TimeoutPhase::Connect,
            TimeoutPhase::ResponseHeader,
            TimeoutPhase::Idle,
            TimeoutPhase::Total,
        ] {
            assert!(matches!(clock.expired(phase), HttpError::Timeout(p) if p == phase));
            clock.interrupt.set();
            assert!(matches!(clock.expired(phase), HttpError::Interrupted));
            clock.interrupt.clear();
        }
    }

    /// The embedder's deadline caps every phase and is blamed as the overall deadline.
    #[test]
    fn the_embedders_deadline_caps_every_phase() {
        let secs = Duration::from_secs;
        let soon = Instant::now() + Duration::from_millis(200);
        let mut clock = Clock::start(
            &timeouts(secs(30), secs(10), secs(10)),
            Instant::now(),
            &Controls {
                deadline: Some(soon),
                ..Controls::default()
            },
        );
        clock.arm_header();
        let (budget, phase) = clock.budget().unwrap();
        assert!(budget <= Duration::from_millis(200));
        assert_eq!(phase, TimeoutPhase::Total);
        assert!(clock.total_left() <= Duration::from_millis(200));
        clock.update(&Controls {
            deadline: Some(Instant::now()),
            ..Controls::default()
        });
        assert_eq!(clock.budget(), Err(TimeoutPhase::Total));
        clock.update(&Controls::default());
        assert_eq!(clock.budget().unwrap().1, TimeoutPhase::ResponseHeader);
    }
}
