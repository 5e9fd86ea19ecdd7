//! Our heartbeats: when they go (every `Heartbeat`, or at once to keep
//! pace with the coordinator we follow), to whom (every peer, or in a
//! quiet cluster of more than nine nodes a share of them in turn: see
//! `turns.rs`), and what they say (module documentation, "Timing",
//! "Failure detector" and the HEARTBEAT layout).

use std::time::Instant;

use super::node::{Node, NodePhase};
use super::peers::nodes_in;
use super::turns::{turn_of, Gist};
use super::wire::{Body, Heartbeat, Relayed};

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
    /// heard each node directly, for the incarnation we know. A node we
    /// did not hear and hear now is heard since now. (Fresher evidence
    /// only ever makes a node heard: so whom we heard before is asked
    /// once, and after only about the nodes we did not hear.)
    pub(super) fn take_relayed(&mut self, from: u8, relayed: &Relayed, now: Instant) {
        let heard_before = self.peers.hears_bitmap(now);
        let mut fresher_unheard = 0u32;
        for (node, incarnation, age) in relayed.entries() {
            if node == self.me || node == from || usize::from(node) >= self.nodes.len() {
                continue;
            }
            let Some(at) = now.checked_sub(age) else {
                continue;
            };
            let peer = self.peers.get(node);
            if peer.incarnation != Some(incarnation) || peer.relayed.is_some_and(|r| r >= at) {
                continue;
            }
            self.peers.get_mut(node).relayed = Some(at);
            if heard_before & (1 << node) == 0 {
                fresher_unheard |= 1 << node;
            }
        }
        for node in nodes_in(fresher_unheard) {
            if self.peers.hears(node, now) {
                self.peers.get_mut(node).heard_since = Some(now);
            }
        }
    }

    /// A peer stopped hearing the nodes of `nodes` (a bit each): with
    /// heartbeats in turn, those of them we still hear get a probe now
    /// rather than a heartbeat at their turn, so that a dead daemon's
    /// host answers it with a port unreachable at once, and that one
    /// bounce is enough (see `unreachable.rs`). Several peers that stop
    /// hearing a node together cost it one probe, not one each. With
    /// every peer heartbeated every period, or the rule off, nothing to
    /// do.
    pub(super) fn check_on(&mut self, nodes: u32, now: Instant) {
        if self.peers.spread == 1 || nodes == 0 || !self.timing.port_unreachable {
            return;
        }
        let base = self.heartbeat(now);
        // Those we hear, as the heartbeat says.
        for n in nodes_in(nodes & base.hears) {
            self.send_probe(n, &base);
        }
    }

    /// The peers that read our heartbeats' delivery counters (a bit
    /// each): our view's coordinator, or, if we are it, its members.
    fn counters_read_by(&self) -> u32 {
        let Some(view) = &self.view else {
            return 0;
        };
        if view.id.coordinator != self.me {
            return 1 << view.id.coordinator;
        }
        view.member_bits() & !(1 << self.me)
    }

    /// Heartbeat to every peer whose turn it is; the period restarts.
    /// Every peer's turn comes while what every peer reads of the
    /// heartbeat changed less than a round (`spread` periods) ago; our
    /// coordinator's (or, if we are it, our members') while the delivery
    /// counters did; and at every period for a peer that asks for an
    /// answer to each. Otherwise a peer's turn comes once per round.
    pub(super) fn send_heartbeats(&mut self, now: Instant) {
        let base = self.heartbeat(now);
        let spread = self.peers.spread;
        let round = self.timing.heartbeat * spread;
        let (tick, extra) = self.rotation.period(Gist::of(&base), now, round);
        let counters_for = self.counters_read_by();
        for to in self.peers.others() {
            let turn = extra.everyone
                || (extra.counters && counters_for & (1 << to) != 0)
                || turn_of(to, self.me, tick, spread)
                || self.peers.get(to).wants_answers();
            if turn {
                self.send_heartbeat(to, &base);
            }
        }
        self.last_heartbeat = now;
        self.next_heartbeat = now + self.timing.heartbeat;
    }
}
