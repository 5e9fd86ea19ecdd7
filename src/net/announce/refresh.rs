//! The pace of the periodic refresh (`Announce { Refresh = T }`): every
//! held address is announced again once per period, one at a time and
//! evenly spaced (T / N apart for N addresses), so a node holding 254
//! addresses sends one frame every T / 254 instead of a burst of 254 that
//! switches may drop. One sent late (a busy worker) never brings the next
//! closer than half that spacing. Pure: the worker asks which address is
//! due.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(super) struct Pacer {
    period: Duration,
    next: Instant,
    /// The next address to announce, as an index into the held ones.
    cursor: usize,
}

impl Pacer {
    /// The first address goes out one period after `now` (acquiring has
    /// just announced everything).
    pub(super) fn new(period: Duration, now: Instant) -> Pacer {
        Pacer {
            period,
            next: now + period,
            cursor: 0,
        }
    }

    /// When the next address is due.
    pub(super) fn next(&self) -> Instant {
        self.next
    }

    /// Holds the next address back until `until` at the earliest.
    pub(super) fn postpone(&mut self, until: Instant) {
        self.next = self.next.max(until);
    }

    /// Which of the `count` held addresses to announce at `now`, if one
    /// is due; the next one follows `period / count` later. With nothing
    /// held it looks again one period later.
    pub(super) fn due(&mut self, now: Instant, count: usize) -> Option<usize> {
        if now < self.next {
            return None;
        }
        if count == 0 {
            self.cursor = 0;
            self.next = now + self.period;
            return None;
        }
        let index = self.cursor % count;
        self.cursor = index + 1;
        let gap = self.period / u32::try_from(count).unwrap_or(u32::MAX);
        // Late (the worker was busy): keep the spacing from now, never a
        // catch-up burst.
        self.next = (self.next + gap).max(now + gap / 2);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The times at which address `i` goes out, polling every millisecond
    /// for `span`.
    fn schedule(count: usize, period: Duration, span: Duration) -> Vec<(Duration, usize)> {
        let start = Instant::now();
        let mut pacer = Pacer::new(period, start);
        let mut sent = Vec::new();
        let mut t = Duration::ZERO;
        while t <= span {
            if let Some(i) = pacer.due(start + t, count) {
                sent.push((t, i));
            }
            t += Duration::from_millis(1);
        }
        sent
    }

    #[test]
    fn every_address_once_per_period_evenly_spaced() {
        let period = Duration::from_secs(60);
        let sent = schedule(254, period, Duration::from_secs(180));
        // Periods 1 and 2 complete (from 60 s to 180 s), plus the first of
        // the third.
        assert_eq!(sent.len(), 2 * 254 + 1);
        for round in sent.chunks(254).take(2) {
            let mut indexes: Vec<usize> = round.iter().map(|&(_, i)| i).collect();
            indexes.sort_unstable();
            assert_eq!(indexes, (0..254).collect::<Vec<_>>());
        }
        let gap = period / 254;
        for pair in sent.windows(2) {
            let apart = pair[1].0 - pair[0].0;
            assert!(
                apart + Duration::from_millis(1) >= gap,
                "{apart:?} < {gap:?}"
            );
        }
        assert_eq!(sent[0].0, period);
    }

    #[test]
    fn nothing_held_sends_nothing_and_new_addresses_join_the_rotation() {
        let start = Instant::now();
        let period = Duration::from_secs(4);
        let mut pacer = Pacer::new(period, start);
        assert_eq!(pacer.due(start + period, 0), None);
        assert_eq!(pacer.next(), start + 2 * period);
        assert_eq!(pacer.due(start + 2 * period, 2), Some(0));
        assert_eq!(pacer.due(start + 2 * period, 2), None);
        assert_eq!(pacer.next(), start + 2 * period + period / 2);
        assert_eq!(pacer.due(pacer.next(), 3), Some(1));
        assert_eq!(pacer.due(pacer.next(), 3), Some(2));
        assert_eq!(pacer.due(pacer.next(), 3), Some(0));
    }

    #[test]
    fn a_late_worker_does_not_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Duration::from_secs(10), start);
        let late = start + Duration::from_secs(30);
        assert_eq!(pacer.due(late, 10), Some(0));
        assert_eq!(pacer.due(late, 10), None);
        assert!(pacer.next() >= late + Duration::from_millis(500));
    }
}
