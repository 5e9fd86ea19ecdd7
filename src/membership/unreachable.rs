//! A dead daemon noticed in one heartbeat: what a port unreachable
//! answer to one of our datagrams does (module documentation, "Port
//! unreachable").

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::links::MAX_LINKS;
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
    /// it or of a later datagram confirms, over each link it is needed on.
    probe: Option<u64>,
    /// Bit `k`: the probe (or a later datagram) bounced over link `k`.
    confirmed: u8,
    /// Per link, the counter of the latest bounced datagram taken: each
    /// counts once per link (the same bytes go over every link).
    last_quoted: [Option<u64>; MAX_LINKS],
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
    /// The probe (or a later datagram) bounced too, over every link it
    /// was needed on: suspect the node.
    Suspect,
}

impl Bounce {
    /// A bounce of our datagram `counter` sent over `link`, at `now`.
    /// `needed` has bit `k` set for each link over which the node was
    /// heard within `timeout`: a suspicion needs the probe to bounce over
    /// each of them (a daemon that is gone bounces over every link; a
    /// bounce over one link of a node heard over another only says that
    /// this address no longer leads to it).
    pub(super) fn take(
        &mut self,
        counter: u64,
        link: u8,
        needed: u8,
        now: Instant,
        timeout: Duration,
    ) -> Verdict {
        let quoted = &mut self.last_quoted[usize::from(link)];
        if self.suspected.is_some() || quoted.is_some_and(|q| counter <= q) {
            return Verdict::Ignore;
        }
        *quoted = Some(counter);
        let refuted = self.refuted_until.is_some_and(|t| now < t);
        let recent = self.last_suspicion.is_some_and(|t| now < t + timeout);
        if refuted || recent {
            return Verdict::Ignore;
        }
        match self.probe {
            None => Verdict::Probe,
            Some(probe) if counter >= probe => {
                self.confirmed |= 1 << link;
                if self.confirmed & needed == needed {
                    Verdict::Suspect
                } else {
                    Verdict::Ignore
                }
            }
            // Sent before the probe: the first bounce already said that.
            Some(_) => Verdict::Ignore,
        }
    }

    /// Our probe to the node goes out with `counter`.
    pub(super) fn probing(&mut self, counter: u64) {
        self.probe = Some(counter);
        self.confirmed = 0;
    }

    /// The node's `incarnation` is suspected from `now`.
    pub(super) fn suspect(&mut self, incarnation: u64, now: Instant) {
        self.probe = None;
        self.suspected = Some(incarnation);
        self.last_suspicion = Some(now);
    }

    /// A datagram of the node's `incarnation` was accepted at `now`, over
    /// any link: a probe under way is cancelled, and a suspicion ends
    /// (refuted, if it is the incarnation suspected).
    pub(super) fn heard(&mut self, incarnation: u64, now: Instant, timeout: Duration) {
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
    /// (the UDP payload, whole or cut short). `to` may be a node's address
    /// on any link. With
    /// [`Settings::port_unreachable`](crate::membership::Settings) off, or
    /// when the quote is not a datagram we sent that node lately, nothing
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
        let Some((node, link)) = self.links.node_at(to) else {
            return;
        };
        if node == self.me || !self.peers.hears(node, now) {
            return;
        }
        // Only a datagram of ours, sent lately to that node, is proof:
        // nobody without a key of ours can make one up. The same bytes
        // went over every link, under the key current then (either of a
        // rotation's pair).
        let Ok((opened, _)) = wire::open_under(self.keys(), quoted) else {
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
        let needed = (0..self.links.count())
            .filter(|&k| peer.links.heard(k, now, timeout))
            .fold(0u8, |bits, k| bits | 1 << k);
        match peer.bounce.take(h.counter, link, needed, now, timeout) {
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
