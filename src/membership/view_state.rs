//! One installed view: its members, the messages received and delivered
//! in it, and, at its coordinator, the sequencer.

use std::collections::BTreeMap;
use std::time::Instant;

use super::wire::{Member, Sequenced, ViewId};

/// Bytes of unstable messages (payload plus per-message overhead) a view
/// may hold: small enough that a FLUSH or INSTALL carrying all of them
/// fits one datagram.
pub(super) const LOG_BUDGET: usize = 40_000;
/// Per-message bytes of a message in a FLUSH or INSTALL besides its payload.
pub(super) const MESSAGE_OVERHEAD: usize = 11;

#[derive(Debug)]
pub(super) struct ViewState {
    pub id: ViewId,
    pub members: Vec<Member>,
    /// Messages 1..=delivered were delivered here, in order.
    pub delivered: u32,
    /// Every member delivered 1..=stable (as far as we know).
    pub stable: u32,
    /// Received messages above `stable`, delivered or not.
    pub log: BTreeMap<u32, Sequenced>,
    pub sequencer: Option<Sequencer>,
    pub installed_at: Instant,
}

/// The coordinator's part of a view.
#[derive(Debug)]
pub(super) struct Sequencer {
    /// Highest number given.
    pub sequenced: u32,
    /// Per member (same order as `members`): the next local number
    /// expected from it.
    pub next_local: Vec<u32>,
    /// Per member: its delivered count as its last heartbeat said.
    pub delivered: Vec<u32>,
    /// Per member: the stable count its last heartbeat echoed.
    pub acknowledged_stable: Vec<u32>,
    /// Per member: DATA that arrived before an earlier one, by local number.
    pub ahead: Vec<BTreeMap<u32, Vec<u8>>>,
    /// Per member: its heartbeat has shown our view since we installed it.
    pub confirmed: Vec<bool>,
}

pub(super) fn message_cost(payload_len: usize) -> usize {
    payload_len + MESSAGE_OVERHEAD
}

impl ViewState {
    pub(super) fn new(
        id: ViewId,
        members: Vec<Member>,
        me: u8,
        installed_at: Instant,
    ) -> ViewState {
        // The coordinator's own slots: its log is the reference, so it
        // never holds back stability or the log's trimming.
        let sequencer = (id.coordinator == me).then(|| Sequencer {
            sequenced: 0,
            next_local: vec![1; members.len()],
            delivered: members
                .iter()
                .map(|m| if m.node == me { u32::MAX } else { 0 })
                .collect(),
            acknowledged_stable: members
                .iter()
                .map(|m| if m.node == me { u32::MAX } else { 0 })
                .collect(),
            ahead: vec![BTreeMap::new(); members.len()],
            confirmed: members.iter().map(|m| m.node == me).collect(),
        });
        ViewState {
            id,
            members,
            delivered: 0,
            stable: 0,
            log: BTreeMap::new(),
            sequencer,
            installed_at,
        }
    }

    pub(super) fn position(&self, node: u8) -> Option<usize> {
        self.members.iter().position(|m| m.node == node)
    }

    pub(super) fn member(&self, node: u8) -> Option<Member> {
        self.members.iter().copied().find(|m| m.node == node)
    }

    /// The members' nodes, a bit each.
    pub(super) fn member_bits(&self) -> u32 {
        self.members.iter().fold(0, |bits, m| bits | 1 << m.node)
    }

    /// Stores a received message; returns the messages now deliverable in
    /// order (and counts them delivered). `gap` is set when the message
    /// is beyond the next one expected.
    pub(super) fn receive(&mut self, message: Sequenced) -> (Vec<Sequenced>, bool) {
        if message.seq <= self.delivered {
            return (Vec::new(), false);
        }
        let gap = message.seq > self.delivered + 1;
        self.log.entry(message.seq).or_insert(message);
        (self.take_deliverable(), gap)
    }

    fn take_deliverable(&mut self) -> Vec<Sequenced> {
        let mut out = Vec::new();
        while let Some(m) = self.log.get(&(self.delivered + 1)) {
            out.push(m.clone());
            self.delivered += 1;
        }
        out
    }

    /// The delivered messages not known stable, for a FLUSH.
    pub(super) fn unstable_delivered(&self) -> Vec<Sequenced> {
        if self.stable >= self.delivered {
            return Vec::new();
        }
        self.log
            .range(self.stable + 1..=self.delivered)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Messages `after+1 ..= upto` from our log, if we have them all.
    pub(super) fn range(&self, after: u32, upto: u32) -> Option<Vec<Sequenced>> {
        (after + 1..=upto)
            .map(|s| self.log.get(&s).cloned())
            .collect()
    }

    /// Every member delivered up to `stable`. A member forgets those
    /// messages; the coordinator keeps them until every member has echoed
    /// that stable point, so that [`ViewState::unacknowledged_cost`] covers
    /// everything a member may still hold.
    pub(super) fn set_stable(&mut self, stable: u32) {
        let stable = stable.min(self.delivered);
        if stable > self.stable {
            self.stable = stable;
        }
        let forget = match &self.sequencer {
            Some(seq) => seq.acknowledged_floor().min(self.stable),
            None => self.stable,
        };
        if self.log.keys().next().is_some_and(|&first| first <= forget) {
            self.log = self.log.split_off(&(forget + 1));
        }
    }

    /// Bytes of the messages a FLUSH from any member may carry.
    pub(super) fn unacknowledged_cost(&self) -> usize {
        self.log
            .values()
            .map(|m| message_cost(m.payload.len()))
            .sum()
    }
}

impl Sequencer {
    /// Lowest delivered count among the members: the new stable point.
    pub(super) fn stable(&self) -> u32 {
        self.delivered.iter().copied().min().unwrap_or(0)
    }

    /// Lowest stable point a member echoed back.
    pub(super) fn acknowledged_floor(&self) -> u32 {
        self.acknowledged_stable.iter().copied().min().unwrap_or(0)
    }
}
