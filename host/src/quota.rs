//! Egress quotas: requests, request bytes sent and response bytes received, over a store's
//! lifetime or per time window, charged before anything is sent (`abi.md`, "Quotas").
//!
//! A [`Quota`] is a set of counters behind an `Arc`: every context it is added to draws on the
//! same counters, so one `Quota` given to the stores of one tenant caps the tenant as a whole,
//! whatever threads they run on. A request is charged to every quota of its context, all or
//! nothing: the charge is checked and taken under each quota's lock, and taken back from the
//! ones already charged if a later one refuses, so concurrent requests never take a quota past
//! its limit.
//!
//! A windowed quota is a token bucket: it holds up to the limit, starts full, and refills
//! continuously at the limit per window. "100 requests per 10 s" admits a burst of 100, then
//! one every 100 ms; over any span `t` it admits at most `100 + 100 * t / 10 s`.

use crate::config::ConfigError;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Most received bytes one body read reserves from a received-bytes quota (`abi.md`, "Quotas"):
/// a reader with a huge buffer must not reserve a shared quota away from its siblings while it
/// waits for the network.
const MAX_READ_RESERVATION: u64 = 64 * 1024;

/// What a [`Quota`] limits; `None` is unlimited. See [`Quota::new`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Requests: `req` calls that passed every other check.
    pub requests: Option<u64>,
    /// Request bytes (`abi.md`, "Quotas"): head and body as serialized, without the fields the
    /// host injects, charged in full, once, when the request is admitted (a retry on a fresh
    /// connection is not charged again).
    pub sent_bytes: Option<u64>,
    /// Response body bytes delivered to the guest by `body_read` (decoded; heads not counted).
    pub received_bytes: Option<u64>,
    /// `None`: the limits hold over the quota's lifetime. `Some(w)`: each is a token bucket
    /// refilling the whole limit per `w`.
    pub window: Option<Duration>,
}

/// Which limit of a quota refused (in audit events, [`crate::DenyReason::Quota`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// [`QuotaLimits::requests`].
    Requests,
    /// [`QuotaLimits::sent_bytes`].
    SentBytes,
    /// [`QuotaLimits::received_bytes`].
    ReceivedBytes,
}

impl QuotaKind {
    /// The name used in audit records: `requests`, `sent_bytes`, `received_bytes`.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKind::Requests => "requests",
            QuotaKind::SentBytes => "sent_bytes",
            QuotaKind::ReceivedBytes => "received_bytes",
        }
    }
}

impl fmt::Display for QuotaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a quota has been charged since it was made (refunds deducted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Requests admitted.
    pub requests: u64,
    /// Request bytes sent.
    pub sent_bytes: u64,
    /// Response body bytes delivered.
    pub received_bytes: u64,
}

/// A set of egress limits shared by every context it is added to; cheap to clone (the clones
/// share the counters). See the module documentation and `abi.md`, "Quotas".
///
/// ```
/// use std::time::Duration;
/// use wasi_experimental_http_host::{HttpCtx, Quota, QuotaLimits};
/// // One tenant: at most 100 requests per 10 s and 1 GiB received over its lifetime, across
/// // all of its stores.
/// let rate = Quota::new(QuotaLimits {
///     requests: Some(100),
///     window: Some(Duration::from_secs(10)),
///     ..QuotaLimits::default()
/// })?;
/// let volume = Quota::new(QuotaLimits { received_bytes: Some(1 << 30), ..QuotaLimits::default() })?;
/// let mut ctx = HttpCtx::builder().allowed_hosts(["https://api.example.com"]).build()?;
/// ctx.add_quota(rate.clone());
/// ctx.add_quota(volume.clone());
/// let mut sibling = ctx.new_sibling(); // quotas added to a context are not inherited
/// sibling.add_quota(rate);
/// sibling.add_quota(volume);
/// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Quota(Arc<Shared>);

struct Shared {
    limits: QuotaLimits,
    state: Mutex<State>,
}

/// One counter per limit. Lifetime counters hold what was used; windowed ones the tokens left,
/// scaled by the window in nanoseconds so that refilling is exact integer arithmetic.
struct State {
    requests: Counter,
    sent: Counter,
    received: Counter,
    refilled: Instant,
    usage: QuotaUsage,
}

#[derive(Clone, Copy)]
enum Counter {
    Unlimited,
    /// Used so far, out of `max`.
    Lifetime {
        used: u64,
        max: u64,
    },
    /// Tokens left times the window in nanoseconds, out of `max` times the window.
    Bucket {
        level: u128,
        max: u64,
        window_ns: u128,
    },
}

impl Counter {
    fn new(max: Option<u64>, window: Option<Duration>) -> Counter {
        match (max, window) {
            (None, _) => Counter::Unlimited,
            (Some(max), None) => Counter::Lifetime { used: 0, max },
            (Some(max), Some(w)) => {
                let window_ns = w.as_nanos().max(1);
                Counter::Bucket {
                    level: u128::from(max).saturating_mul(window_ns),
                    max,
                    window_ns,
                }
            }
        }
    }

    fn refill(&mut self, elapsed_ns: u128) {
        if let Counter::Bucket {
            level,
            max,
            window_ns,
        } = self
        {
            let full = u128::from(*max).saturating_mul(*window_ns);
            *level = level
                .saturating_add(elapsed_ns.saturating_mul(u128::from(*max)))
                .min(full);
        }
    }

    /// How much of `n` can be taken now.
    fn available(&self, n: u64) -> u64 {
        match *self {
            Counter::Unlimited => n,
            Counter::Lifetime { used, max } => n.min(max.saturating_sub(used)),
            Counter::Bucket {
                level, window_ns, ..
            } => n.min(u64::try_from(level / window_ns).unwrap_or(u64::MAX)),
        }
    }

    /// Takes `n`, which [`Counter::available`] allowed.
    fn take(&mut self, n: u64) {
        match self {
            Counter::Unlimited => {}
            Counter::Lifetime { used, .. } => *used = used.saturating_add(n),
            Counter::Bucket {
                level, window_ns, ..
            } => *level = level.saturating_sub(u128::from(n).saturating_mul(*window_ns)),
        }
    }

    /// Gives back `n` taken earlier and not used.
    fn give_back(&mut self, n: u64) {
        match self {
            Counter::Unlimited => {}
            Counter::Lifetime { used, .. } => *used = used.saturating_sub(n),
            Counter::Bucket {
                level,
                max,
                window_ns,
            } => {
                let full = u128::from(*max).saturating_mul(*window_ns);
                *level = level
                    .saturating_add(u128::from(n).saturating_mul(*window_ns))
                    .min(full);
            }
        }
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("limits", &self.0.limits)
            .field("usage", &self.usage())
            .finish()
    }
}

impl QuotaLimits {
    /// These limits, if a quota may have them: a zero window is a configuration error; a zero
    /// limit is allowed (it refuses everything of that kind).
    pub(crate) fn checked(self) -> Result<QuotaLimits, ConfigError> {
        if self.window.is_some_and(|w| w.is_zero()) {
            return Err(ConfigError::new("a quota window must be longer than zero"));
        }
        Ok(self)
    }
}

impl Quota {
    /// A quota with these limits. A zero window is a configuration error; a zero limit is
    /// allowed (it refuses everything of that kind).
    pub fn new(limits: QuotaLimits) -> Result<Quota, ConfigError> {
        Ok(Quota::valid(limits.checked()?))
    }

    /// A quota with limits [`Quota::new`] accepted before (a zero window would refill
    /// as if it were one nanosecond).
    pub(crate) fn valid(limits: QuotaLimits) -> Quota {
        let w = limits.window;
        let state = State {
            requests: Counter::new(limits.requests, w),
            sent: Counter::new(limits.sent_bytes, w),
            received: Counter::new(limits.received_bytes, w),
            refilled: Instant::now(),
            usage: QuotaUsage::default(),
        };
        Quota(Arc::new(Shared {
            limits,
            state: Mutex::new(state),
        }))
    }

    /// The limits it was made with.
    pub fn limits(&self) -> QuotaLimits {
        self.0.limits
    }

    /// What has been charged so far, over the quota's lifetime (windows do not reset it).
    pub fn usage(&self) -> QuotaUsage {
        self.lock().usage
    }

    /// The counters, refilled up to now. A panic elsewhere while the lock was held cannot leave
    /// them inconsistent (every update is a single assignment), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.0.limits.window.is_some() {
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(state.refilled).as_nanos();
            state.refilled = now;
            state.requests.refill(elapsed);
            state.sent.refill(elapsed);
            state.received.refill(elapsed);
        }
        state
    }

    /// Charges one request of `sent` bytes, or refuses with the limit that would be exceeded
    /// (requests first) and charges nothing.
    fn charge_request(&self, sent: u64) -> Result<(), QuotaKind> {
        let mut s = self.lock();
        if s.requests.available(1) < 1 {
            return Err(QuotaKind::Requests);
        }
        if s.sent.available(sent) < sent {
            return Err(QuotaKind::SentBytes);
        }
        s.requests.take(1);
        s.sent.take(sent);
        s.usage.requests += 1;
        s.usage.sent_bytes = s.usage.sent_bytes.saturating_add(sent);
        Ok(())
    }

    fn refund_request(&self, sent: u64) {
        let mut s = self.lock();
        s.requests.give_back(1);
        s.sent.give_back(sent);
        s.usage.requests = s.usage.requests.saturating_sub(1);
        s.usage.sent_bytes = s.usage.sent_bytes.saturating_sub(sent);
    }

    /// Takes up to `n` received bytes; returns how many were taken.
    fn reserve_received(&self, n: u64) -> u64 {
        let mut s = self.lock();
        let got = s.received.available(n);
        s.received.take(got);
        s.usage.received_bytes = s.usage.received_bytes.saturating_add(got);
        got
    }

    fn give_back_received(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut s = self.lock();
        s.received.give_back(n);
        s.usage.received_bytes = s.usage.received_bytes.saturating_sub(n);
    }

    fn limits_received(&self) -> bool {
        self.0.limits.received_bytes.is_some()
    }
}

/// Received bytes taken from the quotas for one body read, before it: what the read may
/// deliver. [`Quotas::settle_read`] gives back what it did not deliver.
#[must_use = "what the read does not deliver goes back through Quotas::settle_read"]
#[derive(Debug)]
pub(crate) struct Reservation(u64);

impl Reservation {
    /// How many received bytes the read may deliver (0: the quotas are used up).
    pub(crate) fn bytes(&self) -> u64 {
        self.0
    }
}

/// The quotas one request is charged to: its builder's and its context's. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Quotas(Option<Arc<[Quota]>>);

impl fmt::Debug for Quotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.list()).finish()
    }
}

impl Quotas {
    /// The quotas of `shared` followed by those of `own`.
    pub(crate) fn new(shared: &[Quota], own: &[Quota]) -> Quotas {
        if shared.is_empty() && own.is_empty() {
            return Quotas(None);
        }
        Quotas(Some(shared.iter().chain(own).cloned().collect()))
    }

    fn list(&self) -> &[Quota] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Whether any quota limits received bytes (body reads then go through
    /// [`Quotas::reserve_read`]).
    pub(crate) fn limit_received(&self) -> bool {
        self.list().iter().any(Quota::limits_received)
    }

    /// Takes received bytes for a read of up to `want` bytes from every quota, before the
    /// read: at most [`MAX_READ_RESERVATION`], and the most all quotas allow, so that reads of
    /// siblings on other threads cannot together exceed them (`abi.md`, "Quotas"). `None` when
    /// no quota limits received bytes: the read is not limited by quotas.
    pub(crate) fn reserve_read(&self, want: u64) -> Option<Reservation> {
        if !self.limit_received() {
            return None;
        }
        Some(Reservation(
            self.reserve_received(want.min(MAX_READ_RESERVATION)),
        ))
    }

    /// After the read: gives back what of `reservation` it did not deliver.
    pub(crate) fn settle_read(&self, reservation: Reservation, delivered: u64) {
        self.give_back_received(reservation.0.saturating_sub(delivered));
    }

    /// Charges one request of `sent` bytes to every quota, or to none.
    pub(crate) fn charge_request(&self, sent: u64) -> Result<(), QuotaKind> {
        let list = self.list();
        for (i, q) in list.iter().enumerate() {
            if let Err(kind) = q.charge_request(sent) {
                for charged in list.iter().take(i) {
                    charged.refund_request(sent);
                }
                return Err(kind);
            }
        }
        Ok(())
    }

    /// Takes up to `n` received bytes from every quota: the most all of them allow.
    fn reserve_received(&self, n: u64) -> u64 {
        let list = self.list();
        let mut allowance = n;
        for (i, q) in list.iter().enumerate() {
            let got = q.reserve_received(allowance);
            // A tighter quota: the earlier ones gave more than can be delivered; they get the
            // difference back (rare: only near a limit), so no list of grants is kept.
            if got < allowance {
                for earlier in list.iter().take(i) {
                    earlier.give_back_received(allowance - got);
                }
                allowance = got;
            }
        }
        allowance
    }

    /// Gives back received bytes reserved and not delivered.
    fn give_back_received(&self, n: u64) {
        for q in self.list() {
            q.give_back_received(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(requests: Option<u64>, sent: Option<u64>, window: Option<Duration>) -> Quota {
        Quota::new(QuotaLimits {
            requests,
            sent_bytes: sent,
            received_bytes: None,
            window,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lifetime_limits_refuse_the_request_that_would_exceed_them() {
        let q = quota(Some(2), Some(100), None);
        let qs = Quotas::new(std::slice::from_ref(&q), &[]);
        assert_eq!(qs.charge_request(60), Ok(()));
        assert_eq!(qs.charge_request(60), Err(QuotaKind::SentBytes));
        assert_eq!(qs.charge_request(40), Ok(()));
        assert_eq!(qs.charge_request(0), Err(QuotaKind::Requests));
        assert_eq!(
            q.usage(),
            QuotaUsage {
                requests: 2,
                sent_bytes: 100,
                received_bytes: 0
            }
        );
    }

    #[test]
    fn a_refusal_by_one_quota_charges_none() {
        let roomy = quota(Some(10), None, None);
        let full = quota(Some(0), None, None);
        let qs = Quotas::new(std::slice::from_ref(&roomy), &[full]);
        assert_eq!(qs.charge_request(1), Err(QuotaKind::Requests));
        assert_eq!(roomy.usage().requests, 0);
    }

    #[test]
    fn received_bytes_are_reserved_up_to_the_tightest_quota() {
        let a = Quota::new(QuotaLimits {
            received_bytes: Some(100),
            ..QuotaLimits::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let b = Quota::new(QuotaLimits {
            received_bytes: Some(30),
            ..QuotaLimits::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let qs = Quotas::new(std::slice::from_ref(&a), std::slice::from_ref(&b));
        assert_eq!(qs.reserve_received(50), 30);
        assert_eq!(a.usage().received_bytes, 30);
        qs.give_back_received(10);
        assert_eq!(b.usage().received_bytes, 20);
        assert_eq!(qs.reserve_received(50), 10);
        assert_eq!(qs.reserve_received(50), 0);
    }

    #[test]
    fn a_read_reserves_at_most_64_kib_and_settles_what_it_did_not_deliver() {
        let q = Quota::new(QuotaLimits {
            received_bytes: Some(100_000),
            ..QuotaLimits::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let qs = Quotas::new(std::slice::from_ref(&q), &[]);
        let r = qs
            .reserve_read(1 << 20)
            .unwrap_or_else(|| panic!("limited"));
        assert_eq!(r.bytes(), MAX_READ_RESERVATION);
        qs.settle_read(r, 1000);
        assert_eq!(q.usage().received_bytes, 1000);
        let r = qs
            .reserve_read(200_000)
            .unwrap_or_else(|| panic!("limited"));
        assert_eq!(r.bytes(), MAX_READ_RESERVATION);
        qs.settle_read(r, MAX_READ_RESERVATION);
        let r = qs
            .reserve_read(200_000)
            .unwrap_or_else(|| panic!("limited"));
        assert_eq!(r.bytes(), 100_000 - 1000 - MAX_READ_RESERVATION);
        qs.settle_read(r, 0);
        let unlimited = Quota::new(QuotaLimits {
            requests: Some(1),
            ..QuotaLimits::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(Quotas::new(&[unlimited], &[]).reserve_read(10).is_none());
    }

    #[test]
    fn a_bucket_starts_full_and_refills_at_the_limit_per_window() {
        let q = quota(Some(2), None, Some(Duration::from_millis(200)));
        let qs = Quotas::new(&[q], &[]);
        assert_eq!(qs.charge_request(0), Ok(()));
        assert_eq!(qs.charge_request(0), Ok(()));
        assert_eq!(qs.charge_request(0), Err(QuotaKind::Requests));
        // One token per 100 ms.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(qs.charge_request(0), Ok(()));
        assert_eq!(qs.charge_request(0), Err(QuotaKind::Requests));
    }

    #[test]
    fn a_zero_window_is_a_configuration_error() {
        let e = Quota::new(QuotaLimits {
            requests: Some(1),
            window: Some(Duration::ZERO),
            ..QuotaLimits::default()
        });
        assert!(e.is_err());
    }
}
