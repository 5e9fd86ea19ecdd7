//! One rate limit for what outsiders can make us repeat (log lines about
//! refused datagrams, watch lines): at most a number of occurrences shown
//! per window of time, the others counted and reported with the next one
//! shown. Pure: every call takes `now`.

use std::time::{Duration, Instant};

/// At most `per_window` occurrences shown per `window`; a window starts
/// with the first occurrence shown after the previous one has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    window: Duration,
    per_window: u32,
    /// When the current window began; `None` before the first.
    started: Option<Instant>,
    /// Occurrences shown in the current window.
    shown: u32,
    /// Occurrences held back since the last one shown.
    held: u64,
}

impl RateLimit {
    /// A limit of `per_window` occurrences per `window` (0: none shown,
    /// every occurrence counted).
    pub fn new(per_window: u32, window: Duration) -> RateLimit {
        RateLimit {
            window,
            per_window,
            started: None,
            shown: 0,
            held: 0,
        }
    }

    /// One occurrence at `now`: `Some(held back before it)` when it may be
    /// shown, `None` when it is held back (and counted).
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        if self.window_over(now) {
            self.started = Some(now);
            self.shown = 0;
        }
        if self.shown >= self.per_window {
            self.held += 1;
            return None;
        }
        self.shown += 1;
        Some(std::mem::take(&mut self.held))
    }

    /// The occurrences held back, once the window they were held back in
    /// has ended and one may be shown: reporting them counts as the first
    /// shown of a new window.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        if self.held == 0 || self.per_window == 0 || !self.window_over(now) {
            return None;
        }
        self.started = Some(now);
        self.shown = 1;
        Some(std::mem::take(&mut self.held))
    }

    fn window_over(&self, now: Instant) -> bool {
        match self.started {
            Some(start) => now.saturating_duration_since(start) >= self.window,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_window_shows_its_share_and_the_next_one_shown_carries_the_rest() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(2, SECOND);
        assert_eq!(limit.admit(t0), Some(0));
        assert_eq!(limit.admit(t0), Some(0));
        assert_eq!(limit.admit(t0), None);
        assert_eq!(limit.admit(t0 + SECOND / 2), None);
        // Not over until a whole window after its start.
        assert_eq!(limit.admit(t0 + SECOND - Duration::from_millis(1)), None);
        assert_eq!(limit.admit(t0 + SECOND), Some(3));
        assert_eq!(limit.admit(t0 + SECOND), Some(0));
        assert_eq!(limit.admit(t0 + SECOND), None);
    }

    #[test]
    fn what_is_held_back_is_due_once_its_window_has_ended() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(1, 10 * SECOND);
        assert_eq!(limit.due(t0), None);
        assert_eq!(limit.admit(t0), Some(0));
        assert_eq!(limit.admit(t0 + SECOND), None);
        assert_eq!(limit.admit(t0 + 2 * SECOND), None);
        assert_eq!(limit.due(t0 + 9 * SECOND), None);
        assert_eq!(limit.due(t0 + 10 * SECOND), Some(2));
        assert_eq!(limit.due(t0 + 30 * SECOND), None);
        // Reporting them opened a window: the next one waits for its end.
        assert_eq!(limit.admit(t0 + 11 * SECOND), None);
        assert_eq!(limit.admit(t0 + 20 * SECOND), Some(1));
    }

    #[test]
    fn a_limit_of_zero_shows_nothing_and_counts_everything() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(0, SECOND);
        for i in 0..5 {
            assert_eq!(limit.admit(t0 + i * SECOND), None);
        }
        assert_eq!(limit.due(t0 + 10 * SECOND), None);
    }
}
