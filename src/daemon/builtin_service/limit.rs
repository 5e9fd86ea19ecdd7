//! Log lines about refused datagrams and failed sends, at a bounded rate:
//! anyone on the segment can send us datagrams, and a flood of forged
//! ones must not become a flood of log lines. Per reason (or per
//! destination), the first occurrence is logged at once; later ones are
//! counted and logged together at most once per [`INTERVAL`], naming the
//! latest source.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::base::RateLimit;
use crate::control::RefusalReason as Reason;
use crate::log::Level;
use crate::membership::Refusals;

/// At most one line per reason in this time.
pub(super) const INTERVAL: Duration = Duration::from_secs(10);

/// Occurrences of one kind of trouble since its last line: the first
/// at once, then at most one line per [`INTERVAL`] with the count.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    limit: RateLimit,
    latest: Option<SocketAddr>,
}

impl Default for Slot {
    fn default() -> Slot {
        Slot {
            limit: RateLimit::new(1, INTERVAL),
            latest: None,
        }
    }
}

impl Slot {
    /// Counts one occurrence involving `addr`; returns (count, latest
    /// address) when a line is due now.
    pub(super) fn note(&mut self, addr: SocketAddr, now: Instant) -> Option<(u64, SocketAddr)> {
        self.latest = Some(addr);
        let held = self.limit.admit(now)?;
        Some((held + 1, addr))
    }

    /// The line held back, once its interval has passed.
    pub(super) fn due(&mut self, now: Instant) -> Option<(u64, SocketAddr)> {
        let held = self.limit.due(now)?;
        Some((held, self.latest?))
    }
}

/// How many datagrams `refusals` counts as refused for `reason` (the
/// reasons are the watch's, so the log and the watch lines agree).
fn count(reason: Reason, refusals: &Refusals) -> u64 {
    match reason {
        Reason::Malformed => refusals.malformed,
        Reason::BadMac => refusals.bad_mac,
        Reason::WrongCluster => refusals.wrong_cluster,
        Reason::Misdirected => refusals.misdirected,
        Reason::OldIncarnation => refusals.old_incarnation,
        Reason::Replayed => refusals.replayed,
    }
}

/// The reason in the words of the log line.
fn describe(reason: Reason) -> &'static str {
    match reason {
        Reason::Malformed => "malformed (too short or too long, not of this protocol, or a body that does not parse)",
        Reason::BadMac => "failing authentication (another key, or altered on the way)",
        Reason::WrongCluster => "from a node configured with another Nodes list",
        Reason::Misdirected => {
            "misdirected (not for this node, from an unlisted node, or not from the sender's listed address)"
        }
        Reason::OldIncarnation => "from an earlier incarnation of a restarted or departed node",
        Reason::Replayed => "replayed or duplicated (a counter seen already)",
    }
}

/// Old incarnations and duplicates are what every clean leave (its
/// LEAVE is sent three times), a restart or a network that duplicates
/// datagrams produce: for debugging only.
fn level(reason: Reason) -> Level {
    match reason {
        Reason::OldIncarnation | Reason::Replayed => Level::Debug,
        _ => Level::Warning,
    }
}

/// The refusals seen, by reason.
#[derive(Debug, Clone, Default)]
pub(super) struct RefusalLog {
    slots: [Slot; 6],
}

impl RefusalLog {
    /// Notes what one datagram from `from` did to the counters (`before`
    /// and `after` it); returns the lines to log now.
    pub(super) fn note(
        &mut self,
        before: &Refusals,
        after: &Refusals,
        from: SocketAddr,
        now: Instant,
    ) -> Vec<(Level, String)> {
        let mut lines = Vec::new();
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            let added = count(reason, after).saturating_sub(count(reason, before));
            for _ in 0..added {
                if let Some(due) = self.slots[i].note(from, now) {
                    lines.push(line(reason, due));
                }
            }
        }
        lines
    }

    /// Lines held back whose interval has passed.
    pub(super) fn due(&mut self, now: Instant) -> Vec<(Level, String)> {
        Reason::ALL
            .into_iter()
            .zip(self.slots.iter_mut())
            .filter_map(|(reason, slot)| slot.due(now).map(|due| line(reason, due)))
            .collect()
    }
}

fn line(reason: Reason, (count, latest): (u64, SocketAddr)) -> (Level, String) {
    let datagrams = if count == 1 { "datagram" } else { "datagrams" };
    (
        level(reason),
        format!(
            "membership: refused {count} {datagrams} {}, the latest from {latest} (at most one \
             such line every {}s)",
            describe(reason),
            INTERVAL.as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 4810))
    }

    #[test]
    fn the_first_refusal_is_logged_then_one_line_per_interval() {
        let t0 = Instant::now();
        let mut log = RefusalLog::default();
        let none = Refusals::default();
        let bad = Refusals {
            bad_mac: 1,
            ..Refusals::default()
        };
        let first = log.note(&none, &bad, from(9), t0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0, Level::Warning);
        assert!(
            first[0]
                .1
                .contains("refused 1 datagram failing authentication")
                && first[0].1.contains("the latest from 10.0.0.9:4810"),
            "{first:?}"
        );
        for i in 1..=5 {
            let later = t0 + Duration::from_secs(i);
            assert!(log.note(&none, &bad, from(7), later).is_empty());
        }
        assert!(log.due(t0 + Duration::from_secs(9)).is_empty());
        let held = log.due(t0 + INTERVAL);
        assert_eq!(held.len(), 1);
        assert!(
            held[0].1.contains("refused 5 datagrams") && held[0].1.contains("10.0.0.7:4810"),
            "{held:?}"
        );
        assert!(log.due(t0 + INTERVAL * 3).is_empty());
        // Quiet for longer than the interval: the next one is logged at once.
        assert_eq!(log.note(&none, &bad, from(9), t0 + INTERVAL * 3).len(), 1);
    }

    #[test]
    fn reasons_are_limited_apart_and_duplicates_are_not_warnings() {
        let t0 = Instant::now();
        let mut log = RefusalLog::default();
        let before = Refusals::default();
        let after = Refusals {
            malformed: 1,
            replayed: 2,
            ..Refusals::default()
        };
        let lines = log.note(&before, &after, from(2), t0);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, Level::Warning);
        assert_eq!(lines[1].0, Level::Debug);
        assert!(lines[1].1.contains("replayed"), "{lines:?}");
        // The second duplicate waits for the interval.
        let held = log.due(t0 + INTERVAL);
        assert_eq!(held.len(), 1);
        assert!(held[0]
            .1
            .starts_with("membership: refused 1 datagram replayed"));
    }
}
