//! The quorum lease (module documentation, "Quorum lease"): the echoes a
//! node sends and takes, the lease they make, the FLUSH held back by the
//! promise, and the `Lease` events.

use std::time::{Duration, Instant};

use super::node::{Node, NodePhase};
use super::outputs::NodeEvent;
use super::status::QuorumLease;
use super::wire::{Body, Echo, Heartbeat, Member, ViewId};

/// How long a member's echo keeps our lease: `Timeout / 2`.
pub(super) fn lease_span(timeout: Duration) -> Duration {
    timeout / 2
}

/// How long after it last heard a node it vouched for a member holds back
/// a FLUSH that excludes that node: `3/4 × Timeout`.
pub(super) fn promise_span(timeout: Duration) -> Duration {
    timeout * 3 / 4
}

/// A FLUSH held back by the promise until `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeldFlush {
    pub proposal: ViewId,
    pub coordinator: u8,
    pub at: Instant,
}

impl Node {
    /// Microseconds of our clock since we started: the `sent` time of a
    /// heartbeat sent `now`.
    pub(super) fn clock_us(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Sends `base` (our heartbeat of this moment) to `to` with our echo
    /// of `to`'s heartbeats, and notes what the echo vouches for.
    pub(super) fn send_heartbeat(&mut self, to: u8, base: &Heartbeat) {
        self.last_sent_us = self.last_sent_us.max(base.sent);
        let mut hb = base.clone();
        hb.echo = self.echo_to(to);
        self.send(to, &Body::Heartbeat(hb));
    }

    /// Our echo for `to`: the send time of its latest heartbeat, flagged
    /// if we name a view holding it and have not flushed, since we last
    /// installed a view holding it, a proposal that excludes it. A
    /// flagged echo is a promise: its receive time is noted.
    fn echo_to(&mut self, to: u8) -> Option<Echo> {
        let peer = self.peers.get(to);
        let incarnation = peer.incarnation?;
        let (sent, received) = peer.echo?;
        let member = Member {
            node: to,
            incarnation,
        };
        let in_view = self.excluded & (1 << to) == 0 && self.names(member);
        if in_view {
            let peer = self.peers.get_mut(to);
            peer.vouched = Some(peer.vouched.map_or(received, |v| v.max(received)));
        }
        Some(Echo {
            incarnation,
            sent,
            in_view,
        })
    }

    /// The view we name holds `member`: our installed view, or, while
    /// flushing, the proposal we answered.
    fn names(&self, member: Member) -> bool {
        match self.phase {
            NodePhase::Installed => self
                .view
                .as_ref()
                .is_some_and(|v| v.members.contains(&member)),
            NodePhase::Flushing { .. } => self.flushing_members.contains(&member),
            _ => false,
        }
    }

    /// Takes the echo of a heartbeat `from` sent us (the newest it sent):
    /// our lease through it. An echo of another incarnation of ours, or of
    /// a time we have not reached, gives nothing.
    pub(super) fn take_echo(&mut self, from: u8, hb: &Heartbeat, now: Instant) {
        let span = lease_span(self.timing.timeout);
        let until = hb
            .echo
            .filter(|e| e.in_view && e.incarnation == self.incarnation)
            .filter(|e| e.sent <= self.last_sent_us)
            .and_then(|e| self.epoch.checked_add(Duration::from_micros(e.sent)))
            .and_then(|t| t.checked_add(span));
        let peer = self.peers.get_mut(from);
        peer.lease = until;
        peer.echo = Some((hb.sent, now));
    }

    /// When a FLUSH for a proposal of `members` may go: `3/4 × Timeout`
    /// after we last heard, through a heartbeat we vouched for, any node
    /// the proposal leaves out (and that has not left on purpose); at once
    /// without a quorum.
    fn flush_allowed_at(&self, members: &[Member]) -> Option<Instant> {
        // Every node is configured with the same quorum: without one, no
        // node keeps a lease that a promise would have to protect.
        if self.needed < 2 {
            return None;
        }
        let span = promise_span(self.timing.timeout);
        self.peers
            .others()
            .filter(|&n| !self.holds_current(members, n))
            .filter_map(|n| self.peers.get(n).vouched)
            .max()
            .and_then(|t| t.checked_add(span))
    }

    /// Answers the proposal we accepted (`self.flushing_members`) now, or
    /// at the end of the promise: the FLUSH goes to `coordinator` (our
    /// own proposal takes our report directly).
    pub(super) fn flush_when_allowed(&mut self, proposal: ViewId, coordinator: u8, now: Instant) {
        if let Some(at) = self.flush_allowed_at(&self.flushing_members) {
            if now < at {
                self.held_flush = Some(HeldFlush {
                    proposal,
                    coordinator,
                    at,
                });
                return;
            }
        }
        self.held_flush = None;
        for n in self.peers.others() {
            if !self.holds_current(&self.flushing_members, n) {
                self.excluded |= 1 << n;
            }
        }
        if coordinator == self.me {
            let report = self.flush_report();
            self.on_flush(self.member(), proposal, report, now);
        } else {
            self.send_flush(proposal, coordinator);
        }
    }

    /// Sends the held FLUSH once its time has come, if we still flush for
    /// that proposal.
    pub(super) fn release_held_flush(&mut self, now: Instant) {
        let Some(held) = self.held_flush else {
            return;
        };
        if now < held.at {
            return;
        }
        self.held_flush = None;
        let still = NodePhase::Flushing {
            proposal: held.proposal,
            coordinator: held.coordinator,
        };
        if self.phase == still {
            self.flush_when_allowed(held.proposal, held.coordinator, now);
        }
    }

    /// `members` hold node `n` in the incarnation we hear.
    fn holds_current(&self, members: &[Member], n: u8) -> bool {
        self.peers
            .get(n)
            .member(n)
            .is_some_and(|m| members.contains(&m))
    }

    /// A view of `members` installed here: we vouch for them again.
    pub(super) fn installed_lease(&mut self, members: &[Member]) {
        for m in members {
            self.excluded &= !(1u32 << m.node);
        }
    }

    /// Until when the lease holds as echoed: the `needed`-th latest expiry
    /// among ours (never) and each member's. `None`: it does not hold.
    /// (Without a quorum the caller treats it as held forever.)
    fn quorum_until(&self, now: Instant) -> Option<Instant> {
        let others = self.needed.checked_sub(1)?;
        let mut expiries: Vec<Instant> = self
            .peers
            .others()
            .filter_map(|n| self.peers.get(n).lease)
            .filter(|&t| t > now)
            .collect();
        if others == 0 || expiries.len() < others {
            return None;
        }
        expiries.sort_unstable_by(|a, b| b.cmp(a));
        Some(expiries[others - 1])
    }

    fn lease_required(&self) -> bool {
        self.needed > 1
    }

    /// The lease holds now (as echoed; no quorum set: always).
    fn lease_holds(&self, now: Instant) -> bool {
        !self.lease_required() || self.quorum_until(now).is_some()
    }

    /// After every call: `Lease(false)` the moment the lease lapses while
    /// we are in a view, `Lease(true)` when it holds again while a view is
    /// installed here (not while flushing: see the module documentation).
    pub(super) fn report_lease(&mut self, now: Instant) {
        if !self.joined {
            self.lease_reported = false;
            return;
        }
        let holds = self.lease_holds(now);
        if self.lease_reported && !holds {
            self.lease_reported = false;
            self.events.push_back(NodeEvent::Lease(false));
        } else if !self.lease_reported && holds && self.phase == NodePhase::Installed {
            self.lease_reported = true;
            self.events.push_back(NodeEvent::Lease(true));
        }
    }

    /// When the reported lease lapses unless renewed (for the deadline).
    pub(super) fn lease_deadline(&self) -> Option<Instant> {
        if !self.lease_reported || !self.lease_required() {
            return None;
        }
        self.quorum_until(self.now)
    }

    /// Members whose echoes must hold the lease, ourselves included (0
    /// or 1: no lease, it always holds). Applies at once: a `Lease` event
    /// follows if the verdict changes.
    pub fn set_quorum(&mut self, needed: usize) {
        self.needed = needed;
        let now = self.now;
        self.report_lease(now);
        self.deadline = self.next_deadline();
    }

    /// Until when the lease holds unless renewed: `None` when it does
    /// not hold (not reported held, see [`NodeEvent::Lease`]) or when no
    /// quorum is set (then it never lapses; see [`Node::status`]).
    pub fn lease_until(&self) -> Option<Instant> {
        self.lease_deadline()
    }

    /// The lease as the status shows it.
    pub(super) fn lease_status(&self) -> QuorumLease {
        if !self.lease_required() {
            QuorumLease::NotRequired
        } else if let Some(until) = self.lease_deadline() {
            QuorumLease::Held { until }
        } else {
            QuorumLease::Lapsed
        }
    }
}

#[cfg(test)]
mod tests;
