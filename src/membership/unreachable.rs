//! A dead daemon noticed in one heartbeat: what a port unreachable
//! answer to one of our datagrams does (module documentation, "Port
//! unreachable").

use std::net::SocketAddr;
use std::time::Instant;

use super::node::Node;
use super::wire;

/// A bounce counts only for one of the last this many datagrams we sent
/// to that node (about a second of heartbeats at the defaults): an old
/// datagram, kept by someone who saw it, proves nothing of the present.
const RECENT_DATAGRAMS: u64 = 64;
/// A suspicion that a bounce caused and that the same incarnation then
/// refuted (it spoke again: the bounce was forged, or its port was
/// closed only for a moment) turns bounces of that node off for this many
/// time-outs.
const REFUTED_TIMEOUTS: u32 = 25;

/// What the bounces of our datagrams to one node told us.
#[derive(Debug, Default, Clone)]
pub(super) struct Bounce {
    /// The counter of our probe, sent after a first bounce: a bounce of
    /// it or of a later datagram confirms.
    probe: Option<u64>,
    /// The counter of the latest bounced datagram taken: each counts once.
    last_quoted: Option<u64>,
    /// The incarnation suspected on a confirmed bounce: not heard until
    /// a datagram of it (or of a newer one) is accepted.
    pub suspected: Option<u64>,
    /// When a bounce last made us suspect it.
    last_suspicion: Option<Instant>,
    /// No bounce is taken before this (a suspicion was refuted).
    refuted_until: Option<Instant>,
}

/// What one bounce leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing: not proof enough, or too soon after the last suspicion.
    Ignore,
    /// A first bounce: send the node a heartbeat at once.
    Probe,
    /// The probe (or a later datagram) bounced too: suspect the node.
    Suspect,
}

impl Bounce {
    /// A bounce of our datagram `counter`, at `now`.
    pub(super) fn take(
        &mut self,
        counter: u64,
        now: Instant,
        timeout: std::time::Duration,
    ) -> Verdict {
        if self.suspected.is_some() || self.last_quoted.is_some_and(|q| counter <= q) {
            return Verdict::Ignore;
        }
        self.last_quoted = Some(counter);
        let refuted = self.refuted_until.is_some_and(|t| now < t);
        let recent = self.last_suspicion.is_some_and(|t| now < t + timeout);
        if refuted || recent {
            return Verdict::Ignore;
        }
        match self.probe {
            None => Verdict::Probe,
            Some(probe) if counter >= probe => Verdict::Suspect,
            // Sent before the probe: the first bounce already said that.
            Some(_) => Verdict::Ignore,
        }
    }

    /// Our probe to the node goes out with `counter`.
    pub(super) fn probing(&mut self, counter: u64) {
        self.probe = Some(counter);
    }

    /// The node's `incarnation` is suspected from `now`.
    pub(super) fn suspect(&mut self, incarnation: u64, now: Instant) {
        self.probe = None;
        self.suspected = Some(incarnation);
        self.last_suspicion = Some(now);
    }

    /// A datagram of the node's `incarnation` was accepted at `now`: a
    /// probe under way is cancelled, and a suspicion ends (refuted, if it
    /// is the incarnation suspected).
    pub(super) fn heard(&mut self, incarnation: u64, now: Instant, timeout: std::time::Duration) {
        self.probe = None;
        if let Some(suspected) = self.suspected.take() {
            if suspected == incarnation {
                self.refuted_until = Some(now + timeout * REFUTED_TIMEOUTS);
            }
        }
    }
}

impl Node {
    /// The host of `to` answered a datagram of ours with ICMP port
    /// unreachable; `quoted` is what the answer quotes of that datagram
    /// (the UDP payload, whole or cut short). With
    /// [`Settings::port_unreachable`](crate::membership::Settings) off, or
    /// when the quote is not a datagram we sent `to` lately, nothing
    /// happens.
    pub fn handle_unreachable(&mut self, to: SocketAddr, quoted: &[u8], now: Instant) {
        if self.settings.port_unreachable && self.begin(now) {
            self.take_bounce(to, quoted, now);
            self.release_held_flush(now);
            self.update(now);
            self.report_lease(now);
        }
        self.deadline = self.next_deadline();
    }

    fn take_bounce(&mut self, to: SocketAddr, quoted: &[u8], now: Instant) {
        let Some(node) = self.nodes.iter().position(|a| SocketAddr::V4(*a) == to) else {
            return;
        };
        let node = node as u8;
        if node == self.me || !self.peers.hears(node, now) {
            return;
        }
        // Only a datagram of ours, sent lately to that node, is proof:
        // nobody without the key can make one up.
        let Ok(opened) = wire::open(self.key(), quoted) else {
            return;
        };
        let h = opened.header;
        let next = self.next_counter(node);
        if h.digest != self.digest()
            || h.sender != self.me
            || h.destination != node
            || h.incarnation != self.incarnation
            || h.counter >= next
            || next - h.counter > RECENT_DATAGRAMS
        {
            return;
        }
        let timeout = self.settings.timeout;
        let peer = self.peers.get_mut(node);
        match peer.bounce.take(h.counter, now, timeout) {
            Verdict::Ignore => {}
            Verdict::Probe => {
                peer.bounce.probing(next);
                let base = self.heartbeat(now);
                self.send_heartbeat(node, &base);
            }
            Verdict::Suspect => {
                if let Some(incarnation) = peer.incarnation {
                    peer.bounce.suspect(incarnation, now);
                    self.unreachable_suspicions += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
