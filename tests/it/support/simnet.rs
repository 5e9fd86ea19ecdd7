//! A simulated cluster of membership nodes on a faulty network, in
//! virtual time (microseconds): datagrams are lost, duplicated, delayed
//! and reordered; links can be cut one way or both; with several links
//! per node (redundant networks), each link has its own cuts and loss;
//! nodes crash, pause (their datagrams queue up and are all read when
//! they wake, before their timers), leave and restart with a new
//! incarnation. With `icmp` on, the host of a crashed node may live on
//! and answer what is sent to it with ICMP port unreachable (over every
//! link a datagram reaches it by), and an attacker who sees the datagrams
//! may forge such answers for them. Everything is decided by the seed.

// Each test crate that includes this uses part of it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use wackamole::membership::wire::{Body, Echo, Heartbeat, Key, Relayed};
use wackamole::membership::{MulticastError, Node, NodeEvent, Timing, ViewId};

use super::icmp_limit::IcmpLimit;
use super::rng::Rng;

pub const PORT: u16 = 4810;
/// Incarnations are "wall-clock" microseconds: this plus virtual time.
const EPOCH_US: u64 = 1_800_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Running,
    /// Frozen until this time; datagrams wait in its socket buffer.
    Paused {
        until: u64,
    },
    /// Crashed or left; nothing runs until a restart.
    Down,
}

pub struct Slot {
    pub node: Option<Node>,
    pub state: SlotState,
    /// Datagrams that arrived while paused: (sender, link, bytes).
    inbox: VecDeque<(usize, usize, Vec<u8>)>,
    /// Crashed (kill -9) but its host lives: it bounces what it is sent.
    pub host_alive: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Packet {
    at: u64,
    order: u64,
    from: usize,
    to: usize,
    link: usize,
    bytes: Vec<u8>,
    /// A port unreachable from `from`'s host quoting `bytes`, which `to`
    /// sent it.
    bounce: bool,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    pub datagrams: u64,
    pub bytes: u64,
    pub lost: u64,
    pub replayed: u64,
}

pub struct Net {
    pub base: Instant,
    pub now: u64,
    pub addrs: Vec<SocketAddrV4>,
    pub settings: Timing,
    secret: Vec<u8>,
    pub slots: Vec<Slot>,
    queue: BinaryHeap<Reverse<Packet>>,
    order: u64,
    /// `blocked[a][b]`: datagrams from a to b are dropped (on every link).
    pub blocked: Vec<Vec<bool>>,
    /// Links (networks) each node has an address on.
    pub links: usize,
    /// `link_blocked[k][a][b]`: datagrams from a to b over link k are
    /// dropped.
    pub link_blocked: Vec<Vec<Vec<bool>>>,
    /// Loss of link k alone, on top of `loss_per_mille`.
    pub link_loss_per_mille: Vec<u64>,
    pub loss_per_mille: u64,
    pub dup_per_mille: u64,
    pub delay_us: (u64, u64),
    /// Some datagrams are held back up to `late_us` more (old datagrams
    /// arriving after newer ones).
    pub late_per_mille: u64,
    pub late_us: u64,
    /// A datagram that reaches a running node brings with it every other
    /// datagram for that node due within `batch_us` after it (they arrive
    /// early, which a network may do): the node takes them one by one and
    /// settles once ([`Node::take_datagram`], [`Node::settle`]), as the
    /// daemon's worker does with what one read of its socket returns.
    pub batch_us: u64,
    pub rng: Rng,
    pub stats: NetStats,
    /// A crashed node's host lives on half the time, and bounces, as
    /// sparingly as Linux does.
    pub icmp: bool,
    /// The bounces those hosts' kernels held back.
    pub icmp_limit: IcmpLimit,
    /// `forged[a][b]`: until this time, every datagram from a to b is
    /// also answered by a forged port unreachable (b still gets it).
    pub forged: Vec<Vec<u64>>,
    /// Bounces delivered, and of those forged.
    pub bounces: u64,
    pub forged_bounces: u64,
    /// What the nodes reported, in order: (node, event), for the caller.
    pub events: Vec<(usize, NodeEvent)>,
    /// Per node: the number of its last tagged multicast.
    pub counters: Vec<u32>,
    /// A sample of datagrams sent, for replays: (from, to, link, bytes).
    recorded: Vec<(usize, usize, usize, Vec<u8>)>,
}

/// A heartbeat that hears and reaches the nodes of `hears` (a bit per
/// node), chooses node 0 and vouches `echo`, in no view and with nothing
/// delivered: a datagram to feed a node by hand.
pub fn heartbeat(hears: u32, echo: Option<Echo>) -> Body {
    Body::Heartbeat(Heartbeat {
        hears,
        reach: hears,
        choice: Some(0),
        view: None,
        delivered: 0,
        sequenced: 0,
        stable: 0,
        max_ltime: 0,
        sent: 0,
        echo,
        wants_answers: false,
        relayed: Relayed::default(),
    })
}

/// Runs `node`'s timer at `now` (`now_us` on the simulation's clock, whose
/// reading of an instant is `micros`) and checks that it looks forward:
/// node `i`'s next timer must not be due at once.
pub fn fire_timer(
    node: &mut Node,
    i: usize,
    now: Instant,
    now_us: u64,
    micros: impl Fn(Instant) -> u64,
) {
    node.handle_timeout(now);
    let next = node.poll_timeout().map(micros);
    assert!(
        next.map_or(true, |t| t > now_us),
        "node {i}'s timer is due again at once (t={now_us}µs)"
    );
}

/// `t` in µs since `base` (0 before it).
pub fn micros(base: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(base).as_micros() as u64
}

pub fn address(i: usize) -> SocketAddrV4 {
    address_on(0, i)
}

/// Node `i`'s address on link `link`.
pub fn address_on(link: usize, i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 9 + link as u8, 0, i as u8 + 1), PORT)
}

impl Net {
    pub fn new(n: usize, settings: Timing, seed: u64) -> Net {
        Net::with_links(n, 1, settings, seed)
    }

    /// `n` nodes with an address on each of `links` networks.
    pub fn with_links(n: usize, links: usize, settings: Timing, seed: u64) -> Net {
        Net {
            links,
            link_blocked: vec![vec![vec![false; n]; n]; links],
            link_loss_per_mille: vec![0; links],
            base: Instant::now(),
            now: 0,
            addrs: (0..n).map(address).collect(),
            settings,
            secret: b"simulated cluster key, 32 bytes".to_vec(),
            slots: (0..n)
                .map(|_| Slot {
                    node: None,
                    state: SlotState::Down,
                    inbox: VecDeque::new(),
                    host_alive: false,
                })
                .collect(),
            queue: BinaryHeap::new(),
            order: 0,
            blocked: vec![vec![false; n]; n],
            loss_per_mille: 0,
            dup_per_mille: 0,
            delay_us: (50, 500),
            late_per_mille: 0,
            late_us: 0,
            batch_us: 0,
            rng: Rng(seed ^ 0x0005_eed0_f0e7),
            stats: NetStats::default(),
            icmp: false,
            icmp_limit: IcmpLimit::default(),
            forged: vec![vec![0; n]; n],
            bounces: 0,
            forged_bounces: 0,
            events: Vec::new(),
            recorded: Vec::new(),
            counters: vec![0; n],
        }
    }

    /// A network of `links` links on which a crashed node's host lives
    /// on half the time, and which, in half the seeds, delivers in
    /// batches ([`Net::batch_us`] up to a fifth of a heartbeat).
    pub fn with_icmp(n: usize, links: usize, settings: Timing, seed: u64) -> Net {
        let mut net = Net {
            icmp: true,
            ..Net::with_links(n, links, settings, seed)
        };
        if net.rng.per_mille(500) {
            let most = (settings.heartbeat.as_micros() / 5).max(1) as usize;
            net.batch_us = net.rng.below(most) as u64 + 1;
        }
        net
    }

    pub fn instant(&self, us: u64) -> Instant {
        self.base + Duration::from_micros(us)
    }

    fn micros(&self, t: Instant) -> u64 {
        micros(self.base, t)
    }

    pub fn running(&self, i: usize) -> bool {
        self.slots[i].state == SlotState::Running
    }

    pub fn up(&self, i: usize) -> bool {
        self.slots[i].state != SlotState::Down
    }

    /// Starts (or restarts) node `i` with a fresh incarnation.
    pub fn start(&mut self, i: usize) {
        let key = Key::new(&self.secret).expect("the simulation's key is long enough");
        let incarnation = EPOCH_US + self.now * 64 + i as u64;
        let more: Vec<Vec<SocketAddrV4>> = (1..self.links)
            .map(|k| (0..self.addrs.len()).map(|j| address_on(k, j)).collect())
            .collect();
        let node = Node::with_links(
            self.addrs.clone(),
            more,
            i,
            key,
            self.settings,
            incarnation,
            self.instant(self.now),
        )
        .expect("the simulated cluster is valid");
        let slot = &mut self.slots[i];
        slot.node = Some(node);
        slot.state = SlotState::Running;
        slot.host_alive = false;
        slot.inbox.clear();
        self.counters[i] = 0;
        self.flush(i);
    }

    /// The next number for a tagged multicast of node `i`.
    pub fn next_counter(&mut self, i: usize) -> u32 {
        self.counters[i] += 1;
        self.counters[i]
    }

    /// kill -9: gone without a word.
    pub fn crash(&mut self, i: usize) {
        let host_alive = self.icmp && self.rng.per_mille(500);
        let slot = &mut self.slots[i];
        slot.host_alive = host_alive;
        slot.node = None;
        slot.state = SlotState::Down;
        slot.inbox.clear();
    }

    /// A clean stop.
    pub fn leave(&mut self, i: usize) {
        if self.running(i) {
            let now = self.instant(self.now);
            if let Some(node) = self.slots[i].node.as_mut() {
                node.leave(now);
            }
            self.flush(i);
        }
        self.crash(i);
    }

    /// SIGSTOP for `duration` µs.
    pub fn pause(&mut self, i: usize, duration: u64) {
        if self.running(i) {
            self.slots[i].state = SlotState::Paused {
                until: self.now + duration,
            };
        }
    }

    /// Node `i` multicasts in `view`, the view it was last told of.
    pub fn multicast(
        &mut self,
        i: usize,
        view: ViewId,
        payload: Vec<u8>,
    ) -> Result<(), MulticastError> {
        if !self.running(i) {
            return Err(MulticastError::Gone);
        }
        let now = self.instant(self.now);
        let taken = match self.slots[i].node.as_mut() {
            Some(node) => node.multicast(view, payload, now),
            None => Err(MulticastError::Gone),
        };
        self.flush(i);
        taken
    }

    /// Every link up, no loss.
    pub fn heal(&mut self) {
        for row in &mut self.blocked {
            row.fill(false);
        }
        for row in self.link_blocked.iter_mut().flatten() {
            row.fill(false);
        }
        self.link_loss_per_mille.fill(0);
        self.loss_per_mille = 0;
        self.dup_per_mille = 0;
        self.late_per_mille = 0;
        for row in &mut self.forged {
            row.fill(0);
        }
    }

    /// Cuts the cluster into groups (`group[i]` per node): nodes of
    /// different groups hear nothing from each other.
    pub fn partition(&mut self, group: &[usize]) {
        let n = self.slots.len();
        for a in 0..n {
            for b in 0..n {
                self.blocked[a][b] = group[a] != group[b];
            }
        }
    }

    /// Takes out what node `i` produced.
    fn flush(&mut self, i: usize) {
        let Some(node) = self.slots[i].node.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            out.push(t);
        }
        while let Some(e) = node.poll_event() {
            self.events.push((i, e));
        }
        for t in out {
            self.send(i, usize::from(t.to), usize::from(t.link), t.bytes);
        }
    }

    fn send(&mut self, from: usize, to: usize, link: usize, bytes: Vec<u8>) {
        self.stats.datagrams += 1;
        self.stats.bytes += bytes.len() as u64;
        if self.rng.per_mille(5) {
            if self.recorded.len() < 64 {
                self.recorded.push((from, to, link, bytes.clone()));
            } else {
                let k = self.rng.below(64);
                self.recorded[k] = (from, to, link, bytes.clone());
            }
        }
        if self.now < self.forged[from][to] {
            // Seen on the link and answered at once, as if `to` were dead.
            self.forged_bounces += 1;
            self.push(self.now + 20, to, from, link, bytes.clone(), true);
        }
        // A link's own loss is drawn only when it has some: a cluster of
        // one link draws what it drew before links.
        let link_loss = self.link_loss_per_mille[link];
        if self.blocked[from][to]
            || self.link_blocked[link][from][to]
            || (link_loss > 0 && self.rng.per_mille(link_loss))
            || self.rng.per_mille(self.loss_per_mille)
        {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.per_mille(self.dup_per_mille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (lo, hi) = self.delay_us;
            let mut at = self.now + self.rng.range(lo as usize, hi as usize) as u64;
            if self.rng.per_mille(self.late_per_mille) {
                at += self.rng.range(0, self.late_us as usize) as u64;
            }
            self.push(at, from, to, link, bytes.clone(), false);
        }
    }

    fn push(&mut self, at: u64, from: usize, to: usize, link: usize, bytes: Vec<u8>, bounce: bool) {
        self.order += 1;
        self.queue.push(Reverse(Packet {
            at,
            order: self.order,
            from,
            to,
            link,
            bytes,
            bounce,
        }));
    }

    /// The next thing that happens: a datagram arrives, a node's timer
    /// falls due, or a paused node wakes.
    fn next_occurrence(&self) -> Option<(u64, Occurrence)> {
        let mut best: Option<(u64, Occurrence)> = self
            .queue
            .peek()
            .map(|Reverse(p)| (p.at, Occurrence::Packet));
        for (i, slot) in self.slots.iter().enumerate() {
            let candidate = match slot.state {
                SlotState::Running => slot
                    .node
                    .as_ref()
                    .and_then(|n| n.poll_timeout())
                    .map(|t| (self.micros(t).max(self.now), Occurrence::Timer(i))),
                SlotState::Paused { until } => Some((until, Occurrence::Wake(i))),
                SlotState::Down => None,
            };
            if let Some(c) = candidate {
                if best.as_ref().map_or(true, |b| c.0 < b.0) {
                    best = Some(c);
                }
            }
        }
        best
    }

    /// When the next thing happens, if anything is pending.
    pub fn next_at(&self) -> Option<u64> {
        self.next_occurrence().map(|(at, _)| at)
    }

    /// Carries out the next thing (time moves to it).
    pub fn run_next(&mut self) {
        let Some((at, what)) = self.next_occurrence() else {
            return;
        };
        self.now = self.now.max(at);
        match what {
            Occurrence::Packet => {
                if let Some(Reverse(p)) = self.queue.pop() {
                    self.arrive(p);
                }
            }
            Occurrence::Timer(i) => {
                let now = self.instant(self.now);
                let base = self.base;
                if let Some(node) = self.slots[i].node.as_mut() {
                    fire_timer(node, i, now, self.now, |t| micros(base, t));
                }
                self.flush(i);
            }
            Occurrence::Wake(i) => self.wake(i),
        }
    }

    /// Re-sends a datagram recorded earlier, as an attacker on the
    /// segment could.
    pub fn replay_old(&mut self) {
        if self.recorded.is_empty() {
            return;
        }
        let k = self.rng.below(self.recorded.len());
        let (from, to, link, bytes) = self.recorded[k].clone();
        self.stats.replayed += 1;
        self.push(self.now + 10, from, to, link, bytes, false);
    }

    fn arrive(&mut self, p: Packet) {
        let from = SocketAddr::V4(address_on(p.link, p.from));
        let now = self.instant(self.now);
        match self.slots[p.to].state {
            SlotState::Running if p.bounce => {
                self.bounces += 1;
                if let Some(node) = self.slots[p.to].node.as_mut() {
                    node.handle_unreachable(from, &p.bytes, now);
                }
                self.flush(p.to);
            }
            SlotState::Running => {
                let batch = self.batch_for(&p);
                let slot = &mut self.slots[p.to];
                if let Some(node) = slot.node.as_mut() {
                    node.take_datagram(from, &p.bytes, now);
                    for q in batch {
                        node.take_datagram(
                            SocketAddr::V4(address_on(q.link, q.from)),
                            &q.bytes,
                            now,
                        );
                    }
                    node.settle(now);
                }
                self.flush(p.to);
            }
            // An ICMP error for a stopped process waits in its error
            // queue; we keep it simple and drop it.
            SlotState::Paused { .. } if p.bounce => {}
            SlotState::Paused { .. } => self.slots[p.to].inbox.push_back((p.from, p.link, p.bytes)),
            SlotState::Down if self.slots[p.to].host_alive && !p.bounce => {
                // The host's answer comes back over the same link (every
                // link a datagram of ours came over bounces).
                // Each address of the sender (one per link) is a
                // destination of its own to the host's limit.
                let address = p.link * self.slots.len() + p.from;
                // The host spends a token whether the answer gets
                // through or not.
                if self.icmp_limit.allow(p.to, address, self.now)
                    && !self.blocked[p.to][p.from]
                    && !self.link_blocked[p.link][p.to][p.from]
                {
                    let (lo, hi) = self.delay_us;
                    let at = self.now + self.rng.range(lo as usize, hi as usize) as u64;
                    self.push(at, p.to, p.from, p.link, p.bytes, true);
                }
            }
            SlotState::Down => {}
        }
    }

    /// The datagrams (no ICMP answers) for the node `p` reaches that are
    /// due within [`Net::batch_us`] after it, taken out of the queue in
    /// the order they would have come.
    fn batch_for(&mut self, p: &Packet) -> Vec<Packet> {
        if self.batch_us == 0 {
            return Vec::new();
        }
        let until = p.at + self.batch_us;
        let (mut batch, mut others) = (Vec::new(), Vec::new());
        while let Some(Reverse(q)) = self.queue.peek() {
            if q.at > until {
                break;
            }
            let Some(Reverse(q)) = self.queue.pop() else {
                break;
            };
            if q.to == p.to && !q.bounce {
                batch.push(q);
            } else {
                others.push(q);
            }
        }
        for q in others {
            self.queue.push(Reverse(q));
        }
        batch
    }

    /// A paused node wakes: it reads what queued up, then its timers run.
    fn wake(&mut self, i: usize) {
        let now = self.instant(self.now);
        let slot = &mut self.slots[i];
        slot.state = SlotState::Running;
        let inbox = std::mem::take(&mut slot.inbox);
        if let Some(node) = slot.node.as_mut() {
            // One read of the socket, as the worker does: every datagram
            // taken, then the node settles, then its timers.
            for (from, link, bytes) in inbox {
                node.take_datagram(SocketAddr::V4(address_on(link, from)), &bytes, now);
            }
            node.settle(now);
            node.handle_timeout(now);
        }
        self.flush(i);
    }
}

#[derive(Debug, Clone, Copy)]
enum Occurrence {
    Packet,
    Timer(usize),
    Wake(usize),
}
