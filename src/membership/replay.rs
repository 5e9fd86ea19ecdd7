//! The replay guard kept for each remote sender: a datagram is taken only
//! from the sender's newest incarnation, and each counter value of it only
//! once, within a window of the last [`WINDOW`] counters.
//!
//! With redundant links the same datagram comes once over each link: the
//! window keeps, per link, which counters came over it, so a second copy
//! over another link is told apart ([`ReplayError::Duplicate`], dropped
//! without blame) from a copy over the same link again (a replay).
//!
//! Checking and committing are separate so that a datagram refused by a
//! later check (its body's layout) moves nothing: [`ReplayWindow::check_on`]
//! first, [`ReplayWindow::accept_on`] once the whole datagram is valid.

use std::fmt;

use super::links::MAX_LINKS;

/// How many counters below the highest one seen are still told apart;
/// anything older is refused.
pub(super) const WINDOW: u64 = 64;

/// What one sender's datagrams have shown so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ReplayWindow {
    /// `None` until the first datagram is accepted.
    seen: Option<Seen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    incarnation: u64,
    highest: u64,
    /// Per link: bit `i` is set when counter `highest - i` came over it.
    bitmaps: [u64; MAX_LINKS],
}

impl Seen {
    /// Bit `i`: counter `highest - i` came over some link.
    fn any(&self) -> u64 {
        self.bitmaps.iter().fold(0, |acc, b| acc | b)
    }
}

/// Why a datagram's incarnation and counter are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplayError {
    OldIncarnation {
        newest: u64,
        got: u64,
    },
    Replayed {
        counter: u64,
    },
    TooOld {
        counter: u64,
        highest: u64,
    },
    /// Taken before over another link: a copy, not an attack.
    Duplicate {
        counter: u64,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReplayError::OldIncarnation { newest, got } => write!(
                f,
                "datagram from incarnation {got}, older than the sender's newest ({newest}): a replay or a delayed datagram of a previous run"
            ),
            ReplayError::Replayed { counter } => {
                write!(f, "datagram counter {counter} was already received (replayed)")
            }
            ReplayError::Duplicate { counter } => write!(
                f,
                "datagram counter {counter} was already received over another link (a copy)"
            ),
            ReplayError::TooOld { counter, highest } => write!(
                f,
                "datagram counter {counter} is {WINDOW} or more below the highest seen ({highest}): too old to tell from a replay"
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

impl ReplayWindow {
    /// [`Self::check_on`] for the first link.
    #[cfg(test)]
    pub(super) fn check(&self, incarnation: u64, counter: u64) -> Result<(), ReplayError> {
        self.check_on(incarnation, counter, 0)
    }

    /// [`Self::accept_on`] for the first link.
    #[cfg(test)]
    pub(super) fn accept(&mut self, incarnation: u64, counter: u64) {
        self.accept_on(incarnation, counter, 0)
    }

    /// Whether a datagram with this incarnation and counter, come over
    /// `link` (below [`MAX_LINKS`]), may be taken; changes nothing.
    pub(super) fn check_on(
        &self,
        incarnation: u64,
        counter: u64,
        link: u8,
    ) -> Result<(), ReplayError> {
        let Some(seen) = self.seen else {
            return Ok(());
        };
        if incarnation < seen.incarnation {
            return Err(ReplayError::OldIncarnation {
                newest: seen.incarnation,
                got: incarnation,
            });
        }
        if incarnation > seen.incarnation || counter > seen.highest {
            return Ok(());
        }
        let age = seen.highest - counter;
        if age >= WINDOW {
            return Err(ReplayError::TooOld {
                counter,
                highest: seen.highest,
            });
        }
        if seen.bitmaps[usize::from(link)] & (1 << age) != 0 {
            return Err(ReplayError::Replayed { counter });
        }
        if seen.any() & (1 << age) != 0 {
            return Err(ReplayError::Duplicate { counter });
        }
        Ok(())
    }

    /// Records a datagram come over `link` that passed [`Self::check_on`]
    /// and every later check, or a duplicate (so that a third copy over
    /// the same link is a replay). A newer incarnation starts the window
    /// afresh. Accepting what `check_on` refuses as a replay changes
    /// nothing.
    pub(super) fn accept_on(&mut self, incarnation: u64, counter: u64, link: u8) {
        let link = usize::from(link);
        let mut fresh = Seen {
            incarnation,
            highest: counter,
            bitmaps: [0; MAX_LINKS],
        };
        fresh.bitmaps[link] = 1;
        let seen = match &mut self.seen {
            Some(seen) if incarnation == seen.incarnation => seen,
            Some(seen) if incarnation < seen.incarnation => return,
            _ => {
                self.seen = Some(fresh);
                return;
            }
        };
        if counter > seen.highest {
            let shift = counter - seen.highest;
            for bitmap in &mut seen.bitmaps {
                *bitmap = if shift >= WINDOW { 0 } else { *bitmap << shift };
            }
            seen.bitmaps[link] |= 1;
            seen.highest = counter;
        } else if seen.highest - counter < WINDOW {
            seen.bitmaps[link] |= 1 << (seen.highest - counter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks, then accepts when the check passes, as a receiver does.
    fn take(window: &mut ReplayWindow, incarnation: u64, counter: u64) -> Result<(), ReplayError> {
        window.check(incarnation, counter)?;
        window.accept(incarnation, counter);
        Ok(())
    }

    #[test]
    fn a_fresh_window_takes_anything() {
        let window = ReplayWindow::default();
        assert!(window.check(0, 0).is_ok());
        for (incarnation, counter) in [(0, 0), (1, 0), (u64::MAX, u64::MAX), (7, 1 << 40)] {
            assert_eq!(window.check(incarnation, counter), Ok(()));
        }
    }

    #[test]
    fn in_order_counters_are_taken_from_zero() {
        let mut window = ReplayWindow::default();
        for counter in 0..500 {
            assert_eq!(take(&mut window, 9, counter), Ok(()));
        }
        assert!(window.check(9 - 1, u64::MAX).is_err());
    }

    #[test]
    fn gaps_are_allowed() {
        let mut window = ReplayWindow::default();
        for counter in [3, 10, 1000, 1001, 5000] {
            assert_eq!(take(&mut window, 9, counter), Ok(()));
        }
    }

    #[test]
    fn reordering_within_the_window_is_taken_once() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, 9, 100), Ok(()));
        // Every counter of the window below the highest, in a scrambled
        // order: each is new once.
        let mut late: Vec<u64> = (37..100).collect();
        late.reverse();
        late.swap(3, 40);
        for &counter in &late {
            assert_eq!(take(&mut window, 9, counter), Ok(()), "counter {counter}");
        }
        for counter in 37..=100 {
            assert_eq!(
                window.check(9, counter),
                Err(ReplayError::Replayed { counter })
            );
        }
        assert_eq!(
            window.check(9, 36),
            Err(ReplayError::TooOld {
                counter: 36,
                highest: 100
            })
        );
    }

    #[test]
    fn a_duplicate_is_refused() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, 9, 0), Ok(()));
        assert_eq!(
            take(&mut window, 9, 0),
            Err(ReplayError::Replayed { counter: 0 })
        );
        assert_eq!(take(&mut window, 9, 1), Ok(()));
        assert_eq!(
            take(&mut window, 9, 0),
            Err(ReplayError::Replayed { counter: 0 })
        );
        assert_eq!(
            take(&mut window, 9, 1),
            Err(ReplayError::Replayed { counter: 1 })
        );
    }

    #[test]
    fn older_than_the_window_is_refused() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, 9, 200), Ok(()));
        assert_eq!(window.check(9, 200 - 63), Ok(()));
        for counter in [200 - 64, 100, 0] {
            assert_eq!(
                window.check(9, counter),
                Err(ReplayError::TooOld {
                    counter,
                    highest: 200
                })
            );
        }
    }

    #[test]
    fn a_jump_beyond_the_window_forgets_the_old_bits() {
        let mut window = ReplayWindow::default();
        for counter in 0..64 {
            assert_eq!(take(&mut window, 9, counter), Ok(()));
        }
        assert_eq!(take(&mut window, 9, 63 + 64), Ok(()));
        // 64..127 were never seen and are inside the new window.
        assert_eq!(take(&mut window, 9, 64), Ok(()));
        assert_eq!(take(&mut window, 9, 126), Ok(()));
        assert_eq!(
            take(&mut window, 9, 63),
            Err(ReplayError::TooOld {
                counter: 63,
                highest: 127
            })
        );
    }

    #[test]
    fn an_old_incarnation_is_refused() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, 1_000, 5), Ok(()));
        assert_eq!(
            window.check(999, 6),
            Err(ReplayError::OldIncarnation {
                newest: 1_000,
                got: 999
            })
        );
        // Accepting it anyway leaves the window as it was.
        let before = window;
        window.accept(999, 6);
        assert_eq!(window, before);
    }

    #[test]
    fn a_new_incarnation_resets_the_window() {
        let mut window = ReplayWindow::default();
        for counter in 0..300 {
            assert_eq!(take(&mut window, 1_000, counter), Ok(()));
        }
        // A restart counts from 0 again.
        assert_eq!(take(&mut window, 2_000, 0), Ok(()));
        assert!(window.check(2_000 - 1, u64::MAX).is_err());
        assert_eq!(take(&mut window, 2_000, 1), Ok(()));
        assert_eq!(
            take(&mut window, 2_000, 0),
            Err(ReplayError::Replayed { counter: 0 })
        );
        assert_eq!(
            window.check(1_000, 300),
            Err(ReplayError::OldIncarnation {
                newest: 2_000,
                got: 1_000
            })
        );
    }

    #[test]
    fn check_changes_nothing() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, 9, 10), Ok(()));
        let before = window;
        for (incarnation, counter) in [(9, 11), (9, 10), (9, 0), (8, 50), (10, 0)] {
            let _ = window.check(incarnation, counter);
        }
        assert_eq!(window, before);
    }

    #[test]
    fn extreme_counters_do_not_overflow() {
        let mut window = ReplayWindow::default();
        assert_eq!(take(&mut window, u64::MAX, u64::MAX), Ok(()));
        assert_eq!(take(&mut window, u64::MAX, u64::MAX - 63), Ok(()));
        assert_eq!(
            take(&mut window, u64::MAX, u64::MAX),
            Err(ReplayError::Replayed { counter: u64::MAX })
        );
        assert!(take(&mut window, u64::MAX, 0).is_err());
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            ReplayError::Replayed { counter: 7 }.to_string(),
            "datagram counter 7 was already received (replayed)"
        );
        assert_eq!(
            ReplayError::TooOld {
                counter: 1,
                highest: 100
            }
            .to_string(),
            "datagram counter 1 is 64 or more below the highest seen (100): too old to tell from a replay"
        );
    }

    #[test]
    fn a_copy_over_another_link_is_a_duplicate_and_over_the_same_a_replay() {
        let mut window = ReplayWindow::default();
        window.accept_on(9, 5, 1);
        assert_eq!(
            window.check_on(9, 5, 0),
            Err(ReplayError::Duplicate { counter: 5 })
        );
        assert_eq!(
            window.check_on(9, 5, 1),
            Err(ReplayError::Replayed { counter: 5 })
        );
        window.accept_on(9, 5, 0);
        assert_eq!(
            window.check_on(9, 5, 0),
            Err(ReplayError::Replayed { counter: 5 })
        );
        // Later counters shift every link's record alike.
        window.accept_on(9, 20, 2);
        assert_eq!(
            window.check_on(9, 5, 3),
            Err(ReplayError::Duplicate { counter: 5 })
        );
        assert_eq!(
            window.check_on(9, 5, 1),
            Err(ReplayError::Replayed { counter: 5 })
        );
        assert_eq!(window.check_on(9, 6, 0), Ok(()));
        assert_eq!(
            window.check_on(9, 20, 0),
            Err(ReplayError::Duplicate { counter: 20 })
        );
        window.accept_on(9, 20 + WINDOW, 0);
        assert!(matches!(
            window.check_on(9, 20, 2),
            Err(ReplayError::TooOld { .. })
        ));
    }
}
