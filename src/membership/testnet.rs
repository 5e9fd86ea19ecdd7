//! A few real nodes on a network that delivers at once what is not cut,
//! with time moved by hand, for the unit tests of the lease and of the
//! port unreachable rule. A node whose daemon is dead (`None`) may have a
//! live host that bounces what is sent to it, as sparingly as Linux does
//! ([`IcmpLimit`]).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::icmp_limit::IcmpLimit;
use super::wire::{Key, Kind};
use super::{Node, NodeEvent, Timing, ViewId};

pub(super) const MS: Duration = Duration::from_millis(1);
pub(super) const INCARNATION: u64 = 1_800_000_000_000_000;

pub(super) fn key() -> Key {
    Key::new(b"lease unit tests, a 32-byte key!").expect("long enough")
}

pub(super) fn address(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, i as u8 + 1), 4820)
}

/// A datagram on its way: (from, to, bytes).
pub(super) type Packet = (usize, usize, Vec<u8>);

/// Nodes on a network that delivers at once what is not cut; time moves
/// only when the test says.
pub(super) struct Cluster {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) nodes: Vec<Option<Node>>,
    /// `cut[a][b]`: what a sends to b is lost.
    pub(super) cut: Vec<Vec<bool>>,
    /// Datagrams of this kind from a to b are lost: (a, b, kind).
    pub(super) drop: Option<(usize, usize, Kind)>,
    /// Percent of all datagrams lost, drawn from a fixed sequence.
    pub(super) loss: u64,
    draws: u64,
    /// Every event, with its node and time.
    pub(super) events: Vec<(usize, Instant, NodeEvent)>,
    /// Every datagram sent (also those lost), with its time.
    pub(super) sent: Vec<(Instant, Packet)>,
    pub(super) queue: Vec<Packet>,
    /// Hosts whose daemon is dead (`None`) bounce what is sent to them
    /// (ICMP port unreachable) instead of dropping it.
    pub(super) hosts_alive: bool,
    /// Bounces delivered so far.
    pub(super) bounces: usize,
    /// What the dead daemons' hosts would have bounced but their kernels
    /// held back.
    pub(super) icmp: IcmpLimit,
    /// Each node takes all that is queued for it in one batch and settles
    /// once ([`Node::take_datagram`], [`Node::settle`]), as the daemon's
    /// worker does with one read of its socket.
    pub(super) batched: bool,
}

impl Cluster {
    pub(super) fn new(n: usize, needed: usize) -> Cluster {
        Cluster::with_settings(n, Timing::default(), needed)
    }

    pub(super) fn with_settings(n: usize, timing: Timing, needed: usize) -> Cluster {
        let start = Instant::now();
        let addrs: Vec<SocketAddrV4> = (0..n).map(address).collect();
        let nodes = (0..n)
            .map(|i| {
                let mut node = Node::new(
                    addrs.clone(),
                    i,
                    key(),
                    timing,
                    INCARNATION + i as u64,
                    start,
                )
                .expect("a valid cluster");
                node.set_quorum(needed);
                Some(node)
            })
            .collect();
        let mut c = Cluster {
            start,
            now: start,
            nodes,
            cut: vec![vec![false; n]; n],
            drop: None,
            loss: 0,
            draws: 0x9E37_79B9_7F4A_7C15,
            events: Vec::new(),
            sent: Vec::new(),
            queue: Vec::new(),
            hosts_alive: false,
            bounces: 0,
            icmp: IcmpLimit::default(),
            batched: false,
        };
        for i in 0..n {
            c.collect(i);
        }
        c
    }

    pub(super) fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("running")
    }

    pub(super) fn collect(&mut self, i: usize) {
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        while let Some(t) = node.poll_transmit() {
            let to = usize::from(t.to);
            self.sent.push((self.now, (i, to, t.bytes.clone())));
            // A xorshift sequence: the same losses in every run.
            self.draws ^= self.draws << 13;
            self.draws ^= self.draws >> 7;
            self.draws ^= self.draws << 17;
            let dropped = self
                .drop
                .is_some_and(|(a, b, kind)| (a, b) == (i, to) && t.bytes[3] == kind.byte())
                || self.draws % 100 < self.loss;
            if !self.cut[i][to] && !dropped {
                self.queue.push((i, to, t.bytes));
            }
        }
        while let Some(e) = node.poll_event() {
            self.events.push((i, self.now, e));
        }
    }

    pub(super) fn deliver_all(&mut self) {
        while !self.queue.is_empty() {
            if self.batched {
                self.deliver_batches();
                continue;
            }
            let (from, to, bytes) = self.queue.remove(0);
            self.receive(from, to, &bytes);
        }
    }

    /// Every node with something queued takes all of it, then settles.
    fn deliver_batches(&mut self) {
        let queued = std::mem::take(&mut self.queue);
        let now = self.now;
        for to in 0..self.nodes.len() {
            let mine: Vec<&Packet> = queued.iter().filter(|p| p.1 == to).collect();
            if mine.is_empty() {
                continue;
            }
            match self.nodes[to].as_mut() {
                Some(node) => {
                    for (from, _, bytes) in &mine {
                        node.take_datagram(SocketAddr::V4(address(*from)), bytes, now);
                    }
                    node.settle(now);
                }
                None if self.hosts_alive => {
                    for (from, _, bytes) in &mine {
                        self.bounce(*from, to, bytes);
                    }
                    continue;
                }
                None => {}
            }
            self.collect(to);
        }
    }

    pub(super) fn receive(&mut self, from: usize, to: usize, bytes: &[u8]) {
        let now = self.now;
        match self.nodes[to].as_mut() {
            Some(node) => node.handle_datagram(SocketAddr::V4(address(from)), bytes, now),
            None if self.hosts_alive => return self.bounce(from, to, bytes),
            None => {}
        }
        self.collect(to);
    }

    /// `about`'s host tells `to` that `quoted`, sent to it, found no
    /// socket.
    pub(super) fn bounce(&mut self, to: usize, about: usize, quoted: &[u8]) {
        let now = self.now;
        let now_us = now.saturating_duration_since(self.start).as_micros() as u64;
        if !self.icmp.allow(about, to, now_us) {
            return;
        }
        self.bounces += 1;
        if let Some(node) = self.nodes[to].as_mut() {
            node.handle_unreachable(SocketAddr::V4(address(about)), quoted, now);
        }
        self.collect(to);
    }

    /// Runs every timer due up to `until`, delivering at once.
    pub(super) fn run_until(&mut self, until: Instant) {
        loop {
            self.deliver_all();
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.as_ref()?.poll_timeout())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    // Every node due at this instant acts before anything
                    // it sends arrives, as on a real network: with
                    // batches, what several nodes send one node at one
                    // instant reaches it together.
                    for i in 0..self.nodes.len() {
                        let Some(node) = self.nodes[i].as_mut() else {
                            continue;
                        };
                        if node.poll_timeout().is_some_and(|due| due <= now) {
                            node.handle_timeout(now);
                            self.collect(i);
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    pub(super) fn run(&mut self, span: Duration) {
        let until = self.now + span;
        self.run_until(until);
    }

    /// Every node holds one view of all of them.
    pub(super) fn settle(&mut self) {
        let n = self.nodes.len();
        for _ in 0..3000 {
            let views: Vec<_> = (0..n).map(|i| self.node(i).status()).collect();
            if views
                .iter()
                .all(|s| !s.flushing && s.view.as_ref().is_some_and(|v| v.1.len() == n))
                && views.iter().all(|s| s.view == views[0].view)
            {
                return;
            }
            self.run(MS);
        }
        panic!("the cluster did not settle");
    }

    pub(super) fn leases(&self, i: usize) -> Vec<bool> {
        self.events
            .iter()
            .filter(|(n, _, _)| *n == i)
            .filter_map(|(_, _, e)| match e {
                NodeEvent::Lease(held) => Some(*held),
                _ => None,
            })
            .collect()
    }

    /// When node `i` sent its first datagram of `kind` at or after `since`.
    pub(super) fn first_sent(&self, i: usize, kind: Kind, since: Instant) -> Option<Instant> {
        self.sent
            .iter()
            .find(|(t, (from, _, bytes))| *from == i && *t >= since && bytes[3] == kind.byte())
            .map(|(t, _)| *t)
    }
}

/// The members of node `i`'s view, by node index.
pub(super) fn view_of(c: &Cluster, i: usize) -> Vec<u8> {
    let status = c.node(i).status();
    status
        .view
        .map(|(_, members)| members.iter().map(|m| m.node).collect())
        .unwrap_or_default()
}

/// In one view of exactly `nodes`, other than `old`, at every one of them.
pub(super) fn agreed(c: &Cluster, nodes: &[u8], old: ViewId) -> Option<ViewId> {
    let ids: Vec<ViewId> = nodes
        .iter()
        .map(|&i| {
            let status = c.node(usize::from(i)).status();
            match status.view {
                Some((id, _)) if !status.flushing && id != old => {
                    (view_of(c, usize::from(i)) == nodes).then_some(id)
                }
                _ => None,
            }
        })
        .collect::<Option<_>>()?;
    ids.iter().all(|id| *id == ids[0]).then_some(ids[0])
}

/// Runs until `nodes` agree on a view other than `old`: how long it took
/// and the view.
pub(super) fn until_agreed(c: &mut Cluster, nodes: &[u8], old: ViewId) -> (Duration, ViewId) {
    let from = c.now;
    for _ in 0..2000 {
        c.run(MS);
        if let Some(id) = agreed(c, nodes, old) {
            return (c.now - from, id);
        }
    }
    panic!(
        "no view of {nodes:?} within two seconds (batched: {})",
        c.batched
    );
}
