//! The sequencer and delivery within an installed view: a member's
//! multicasts go to the coordinator as DATA, the coordinator numbers them
//! and sends them to every member as SEQUENCED, members deliver them in
//! number order, and heartbeats carry what each member lacks (repair) and
//! what every member has (stability). The coordinator's counters, the
//! `Sequencer`, are part of the view's state (`view_state.rs`).

use std::time::Instant;

use super::node::{Node, NodePhase, MAX_EARLY};
use super::outputs::NodeEvent;
use super::view_state::{message_cost, ViewState, LOG_BUDGET};
use super::wire::{Body, Member, Sequenced, ViewId};

/// How far beyond the next expected local number a DATA may arrive and
/// be kept for later.
const MAX_AHEAD: u32 = 32;
/// Most SEQUENCED messages resent to one member per heartbeat of its.
const MAX_REPAIR: usize = 64;

impl Node {
    /// Hands messages of `view` (the current one, or the one ending) to
    /// the user; ours leave the queue of unsequenced multicasts.
    pub(super) fn deliver(&mut self, view: &ViewState, messages: Vec<Sequenced>) {
        for m in messages {
            if m.origin == self.me {
                self.outgoing.retain(|(local, _)| *local > m.local);
            }
            if let Some(origin) = view.member(m.origin) {
                self.emit(NodeEvent::Deliver {
                    origin,
                    payload: m.payload,
                });
            }
        }
    }

    pub(super) fn on_sequenced(
        &mut self,
        from: u8,
        view: ViewId,
        message: Sequenced,
        now: Instant,
    ) {
        match self.phase {
            NodePhase::Installed => {}
            NodePhase::Flushing { proposal, .. } if proposal == view => {
                if self.early.len() < MAX_EARLY {
                    self.early.push((view, message));
                }
                return;
            }
            _ => return,
        }
        let Some(mut v) = self.view.take() else {
            return;
        };
        if v.id != view || view.coordinator != from || v.sequencer.is_some() {
            self.view = Some(v);
            return;
        }
        let (ready, gap) = v.receive(message);
        self.deliver(&v, ready);
        self.view = Some(v);
        if gap {
            self.nack(from, now);
        }
    }

    /// An early heartbeat to our coordinator: it shows what we lack.
    pub(super) fn nack(&mut self, coordinator: u8, now: Instant) {
        let quiet = self.timing.heartbeat / 4;
        if self.last_nack.is_some_and(|t| now < t + quiet) {
            return;
        }
        self.last_nack = Some(now);
        let base = self.heartbeat(now);
        self.send_heartbeat(coordinator, &base);
    }

    pub(super) fn on_data(
        &mut self,
        from: Member,
        view: ViewId,
        local: u32,
        payload: Vec<u8>,
        now: Instant,
    ) {
        if self.phase != NodePhase::Installed {
            return;
        }
        let Some(v) = &self.view else {
            return;
        };
        let Some(seq) = &v.sequencer else {
            return;
        };
        let Some(pos) = v.members.iter().position(|m| *m == from) else {
            return;
        };
        if v.id != view || local < seq.next_local[pos] {
            return;
        }
        if local > seq.next_local[pos] {
            // Arrived before an earlier one: kept (a little) until it comes.
            if local - seq.next_local[pos] <= MAX_AHEAD {
                if let Some(seq) = self.view.as_mut().and_then(|v| v.sequencer.as_mut()) {
                    seq.ahead[pos].insert(local, payload);
                }
            }
            return;
        }
        let mut next = Some(payload);
        let mut local = local;
        while let Some(payload) = next.take() {
            let fits = self.view.as_ref().is_some_and(|v| {
                v.unacknowledged_cost() + message_cost(payload.len()) <= LOG_BUDGET
            });
            if !fits {
                return;
            }
            self.sequence(pos, local, payload, now);
            local += 1;
            next = self
                .view
                .as_mut()
                .and_then(|v| v.sequencer.as_mut())
                .and_then(|seq| seq.ahead[pos].remove(&local));
        }
    }

    /// Numbers a message of the member at `pos` and sends it to every member.
    pub(super) fn sequence(&mut self, pos: usize, local: u32, payload: Vec<u8>, now: Instant) {
        let Some(mut v) = self.view.take() else {
            return;
        };
        let Some(seq) = v.sequencer.as_mut() else {
            self.view = Some(v);
            return;
        };
        seq.sequenced += 1;
        seq.next_local[pos] += 1;
        let message = Sequenced {
            seq: seq.sequenced,
            origin: v.members[pos].node,
            local,
            payload,
        };
        v.log.insert(message.seq, message.clone());
        v.delivered = message.seq;
        let body = Body::Sequenced {
            view: v.id,
            message: message.clone(),
        };
        let others: Vec<u8> = v
            .members
            .iter()
            .map(|m| m.node)
            .filter(|&n| n != self.me)
            .collect();
        self.deliver(&v, vec![message]);
        self.view = Some(v);
        for to in others {
            self.send(to, &body);
        }
        let _ = now;
    }

    /// Sends our unsequenced multicasts: a coordinator numbers them
    /// itself (as far as the log budget allows); a member sends the newest
    /// (`only_newest`) or all of them as DATA.
    pub(super) fn push_outgoing(&mut self, now: Instant, only_newest: bool) {
        if self.phase != NodePhase::Installed {
            return;
        }
        let Some(v) = &self.view else {
            return;
        };
        if v.sequencer.is_some() {
            while let Some((local, payload)) = self.outgoing.front() {
                let Some(v) = &self.view else {
                    return;
                };
                if v.unacknowledged_cost() + message_cost(payload.len()) > LOG_BUDGET {
                    return;
                }
                let (local, payload) = (*local, payload.clone());
                self.outgoing.pop_front();
                let Some(pos) = v.position(self.me) else {
                    return;
                };
                self.sequence(pos, local, payload, now);
            }
            return;
        }
        let (id, coordinator) = (v.id, v.id.coordinator);
        let skip = if only_newest {
            self.outgoing.len().saturating_sub(1)
        } else {
            0
        };
        let bodies: Vec<Body> = self
            .outgoing
            .iter()
            .skip(skip)
            .map(|(local, payload)| Body::Data {
                view: id,
                local: *local,
                payload: payload.clone(),
            })
            .collect();
        for body in bodies {
            self.send(coordinator, &body);
        }
    }

    /// A member's heartbeat at its coordinator: stability, and repair of
    /// what it lacks.
    pub(super) fn coordinator_heard(
        &mut self,
        v: &mut ViewState,
        pos: usize,
        delivered: u32,
        stable: u32,
    ) {
        let Some(seq) = v.sequencer.as_mut() else {
            return;
        };
        seq.delivered[pos] = seq.delivered[pos].max(delivered.min(seq.sequenced));
        seq.acknowledged_stable[pos] = seq.acknowledged_stable[pos].max(stable.min(seq.sequenced));
        let new_stable = v.sequencer.as_ref().map_or(0, |s| s.stable());
        v.set_stable(new_stable);
        let to = v.members[pos].node;
        if let Some(missing) = v.range(delivered, v.delivered) {
            for message in missing.into_iter().take(MAX_REPAIR) {
                let body = Body::Sequenced {
                    view: v.id,
                    message,
                };
                self.send(to, &body);
            }
        }
    }
}
