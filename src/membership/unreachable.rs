//! A dead daemon noticed in one heartbeat: what a port unreachable
//! answer to one of our datagrams does.
//!
//! When a daemon dies and its host lives on (kill -9, a crash, the
//! out-of-memory killer), the host's kernel answers the next datagram for
//! the closed port with an ICMP port unreachable. The driver hands such an
//! answer to [`Node::handle_unreachable`]: the destination our datagram
//! went to, and what the ICMP message quotes of it. With
//! [`Timing::port_unreachable`](crate::membership::Timing::port_unreachable)
//! (on by default) the node then suspects that peer without waiting for
//! `Timeout`:
//!
//! 1. **Proof of a datagram of ours.** The quote must be a whole datagram
//!    that authenticates under the cluster key (either key of a
//!    rotation), sent by this incarnation of ours to that peer, one of
//!    the last 64 we sent it, and newer than any quote taken before for
//!    it over that link. Anything else is ignored. The destination may
//!    be the peer's address on any link: the same bytes go over each.
//! 2. **Probe.** The first such bounce sends the peer a heartbeat at once
//!    (the probe) and notes its counter. With heartbeats in turn, the
//!    heartbeat sent out of turn to a peer that another peer stopped
//!    hearing (`turns.rs`) is a probe too: that peer's heartbeat, which
//!    authenticates, already said something is wrong, so its bounce
//!    alone is enough. While a probe is under way no other is sent.
//! 3. **Confirm.** A bounce of the probe or of a later datagram over
//!    every link on which the peer was heard within `Timeout` (the one
//!    link of a cluster without links), with no datagram of the peer
//!    accepted over any link since the first bounce, makes the peer's
//!    incarnation *suspected*: it is not heard (as if `Timeout`
//!    had passed), so it is not reached, is recently lost, and the
//!    coordinator proposes a view without it at once, or the members
//!    choose another coordinator if it was theirs. Any datagram of the
//!    peer accepted meanwhile cancels the probe.
//! 4. **Limits.** At most one suspicion per peer per `Timeout`. A
//!    suspicion ends with the next datagram accepted from the peer; if
//!    it comes from the incarnation suspected, the bounces lied (or the
//!    port was closed only for a moment) and bounces for that peer are
//!    ignored for 25 `Timeout`s (5 s at the defaults). A new incarnation
//!    (the daemon restarted) is a node that comes back, as after a
//!    crash.
//!
//! With several links, a daemon that is gone bounces over each of them,
//! while a bounce over one link of a peer still heard over another only
//! says that this address no longer leads to its daemon (it moved, say):
//! hence the confirmation over every link the peer is heard on. A link
//! already silent for `Timeout` is not waited for; a link that breaks
//! together with the daemon leaves that case to `Timeout`.
//!
//! A host that dies, or a link that breaks, sends no ICMP message: those
//! failures are found by `Timeout` as before. A host whose ICMP message
//! quotes fewer bytes than the datagram (the minimum is 8) gives no proof
//! and no speed-up. Linux quotes whole heartbeats.
//!
//! **Few bounces.** Linux also limits these messages per destination: a
//! burst of six, then one a second (the `icmp_ratelimit` sysctl). So
//! each datagram a peer sends a dead daemon spends one of the few
//! bounces it will get, and the rule must be done within them: it needs
//! two (the first and the probe's), or one when the probe was sent out
//! of turn, and never sends a second probe while one is under way. With
//! heartbeats in turn, several peers that stop hearing the dead daemon
//! at one instant would otherwise each have the coordinator send it a
//! heartbeat: six of those spent the burst before the probe went out,
//! and the coordinator waited for `Timeout`. The tests' networks (the
//! unit tests' and the packet simulation) hold bounces back as Linux
//! does (`icmp_limit.rs`).
//!
//! **The threat.** ICMP is not authenticated: anyone who can send us an IP
//! packet can send a port unreachable that names a peer's address and
//! port. What it can do:
//!
//! - Without a copy of a recent datagram of ours to that peer, nothing:
//!   the quote proves nothing, since no one without the key can make a
//!   datagram that authenticates. A datagram seen long ago is no longer
//!   among the last 64, and one quoted before cannot be quoted again.
//! - An attacker who sees our datagrams to the peer (on the path, or on a
//!   shared segment) can quote the last one and then our probe before the
//!   peer's next datagram reaches us (or only a probe sent out of turn,
//!   which a member's authenticated heartbeat caused). The peer is then
//!   suspected although it lives. That is exactly what losing the peer's datagrams to us for
//!   `Timeout` does, and the protocol is built for it: safety never rests
//!   on the failure detector (any suspicion at all yields valid views),
//!   the peer is dropped from the view, notices that it was left out
//!   (exclusion) or comes back as the other side of a healed split, and
//!   rejoins. The cost is one needless view change and back, at most
//!   once per peer and `Timeout`, and then none for 25 `Timeout`s since
//!   the peer's next datagram refutes it. An attacker who can also
//!   suppress the peer's datagrams needs no ICMP at all: it can already
//!   partition the cluster.
//! - **Never an address held twice.** With a quorum, the lease argument
//!   ("Quorum lease" in the membership's documentation) holds
//!   unchanged: a suspicion only stops us hearing the peer, and the
//!   promise of a member that vouched for it counts `P` from the
//!   time it *received* the peer's last vouched heartbeat (`r_y`), which
//!   no bounce moves. So a FLUSH for a view without a peer still waits
//!   `3/4 × Timeout` after that heartbeat, and the peer's lease lapses
//!   first, whether the peer is dead or lives on behind a forged bounce.
//!   This is also why, with a quorum, a dead daemon's addresses move
//!   about `3/4 × Timeout` after its last heartbeat rather than at once:
//!   the bounce saves `Timeout / 4`, no more. Without a quorum no node
//!   holds a lease, and a suspicion, forged or not, is handled like any
//!   other false suspicion: the live peer learns from its coordinator's
//!   heartbeat that a view without it was installed and gives up its
//!   view and addresses (exclusion), as it would after losing `Timeout`
//!   of datagrams. A forged bounce adds no case the protocol did not
//!   already have.
//!
//! The one-way rule is untouched by a suspicion: a peer we do not hear
//! cannot make us defer, and a peer that suspects us (it no longer lists
//! us as heard) is handled as when our datagrams to it are lost. The spin
//! model (`tests/model/membership.pml`) needs no change: it leaves the
//! failure detector out altogether (any node may propose any member set
//! at any moment), which covers a suspicion that comes early; the packet
//! simulation covers the rule itself, with dead daemons on live hosts
//! and forged bounces.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::links::MAX_LINKS;
use super::node::Node;
use super::wire::{self, Heartbeat};

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
    /// Sends `node` a heartbeat now that is a probe: its bounce, or that
    /// of any later datagram, over every link it is needed on, makes us
    /// suspect `node`. Nothing is sent while a probe to it is under way:
    /// each datagram to a dead daemon spends one of the few port
    /// unreachables its kernel answers us with, and the probe's bounce
    /// says all that another could.
    pub(super) fn send_probe(&mut self, node: u8, base: &Heartbeat) {
        let next = self.next_counter(node);
        let bounce = &mut self.peers.get_mut(node).bounce;
        if bounce.probe.is_some() {
            return;
        }
        bounce.probing(next);
        self.send_heartbeat(node, base);
    }

    /// The host of `to` answered a datagram of ours with ICMP port
    /// unreachable; `quoted` is what the answer quotes of that datagram
    /// (the UDP payload, whole or cut short). `to` may be a node's address
    /// on any link. With
    /// [`Timing::port_unreachable`](crate::membership::Timing) off, or
    /// when the quote is not a datagram we sent that node lately, nothing
    /// happens.
    pub fn handle_unreachable(&mut self, to: SocketAddr, quoted: &[u8], now: Instant) {
        if self.timing.port_unreachable && self.begin(now) {
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
        let (timeout, window) = (self.timing.timeout, self.peers.window());
        let peer = self.peers.get_mut(node);
        let needed = (0..self.links.count())
            .filter(|&k| peer.links.heard(k, now, window))
            .fold(0u8, |bits, k| bits | 1 << k);
        match peer.bounce.take(h.counter, link, needed, now, timeout) {
            Verdict::Ignore => {}
            Verdict::Probe => {
                let base = self.heartbeat(now);
                self.send_probe(node, &base);
            }
            Verdict::Suspect => {
                if let Some(incarnation) = peer.incarnation {
                    peer.bounce.suspect(incarnation, now);
                    self.unreachable_suspicions += 1;
                    // Our heartbeats say so at once, to every peer: with
                    // heartbeats in turn most have not sent the dead
                    // daemon anything yet, and this has them check it.
                    self.next_heartbeat = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
