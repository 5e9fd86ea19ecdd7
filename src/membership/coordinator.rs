//! When a coordinator proposes a view that is not the one it has: at once
//! when a member failed, and, when the view only grows, once every node
//! that is coming has come (module documentation, "When a coordinator
//! proposes").

use std::time::Instant;

use super::node::Node;
use super::wire::Member;

/// A view that only adds members is proposed once the wanted set has not
/// changed for this many heartbeats, if no sooner.
const STABLE_HEARTBEATS: u32 = 2;

/// A coordinator's record of its wanted set over time.
#[derive(Debug)]
pub(super) struct Growth {
    /// The wanted set seen last.
    wanted: Vec<Member>,
    /// When it last changed.
    changed: Instant,
    /// Since when a view that adds members waits.
    waiting: Option<Instant>,
    /// When that wait may end by the passing of time alone.
    pub(super) wake: Option<Instant>,
}

impl Growth {
    pub(super) fn new(now: Instant) -> Growth {
        Growth {
            wanted: Vec::new(),
            changed: now,
            waiting: None,
            wake: None,
        }
    }

    /// We do not coordinate: nothing to remember.
    pub(super) fn clear(&mut self) {
        self.wanted.clear();
        self.waiting = None;
        self.wake = None;
    }

    /// Takes the wanted set of this moment; returns since when a view
    /// that adds members has waited (the wait goes on only if
    /// [`Node::change_due`] says so again).
    pub(super) fn observe(&mut self, wanted: &[Member], now: Instant) -> Option<Instant> {
        if self.wanted != wanted {
            self.wanted = wanted.to_vec();
            self.changed = now;
        }
        self.wake = None;
        self.waiting.take()
    }
}

impl Node {
    /// As coordinator: whether to replace `base` (our view, or the
    /// proposal under way) by `wanted` now. A member of `base` missing
    /// from `wanted` that failed (we no longer reach it, it restarted,
    /// it left, it declined, it chose a node that is not below us) is
    /// proposed away at once. One that goes over to a coordinator below
    /// us is not a failure: we wait, for a time-out at most, and most
    /// likely follow it there. Otherwise a member that lost our view
    /// (`reform`) is answered at once. A view that only adds members
    /// waits until no other node is expected to come
    /// ([`super::peers::Peers::expected`]), or the wanted set has not
    /// changed for two heartbeats, and never more than a time-out.
    pub(super) fn change_due(
        &mut self,
        base: &[Member],
        wanted: &[Member],
        waiting: Option<Instant>,
        reform: bool,
        now: Instant,
    ) -> bool {
        let mut lost = base.iter().filter(|m| !wanted.contains(m)).peekable();
        if lost.peek().is_some() {
            return lost.any(|m| !self.peers.moving(*m, now));
        }
        if reform {
            return true;
        }
        let since = waiting.unwrap_or(now);
        let stable = self.growth.changed + self.timing.heartbeat * STABLE_HEARTBEATS;
        let bound = since + self.timing.timeout;
        if !self.peers.expected(wanted, now) || now >= stable || now >= bound {
            return true;
        }
        self.growth.waiting = Some(since);
        self.growth.wake = Some(stable.min(bound));
        false
    }
}
