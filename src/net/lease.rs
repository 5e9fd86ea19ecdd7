//! [`Lease`]: the right to announce addresses, renewed while the process
//! is known to be on time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The right to announce, renewed by whoever watches that the process is
/// still on time (the built-in membership's thread, while its node is in a
/// view): frames go out only while the last renewal is younger than the
/// lease's maximum age. Shared between threads; never renewed, it holds
/// everything back.
#[derive(Debug)]
pub struct Lease {
    base: Instant,
    /// When it was last renewed, in µs after `base`, plus one (0: not
    /// renewed).
    renewed: AtomicU64,
    max_age_us: AtomicU64,
}

impl Lease {
    pub fn new(max_age: Duration) -> Lease {
        Lease {
            base: Instant::now(),
            renewed: AtomicU64::new(0),
            max_age_us: AtomicU64::new(micros(max_age)),
        }
    }

    pub fn renew(&self, now: Instant) {
        let at = micros(now.saturating_duration_since(self.base));
        self.renewed.store(at.saturating_add(1), Ordering::Release);
    }

    /// Holds everything back until the next renewal.
    pub fn revoke(&self) {
        self.renewed.store(0, Ordering::Release);
    }

    pub fn set_max_age(&self, max_age: Duration) {
        self.max_age_us.store(micros(max_age), Ordering::Release);
    }

    /// Whether frames may go out at `now`.
    pub fn valid(&self, now: Instant) -> bool {
        let renewed = self.renewed.load(Ordering::Acquire);
        let now = micros(now.saturating_duration_since(self.base)).saturating_add(1);
        renewed != 0 && now.saturating_sub(renewed) < self.max_age_us.load(Ordering::Acquire)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
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
        // A renewal at the very start of the lease's clock still counts.
        let early = Lease::new(Duration::from_secs(1));
        early.renew(early.base);
        assert!(early.valid(early.base));
    }
}
