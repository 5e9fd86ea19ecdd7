//! Deadlines of the engine loop: armed by name, fired when due.

use std::time::Instant;

/// A set of named one-shot deadlines. Arming a name again replaces its
/// deadline, as the engine's timers expect.
#[derive(Debug)]
pub(super) struct Timers<K> {
    armed: Vec<(K, Instant)>,
}

impl<K: Copy + PartialEq> Timers<K> {
    pub(super) fn new() -> Self {
        Timers { armed: Vec::new() }
    }

    pub(super) fn arm(&mut self, key: K, at: Instant) {
        self.disarm(key);
        self.armed.push((key, at));
    }

    pub(super) fn disarm(&mut self, key: K) {
        self.armed.retain(|(k, _)| *k != key);
    }

    /// When `key` is armed for, if it is.
    pub(super) fn at(&self, key: K) -> Option<Instant> {
        self.armed
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, at)| at)
    }

    /// The earliest deadline armed, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        self.armed.iter().map(|&(_, at)| at).min()
    }

    /// Removes and returns every timer due at `now`, earliest first.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due: Vec<(K, Instant)> = Vec::new();
        self.armed.retain(|&(k, at)| {
            if at <= now {
                due.push((k, at));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|&(_, at)| at);
        due.into_iter().map(|(k, _)| k).collect()
    }
}

impl<K: Copy + PartialEq> Default for Timers<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearming_replaces_and_due_timers_come_out_in_order() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.arm('a', t0 + Duration::from_secs(5));
        timers.arm('b', t0 + Duration::from_secs(2));
        timers.arm('a', t0 + Duration::from_secs(1));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        assert!(timers.take_due(t0).is_empty());
        assert_eq!(timers.take_due(t0 + Duration::from_secs(3)), vec!['a', 'b']);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn disarm_forgets_a_timer() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.arm(1u8, t0);
        timers.disarm(1);
        assert!(timers.take_due(t0 + Duration::from_secs(1)).is_empty());
    }
}
