//! The node: the public face of the protocol (datagrams, time and
//! requests in; datagrams and events out) and its life cycle. The
//! handling of each datagram kind is in `protocol.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use super::coordinator::Growth;
use super::lease::HeldFlush;
use super::links::{LinkChange, Links};
use super::outputs::{LeftReason, MulticastError, NodeError, NodeEvent, Transmit, MAX_OUTGOING};
use super::peers::Peers;
use super::proposal::Proposal;
use super::status::{NodeState, NodeStatus, Refusals, Status};
use super::turns::{self, Rotation};
use super::view_state::ViewState;
use super::wire::{self, Body, Header, Keys, Member, Sequenced, ViewId, MAX_NODES};
use crate::base::membership_timing::Timing;

/// SEQUENCED messages of a view kept while its INSTALL is on its way.
pub(super) const MAX_EARLY: usize = 256;
/// How many times LEAVE is sent to each node.
const LEAVE_COPIES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodePhase {
    /// Listening before taking part (at start and after a stall).
    Undecided {
        until: Instant,
    },
    /// In no view, not flushing.
    Idle,
    /// Answered `proposal` of `coordinator`; our old view (if any) is
    /// frozen until its INSTALL.
    Flushing {
        proposal: ViewId,
        coordinator: u8,
    },
    Installed,
    /// Left for good.
    Gone,
}

/// One node of the built-in group service (see the module documentation).
pub struct Node {
    /// Each node's address on the first link.
    pub(super) nodes: Vec<SocketAddrV4>,
    /// Each node's address on every link.
    pub(super) links: Links,
    /// Links to peers that went or came back, for the driver's log.
    pub(super) link_changes: VecDeque<LinkChange>,
    pub(super) me: u8,
    /// The key we send under, and the other one we accept, if any.
    keys: Keys,
    digest: [u8; 8],
    pub(super) timing: Timing,
    pub(super) incarnation: u64,
    /// Per destination: the counter of the next datagram to it (a
    /// receiver sees an unbroken series, so its replay window of 64 is
    /// never outrun by what we send to others).
    counters: Vec<u64>,
    pub(super) peers: Peers,
    pub(super) phase: NodePhase,
    /// The installed view (kept, frozen, while flushing).
    pub(super) view: Option<ViewState>,
    /// The highest proposal we answered.
    pub(super) promise: Option<ViewId>,
    /// The members of the proposal we flush for (while flushing).
    pub(super) flushing_members: Vec<Member>,
    /// Our FLUSH, held back by the promise of the quorum lease.
    pub(super) held_flush: Option<HeldFlush>,
    /// Bit `n`: we flushed for a proposal without node `n` since we last
    /// installed a view with it; our echoes do not vouch for it.
    pub(super) excluded: u32,
    /// Members whose echoes must hold our lease, us included (0 or 1: none).
    pub(super) needed: usize,
    /// We reported the lease held (`Lease(true)`) and no lapse since.
    pub(super) lease_reported: bool,
    /// Our start: heartbeat send times count from here.
    pub(super) epoch: Instant,
    /// The send time of the latest heartbeat we sent.
    pub(super) last_sent_us: u64,
    pub(super) max_ltime: u64,
    pub(super) choice: Option<u8>,
    /// Proposals from nodes we did not choose (yet), newest per proposer.
    pub(super) waiting_proposals: BTreeMap<u8, (ViewId, Vec<Member>)>,
    /// Our own view change in progress.
    pub(super) proposal: Option<Proposal>,
    /// A member of our view lost it: propose again even if the wanted set
    /// is the view's.
    pub(super) reform: bool,
    /// As coordinator: how our wanted set changed, for a view that grows.
    pub(super) growth: Growth,
    /// The INSTALLs of our last completed proposal, to resend.
    pub(super) sent_installs: Vec<(u8, Body)>,
    /// SEQUENCED messages of the view we flushed for, before its INSTALL.
    pub(super) early: Vec<(ViewId, Sequenced)>,
    /// Our multicasts of this view not yet sequenced: (local number, payload).
    pub(super) outgoing: VecDeque<(u32, Vec<u8>)>,
    pub(super) next_local: u32,
    pub(super) last_heartbeat: Instant,
    pub(super) next_heartbeat: Instant,
    /// Whom our heartbeats go to.
    pub(super) rotation: Rotation,
    pub(super) last_nack: Option<Instant>,
    /// `Joined` was given and no `Left` since.
    pub(super) joined: bool,
    pub(super) now: Instant,
    /// What [`Node::poll_timeout`] answers, worked out after every call.
    pub(super) deadline: Option<Instant>,
    transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<NodeEvent>,
    pub(super) refusals: Refusals,
    /// Datagrams refused in all, for any reason (the sum of every count of
    /// [`Node::refusals`], kept as it grows).
    pub(super) refused: u64,
    pub(super) dropped_multicasts: u64,
    pub(super) views_installed: u64,
    /// Peers suspected on a confirmed port unreachable.
    pub(super) unreachable_suspicions: u64,
}

impl Node {
    /// A node that starts listening at `now`. `incarnation` must be larger
    /// than any this node used before (the wall clock in µs). `keys` is
    /// one [`Key`](wire::Key), or [`Keys`] during a rotation.
    pub fn new(
        nodes: Vec<SocketAddrV4>,
        me: usize,
        keys: impl Into<Keys>,
        timing: Timing,
        incarnation: u64,
        now: Instant,
    ) -> Result<Node, NodeError> {
        Node::with_links(nodes, Vec::new(), me, keys, timing, incarnation, now)
    }

    /// As [`Node::new`], for nodes with an address on several links:
    /// `nodes` on the first, and for each further link every node's
    /// address on it, in the same order (see "Redundant links" in the
    /// module documentation).
    pub fn with_links(
        nodes: Vec<SocketAddrV4>,
        more_links: Vec<Vec<SocketAddrV4>>,
        me: usize,
        keys: impl Into<Keys>,
        timing: Timing,
        incarnation: u64,
        now: Instant,
    ) -> Result<Node, NodeError> {
        if nodes.is_empty() || nodes.len() > MAX_NODES {
            return Err(NodeError::NodeCount(nodes.len()));
        }
        if me >= nodes.len() {
            return Err(NodeError::NotListed {
                me,
                count: nodes.len(),
            });
        }
        let me = me as u8;
        let count = nodes.len();
        let links = Links::new(nodes.clone(), more_links)?;
        let mut node = Node {
            digest: links.digest(),
            links,
            link_changes: VecDeque::new(),
            peers: Peers::new(count, me, timing.timeout, turns::spread(count)),
            nodes,
            me,
            keys: keys.into(),
            timing,
            incarnation,
            counters: vec![0; count],
            phase: NodePhase::Undecided {
                until: now + timing.timeout,
            },
            view: None,
            promise: None,
            flushing_members: Vec::new(),
            held_flush: None,
            excluded: 0,
            needed: 0,
            lease_reported: false,
            epoch: now,
            last_sent_us: 0,
            max_ltime: 0,
            choice: None,
            waiting_proposals: BTreeMap::new(),
            proposal: None,
            reform: false,
            growth: Growth::new(now),
            sent_installs: Vec::new(),
            early: Vec::new(),
            outgoing: VecDeque::new(),
            next_local: 1,
            last_heartbeat: now,
            next_heartbeat: now,
            rotation: Rotation::new(now),
            last_nack: None,
            joined: false,
            now,
            deadline: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            refusals: Refusals::default(),
            refused: 0,
            dropped_multicasts: 0,
            views_installed: 0,
            unreachable_suspicions: 0,
        };
        node.send_heartbeats(now);
        node.deadline = node.next_deadline();
        Ok(node)
    }

    /// This node in its current incarnation.
    pub fn member(&self) -> Member {
        Member {
            node: self.me,
            incarnation: self.incarnation,
        }
    }

    /// New timing settings (SIGHUP); they apply from now on.
    pub fn set_timing(&mut self, timing: Timing) {
        self.timing = timing;
        self.peers.set_timeout(timing.timeout);
    }

    /// New keys (SIGHUP, a step of a rotation): datagrams sent from now
    /// on go under the new current key, and those received are checked
    /// against the new pair. Nothing else changes: the view, the peers
    /// and their replay windows stay.
    pub fn set_keys(&mut self, keys: Keys) {
        self.keys = keys;
    }

    /// A datagram arrived from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        self.take_datagram(from, bytes, now);
        self.settle(now);
    }

    /// One of several datagrams read together at `now`: checked and handed
    /// to its rule like [`Node::handle_datagram`], but what follows from
    /// all of them (a change of choice, a proposal, the lease, the next
    /// deadline) waits for [`Node::settle`], called once after the last.
    /// Until then [`Node::poll_timeout`] is stale and nothing should be
    /// polled. The outcome is that of the datagrams arriving at one
    /// instant, one after the other; taking a batch costs the node's rules
    /// once instead of once per datagram.
    pub fn take_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        if self.begin(now) {
            self.receive(from, bytes, now);
        }
    }

    /// Draws the conclusions of the datagrams taken since the last call
    /// (see [`Node::take_datagram`]).
    pub fn settle(&mut self, now: Instant) {
        if self.begin(now) {
            self.release_held_flush(now);
            self.update(now);
            self.report_lease(now);
        }
        self.deadline = self.next_deadline();
    }

    /// Time passed; call when [`Node::poll_timeout`] is due (earlier or
    /// later is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.begin(now) {
            if now >= self.next_heartbeat {
                self.tick(now);
            }
            self.release_held_flush(now);
            self.update(now);
            self.report_lease(now);
        }
        self.deadline = self.next_deadline();
    }

    /// When [`Node::handle_timeout`] should next be called: the next
    /// heartbeat, the moment a peer would stop being heard, the end of a
    /// held FLUSH, the lapse of the lease, and the protocol's time-outs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.phase == NodePhase::Gone {
            return None;
        }
        let mut next = self.next_heartbeat;
        if let NodePhase::Undecided { until } = self.phase {
            next = next.min(until);
        }
        // A proposal's time-out passed while it waits for a member that
        // goes over elsewhere is looked at again at the next heartbeat.
        if let Some(p) = &self.proposal {
            let expires = p.started + self.timing.timeout * 2;
            if expires > self.now {
                next = next.min(expires);
            }
        }
        if let Some(t) = self.peers.next_expiry(self.now) {
            next = next.min(t);
        }
        if let Some(held) = &self.held_flush {
            next = next.min(held.at);
        }
        if let Some(t) = self.lease_deadline() {
            next = next.min(t);
        }
        if let Some(t) = self.growth.wake.filter(|&t| t > self.now) {
            next = next.min(t);
        }
        Some(next)
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the user, if any.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// Sends `payload` in agreed order to `view`, the view the caller was
    /// last told of. If that view has ended meanwhile (events not read
    /// yet), the payload comes back at once as [`NodeEvent::Undelivered`]: a
    /// message is only ever delivered in the view it was meant for.
    pub fn multicast(
        &mut self,
        view: ViewId,
        payload: Vec<u8>,
        now: Instant,
    ) -> Result<(), MulticastError> {
        if self.phase == NodePhase::Gone {
            return Err(MulticastError::Gone);
        }
        if payload.len() > wire::MAX_PAYLOAD {
            return Err(MulticastError::TooLarge { len: payload.len() });
        }
        if self.view.as_ref().map_or(true, |v| v.id != view) {
            self.dropped_multicasts += 1;
            self.events.push_back(NodeEvent::Undelivered { payload });
            return Err(MulticastError::ViewEnded);
        }
        // While our view is being flushed, a multicast still belongs to
        // it: it waits, and comes back as `Undelivered` when the view ends.
        let flushing = matches!(self.phase, NodePhase::Flushing { .. }) && self.view.is_some();
        if self.phase != NodePhase::Installed && !flushing {
            self.dropped_multicasts += 1;
            return Err(MulticastError::NoView);
        }
        if self.outgoing.len() >= MAX_OUTGOING {
            self.dropped_multicasts += 1;
            return Err(MulticastError::Backlog);
        }
        let local = self.next_local;
        self.next_local += 1;
        self.outgoing.push_back((local, payload));
        self.push_outgoing(now, true);
        self.deadline = self.next_deadline();
        Ok(())
    }

    /// Leaves for good: every node hears at once that we are gone.
    pub fn leave(&mut self, now: Instant) {
        if self.phase == NodePhase::Gone {
            return;
        }
        self.now = now;
        for to in self.peers.others() {
            for _ in 0..LEAVE_COPIES {
                self.send(to, &Body::Leave);
            }
        }
        self.lose_view(LeftReason::Requested);
        self.phase = NodePhase::Gone;
        self.proposal = None;
        self.deadline = None;
    }

    /// What this node reports about itself and its peers.
    pub fn status(&self) -> Status {
        let now = self.now;
        let in_view = |node: u8| {
            self.view
                .as_ref()
                .is_some_and(|v| v.members.iter().any(|m| m.node == node))
        };
        let nodes = (0..self.nodes.len() as u8)
            .map(|n| {
                let peer = self.peers.get(n);
                let state = if n == self.me {
                    NodeState::Myself
                } else if in_view(n) && self.peers.hears(n, now) {
                    NodeState::InView
                } else if self.peers.reaches(n, now) {
                    NodeState::Reachable
                } else if peer.last_heard.is_some() && !self.peers.hears(n, now) {
                    NodeState::Suspected
                } else {
                    NodeState::Unreachable
                };
                NodeStatus {
                    node: n,
                    state,
                    incarnation: if n == self.me {
                        Some(self.incarnation)
                    } else {
                        peer.incarnation
                    },
                    last_heard: peer.last_heard,
                    refusals: peer.refusals,
                    key: if n == self.me {
                        Some(self.keys.current().id())
                    } else {
                        peer.key
                    },
                    links: self.link_status(n),
                    duplicates: peer.links.duplicates,
                }
            })
            .collect();
        Status {
            me: self.me,
            incarnation: self.incarnation,
            view: self
                .view
                .as_ref()
                .filter(|_| self.phase != NodePhase::Gone)
                .map(|v| (v.id, v.members.clone())),
            choice: self.choice,
            flushing: matches!(self.phase, NodePhase::Flushing { .. }),
            nodes,
            refusals: self.refusals,
            dropped_multicasts: self.dropped_multicasts,
            views_installed: self.views_installed,
            unreachable_suspicions: self.unreachable_suspicions,
            lease: self.lease_status(),
            key: self.keys.current().id(),
            accepted_key: self.keys.accepted().map(wire::Key::id),
        }
    }

    /// Whether our heartbeats go to our peers in turn (from ten nodes on)
    /// rather than to each of them every period.
    pub fn heartbeats_in_turn(&self) -> bool {
        self.peers.spread > 1
    }

    /// When we last sent our heartbeats. A node finds itself stalled
    /// once this is `3/4 × Timeout` old; a driver may use it to tell
    /// others (the announcer) how fresh our view is.
    pub fn last_heartbeat(&self) -> Instant {
        self.last_heartbeat
    }

    /// How many datagrams were refused in all: grows by one with each
    /// refusal [`Node::refusals`] counts, so a driver can tell at no cost
    /// whether a datagram was refused.
    pub fn refused_count(&self) -> u64 {
        self.refused
    }

    /// Every datagram refused so far, by reason: those no node can be
    /// blamed for and those of every node together. Cheap enough to ask
    /// when [`Node::refused_count`] grew (the driver logs refusals as they
    /// happen).
    pub fn refusals(&self) -> Refusals {
        let mut all = self.refusals;
        for n in 0..self.nodes.len() as u8 {
            all.add(&self.peers.get(n).refusals);
        }
        all
    }

    /// Every call starts here: notes the time and, if we were silent too
    /// long, gives up our view before anything else happens. Returns
    /// whether the node still runs.
    pub(super) fn begin(&mut self, now: Instant) -> bool {
        if self.phase == NodePhase::Gone {
            return false;
        }
        self.now = now;
        let silent = now.saturating_duration_since(self.last_heartbeat);
        if silent >= self.timing.timeout * 3 / 4 {
            self.stall(now);
        }
        true
    }

    fn stall(&mut self, now: Instant) {
        if self.view.is_some() || matches!(self.phase, NodePhase::Flushing { .. }) {
            self.lose_view(LeftReason::Stalled);
        }
        self.proposal = None;
        self.waiting_proposals.clear();
        self.choice = None;
        self.phase = NodePhase::Undecided {
            until: now + self.timing.timeout,
        };
        self.send_heartbeats(now);
    }

    /// Drops our view (and any view change we were part of).
    pub(super) fn lose_view(&mut self, reason: LeftReason) {
        self.view = None;
        self.early.clear();
        if reason != LeftReason::Requested {
            self.give_back_outgoing();
        }
        self.outgoing.clear();
        if !matches!(self.phase, NodePhase::Undecided { .. } | NodePhase::Gone) {
            self.phase = NodePhase::Idle;
        }
        if self.joined {
            self.joined = false;
            self.lease_reported = false;
            self.events.push_back(NodeEvent::Left(reason));
        }
    }

    pub(super) fn send(&mut self, to: u8, body: &Body) {
        let header = Header {
            digest: self.digest,
            sender: self.me,
            destination: to,
            incarnation: self.incarnation,
            counter: self.counters[usize::from(to)],
        };
        self.counters[usize::from(to)] += 1;
        // The same bytes over every link: the receiver takes the first
        // copy and drops the others as duplicates.
        let bytes = wire::encode(self.keys.current(), &header, body);
        let last = self.links.count() - 1;
        for link in 0..last {
            self.transmits.push_back(Transmit {
                to,
                link: link as u8,
                addr: self.links.addr(link, to),
                bytes: bytes.clone(),
            });
        }
        // The last link takes the bytes themselves (with one link, the
        // only copy).
        self.transmits.push_back(Transmit {
            to,
            link: last as u8,
            addr: self.links.addr(last, to),
            bytes,
        });
    }

    /// Our multicasts of the view that ends, never delivered: dropped,
    /// and handed back to the user.
    pub(super) fn give_back_outgoing(&mut self) {
        self.dropped_multicasts += self.outgoing.len() as u64;
        let undelivered: Vec<(u32, Vec<u8>)> = self.outgoing.drain(..).collect();
        for (_, payload) in undelivered {
            self.events.push_back(NodeEvent::Undelivered { payload });
        }
    }

    pub(super) fn emit(&mut self, event: NodeEvent) {
        if matches!(event, NodeEvent::View { .. }) && !self.joined {
            self.joined = true;
            self.events.push_back(NodeEvent::Joined);
        }
        self.events.push_back(event);
    }

    /// The counter our next datagram to `to` will carry.
    pub(super) fn next_counter(&self, to: u8) -> u64 {
        self.counters[usize::from(to)]
    }

    pub(super) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(super) fn digest(&self) -> [u8; 8] {
        self.digest
    }
}
