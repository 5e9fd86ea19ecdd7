//! Our heartbeats: when they go (every `Heartbeat`, or at once to keep
//! pace with the coordinator we follow), to whom (every peer, or in a
//! quiet cluster of more than nine nodes a share of them in turn), and
//! what they say (module documentation, "Timing", "Failure detector" and
//! the HEARTBEAT layout).
//!
//! # Heartbeats in turn
//!
//! Heartbeats from every node to every other each period cost n(n − 1)
//! datagrams a period: at 32 nodes and the defaults, 3,100 a second in
//! and out of each node. From ten nodes on, a quiet node sends at most
//! eight a period:
//!
//! - The *spread* is `s = ⌈(n − 1) / 8⌉` periods: 1 up to nine nodes
//!   (nothing below changes then, and heartbeats relay nothing), 2 up to
//!   17, 4 at 32. Period `k` of a node goes to peer `p` when
//!   `(p + k) mod s = 0`: each peer gets one heartbeat a *round* of `s`
//!   periods.
//! - Every peer gets the period's heartbeat while what it says (all but
//!   the send time, the echo and the relayed entries) changed less than a
//!   round ago. A change of choice, view, counts, hears or reach reaches
//!   every peer in the next period and `s` times in a row, as with
//!   heartbeats to everyone, so the rules that react to a peer's
//!   heartbeat see it as soon as before.
//! - A peer whose last heartbeat asks for answers (it keeps a quorum
//!   lease) gets every period's heartbeat.
//!
//! The failure detector then takes evidence from two places. Each
//! heartbeat relays, for every node its sender received a datagram from
//! less than `Timeout` ago, that node's incarnation and how long ago:
//! only what the sender received itself, one hop, so no evidence goes
//! round and grows younger. Node `a` hears `b` when
//!
//! 1. `b` is *alive*: the latest datagram of `b`'s newest incarnation
//!    received by `a`, or by a peer as its heartbeat to `a` relays, came
//!    less than `Timeout` ago; and
//! 2. the *link* works: a datagram of `b` reached `a` itself less than
//!    `s × Timeout` ago (with several links, any of them).
//!
//! Why the failure detector keeps its promises:
//!
//! - **A crash, a stall, a partition.** Nothing of `b` is received on
//!   our side after its last heartbeat, so (1) fails `Timeout` after the
//!   last one any of us took, from `b`'s last period as before. A relayed
//!   age leaves out the relay's transit (it is counted from our receipt
//!   of the relay), so `b` looks younger by at most one transit: the only
//!   delay relays add to a failover.
//! - **Loss.** `b` reaches about eight nodes a period and each relays it,
//!   so (1) fails on a live `b` only when all of that is lost for a whole
//!   `Timeout`; (2) needs every direct heartbeat of `s × Timeout` lost, as
//!   many (ten at the defaults) as one `Timeout` of heartbeats to everyone.
//! - **A link cut between two live nodes** fails (2) only: it is noticed
//!   after `s × Timeout` rather than `Timeout` (400 ms at 16 nodes, 800 ms
//!   at 32, at the defaults). Until then what crosses that link (PROPOSE,
//!   FLUSH, INSTALL, SEQUENCED) is lost and resent as under loss.
//! - **Safety** never depended on the failure detector (module
//!   documentation: any choice and any proposal yield valid views).
//! - **The stall rule** counts our own periods: unchanged.
//! - **The quorum lease** counts on echoes at most two periods late. A
//!   node that keeps a lease asks for answers, so every node heartbeats
//!   it every period, and "Quorum lease" holds word for word. A cluster
//!   with a quorum pays the full cost for that.
//! - **Forgery.** A relayed entry is authenticated with its datagram; a
//!   peer holding the key could keep a dead node heard, as it could by
//!   forging that node's heartbeats.

use std::time::Instant;

use super::node::{Node, NodePhase};
use super::wire::{Body, Heartbeat, Relayed};

/// Peers a quiet node heartbeats per period, at most (besides those that
/// ask for an answer to every heartbeat).
const FAN_OUT: usize = 8;

/// Heartbeat periods a quiet node of a cluster of `nodes` takes to
/// heartbeat every peer once: 1 up to nine nodes, 4 at 32.
pub(super) fn spread(nodes: usize) -> u32 {
    nodes.saturating_sub(1).div_ceil(FAN_OUT).max(1) as u32
}

/// Whom our heartbeats go to: every peer while what they say changes,
/// and in a quiet cluster each peer once per `spread` periods, in turn.
#[derive(Debug)]
pub(super) struct Rotation {
    /// Periods sent so far.
    tick: u64,
    /// What our heartbeats last said, besides their send time, echo and
    /// relayed entries.
    said: Option<Heartbeat>,
    /// When that last changed.
    changed_at: Instant,
}

impl Rotation {
    pub(super) fn new(now: Instant) -> Rotation {
        Rotation {
            tick: 0,
            said: None,
            changed_at: now,
        }
    }
}

impl Node {
    /// The heartbeat period came round.
    pub(super) fn tick(&mut self, now: Instant) {
        self.send_heartbeats(now);
        self.check_links(now);
        self.push_outgoing(now, false);
        if let Some(p) = &self.proposal {
            let body = Body::Propose {
                proposal: p.id,
                members: p.members.clone(),
            };
            let missing: Vec<u8> = p
                .missing()
                .map(|m| m.node)
                .filter(|&n| n != self.me)
                .collect();
            for to in missing {
                self.send(to, &body);
            }
        }
    }

    /// A heartbeat of the coordinator we follow arrived: our next tick
    /// comes now, in step with it, unless it is due within an eighth of
    /// `Heartbeat` or we sent as recently (then we are in step already).
    /// A heartbeat of another node that follows our coordinator brings our
    /// tick forward too, but only when it is due within a quarter of
    /// `Heartbeat` anyway (with heartbeats in turn the coordinator's own
    /// reach us once a round; in between, the first of the burst sets the
    /// pace). A tick only ever comes earlier, never later. Every follower
    /// of a coordinator so sends just after receiving the first
    /// heartbeats of the period, and each node receives the cluster's
    /// heartbeats in one burst per period rather than one by one, which
    /// costs it a wake-up or two instead of one per peer (see "Timing" in
    /// the module documentation).
    pub(super) fn keep_pace(&mut self, from: u8, now: Instant) {
        let Some(coordinator) = self.choice else {
            return;
        };
        if from == self.me {
            return;
        }
        let slack = self.timing.heartbeat / 8;
        let due_in = self.next_heartbeat.saturating_duration_since(now);
        let sent_ago = now.saturating_duration_since(self.last_heartbeat);
        let in_step = due_in <= slack || sent_ago <= slack;
        let fellow = self
            .peers
            .get(from)
            .heartbeat
            .as_ref()
            .is_some_and(|hb| hb.choice == Some(coordinator));
        let pull = if from == coordinator {
            true
        } else {
            fellow && due_in <= self.timing.heartbeat / 4
        };
        if pull && !in_step {
            self.next_heartbeat = now;
        }
    }

    /// Our heartbeat of this moment, without an echo (each destination
    /// gets its own: [`Node::send_heartbeat`]).
    pub(super) fn heartbeat(&self, now: Instant) -> Heartbeat {
        let view = self.view.as_ref();
        Heartbeat {
            hears: self.peers.hears_bitmap(now),
            reach: self.peers.reach_bitmap(now),
            choice: self.choice,
            // Only an installed view: a member frozen by a flush shows
            // none, so its coordinator sees that it is no longer with it.
            view: view
                .filter(|_| self.phase == NodePhase::Installed)
                .map(|v| v.id),
            delivered: view.map_or(0, |v| v.delivered),
            sequenced: view
                .and_then(|v| v.sequencer.as_ref())
                .map_or(0, |s| s.sequenced),
            stable: view.map_or(0, |v| v.stable),
            max_ltime: self.max_ltime,
            sent: self.clock_us(now),
            echo: None,
            wants_answers: self.needed > 1,
            relayed: self.relayed(now),
        }
    }

    /// Whom we heard directly less than `Timeout` ago, and how long ago:
    /// what our heartbeats relay when peers are heartbeated in turn
    /// (with a spread of 1, nothing: every node hears every other
    /// directly each period).
    fn relayed(&self, now: Instant) -> Relayed {
        let mut relayed = Relayed::default();
        if self.peers.spread == 1 {
            return relayed;
        }
        for n in self.peers.others() {
            let peer = self.peers.get(n);
            if let (true, Some(incarnation), Some(at)) =
                (self.peers.hears(n, now), peer.incarnation, peer.last_heard)
            {
                let age = now.saturating_duration_since(at);
                if age < self.timing.timeout {
                    relayed.insert(n, incarnation, age);
                }
            }
        }
        relayed
    }

    /// Takes what a heartbeat of `from` relays: the latest moment it
    /// heard each node directly, for the incarnation we know.
    pub(super) fn take_relayed(&mut self, from: u8, relayed: &Relayed, now: Instant) {
        for (node, incarnation, age) in relayed.entries() {
            if node == self.me || node == from || usize::from(node) >= self.nodes.len() {
                continue;
            }
            let Some(at) = now.checked_sub(age) else {
                continue;
            };
            let before = self.peers.hears_alone(node, now);
            let peer = self.peers.get_mut(node);
            if peer.incarnation != Some(incarnation) || peer.relayed.is_some_and(|r| r >= at) {
                continue;
            }
            peer.relayed = Some(at);
            if !before && self.peers.hears_alone(node, now) {
                self.peers.get_mut(node).heard_since = Some(now);
            }
        }
    }

    /// Heartbeat to every peer whose turn it is; the period restarts.
    /// Every peer's turn comes while what the heartbeat says changed less
    /// than a round (`spread` periods) ago, and at every period for a
    /// peer that asks for an answer to each; otherwise a peer's turn comes
    /// once per round.
    pub(super) fn send_heartbeats(&mut self, now: Instant) {
        let base = self.heartbeat(now);
        let gist = Heartbeat {
            sent: 0,
            relayed: Relayed::default(),
            ..base.clone()
        };
        let rotation = &mut self.rotation;
        if rotation.said.as_ref() != Some(&gist) {
            rotation.said = Some(gist);
            rotation.changed_at = now;
        }
        let spread = u64::from(self.peers.spread);
        let round = self.timing.heartbeat * self.peers.spread;
        let everyone = now < rotation.changed_at + round;
        let tick = rotation.tick;
        rotation.tick += 1;
        let turns: Vec<u8> = self
            .peers
            .others()
            .filter(|&to| {
                everyone
                    || (u64::from(to) + tick) % spread == 0
                    || self.peers.get(to).wants_answers()
            })
            .collect();
        for to in turns {
            self.send_heartbeat(to, &base);
        }
        self.last_heartbeat = now;
        self.next_heartbeat = now + self.timing.heartbeat;
    }
}
