//! The embedder's controls over a call (`abi.md`, "Interrupts and the embedder's deadline"):
//! the interrupt flag that ends every wait it is attached to, and the deadline that caps them;
//! [`Controls`] carries both, for requests and body reads alike, and for the audit log's wait
//! for room in its queue.
//!
//! Waits are cut into slices of at most [`SLICE`]; the flag is checked before each slice, so an
//! interrupt set from another thread ends a blocked read, write, connect or audit-log wait within one slice,
//! with no signal, no extra file descriptor and no thread to wake it.

use crate::error::Interrupted;
use crate::error_code::ErrorCode;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest a blocked wait goes without looking at its interrupt. 10 ms keeps the interrupt
/// latency far below the promised 50 ms, at the cost of 100 wake-ups a second for a wait on a
/// silent peer (a busy connection never reaches the end of a slice).
pub(crate) const SLICE: Duration = Duration::from_millis(10);

/// An interrupt flag, optionally chained to a parent: set when it or any ancestor is set.
/// A store's context owns the root; a call that must be cancellable on its own (an async call
/// whose future may be dropped) gets a child.
#[derive(Clone, Default)]
pub(crate) struct Interrupt(Arc<Node>);

#[derive(Default)]
struct Node {
    set: AtomicBool,
    parent: Option<Interrupt>,
}

impl Interrupt {
    /// A flag that is set when `self` is, and can also be set on its own.
    #[cfg_attr(
        not(feature = "async"),
        allow(dead_code, reason = "used by the async entry points")
    )]
    pub(crate) fn child(&self) -> Interrupt {
        Interrupt(Arc::new(Node {
            set: AtomicBool::new(false),
            parent: Some(self.clone()),
        }))
    }

    /// Sets this flag (not its parent).
    pub(crate) fn set(&self) {
        self.0.set.store(true, Ordering::SeqCst);
    }

    /// Clears this flag (not its parent).
    pub(crate) fn clear(&self) {
        self.0.set.store(false, Ordering::SeqCst);
    }

    /// Whether this flag or an ancestor is set.
    pub(crate) fn is_set(&self) -> bool {
        let mut node = &self.0;
        loop {
            if node.set.load(Ordering::SeqCst) {
                return true;
            }
            match &node.parent {
                Some(p) => node = &p.0,
                None => return false,
            }
        }
    }

    /// `Err(interrupted)` if set: the check made before each slice of a wait.
    pub(crate) fn check(&self) -> io::Result<()> {
        if self.is_set() {
            return Err(io::Error::other(Interrupted));
        }
        Ok(())
    }
}

/// What a call runs under: the store's interrupt (or a child of it, for one async call) and the
/// embedder's deadline (`HttpCtx::set_deadline`), as they were when the call began.
#[derive(Debug, Clone, Default)]
pub(crate) struct Controls {
    /// Ends every wait of the call when set.
    pub(crate) interrupt: Interrupt,
    /// The embedder's cap on every wait of the call.
    pub(crate) deadline: Option<Instant>,
}

impl Controls {
    /// The same controls with an interrupt of their own, a child of this one: for an async
    /// call, which dropping its future cancels alone.
    #[cfg_attr(
        not(feature = "async"),
        allow(dead_code, reason = "used by the async entry points")
    )]
    pub(crate) fn child(&self) -> Controls {
        Controls {
            interrupt: self.interrupt.child(),
            deadline: self.deadline,
        }
    }

    /// The code a wait must end with now, if any: `interrupted` when the interrupt is set
    /// (checked first, as in every network wait), `deadline_exceeded` when the deadline passed.
    pub(crate) fn stopped(&self) -> Option<ErrorCode> {
        if self.interrupt.is_set() {
            return Some(ErrorCode::Interrupted);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Some(ErrorCode::DeadlineExceeded),
            _ => None,
        }
    }
}

impl fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Interrupt").field(&self.is_set()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_see_their_parents() {
        let root = Interrupt::default();
        let child = root.child();
        assert!(!child.is_set());
        child.set();
        assert!(
            child.is_set() && !root.is_set(),
            "a child does not set its parent"
        );
        child.clear();
        root.set();
        assert!(child.is_set());
        let e = child.check().unwrap_err();
        assert!(e.get_ref().is_some_and(|i| i.is::<Interrupted>()));
        root.clear();
        assert!(child.check().is_ok());
    }

    #[test]
    fn controls_stop_on_the_interrupt_first_then_the_deadline() {
        let passed = Controls {
            deadline: Some(Instant::now()),
            ..Controls::default()
        };
        assert_eq!(passed.stopped(), Some(ErrorCode::DeadlineExceeded));
        passed.interrupt.set();
        assert_eq!(passed.stopped(), Some(ErrorCode::Interrupted));
        let later = Controls {
            deadline: Some(Instant::now() + Duration::from_secs(60)),
            ..Controls::default()
        };
        assert_eq!(later.stopped(), None);
        assert_eq!(later.child().stopped(), None);
    }
}
