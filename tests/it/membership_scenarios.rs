//! Hand-driven schedules of the built-in membership: a few nodes on a
//! network where the test decides, datagram by datagram, what arrives,
//! what is held back and what is lost, in virtual time. Every event goes
//! through the checker of properties 1 to 3 (`support/vsync.rs`), so a
//! schedule that breaks agreement, order or view synchrony fails at the
//! event that breaks it. Each test then asserts what the schedule is
//! about (the view reached, who steps back, ids never reused).
//!
//! These are the schedules of etc/design/MEMBERSHIP.md that the random
//! simulation only meets by chance, built on purpose.

use crate::support::{env, rng, simnet, vsync};

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use rng::Rng;
use vsync::{Checker, Tag};
use wackamole::membership::wire::Key;
use wackamole::membership::{Member, Node, NodeEvent, Timing, ViewId};

const MS: u64 = 1_000;
const PORT: u16 = 4810;
/// Incarnations are "wall-clock" microseconds.
const EPOCH_US: u64 = 1_800_000_000_000_000;

const HEARTBEAT: u8 = 1;
const PROPOSE: u8 = 2;
const FLUSH: u8 = 3;
const INSTALL: u8 = 4;
const SEQUENCED: u8 = 6;
const LEAVE: u8 = 7;

fn address(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, i as u8 + 1), PORT)
}

/// A datagram on its way.
#[derive(Clone)]
struct Packet {
    from: usize,
    to: usize,
    bytes: Vec<u8>,
    /// When it arrives on a network with latency (µs of virtual time).
    due: u64,
}

/// What a node reported that changes its standing: a view, or leaving
/// every view.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    View(ViewId, Vec<u8>),
    Left,
}

impl Packet {
    fn kind(&self) -> u8 {
        self.bytes[3]
    }
}

/// A few nodes and the datagrams between them; nothing moves unless the
/// test says so.
struct Hand {
    base: Instant,
    /// Virtual time in µs.
    now: u64,
    addrs: Vec<SocketAddrV4>,
    settings: Timing,
    nodes: Vec<Option<Node>>,
    /// Sent and not yet delivered or dropped, in sending order.
    inflight: Vec<Packet>,
    /// `cut[a][b]`: what a sends to b is lost as it is sent.
    cut: Vec<Vec<bool>>,
    checker: Checker,
    /// Every view id any node installed.
    installed: Vec<ViewId>,
    counters: Vec<u32>,
    trace: Vec<String>,
    /// The quorum each node's lease needs (set at start).
    needed: usize,
    /// Every `Lease` event: (time, node, held).
    leases: Vec<(u64, usize, bool)>,
    /// Every install: (time, node, members).
    views: Vec<(u64, usize, Vec<Member>)>,
    /// Per node: (time, step) of every view and `Left` it reported.
    steps: Vec<Vec<(u64, Step)>>,
    /// A network with latency: each datagram takes `lo..=hi` µs, drawn
    /// from the generator. `None`: the test moves every datagram.
    latency: Option<(Rng, u64, u64)>,
    /// Per node: its choice and whether it flushes, as last traced.
    states: Vec<Option<(Option<u8>, bool)>>,
}

impl Hand {
    fn new(n: usize) -> Hand {
        Hand {
            base: Instant::now(),
            now: 0,
            addrs: (0..n).map(address).collect(),
            settings: Timing::default(),
            nodes: (0..n).map(|_| None).collect(),
            inflight: Vec::new(),
            cut: vec![vec![false; n]; n],
            checker: Checker::new(n),
            installed: Vec::new(),
            counters: vec![0; n],
            trace: Vec::new(),
            needed: 0,
            leases: Vec::new(),
            views: Vec::new(),
            steps: vec![Vec::new(); n],
            latency: None,
            states: vec![None; n],
        }
    }

    fn timeout_us(&self) -> u64 {
        self.settings.timeout.as_micros() as u64
    }

    fn heartbeat_us(&self) -> u64 {
        self.settings.heartbeat.as_micros() as u64
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_micros(self.now)
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is up")
    }

    /// Starts (or restarts) node `i` with `incarnation`.
    fn start_as(&mut self, i: usize, incarnation: u64) {
        let key = Key::new(b"scenario cluster key, 32 bytes!!").expect("key is long enough");
        let mut node = Node::new(
            self.addrs.clone(),
            i,
            key,
            self.settings,
            incarnation,
            self.instant(),
        )
        .expect("valid cluster");
        node.set_quorum(self.needed);
        self.checker.started(i, node.member());
        self.trace
            .push(format!("[{}] start {i} as {:?}", self.now, node.member()));
        self.nodes[i] = Some(node);
        self.counters[i] = 0;
        self.collect(i);
    }

    /// Starts node `i` with the wall-clock incarnation of this moment.
    fn start(&mut self, i: usize) {
        let incarnation = EPOCH_US + self.now * 64 + i as u64;
        self.start_as(i, incarnation);
    }

    /// kill -9: gone without a word; what it sent stays on the wire.
    fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        self.checker.crashed(i);
        self.trace.push(format!("[{}] crash {i}", self.now));
    }

    fn failure(&self, what: &str) -> String {
        let mut text = format!("{what}\n");
        for line in self.trace.iter().rev().take(60).rev() {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Takes out what node `i` produced; every event goes to the checker.
    fn collect(&mut self, i: usize) {
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            out.push(t);
        }
        let mut events = Vec::new();
        while let Some(e) = node.poll_event() {
            events.push(e);
        }
        let status = node.status();
        let state = Some((status.choice, status.flushing));
        if self.states[i] != state {
            self.states[i] = state;
            self.trace.push(format!(
                "[{}] node {i}: choice {:?}, flushing {}",
                self.now, status.choice, status.flushing
            ));
        }
        for t in out {
            let to = usize::from(t.to);
            let due = match self.latency.as_mut() {
                Some((rng, lo, hi)) => self.now + rng.range(*lo as usize, *hi as usize) as u64,
                None => self.now,
            };
            if !self.cut[i][to] {
                self.inflight.push(Packet {
                    from: i,
                    to,
                    bytes: t.bytes,
                    due,
                });
            }
        }
        for e in events {
            self.trace
                .push(format!("[{}] node {i}: {}", self.now, describe(&e)));
            if let Err(broken) = self.checker.event(i, &e) {
                panic!("{}", self.failure(&broken));
            }
            match e {
                NodeEvent::View { id, members, .. } => {
                    self.installed.push(id);
                    let nodes = members.iter().map(|m| m.node).collect();
                    self.steps[i].push((self.now, Step::View(id, nodes)));
                    self.views.push((self.now, i, members));
                }
                NodeEvent::Lease(held) => self.leases.push((self.now, i, held)),
                NodeEvent::Left(_) => self.steps[i].push((self.now, Step::Left)),
                _ => {}
            }
        }
    }

    fn arrive(&mut self, p: Packet) {
        let from = SocketAddr::V4(self.addrs[p.from]);
        let now = self.instant();
        if let Some(node) = self.nodes[p.to].as_mut() {
            node.handle_datagram(from, &p.bytes, now);
            self.collect(p.to);
        }
    }

    /// Delivers, in order, every datagram in flight that `pick` selects
    /// (not those sent meanwhile); returns how many.
    fn deliver(&mut self, mut pick: impl FnMut(&Packet) -> bool) -> usize {
        let all = std::mem::take(&mut self.inflight);
        let (now, later): (Vec<Packet>, Vec<Packet>) = all.into_iter().partition(|p| pick(p));
        self.inflight = later;
        let count = now.len();
        for p in now {
            self.arrive(p);
        }
        count
    }

    /// Loses every datagram in flight that `pick` selects.
    fn drop_where(&mut self, mut pick: impl FnMut(&Packet) -> bool) -> usize {
        let before = self.inflight.len();
        self.inflight.retain(|p| !pick(p));
        before - self.inflight.len()
    }

    /// The next timer to fall due: (when, node).
    fn next_timer(&self) -> Option<(u64, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().and_then(|n| n.poll_timeout()).map(|t| (t, i)))
            .min()
            .map(|(t, i)| (self.micros(t).max(self.now), i))
    }

    /// Runs node `i`'s timer at `at`.
    fn fire_timer(&mut self, at: u64, i: usize) {
        self.now = self.now.max(at);
        let now = self.instant();
        let base = self.base;
        if let Some(node) = self.nodes[i].as_mut() {
            simnet::fire_timer(node, i, now, self.now, |t| simnet::micros(base, t));
        }
        self.collect(i);
    }

    /// Runs the timers due up to `now + us`, delivering nothing.
    fn advance(&mut self, us: u64) {
        let end = self.now + us;
        while let Some((t, i)) = self.next_timer().filter(|&(t, _)| t <= end) {
            self.fire_timer(t, i);
        }
        self.now = end;
    }

    fn micros(&self, t: Instant) -> u64 {
        simnet::micros(self.base, t)
    }

    /// Runs for `us` on a network that delivers at once whatever `pass`
    /// lets through and keeps the rest in flight.
    fn run_holding(&mut self, us: u64, mut pass: impl FnMut(&Packet) -> bool) {
        let end = self.now + us;
        let step = MS;
        while self.now < end {
            for _ in 0..1_000 {
                if self.deliver(&mut pass) == 0 {
                    break;
                }
            }
            self.advance(step.min(end - self.now));
        }
        while self.deliver(&mut pass) > 0 {}
    }

    /// Runs for `us` on a perfect network: with latency if the hand has
    /// one, else every datagram arriving at once.
    fn run(&mut self, us: u64) {
        if self.latency.is_some() {
            self.run_timed(us);
        } else {
            self.run_holding(us, |_| true);
        }
    }

    /// Runs for `us` in time order: each datagram arrives when it is due,
    /// each timer runs when it falls due (a datagram first on a tie).
    fn run_timed(&mut self, us: u64) {
        let end = self.now + us;
        loop {
            let packet = (0..self.inflight.len())
                .min_by_key(|&k| self.inflight[k].due)
                .map(|k| (self.inflight[k].due, k));
            let timer = self.next_timer();
            match (packet, timer) {
                (Some((at, k)), _) if at <= end && timer.map_or(true, |(t, _)| at <= t) => {
                    self.now = self.now.max(at);
                    let p = self.inflight.remove(k);
                    self.arrive(p);
                }
                (_, Some((t, i))) if t <= end => self.fire_timer(t, i),
                _ => break,
            }
        }
        self.now = end;
    }

    /// Runs until `done` holds (checked every millisecond), at most `us`.
    fn run_until(&mut self, us: u64, mut done: impl FnMut(&Hand) -> bool) -> bool {
        let end = self.now + us;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run(MS);
        }
        done(self)
    }

    /// The installed view of node `i`, if any (and not flushing).
    fn view(&self, i: usize) -> Option<(ViewId, Vec<Member>)> {
        let node = self.nodes[i].as_ref()?;
        let s = node.status();
        if s.flushing {
            return None;
        }
        s.view
    }

    /// The nodes listed all hold one view of exactly them.
    fn settled(&self, group: &[usize]) -> bool {
        let expected: Vec<Member> = group.iter().map(|&i| self.node(i).member()).collect();
        let first = self.view(group[0]);
        group.iter().all(|&i| {
            let v = self.view(i);
            v.is_some() && v == first && self.checker.current(i) == v.as_ref().map(|v| v.0)
        }) && first.is_some_and(|(_, members)| members == expected)
    }

    fn settle(&mut self, group: &[usize], within: u64) {
        let group = group.to_vec();
        if !self.run_until(within, |h| h.settled(&group)) {
            let views: Vec<_> = group.iter().map(|&i| self.view(i)).collect();
            panic!(
                "{}",
                self.failure(&format!("group {group:?} did not settle: {views:?}"))
            );
        }
    }

    /// Node `i` multicasts a tagged payload in its current view.
    fn multicast(&mut self, i: usize) -> bool {
        let Some(view) = self.checker.current(i) else {
            return false;
        };
        self.counters[i] += 1;
        let member = self.node(i).member();
        let tag = Tag {
            origin: member,
            counter: self.counters[i],
            view,
        };
        let payload = tag.encode(b"scenario");
        let now = self.instant();
        let taken = self.nodes[i]
            .as_mut()
            .is_some_and(|n| n.multicast(view, payload, now).is_ok());
        self.collect(i);
        taken
    }

    fn is_coordinating(&self, i: usize) -> bool {
        self.nodes[i].as_ref().is_some_and(|n| {
            let s = n.status();
            s.flushing && s.choice == Some(s.me)
        })
    }
}

fn describe(e: &NodeEvent) -> String {
    match e {
        NodeEvent::Deliver { origin, payload } => match Tag::decode(payload) {
            Some((tag, _)) => format!("deliver #{} of node {}", tag.counter, origin.node),
            None => format!("deliver untagged from {}", origin.node),
        },
        NodeEvent::View { id, members, .. } => format!(
            "view ({}, {}, {}) {:?}",
            id.ltime,
            id.coordinator,
            id.incarnation,
            members.iter().map(|m| m.node).collect::<Vec<_>>()
        ),
        other => format!("{other:?}"),
    }
}

/// `n` nodes started together and settled into one view.
fn settled_cluster(n: usize) -> Hand {
    let mut h = Hand::new(n);
    for i in 0..n {
        h.start(i);
    }
    let all: Vec<usize> = (0..n).collect();
    let bound = 12 * h.timeout_us();
    h.settle(&all, bound);
    h
}

// ---------------------------------------------------------------------
// Regression schedules (etc/design/MEMBERSHIP.md, "Schedules that break
// naive designs").
// ---------------------------------------------------------------------

/// The coordinator dies in the middle of a view change: one member
/// installed the new view (and got a message of it), another only
/// flushed, a third never saw the proposal. The old view had messages
/// that not every member delivered. The survivors must agree on what
/// each delivered of every view they share, and settle.
#[test]
fn coordinator_dies_after_some_installed_and_others_only_flushed() {
    let mut h = settled_cluster(5);
    let (v, _) = h.view(0).expect("a view");
    assert_eq!(v.coordinator, 0);
    // Messages of the old view: the last two reach only node 1.
    for _ in 0..3 {
        h.multicast(2);
        h.run(2 * MS);
    }
    h.multicast(0);
    h.multicast(0);
    h.drop_where(|p| p.kind() == SEQUENCED && p.to != 1);
    // Node 4 leaves: node 0 proposes {0, 1, 2, 3}.
    let now = h.instant();
    h.nodes[4].as_mut().expect("up").leave(now);
    h.collect(4);
    h.nodes[4] = None;
    h.checker.crashed(4);
    // Every node hears the LEAVE (a member that did not would keep its
    // quorum-lease promise to node 4 and hold its FLUSH back).
    h.deliver(|p| p.kind() == LEAVE);
    assert!(h.is_coordinating(0), "node 0 should propose at once");
    // Nodes 1 and 2 get the proposal and flush; node 3 never hears it.
    h.deliver(|p| p.kind() == PROPOSE && (p.to == 1 || p.to == 2));
    h.drop_where(|p| p.kind() == PROPOSE);
    // Node 3's FLUSH is needed: let it answer a resent proposal later;
    // first the two flushes arrive.
    h.deliver(|p| p.kind() == FLUSH && p.to == 0);
    // Node 3 gets the proposal on the next heartbeat of node 0.
    h.run_holding(h.heartbeat_us() + MS, |p| {
        p.kind() == HEARTBEAT || (p.kind() == PROPOSE && p.to == 3) || p.kind() == FLUSH
    });
    let installed_at_0 = h.view(0).map(|(id, _)| id);
    assert!(
        installed_at_0.is_some_and(|id| id > v),
        "node 0 installed the new view: {installed_at_0:?}"
    );
    // Node 1 installs and gets a message of the new view; node 2 only
    // flushed; node 3 only flushed too and hears nothing more.
    h.deliver(|p| p.kind() == INSTALL && p.to == 1);
    h.multicast(0);
    h.deliver(|p| p.kind() == SEQUENCED && p.to == 1);
    h.drop_where(|p| p.from == 0);
    h.crash(0);
    assert!(h.view(1).is_some_and(|(id, _)| Some(id) == installed_at_0));
    assert!(h.view(2).is_none() && h.view(3).is_none());
    // The survivors form a view; the checker holds them to property 3.
    let bound = 12 * h.timeout_us();
    h.settle(&[1, 2, 3], bound);
}

/// Two nodes each believe they coordinate and propose to overlapping
/// sets at once; the proposals and answers cross in flight and arrive in
/// reverse order.
#[test]
fn two_coordinators_propose_concurrently_to_overlapping_sets() {
    let mut h = Hand::new(3);
    for a in 0..3 {
        for b in 0..3 {
            h.cut[a][b] = a != b;
        }
    }
    for i in 0..3 {
        h.start(i);
    }
    // Alone, each node forms a view of itself.
    let bound = 6 * h.timeout_us();
    for i in 0..3 {
        h.settle(&[i], bound);
    }
    // 1 and 2 hear each other: 1 coordinates {1, 2}; its proposal and
    // the answers are held back.
    let hold = |p: &Packet| matches!(p.kind(), PROPOSE | FLUSH | INSTALL);
    h.cut[1][2] = false;
    h.cut[2][1] = false;
    let bound = 8 * h.timeout_us();
    let end = h.now + bound;
    while !(h.is_coordinating(1)
        && h.inflight
            .iter()
            .any(|p| p.kind() == PROPOSE && p.from == 1 && p.to == 2))
    {
        assert!(h.now < end, "node 1 never proposed");
        h.run_holding(MS, |p| !hold(p));
    }
    // Everything heals; heartbeats flow, view changes stay held until
    // node 0 proposes to node 2 too.
    for row in &mut h.cut {
        row.fill(false);
    }
    let end = h.now + bound;
    while !(h.is_coordinating(0)
        && h.inflight
            .iter()
            .any(|p| p.kind() == PROPOSE && p.from == 0 && p.to == 2))
    {
        assert!(h.now < end, "nodes 0 and 1 never proposed at the same time");
        h.run_holding(MS, |p| !hold(p));
    }
    assert!(h
        .inflight
        .iter()
        .any(|p| p.kind() == PROPOSE && p.from == 1 && p.to == 2));
    // The held view changes arrive newest first.
    let mut held: Vec<Packet> = h.inflight.drain(..).collect();
    held.reverse();
    for p in held {
        h.arrive(p);
    }
    let bound = 12 * h.timeout_us();
    h.settle(&[0, 1, 2], bound);
}

/// A member restarted within one heartbeat, with the same address and a
/// new incarnation, while the others still hold its old incarnation in
/// their view; and then the coordinator the same way.
#[test]
fn restart_within_one_heartbeat_while_still_in_the_view() {
    let mut h = settled_cluster(3);
    for victim in [1, 0] {
        let (before, members) = h.view(2).expect("a view");
        assert!(members.contains(&h.node(victim).member()));
        h.multicast(2);
        h.run(MS);
        h.crash(victim);
        h.run(h.heartbeat_us() / 2);
        h.start(victim);
        let bound = 12 * h.timeout_us();
        h.settle(&[0, 1, 2], bound);
        let (after, members) = h.view(2).expect("a view");
        assert!(after > before);
        assert!(members.contains(&h.node(victim).member()));
    }
}

/// Every node restarting at once, many times, with clocks that barely
/// move (incarnations one apart): view ids never repeat.
#[test]
fn every_node_restarting_at_once_never_repeats_a_view_id() {
    let n = 4;
    let mut h = Hand::new(n);
    let mut incarnation = EPOCH_US;
    let mut earlier: HashSet<ViewId> = HashSet::new();
    for round in 0..6 {
        for i in 0..n {
            if h.nodes[i].is_some() {
                h.crash(i);
            }
        }
        // Datagrams of the previous lives still arrive after the restart.
        let stale: Vec<Packet> = h.inflight.drain(..).collect();
        for i in 0..n {
            incarnation += 1;
            h.start_as(i, incarnation);
        }
        for p in stale {
            h.arrive(p);
        }
        let first = h.installed.len();
        let all: Vec<usize> = (0..n).collect();
        let bound = 12 * h.timeout_us();
        h.settle(&all, bound);
        // Some churn inside the round, so that ltimes climb.
        if round % 2 == 0 {
            h.crash(3);
            h.settle(&[0, 1, 2], bound);
            incarnation += 1;
            h.start_as(3, incarnation);
            h.settle(&all, bound);
        }
        let this_round: HashSet<ViewId> = h.installed[first..].iter().copied().collect();
        assert!(!this_round.is_empty());
        for id in &this_round {
            assert!(
                !earlier.contains(id),
                "round {round}: view id {id:?} was used before the restart"
            );
            let members = h.checker.members(id).expect("installed");
            assert!(members
                .iter()
                .any(|m| m.node == id.coordinator && m.incarnation == id.incarnation));
        }
        earlier.extend(this_round);
    }
}

// ---------------------------------------------------------------------
// Schedules that show a defect.
// ---------------------------------------------------------------------

/// A one-way link: node 0 hears node 1, node 1 no longer hears node 0.
/// The side that cannot be heard (0) must step back. This one holds on a
/// cluster that started normally.
#[test]
fn one_way_link_makes_the_unheard_side_step_back() {
    let mut h = settled_cluster(2);
    h.cut[0][1] = true;
    let bound = 8 * h.timeout_us();
    h.run(bound);
    let s0 = h.node(0).status();
    assert_eq!(s0.choice, None, "node 0 should defer");
    assert!(h.view(0).is_none(), "node 0 should hold no view");
    assert!(h.view(1).is_some());
}

/// The same one-way link after node 1 was restarted within one
/// heartbeat: node 0 never saw a gap in hearing node 1, so the "heard
/// since" time of the new incarnation is never set, and node 0 never
/// defers. Both nodes hold a view (and the same addresses) for as long
/// as the link stays one-way.
#[test]
fn one_way_link_after_a_quick_restart_makes_the_unheard_side_step_back() {
    let mut h = settled_cluster(2);
    h.crash(1);
    h.run(h.heartbeat_us() / 2);
    h.start(1);
    let bound = 12 * h.timeout_us();
    h.settle(&[0, 1], bound);
    h.cut[0][1] = true;
    let bound = 8 * h.timeout_us();
    h.run(bound);
    let s0 = h.node(0).status();
    assert!(h.view(1).is_some());
    assert_eq!(s0.choice, None, "node 0 should defer");
    assert!(
        h.view(0).is_none(),
        "node 0 hears node 1, which does not hear it, yet still holds a view: {:?}",
        h.view(0)
    );
}

// ---------------------------------------------------------------------
// The quorum lease (src/membership/mod.rs, "Quorum lease"): a node cut
// off from the majority reports its lease lapsed before any majority
// node installs a view without it, by at least the margin (Timeout / 4)
// less one heartbeat, whatever the heartbeat phase of the cut.
// ---------------------------------------------------------------------

/// Five nodes, each lease needing three, settled with every lease held.
fn settled_quorum_cluster() -> Hand {
    settled_quorum_cluster_with(Timing::default())
}

/// The same with other timing settings.
fn settled_quorum_cluster_with(settings: Timing) -> Hand {
    let mut h = Hand::new(5);
    h.settings = settings;
    h.needed = 3;
    for i in 0..5 {
        h.start(i);
    }
    let bound = 12 * h.timeout_us();
    h.settle(&[0, 1, 2, 3, 4], bound);
    h.run(3 * h.heartbeat_us());
    for i in 0..5 {
        assert_eq!(h.last_lease(i), Some(true), "node {i} holds its lease");
    }
    h
}

impl Hand {
    /// Node `i`'s last `Lease` event.
    fn last_lease(&self, i: usize) -> Option<bool> {
        self.leases
            .iter()
            .rev()
            .find(|(_, n, _)| *n == i)
            .map(|(_, _, held)| *held)
    }

    /// Cuts node `v` off from every other node, as `to_it` and `from_it`
    /// say: see [`Hand::cut_and_check_lapse_from`].
    fn cut_and_check_lapse(&mut self, v: usize, to_it: bool, from_it: bool) -> u64 {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|&o| o != v).collect();
        self.cut_and_check_lapse_from(v, &others, to_it, from_it)
    }

    /// Cuts the links between node `v` and `others` (to it, from it),
    /// runs until a quorate view without `v` is installed, and checks
    /// that `v` reported its lease lapsed before that by at least the
    /// margin less one heartbeat. Returns the gap (µs).
    fn cut_and_check_lapse_from(
        &mut self,
        v: usize,
        others: &[usize],
        to_it: bool,
        from_it: bool,
    ) -> u64 {
        for &o in others {
            self.cut[o][v] = to_it;
            self.cut[v][o] = from_it;
        }
        let cut_at = self.now;
        let first_view = self.views.len();
        let member = self.node(v).member();
        let needed = self.needed;
        let done = self.run_until(12 * self.timeout_us(), |h| {
            h.views[first_view..]
                .iter()
                .any(|(_, _, m)| m.len() >= needed && !m.contains(&member))
        });
        assert!(
            done,
            "{}",
            self.failure("no majority view without the cut node")
        );
        let (installed, by, _) = self.views[first_view..]
            .iter()
            .find(|(_, _, m)| m.len() >= needed && !m.contains(&member))
            .cloned()
            .expect("found above");
        let lapsed = self
            .leases
            .iter()
            .find(|(t, n, held)| *n == v && !held && *t >= cut_at)
            .map(|(t, _, _)| *t);
        let Some(lapsed) = lapsed else {
            panic!(
                "{}",
                self.failure(&format!("node {v} never reported its lease lapsed"))
            );
        };
        let margin = self.timeout_us() / 4 - self.heartbeat_us();
        assert!(
            lapsed < installed && installed - lapsed >= margin,
            "{}",
            self.failure(&format!(
                "node {v} lapsed at {lapsed}, node {by} installed without it at {installed}: less than {margin}µs apart"
            ))
        );
        installed - lapsed
    }
}

#[test]
fn a_node_cut_off_both_ways_lapses_before_the_majority_takes_over() {
    let mut rng = Rng(0x1ea5e);
    let mut smallest = u64::MAX;
    for round in 0..24 {
        let mut h = settled_quorum_cluster();
        // A phase anywhere within a heartbeat, to the µs.
        h.advance(rng.range(0, h.heartbeat_us() as usize) as u64);
        let v = 1 + round % 4;
        smallest = smallest.min(h.cut_and_check_lapse(v, true, true));
    }
    println!("smallest gap: {smallest}µs");
}

/// The same at the shortest settings called safe (5 ms / 25 ms), cut
/// from everyone or from the coordinator only: the margin is 6.25 ms
/// there, and this network delivers within 1 ms. No other node lapses.
#[test]
fn at_the_shortest_settings_a_cut_node_still_lapses_first() {
    let shortest =
        Timing::new(Duration::from_millis(5), Duration::from_millis(25)).expect("valid settings");
    let mut rng = Rng(0x5_25);
    let mut smallest = u64::MAX;
    for round in 0..24 {
        let mut h = settled_quorum_cluster_with(shortest);
        h.advance(rng.range(0, h.heartbeat_us() as usize) as u64);
        let (view, _) = h.view(0).expect("a view");
        let coordinator = usize::from(view.coordinator);
        let v = round % 5;
        let gap = if round % 2 == 0 || v == coordinator {
            h.cut_and_check_lapse(v, true, true)
        } else {
            // Cut from the coordinator only: the promise keeps the margin.
            h.cut_and_check_lapse_from(v, &[coordinator], true, true)
        };
        smallest = smallest.min(gap);
        assert!(
            h.leases.iter().all(|(_, n, held)| *n == v || *held),
            "{}",
            h.failure("a node other than the cut one lapsed")
        );
    }
    println!("smallest gap: {smallest}µs");
}

#[test]
fn the_coordinator_cut_off_lapses_before_the_majority_takes_over() {
    let mut rng = Rng(0xc00d);
    for _ in 0..12 {
        let mut h = settled_quorum_cluster();
        h.advance(rng.range(0, h.heartbeat_us() as usize) as u64);
        let (view, _) = h.view(1).expect("a view");
        h.cut_and_check_lapse(usize::from(view.coordinator), true, true);
    }
}

#[test]
fn a_node_cut_off_one_way_lapses_before_the_majority_takes_over() {
    let mut rng = Rng(0x0e1a);
    for round in 0..16 {
        let mut h = settled_quorum_cluster();
        h.advance(rng.range(0, h.heartbeat_us() as usize) as u64);
        let v = round % 5;
        // It hears nobody, or nobody hears it.
        let deaf = round % 2 == 0;
        h.cut_and_check_lapse(v, deaf, !deaf);
    }
}

/// Node 4 loses only the coordinator (both ways): the coordinator
/// proposes without it while the other members still hear it and vouch
/// for it. Their FLUSHes wait for the promise, which is what keeps the
/// lapse ahead of the install here.
#[test]
fn a_node_cut_off_from_the_coordinator_only_lapses_before_the_takeover() {
    let mut rng = Rng(0x9a27);
    let mut smallest = u64::MAX;
    for _ in 0..16 {
        let mut h = settled_quorum_cluster();
        h.advance(rng.range(0, h.heartbeat_us() as usize) as u64);
        let (view, _) = h.view(1).expect("a view");
        let coordinator = usize::from(view.coordinator);
        let v = if coordinator == 4 { 3 } else { 4 };
        smallest = smallest.min(h.cut_and_check_lapse_from(v, &[coordinator], true, true));
    }
    println!("smallest gap: {smallest}µs");
}

/// A join and a clean leave change the view among live nodes: no lease
/// lapses anywhere, and the newcomer is granted one.
#[test]
fn view_changes_among_live_nodes_never_lapse_a_lease() {
    let mut h = Hand::new(5);
    h.needed = 3;
    for i in 0..4 {
        h.start(i);
    }
    let bound = 12 * h.timeout_us();
    h.settle(&[0, 1, 2, 3], bound);
    h.run(3 * h.heartbeat_us());
    let views = h.views.len();
    h.start(4);
    h.settle(&[0, 1, 2, 3, 4], bound);
    h.run(3 * h.heartbeat_us());
    assert!(h.views.len() > views, "a view with the newcomer");
    let now = h.instant();
    h.nodes[2].as_mut().expect("up").leave(now);
    h.collect(2);
    h.nodes[2] = None;
    h.checker.crashed(2);
    h.settle(&[0, 1, 3, 4], bound);
    h.run(3 * h.heartbeat_us());
    let lapses: Vec<_> = h.leases.iter().filter(|(_, _, held)| !held).collect();
    assert!(
        lapses.is_empty(),
        "{}",
        h.failure(&format!("lapses: {lapses:?}"))
    );
    for i in [0, 1, 3, 4] {
        assert_eq!(h.last_lease(i), Some(true), "node {i}");
        assert!(h.checker.lease(i));
    }
}

// ---------------------------------------------------------------------
// A join, a rejoin or a merge goes from the old view straight to the new
// one, and a crash straight to the view of the survivors: no view that
// no failure caused, none smaller than the one before (under a quorum,
// such a view, however short, releases every address).
// ---------------------------------------------------------------------

/// How many heartbeat phases each of these schedules is tried with
/// (`WACKAMOLE_PHASE_SEEDS=N` changes it).
fn phase_seeds() -> u64 {
    env::number("WACKAMOLE_PHASE_SEEDS").unwrap_or(40)
}

/// Five nodes at the default settings on a network where each datagram
/// takes 50 µs to 1 ms, started one by one at moments drawn from `seed`
/// (so each node heartbeats at its own phase), settled into one view.
fn phased_cluster(seed: u64) -> (Hand, Rng) {
    let mut h = Hand::new(5);
    h.latency = Some((Rng(seed), 50, 1_000));
    let mut rng = Rng(seed ^ 0x00ba_5eba_11ed);
    let spread = 3 * h.heartbeat_us() as usize;
    for i in 0..5 {
        h.run(rng.range(0, spread) as u64);
        h.start(i);
    }
    let bound = 12 * h.timeout_us();
    h.settle(&[0, 1, 2, 3, 4], bound);
    // A while in the view, so that the next fault falls at any phase.
    h.run(rng.range(0, 10 * h.heartbeat_us() as usize) as u64);
    (h, rng)
}

/// Where each node's list of steps ends now.
fn mark(h: &Hand) -> Vec<usize> {
    h.steps.iter().map(Vec::len).collect()
}

/// Each of `nodes` held a view of exactly `old` at `since` and has since
/// reported exactly one step: a view of exactly `new`. Returns when the
/// last of them installed it.
fn assert_straight(
    h: &Hand,
    since: &[usize],
    nodes: &[usize],
    old: &[u8],
    new: &[u8],
    what: &str,
) -> u64 {
    let mut last = 0;
    for &i in nodes {
        let before = since[i].checked_sub(1).map(|k| &h.steps[i][k].1).cloned();
        let after: Vec<Step> = h.steps[i][since[i]..]
            .iter()
            .map(|(_, s)| s.clone())
            .collect();
        let ok = matches!(&before, Some(Step::View(_, m)) if m == old)
            && matches!(after.as_slice(), [Step::View(_, m)] if m == new);
        if !ok {
            panic!(
                "{}",
                h.failure(&format!(
                    "{what}: node {i} should go from a view of {old:?} straight to one \
                     of {new:?}; it was in {before:?}, then reported {after:?}"
                ))
            );
        }
        last = last.max(h.steps[i][since[i]].0);
    }
    last
}

/// How node 0, the coordinator, leaves the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// kill -9 at once.
    Crash,
    /// Cut off, nothing passing either way, and killed a while later.
    CutBothWays,
    /// Cut off so that it hears nobody while everyone still hears it (a
    /// firewall dropping what comes in), and killed a while later.
    CutInbound,
    /// Cut off so that nobody hears it while it still hears everyone,
    /// and killed a while later.
    CutOutbound,
}

/// Node 0 departs at any phase: every survivor goes from the
/// five-member view straight to the view of the four, and holds it.
/// Returns the failover time: from the departure (the crash, or the cut)
/// to the last survivor's install.
fn node_0_departs(seed: u64, how: Departure) -> (Hand, Rng, u64) {
    let (mut h, mut rng) = phased_cluster(seed);
    let since = mark(&h);
    let departed_at = h.now;
    for j in 1..5 {
        if matches!(how, Departure::CutBothWays | Departure::CutOutbound) {
            h.cut[0][j] = true;
        }
        if matches!(how, Departure::CutBothWays | Departure::CutInbound) {
            h.cut[j][0] = true;
        }
    }
    if how != Departure::Crash {
        h.run(rng.range(h.timeout_us() as usize, 4 * h.timeout_us() as usize) as u64);
    }
    h.crash(0);
    let bound = 12 * h.timeout_us();
    h.settle(&[1, 2, 3, 4], bound);
    // Anything more would show up here.
    h.run(5 * h.timeout_us());
    let done = assert_straight(
        &h,
        &since,
        &[1, 2, 3, 4],
        &[0, 1, 2, 3, 4],
        &[1, 2, 3, 4],
        &format!("seed {seed}, node 0 departs: {how:?}"),
    );
    (h, rng, done - departed_at)
}

#[test]
fn a_crash_goes_straight_to_the_view_of_the_survivors() {
    let mut failover = Vec::new();
    for seed in 0..phase_seeds() {
        let (h, _, us) = node_0_departs(seed, Departure::Crash);
        // The time-out, a heartbeat for the last datagram to go stale
        // and a few round trips for the view change.
        let bound = h.timeout_us() + h.heartbeat_us() + 10 * MS;
        assert!(
            us <= bound,
            "seed {seed}: failover took {us} µs, more than {bound} µs"
        );
        failover.push(us);
    }
    report_settling("node 0 crashed", &failover);
}

/// A node that hears nobody while all still hear it used to make them
/// fall back on themselves, then step back for it as the side of a
/// one-way link that cannot be heard, then drop their view when it
/// showed its own view without them.
#[test]
fn a_node_cut_off_then_killed_leaves_the_survivors_in_one_view() {
    for how in [
        Departure::CutBothWays,
        Departure::CutInbound,
        Departure::CutOutbound,
    ] {
        let worst = (0..phase_seeds())
            .map(|seed| node_0_departs(seed, how).2)
            .max()
            .unwrap_or(0);
        println!("node 0 {how:?}: the survivors' view {worst} µs after the cut at worst");
    }
}

#[test]
fn a_restarted_node_joins_without_a_view_in_between() {
    let mut joins = Vec::new();
    for seed in 0..phase_seeds() {
        let (mut h, mut rng, _) = node_0_departs(seed, Departure::Crash);
        h.run(rng.range(0, 10 * h.heartbeat_us() as usize) as u64);
        let since = mark(&h);
        let started_at = h.now;
        h.start(0);
        let bound = 12 * h.timeout_us();
        h.settle(&[0, 1, 2, 3, 4], bound);
        joins.push(h.now - started_at);
        h.run(5 * h.timeout_us());
        assert_straight(
            &h,
            &since,
            &[1, 2, 3, 4],
            &[1, 2, 3, 4],
            &[0, 1, 2, 3, 4],
            &format!("seed {seed}, node 0 back"),
        );
    }
    report_settling("node 0 back (its undecided time-out included)", &joins);
}

/// Prints how long a schedule took to settle, over the phases.
fn report_settling(what: &str, times: &[u64]) {
    let worst = times.iter().max().copied().unwrap_or(0);
    let mean = times.iter().sum::<u64>() / times.len().max(1) as u64;
    println!("{what}: settled after {mean} µs on average, {worst} µs at worst");
}

#[test]
fn healed_partitions_merge_without_a_view_in_between() {
    let sides: [&[usize]; 2] = [&[0, 1], &[2, 3, 4]];
    let mut merges = Vec::new();
    for seed in 0..phase_seeds() {
        let (mut h, mut rng) = phased_cluster(seed);
        for a in 0..5 {
            for b in 0..5 {
                h.cut[a][b] = (a < 2) != (b < 2);
            }
        }
        let bound = 12 * h.timeout_us();
        for side in sides {
            h.settle(side, bound);
        }
        h.run(rng.range(0, 10 * h.heartbeat_us() as usize) as u64);
        let since = mark(&h);
        let healed_at = h.now;
        h.trace.push(format!("[{}] heal", h.now));
        for row in &mut h.cut {
            row.fill(false);
        }
        h.settle(&[0, 1, 2, 3, 4], bound);
        merges.push(h.now - healed_at);
        h.run(5 * h.timeout_us());
        for side in sides {
            let old: Vec<u8> = side.iter().map(|&i| i as u8).collect();
            assert_straight(
                &h,
                &since,
                side,
                &old,
                &[0, 1, 2, 3, 4],
                &format!("seed {seed}, merge"),
            );
        }
    }
    report_settling("partitions healed", &merges);
}

// ---------------------------------------------------------------------
// A harsher network than the random simulation's: any datagram in flight
// may arrive next (no bound on how late), be duplicated or be lost;
// nodes crash and come back with incarnations barely above the last.
// ---------------------------------------------------------------------

fn adversarial_run(seed: u64) {
    let mut rng = Rng(seed);
    let n = rng.range(2, 5);
    let mut h = Hand::new(n);
    // Every other seed with a majority lease (its events are checked too).
    h.needed = if seed % 2 == 1 { n / 2 + 1 } else { 0 };
    let mut incarnation = EPOCH_US + seed * 1_000;
    for i in 0..n {
        incarnation += 1;
        h.start_as(i, incarnation);
    }
    let steps = rng.range(2_000, 6_000);
    for _ in 0..steps {
        let r = rng.below(1000);
        if r < 600 && !h.inflight.is_empty() {
            let k = rng.below(h.inflight.len());
            let p = h.inflight.remove(k);
            if rng.per_mille(30) {
                h.inflight.push(p.clone());
            }
            h.arrive(p);
        } else if r < 680 && !h.inflight.is_empty() {
            let k = rng.below(h.inflight.len());
            h.inflight.remove(k);
        } else if r < 960 {
            let dt = rng.range(0, h.heartbeat_us() as usize) as u64;
            h.advance(dt);
        } else if r < 985 {
            let i = rng.below(n);
            h.multicast(i);
        } else {
            let i = rng.below(n);
            if h.nodes[i].is_some() {
                h.crash(i);
            } else {
                incarnation += 1;
                h.start_as(i, incarnation);
            }
        }
        if h.inflight.len() > 400 {
            let extra = h.inflight.len() - 400;
            h.inflight.drain(..extra);
        }
    }
    for i in 0..n {
        if h.nodes[i].is_none() {
            incarnation += 1;
            h.start_as(i, incarnation);
        }
    }
    // The stragglers still arrive, then the network behaves.
    let mut stale: Vec<Packet> = h.inflight.drain(..).collect();
    while !stale.is_empty() {
        let k = rng.below(stale.len());
        let p = stale.swap_remove(k);
        h.arrive(p);
    }
    let all: Vec<usize> = (0..n).collect();
    let bound = 12 * h.timeout_us();
    h.settle(&all, bound);
}

#[test]
fn any_order_any_delay_keeps_properties_and_settles() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    let seeds = env::number("WACKAMOLE_SCENARIO_SEEDS").unwrap_or(300);
    // Seeds are independent: spread them over the cores, stop at the
    // first failure and name the lowest failing seed found.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let failed = AtomicBool::new(false);
    let failures: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    let _cores = crate::support::exclusive();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (failed, failures) = (&failed, &failures);
            scope.spawn(move || {
                let mut seed = t;
                while seed < seeds && !failed.load(Ordering::Relaxed) {
                    if let Err(e) = std::panic::catch_unwind(|| adversarial_run(seed)) {
                        let text = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failed.store(true, Ordering::Relaxed);
                        failures.lock().expect("not poisoned").push((seed, text));
                    }
                    seed += threads;
                }
            });
        }
    });
    let failures = failures.into_inner().expect("not poisoned");
    if let Some((seed, text)) = failures.into_iter().min_by_key(|f| f.0) {
        panic!("seed {seed}: {text}");
    }
}

/// Followers keep pace with their coordinator: nodes started at other
/// phases of the heartbeat period end up sending each heartbeat within
/// `Heartbeat / 8` after one of the coordinator's (so a node receives the
/// cluster's heartbeats in one burst per period), and no node ever waits
/// longer than `Heartbeat` between two of its heartbeats.
#[test]
fn followers_heartbeat_in_step_with_their_coordinator() {
    let timing = Timing::default();
    let period = timing.heartbeat;
    let step = Duration::from_micros(250);
    let key = Key::new(b"scenario cluster key, 32 bytes!!").expect("key is long enough");
    let addrs: Vec<SocketAddrV4> = (0..3).map(address).collect();
    let start = Instant::now();
    // Three phases of the period.
    let offsets = [0u64, 7, 13].map(Duration::from_millis);
    let mut nodes: Vec<Option<Node>> = vec![None, None, None];
    // When each node sent heartbeats, by node.
    let mut ticks: Vec<Vec<Instant>> = vec![Vec::new(); 3];
    let mut in_view = [false; 3];
    let mut now = start;
    let end = start + Duration::from_secs(2);
    while now < end {
        for i in 0..3 {
            if nodes[i].is_none() && now >= start + offsets[i] {
                let node = Node::new(
                    addrs.clone(),
                    i,
                    key.clone(),
                    timing,
                    EPOCH_US + i as u64,
                    now,
                )
                .expect("a valid cluster");
                nodes[i] = Some(node);
            }
            if let Some(node) = nodes[i].as_mut() {
                if node.poll_timeout().is_some_and(|at| at <= now) {
                    node.handle_timeout(now);
                }
            }
        }
        // Deliver at once, until nothing more is sent.
        loop {
            let mut packets = Vec::new();
            for i in 0..3 {
                let Some(node) = nodes[i].as_mut() else {
                    continue;
                };
                let mut heartbeat = false;
                while let Some(t) = node.poll_transmit() {
                    heartbeat |= t.bytes[3] == HEARTBEAT;
                    packets.push((i, usize::from(t.to), t.bytes));
                }
                if heartbeat && ticks[i].last() != Some(&now) {
                    ticks[i].push(now);
                }
                while let Some(event) = node.poll_event() {
                    if let NodeEvent::View { members, .. } = event {
                        in_view[i] = members.len() == 3;
                    }
                }
            }
            if packets.is_empty() {
                break;
            }
            for (from, to, bytes) in packets {
                if let Some(node) = nodes[to].as_mut() {
                    node.handle_datagram(SocketAddr::V4(addrs[from]), &bytes, now);
                }
            }
        }
        now += step;
    }
    assert!(
        in_view.iter().all(|&v| v),
        "no view of all three: {in_view:?}"
    );
    for (i, sent) in ticks.iter().enumerate() {
        for pair in sent.windows(2) {
            assert!(
                pair[1] - pair[0] <= period + step,
                "node {i} waited {:?} between two heartbeats",
                pair[1] - pair[0]
            );
        }
    }
    // Over the last second, every heartbeat of the followers comes within
    // Heartbeat / 8 after one of the coordinator's.
    let settled = start + Duration::from_secs(1);
    for i in 1..3 {
        for &t in ticks[i].iter().filter(|&&t| t >= settled) {
            let lead = ticks[0]
                .iter()
                .rev()
                .find(|&&c| c <= t)
                .expect("node 0 ticks");
            assert!(
                t - *lead <= period / 8,
                "node {i} sent a heartbeat {:?} after node 0's",
                t - *lead
            );
        }
    }
}
