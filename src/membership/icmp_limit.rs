//! A model of Linux's limit on the ICMP errors a host sends, for the
//! tests: the unit tests' network (`testnet.rs`) and the packet-level
//! simulation of the integration tests (which includes this file) let a
//! dead daemon's host bounce only what its kernel would.
//!
//! Linux keeps a token bucket per destination (`icmp_ratelimit`, 1 s by
//! default, with a burst of six): it holds up to six tokens, earns one a
//! second and spends one per error; with none left the error is not
//! sent. So a peer that sends a dead daemon seven datagrams at once gets
//! six bounces, and then about one a second. (A second, global limit of
//! 1,000 errors a second with a burst of 50 is far above what a cluster
//! of 32 asks for, and is left out.)

// Public for the integration tests, which include this file; within the
// library it is a test module.
#![allow(unreachable_pub)]

/// What a token is worth, in microseconds: earned per second, spent per
/// error.
const TOKEN_US: u64 = 1_000_000;
/// The most tokens a bucket holds.
const BURST: u64 = 6;

/// The buckets of every (host, destination) pair that has sent an error.
#[derive(Debug, Default)]
pub struct IcmpLimit {
    /// Per (host, destination): the tokens left, in microseconds, and
    /// when they were counted. A pair not yet listed holds a full bucket.
    buckets: Vec<((usize, usize), (u64, u64))>,
    /// Errors held back so far.
    pub refused: u64,
}

impl IcmpLimit {
    /// Whether `host` may send `to` an ICMP error at `now_us` (any clock
    /// in microseconds that never goes back); spends a token if so.
    pub fn allow(&mut self, host: usize, to: usize, now_us: u64) -> bool {
        let full = TOKEN_US * BURST;
        let at = match self
            .buckets
            .iter()
            .position(|(pair, _)| *pair == (host, to))
        {
            Some(at) => at,
            None => {
                self.buckets.push(((host, to), (full, now_us)));
                self.buckets.len() - 1
            }
        };
        let (tokens, counted) = &mut self.buckets[at].1;
        *tokens = (*tokens + now_us.saturating_sub(*counted)).min(full);
        *counted = now_us;
        if *tokens < TOKEN_US {
            self.refused += 1;
            return false;
        }
        *tokens -= TOKEN_US;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_at_once_then_one_a_second_per_destination() {
        let mut limit = IcmpLimit::default();
        let granted = (0..10).filter(|_| limit.allow(3, 1, 5)).count();
        assert_eq!(granted, 6);
        assert_eq!(limit.refused, 4);
        // Another destination has a bucket of its own.
        assert!(limit.allow(3, 2, 5));
        // Nearly a second later: still nothing; a second later, one.
        assert!(!limit.allow(3, 1, 5 + TOKEN_US - 1));
        assert!(limit.allow(3, 1, 5 + TOKEN_US));
        assert!(!limit.allow(3, 1, 5 + TOKEN_US));
        // A long rest refills the bucket to six, no more.
        let later = 100 * TOKEN_US;
        assert_eq!((0..10).filter(|_| limit.allow(3, 1, later)).count(), 6);
    }
}
