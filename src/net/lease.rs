//! [`Lease`]: the right to announce addresses, renewed while the process
//! is known to be on time.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The right to announce, renewed by whoever watches that the process is
/// still on time (the built-in membership's thread, while its node is in a
/// view): frames go out only while the last renewal is younger than the
/// lease's maximum age. Shared between threads; never renewed, it holds
/// everything back. A lock rather than 64-bit atomics, which 32-bit
/// router CPUs (PowerPC, MIPS) lack; it is taken a few times per
/// heartbeat and per announcement.
#[derive(Debug)]
pub struct Lease {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When it was last renewed (None: not renewed, or revoked).
    renewed: Option<Instant>,
    max_age: Duration,
}

impl Lease {
    /// A lease not yet renewed, valid for `max_age` after each renewal.
    pub fn new(max_age: Duration) -> Lease {
        Lease {
            state: Mutex::new(State {
                renewed: None,
                max_age,
            }),
        }
    }

    /// The state; a thread that panicked holding the lock cannot have
    /// left it half-written (every update is one field), so a poisoned
    /// lock is used as it is.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Renews the lease as of `now`.
    pub fn renew(&self, now: Instant) {
        self.state().renewed = Some(now);
    }

    /// Holds everything back until the next renewal.
    pub fn revoke(&self) {
        self.state().renewed = None;
    }

    /// Changes how long a renewal lasts (a reload may change the time-out).
    pub fn set_max_age(&self, max_age: Duration) {
        self.state().max_age = max_age;
    }

    /// Whether frames may go out at `now`.
    pub fn valid(&self, now: Instant) -> bool {
        let state = self.state();
        state
            .renewed
            .is_some_and(|at| now.saturating_duration_since(at) < state.max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_holds_until_renewed_and_for_its_maximum_age() {
        let lease = Lease::new(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(!lease.valid(t0), "never renewed");
        lease.renew(t0);
        assert!(lease.valid(t0));
        assert!(lease.valid(t0 + Duration::from_millis(99)));
        assert!(!lease.valid(t0 + Duration::from_millis(100)));
        lease.set_max_age(Duration::from_millis(200));
        assert!(lease.valid(t0 + Duration::from_millis(150)));
        lease.revoke();
        assert!(!lease.valid(t0));
        // A renewal counts from the instant it names, not from when the
        // call is made.
        lease.renew(t0 + Duration::from_millis(50));
        assert!(lease.valid(t0 + Duration::from_millis(249)));
        assert!(!lease.valid(t0 + Duration::from_millis(250)));
    }
}
