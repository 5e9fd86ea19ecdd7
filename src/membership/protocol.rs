//! The protocol's rules: what each datagram does, when a coordinator
//! proposes, and how a view is flushed and installed (the sequencer is in
//! `sequencer.rs`).

use std::net::SocketAddr;
use std::time::Instant;

use super::node::{Node, NodePhase};
use super::outputs::{LeftReason, NodeEvent};
use super::proposal::{FlushReport, Proposal};
use super::replay::ReplayError;
use super::view_state::ViewState;
use super::wire::{self, Body, Heartbeat, Member, Refusal, Sequenced, ViewId};

/// A node that did not answer a proposal is left out for this many
/// time-outs.
const DECLINE_TIMEOUTS: u32 = 4;

impl Node {
    /// Checks a datagram (module documentation, "Datagram layout") and
    /// hands it to its rule. A refused datagram changes nothing but a
    /// counter.
    pub(super) fn receive(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let (opened, key) = match wire::open_under(self.keys(), bytes) {
            Ok(opened) => opened,
            Err(e) => {
                match e.reason() {
                    Refusal::BadMac => self.refusals.bad_mac += 1,
                    Refusal::Malformed => self.refusals.malformed += 1,
                }
                self.refused += 1;
                return;
            }
        };
        let header = opened.header;
        if header.digest != self.digest() {
            self.refusals.wrong_cluster += 1;
            self.refused += 1;
            return;
        }
        let sender = header.sender;
        if usize::from(sender) >= self.nodes.len()
            || sender == self.me
            || header.destination != self.me
        {
            self.refusals.misdirected += 1;
            self.refused += 1;
            return;
        }
        let Some(link) = self.links.link_of(sender, from) else {
            self.peers.get_mut(sender).refusals.misdirected += 1;
            self.refused += 1;
            return;
        };
        let peer = self.peers.get_mut(sender);
        if peer.departed.is_some_and(|gone| header.incarnation <= gone) {
            peer.refusals.old_incarnation += 1;
            self.refused += 1;
            return;
        }
        match peer
            .window
            .check_on(header.incarnation, header.counter, link)
        {
            Ok(()) => {}
            Err(ReplayError::OldIncarnation { .. }) => {
                peer.refusals.old_incarnation += 1;
                self.refused += 1;
                return;
            }
            Err(ReplayError::Duplicate { .. }) => {
                // The same datagram over a second link: it shows that
                // link works, and is not taken again.
                peer.window
                    .accept_on(header.incarnation, header.counter, link);
                peer.links.duplicates += 1;
                self.heard_on_link(sender, link, now);
                return;
            }
            Err(_) => {
                peer.refusals.replayed += 1;
                self.refused += 1;
                return;
            }
        }
        let body = match wire::decode_body(opened.kind, opened.body) {
            Ok(b) if b.names_listed_nodes(self.nodes.len()) => b,
            _ => {
                peer.refusals.malformed += 1;
                self.refused += 1;
                return;
            }
        };
        peer.window
            .accept_on(header.incarnation, header.counter, link);
        peer.key = Some(key);
        if peer.incarnation != Some(header.incarnation) {
            // A new incarnation: a new member; what we knew of the old
            // one no longer applies. We hear it since now, even if the
            // old one was heard a moment ago (a restart within one
            // heartbeat): the one-way rule times it from here.
            peer.incarnation = Some(header.incarnation);
            peer.heartbeat = None;
            peer.choice_since = None;
            peer.heartbeat_counter = None;
            peer.unheard_since = None;
            peer.heard_since = Some(now);
            peer.declined_until = None;
            peer.echo = None;
            peer.lease = None;
            peer.relayed = None;
        }
        let window = self.peers.window();
        let peer = self.peers.get_mut(sender);
        if !peer.hears(now, self.timing.timeout, window) {
            peer.heard_since = Some(now);
        }
        peer.bounce
            .heard(header.incarnation, now, self.timing.timeout);
        peer.last_heard = Some(now);
        self.heard_on_link(sender, link, now);
        let member = Member {
            node: sender,
            incarnation: header.incarnation,
        };
        match body {
            Body::Heartbeat(hb) => {
                // A heartbeat overtaken by a newer one says nothing new.
                let peer = self.peers.get_mut(sender);
                if peer.heartbeat_counter.is_some_and(|c| header.counter < c) {
                    return;
                }
                peer.heartbeat_counter = Some(header.counter);
                self.on_heartbeat(member, hb, now)
            }
            Body::Propose { proposal, members } => self.on_propose(member, proposal, members, now),
            Body::Flush {
                proposal,
                old_view,
                delivered,
                max_ltime,
                messages,
            } => {
                self.max_ltime = self.max_ltime.max(max_ltime);
                let report = FlushReport {
                    old_view,
                    delivered,
                    messages,
                };
                self.on_flush(member, proposal, report, now);
            }
            Body::Install {
                view,
                members,
                old_view,
                cut,
                messages,
            } => {
                if self.phase
                    == (NodePhase::Flushing {
                        proposal: view,
                        coordinator: sender,
                    })
                {
                    self.install(view, members, old_view, cut, messages, now);
                }
            }
            Body::Data {
                view,
                local,
                payload,
            } => self.on_data(member, view, local, payload, now),
            Body::Sequenced { view, message } => self.on_sequenced(sender, view, message, now),
            Body::Leave => {
                let peer = self.peers.get_mut(sender);
                peer.departed = Some(header.incarnation);
                peer.heartbeat = None;
                peer.echo = None;
                peer.lease = None;
                // It released everything before it left: no lease of its
                // can be in force, so a view without it needs no promise.
                peer.vouched = None;
            }
        }
    }

    /// After every input: leave the undecided phase when its time is up,
    /// follow the coordinator the failure detector now points at, and, as
    /// a coordinator, propose when the view is not the wanted one.
    pub(super) fn update(&mut self, now: Instant) {
        if let NodePhase::Undecided { until } = self.phase {
            if now < until {
                return;
            }
            self.phase = NodePhase::Idle;
        }
        let choice = self.peers.choice(now, self.choice);
        if choice != self.choice {
            self.choice = choice;
            match choice {
                None => {
                    self.proposal = None;
                    self.lose_view(LeftReason::Deferred);
                }
                Some(c) if c != self.me => {
                    if let Some((p, members)) = self.waiting_proposals.remove(&c) {
                        if self.promise.map_or(true, |promise| p > promise)
                            && members.contains(&self.member())
                        {
                            self.accept(p, c, members);
                        }
                    }
                }
                Some(_) => {}
            }
            self.send_heartbeats(now);
        }
        self.coordinate(now);
    }

    fn coordinate(&mut self, now: Instant) {
        if self.choice != Some(self.me) {
            self.proposal = None;
            self.growth.clear();
            return;
        }
        let mut wanted = self.wanted(now);
        let waiting = self.growth.observe(&wanted, now);
        if let Some(p) = &self.proposal {
            if p.members == wanted {
                if now < p.started + self.timing.timeout * 2 {
                    return;
                }
                let silent: Vec<u8> = p.missing().map(|m| m.node).collect();
                for n in silent {
                    self.peers.get_mut(n).declined_until =
                        Some(now + self.timing.timeout * DECLINE_TIMEOUTS);
                }
                wanted = self.wanted(now);
            } else {
                let base = p.members.clone();
                if !self.change_due(&base, &wanted, waiting, false, now) {
                    return;
                }
            }
        } else {
            let reform = std::mem::take(&mut self.reform);
            let ours = self.phase == NodePhase::Installed
                && self.view.as_ref().is_some_and(|v| {
                    v.id.coordinator == self.me && v.id.incarnation == self.incarnation
                });
            let base = self.view.as_ref().map_or(&[][..], |v| v.members.as_slice());
            if ours && base == wanted.as_slice() {
                if !reform {
                    return;
                }
            } else {
                let base = base.to_vec();
                if !self.change_due(&base, &wanted, waiting, reform, now) {
                    return;
                }
            }
        }
        self.propose(wanted, now);
    }

    /// Our wanted set with us in it, in configured order.
    fn wanted(&self, now: Instant) -> Vec<Member> {
        // The peers come in configured order: we go in our place.
        let mut wanted = self.peers.wanted(now);
        let me = self.member();
        wanted.insert(wanted.partition_point(|m| *m < me), me);
        wanted
    }

    fn propose(&mut self, members: Vec<Member>, now: Instant) {
        let ltime = self.max_ltime.max(self.incarnation) + 1;
        self.max_ltime = ltime;
        let id = ViewId {
            ltime,
            coordinator: self.me,
            incarnation: self.incarnation,
        };
        self.proposal = Some(Proposal::new(id, members.clone(), now));
        let body = Body::Propose {
            proposal: id,
            members: members.clone(),
        };
        let me = self.me;
        for m in members.iter().filter(|m| m.node != me) {
            self.send(m.node, &body);
        }
        self.accept(id, self.me, members);
    }

    fn on_propose(&mut self, from: Member, proposal: ViewId, members: Vec<Member>, now: Instant) {
        self.max_ltime = self.max_ltime.max(proposal.ltime);
        if proposal.coordinator != from.node
            || proposal.incarnation != from.incarnation
            || !members.contains(&self.member())
            || matches!(self.phase, NodePhase::Undecided { .. })
        {
            return;
        }
        match self.promise {
            Some(promise) if proposal < promise => {}
            Some(promise) if proposal == promise => {
                if self.phase
                    == (NodePhase::Flushing {
                        proposal,
                        coordinator: from.node,
                    })
                    && self.held_flush.is_none()
                {
                    self.send_flush(proposal, from.node);
                }
            }
            _ if self.choice == Some(from.node) => self.accept(proposal, from.node, members),
            _ => {
                let newer = self
                    .waiting_proposals
                    .get(&from.node)
                    .map_or(true, |(kept, _)| proposal > *kept);
                if newer {
                    self.waiting_proposals
                        .insert(from.node, (proposal, members));
                }
            }
        }
        let _ = now;
    }

    /// Answers `proposal` of `members`: from now on our old view is
    /// frozen. The FLUSH may wait for the lease's promise.
    fn accept(&mut self, proposal: ViewId, coordinator: u8, members: Vec<Member>) {
        if coordinator != self.me {
            // Answering another proposer abandons our own proposal.
            self.proposal = None;
        }
        self.promise = Some(proposal);
        self.phase = NodePhase::Flushing {
            proposal,
            coordinator,
        };
        self.flushing_members = members;
        self.waiting_proposals.retain(|_, (p, _)| *p > proposal);
        self.early.clear();
        let now = self.now;
        self.flush_when_allowed(proposal, coordinator, now);
    }

    pub(super) fn flush_report(&self) -> FlushReport {
        match &self.view {
            Some(v) => FlushReport {
                old_view: Some(v.id),
                delivered: v.delivered,
                messages: v.unstable_delivered(),
            },
            None => FlushReport {
                old_view: None,
                delivered: 0,
                messages: Vec::new(),
            },
        }
    }

    pub(super) fn send_flush(&mut self, proposal: ViewId, coordinator: u8) {
        let report = self.flush_report();
        let body = Body::Flush {
            proposal,
            old_view: report.old_view,
            delivered: report.delivered,
            max_ltime: self.max_ltime,
            messages: report.messages,
        };
        self.send(coordinator, &body);
    }

    pub(super) fn on_flush(
        &mut self,
        from: Member,
        proposal: ViewId,
        report: FlushReport,
        now: Instant,
    ) {
        let Some(p) = &mut self.proposal else {
            return;
        };
        if p.id != proposal || !p.members.contains(&from) {
            return;
        }
        p.reports.insert(from.node, report);
        // Only a proposal we are still flushing for may be installed: one
        // we gave up for a higher one must never come back.
        let ours = NodePhase::Flushing {
            proposal,
            coordinator: self.me,
        };
        if !p.complete() || self.phase != ours {
            return;
        }
        let installs = p.installs();
        self.proposal = None;
        self.sent_installs.clear();
        for (node, body) in installs {
            if node != self.me {
                self.send(node, &body);
                self.sent_installs.push((node, body));
            } else if let Body::Install {
                view,
                members,
                old_view,
                cut,
                messages,
            } = body
            {
                self.install(view, members, old_view, cut, messages, now);
            }
        }
    }

    /// Ends the old view at `cut` and installs `view`.
    fn install(
        &mut self,
        view: ViewId,
        members: Vec<Member>,
        old_view: Option<ViewId>,
        cut: u32,
        messages: Vec<Sequenced>,
        now: Instant,
    ) {
        if let Some(mut old) = self.view.take() {
            if Some(old.id) == old_view {
                for m in messages {
                    old.log.entry(m.seq).or_insert(m);
                }
                let mut ready = Vec::new();
                while old.delivered < cut {
                    let Some(m) = old.log.get(&(old.delivered + 1)) else {
                        break;
                    };
                    ready.push(m.clone());
                    old.delivered += 1;
                }
                self.deliver(&old, ready);
            }
        }
        self.give_back_outgoing();
        self.next_local = 1;
        let Some(my_index) = members.iter().position(|m| *m == self.member()) else {
            return;
        };
        self.installed_lease(&members);
        self.view = Some(ViewState::new(view, members.clone(), self.me, now));
        self.phase = NodePhase::Installed;
        self.views_installed += 1;
        self.emit(NodeEvent::View {
            id: view,
            members,
            my_index,
        });
        let early = std::mem::take(&mut self.early);
        for (id, message) in early {
            self.on_sequenced(view.coordinator, id, message, now);
        }
    }

    fn on_heartbeat(&mut self, from: Member, hb: Heartbeat, now: Instant) {
        self.max_ltime = self.max_ltime.max(hb.max_ltime);
        let their_view = hb.view;
        let (delivered, stable, sequenced) = (hb.delivered, hb.stable, hb.sequenced);
        // A member of our proposal that promised something higher: ask
        // again above it rather than wait for the time-out.
        let restart = self.proposal.as_ref().is_some_and(|p| {
            hb.max_ltime > p.id.ltime
                && p.members.contains(&from)
                && !p.reports.contains_key(&from.node)
        });
        let me = self.me;
        self.take_echo(from.node, &hb, now);
        self.take_relayed(from.node, &hb.relayed, now);
        let stopped_hearing = self
            .peers
            .get(from.node)
            .heartbeat
            .as_ref()
            .map_or(0, |old| old.hears & !hb.hears);
        self.peers.get_mut(from.node).heartbeat_heard(hb, me, now);
        self.check_on(stopped_hearing, now);
        self.keep_pace(from.node, now);
        if restart {
            if let Some(p) = self.proposal.take() {
                self.propose(p.members, now);
            }
        }
        if self.excluded_by(from.node, their_view) {
            self.lose_view(LeftReason::Excluded);
            return;
        }
        if self.phase != NodePhase::Installed {
            return;
        }
        let Some(mut v) = self.view.take() else {
            return;
        };
        if v.sequencer.is_some() {
            if let Some(pos) = v.members.iter().position(|m| *m == from) {
                if their_view == Some(v.id) {
                    if let Some(seq) = v.sequencer.as_mut() {
                        seq.confirmed[pos] = true;
                    }
                    self.coordinator_heard(&mut v, pos, delivered, stable);
                } else if v.sequencer.as_ref().is_some_and(|s| s.confirmed[pos])
                    || now >= v.installed_at + self.timing.timeout * 2
                {
                    // It had our view and lost it (it stepped back or
                    // stalled), or never took it: form the view again.
                    self.reform = true;
                } else {
                    self.resend_install(from.node, v.id);
                }
            }
            self.view = Some(v);
            self.push_outgoing(now, false);
            return;
        }
        if v.id.coordinator == from.node && their_view == Some(v.id) {
            v.set_stable(stable);
            let lacking = sequenced > v.delivered;
            self.view = Some(v);
            if lacking {
                self.nack(from.node, now);
            }
            return;
        }
        self.view = Some(v);
    }

    /// Our coordinator (of our view, or of the proposal we answered) shows
    /// an installed view above our promise: a view we were never proposed,
    /// so one without us. Unless it has left us rather than dropped us:
    /// it hears neither us nor any other member of our view (say, a node
    /// that hears nobody any more, though all still hear it). Then we
    /// keep our view until the next one, which we form without it as
    /// after its failure.
    fn excluded_by(&self, node: u8, their_view: Option<ViewId>) -> bool {
        let Some(theirs) = their_view else {
            return false;
        };
        let ours = match self.phase {
            NodePhase::Installed => self.view.as_ref().map(|v| v.id.coordinator),
            NodePhase::Flushing { coordinator, .. } => Some(coordinator),
            _ => None,
        };
        let dropped = node != self.me
            && ours == Some(node)
            && theirs.coordinator == node
            && self.promise.map_or(true, |p| theirs > p);
        dropped && !self.left_by(node)
    }

    /// `node` hears none of our view's members, us included.
    fn left_by(&self, node: u8) -> bool {
        let hears = self
            .peers
            .get(node)
            .heartbeat
            .as_ref()
            .map_or(0, |hb| hb.hears);
        let members = self
            .view
            .as_ref()
            .map_or(1 << self.me, ViewState::member_bits);
        hears & members == 0
    }

    fn resend_install(&mut self, to: u8, view: ViewId) {
        let body = self.sent_installs.iter().find_map(|(n, body)| match body {
            Body::Install { view: v, .. } if *n == to && *v == view => Some(body.clone()),
            _ => None,
        });
        if let Some(body) = body {
            self.send(to, &body);
        }
    }
}
