//! Our heartbeats: when they go (every `Heartbeat`, or at once to keep
//! pace with the coordinator we follow) and what they say (module
//! documentation, "Timing" and the HEARTBEAT layout).

use std::time::Instant;

use super::node::{Node, NodePhase};
use super::wire::{Body, Heartbeat};

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
    /// A tick only ever comes earlier, never later. Every follower of a
    /// coordinator so sends just after receiving its heartbeats, and each
    /// node receives the cluster's heartbeats in one burst per period
    /// rather than one by one, which costs it one wake-up instead of one
    /// per peer (see "Timing" in the module documentation).
    pub(super) fn keep_pace(&mut self, from: u8, now: Instant) {
        if from == self.me || self.choice != Some(from) {
            return;
        }
        let slack = self.timing.heartbeat / 8;
        let due_in = self.next_heartbeat.saturating_duration_since(now);
        let sent_ago = now.saturating_duration_since(self.last_heartbeat);
        if due_in > slack && sent_ago > slack {
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
        }
    }

    /// Heartbeat to every other node; the period restarts.
    pub(super) fn send_heartbeats(&mut self, now: Instant) {
        let base = self.heartbeat(now);
        let others: Vec<u8> = self.peers.others().collect();
        for to in others {
            self.send_heartbeat(to, &base);
        }
        self.last_heartbeat = now;
        self.next_heartbeat = now + self.timing.heartbeat;
    }
}
