//! Redundant links on a few real nodes driven by hand: every datagram over
//! every link, the copies dropped without blame, a replay still refused,
//! and a view that survives a cut link, a one-way link each way, and a
//! flapping one.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::super::wire::{self, Key};
use super::super::{LinkChange, Node, NodeError, NodeEvent, Timing};

const MS: Duration = Duration::from_millis(1);
const INCARNATION: u64 = 1_800_000_000_000_000;

fn key() -> Key {
    Key::new(b"links unit tests, a 32-byte key!").expect("long enough")
}

/// Node `i`'s address on `link`.
fn address(link: usize, i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 8 + link as u8, 0, i as u8 + 1), 4830)
}

fn links(n: usize, count: usize) -> (Vec<SocketAddrV4>, Vec<Vec<SocketAddrV4>>) {
    let first = (0..n).map(|i| address(0, i)).collect();
    let more = (1..count)
        .map(|k| (0..n).map(|i| address(k, i)).collect())
        .collect();
    (first, more)
}

/// Nodes on `links` networks that deliver at once what is not cut.
struct Cluster {
    now: Instant,
    nodes: Vec<Node>,
    /// `cut[link][a][b]`: what a sends to b over link is lost.
    cut: Vec<Vec<Vec<bool>>>,
    events: Vec<(usize, NodeEvent)>,
    changes: Vec<(usize, LinkChange)>,
}

impl Cluster {
    fn new(n: usize, count: usize) -> Cluster {
        let now = Instant::now();
        let (first, more) = links(n, count);
        let nodes = (0..n)
            .map(|i| {
                Node::with_links(
                    first.clone(),
                    more.clone(),
                    i,
                    key(),
                    Timing::default(),
                    INCARNATION + i as u64,
                    now,
                )
                .expect("a valid cluster")
            })
            .collect();
        Cluster {
            now,
            nodes,
            cut: vec![vec![vec![false; n]; n]; count],
            events: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// Delivers what the nodes send until nothing is left.
    fn deliver(&mut self) {
        loop {
            let mut queue = Vec::new();
            for (i, node) in self.nodes.iter_mut().enumerate() {
                while let Some(t) = node.poll_transmit() {
                    assert_eq!(t.addr, address(usize::from(t.link), usize::from(t.to)));
                    queue.push((i, t));
                }
                while let Some(e) = node.poll_event() {
                    self.events.push((i, e));
                }
                while let Some(c) = node.poll_link_change() {
                    self.changes.push((i, c));
                }
            }
            if queue.is_empty() {
                return;
            }
            for (from, t) in queue {
                let (to, link) = (usize::from(t.to), usize::from(t.link));
                if !self.cut[link][from][to] {
                    let source = SocketAddr::V4(address(link, from));
                    self.nodes[to].handle_datagram(source, &t.bytes, self.now);
                }
            }
        }
    }

    /// Runs for `duration`, a millisecond at a time.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += MS;
            for node in &mut self.nodes {
                if node.poll_timeout().is_some_and(|t| t <= self.now) {
                    node.handle_timeout(self.now);
                }
            }
            self.deliver();
        }
    }

    /// Cuts (or restores) `link` of `node` both ways.
    fn cut_node(&mut self, link: usize, node: usize, cut: bool) {
        for other in 0..self.nodes.len() {
            self.cut[link][node][other] = cut;
            self.cut[link][other][node] = cut;
        }
    }

    /// Every node's view holds every node.
    fn all_in_one_view(&self) -> bool {
        let n = self.nodes.len();
        self.nodes
            .iter()
            .all(|node| node.status().view.is_some_and(|(_, m)| m.len() == n))
    }

    fn views_installed(&self) -> u64 {
        self.nodes.iter().map(|n| n.status().views_installed).sum()
    }

    fn left(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, NodeEvent::Left(_)))
            .count()
    }

    /// A cluster of `n` settled in one view.
    fn settled(n: usize, count: usize) -> Cluster {
        let mut c = Cluster::new(n, count);
        c.run(Duration::from_secs(2));
        assert!(c.all_in_one_view(), "no common view");
        c
    }
}

#[test]
fn one_link_keeps_the_datagrams_of_a_cluster_without_links() {
    let (first, _) = links(3, 1);
    let now = Instant::now();
    let mut plain = Node::new(first.clone(), 0, key(), Timing::default(), 7, now).expect("ok");
    let mut linked = Node::with_links(
        first.clone(),
        Vec::new(),
        0,
        key(),
        Timing::default(),
        7,
        now,
    )
    .expect("ok");
    let digest = wire::cluster_digest(&first);
    for _ in 0..2 {
        let (a, b) = (plain.poll_transmit(), linked.poll_transmit());
        let (a, b) = (a.expect("a heartbeat"), b.expect("a heartbeat"));
        assert_eq!(a, b);
        assert_eq!(b.link, 0);
        assert_eq!(&b.bytes[4..12], &digest);
    }
}

#[test]
fn every_datagram_goes_over_every_link_as_the_same_bytes() {
    let (first, more) = links(3, 3);
    let mut node =
        Node::with_links(first, more, 1, key(), Timing::default(), 7, Instant::now()).expect("ok");
    let mut sent = Vec::new();
    while let Some(t) = node.poll_transmit() {
        sent.push(t);
    }
    // Two peers, three links: six datagrams, three copies of each.
    assert_eq!(sent.len(), 6);
    for to in [0u8, 2] {
        let copies: Vec<_> = sent.iter().filter(|t| t.to == to).collect();
        assert_eq!(copies.len(), 3);
        for (k, t) in copies.iter().enumerate() {
            assert_eq!(usize::from(t.link), k);
            assert_eq!(t.addr, address(k, usize::from(to)));
            assert_eq!(t.bytes, copies[0].bytes);
        }
    }
    // The digest names the links too: another link list, another cluster.
    let (first, more) = links(3, 2);
    let mut other =
        Node::with_links(first, more, 1, key(), Timing::default(), 7, Instant::now()).expect("ok");
    let t = other.poll_transmit().expect("a heartbeat");
    assert_ne!(t.bytes[4..12], sent[0].bytes[4..12]);
}

#[test]
fn bad_link_lists_are_refused() {
    let (first, mut more) = links(3, 2);
    more[0].pop();
    let err = Node::with_links(first, more, 0, key(), Timing::default(), 7, Instant::now())
        .err()
        .expect("refused");
    assert_eq!(
        err,
        NodeError::LinkNodes {
            link: 2,
            count: 2,
            nodes: 3
        }
    );
    let (first, more) = links(2, 5);
    let err = Node::with_links(first, more, 0, key(), Timing::default(), 7, Instant::now())
        .err()
        .expect("refused");
    assert_eq!(err, NodeError::LinkCount(5));
    assert!(err.to_string().contains("between 1 and 4"), "{err}");
}

#[test]
fn copies_are_duplicates_and_a_replay_over_one_link_is_refused() {
    let mut c = Cluster::settled(2, 2);
    let status = c.nodes[0].status();
    let peer = &status.nodes[1];
    assert!(peer.duplicates > 0, "the copies over the second link");
    assert_eq!(c.nodes[0].refusals(), Default::default(), "no refusal");
    assert!(peer.links.iter().all(|l| l.up), "{:?}", peer.links);
    // A datagram of node 1, replayed over the link it came by, is a
    // replay; over the other link (when it was lost there), a copy.
    c.nodes[1].handle_timeout(c.now + 20 * MS);
    let t = c.nodes[1].poll_transmit().expect("a heartbeat");
    assert_eq!(t.link, 0);
    while c.nodes[1].poll_transmit().is_some() {}
    let over = |link| SocketAddr::V4(address(link, 1));
    c.nodes[0].handle_datagram(over(0), &t.bytes, c.now);
    let before = c.nodes[0].status().nodes[1].duplicates;
    c.nodes[0].handle_datagram(over(1), &t.bytes, c.now);
    assert_eq!(c.nodes[0].status().nodes[1].duplicates, before + 1);
    assert_eq!(c.nodes[0].refusals().replayed, 0);
    c.nodes[0].handle_datagram(over(1), &t.bytes, c.now);
    c.nodes[0].handle_datagram(over(0), &t.bytes, c.now);
    assert_eq!(c.nodes[0].refusals().replayed, 2);
    // From an address that is node 1's on no link: misdirected.
    let stranger = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 9), 4830));
    c.nodes[0].handle_datagram(stranger, &t.bytes, c.now);
    assert_eq!(c.nodes[0].refusals().misdirected, 1);
}

#[test]
fn a_cut_link_changes_no_view_and_is_logged_once_each_way() {
    let mut c = Cluster::settled(3, 2);
    let (views, left) = (c.views_installed(), c.left());
    // Link 0 of node 2 is pulled both ways.
    c.cut_node(0, 2, true);
    c.run(Duration::from_secs(3));
    assert_eq!((c.views_installed(), c.left()), (views, left));
    assert!(c.all_in_one_view());
    let downs: Vec<_> = c.changes.iter().filter(|(_, ch)| !ch.up).collect();
    // Nodes 0 and 1 lose link 0 to node 2, node 2 loses it to both.
    assert_eq!(downs.len(), 4, "{:?}", c.changes);
    assert!(downs.iter().all(|(_, ch)| ch.link == 0));
    let status = c.nodes[0].status();
    assert!(!status.nodes[2].links[0].up && status.nodes[2].links[1].up);
    assert!(status.nodes[1].links.iter().all(|l| l.up));
    c.cut_node(0, 2, false);
    c.run(Duration::from_secs(1));
    let ups = c.changes.iter().filter(|(_, ch)| ch.up).count();
    assert_eq!(ups, 4, "{:?}", c.changes);
    assert_eq!((c.views_installed(), c.left()), (views, left));
}

#[test]
fn one_way_links_in_opposite_directions_make_a_working_pair() {
    let mut c = Cluster::settled(2, 2);
    let (views, left) = (c.views_installed(), c.left());
    c.cut[0][0][1] = true;
    c.cut[1][1][0] = true;
    c.run(Duration::from_secs(3));
    assert_eq!((c.views_installed(), c.left()), (views, left));
    assert!(c.all_in_one_view());
}

#[test]
fn a_flapping_link_beside_a_working_one_changes_no_view() {
    let mut c = Cluster::settled(3, 2);
    let (views, left) = (c.views_installed(), c.left());
    for round in 0..20 {
        for node in 0..3 {
            c.cut_node(1, node, round % 2 == 0);
        }
        c.run(Duration::from_millis(150 + 37 * (round % 3)));
    }
    assert_eq!((c.views_installed(), c.left()), (views, left));
    assert!(c.all_in_one_view());
}

#[test]
fn both_links_cut_is_a_failure() {
    let mut c = Cluster::settled(3, 2);
    let views = c.views_installed();
    c.cut_node(0, 2, true);
    c.cut_node(1, 2, true);
    c.run(Duration::from_secs(2));
    assert!(c.views_installed() > views);
    for i in 0..2 {
        let (_, members) = c.nodes[i].status().view.expect("a view");
        assert_eq!(members.iter().map(|m| m.node).collect::<Vec<_>>(), [0, 1]);
    }
}
