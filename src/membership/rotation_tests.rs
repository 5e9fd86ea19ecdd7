//! Key rotation on a few real nodes driven by hand: the three steps of a
//! rolling change, node by node, keep the view; a node left with only the
//! old key is refused once the others dropped it.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::wire::{Key, KeyId, Keys};
use super::{Node, Status, Timing};

const INCARNATION: u64 = 1_900_000_000_000_000;

fn old_key() -> Key {
    Key::new(b"the old cluster key, 32 bytes ok").expect("long enough")
}

fn new_key() -> Key {
    Key::new(b"the new cluster key, 32 bytes ok").expect("long enough")
}

fn address(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, i as u8 + 1), 4830)
}

/// Nodes on a network that delivers at once; time moves in steps of a
/// millisecond.
struct Cluster {
    now: Instant,
    nodes: Vec<Node>,
}

impl Cluster {
    fn new(n: usize, keys: Keys) -> Cluster {
        let now = Instant::now();
        let addrs: Vec<SocketAddrV4> = (0..n).map(address).collect();
        let nodes = (0..n)
            .map(|i| {
                Node::new(
                    addrs.clone(),
                    i,
                    keys.clone(),
                    Timing::default(),
                    INCARNATION + i as u64,
                    now,
                )
                .expect("a valid cluster")
            })
            .collect();
        Cluster { now, nodes }
    }

    fn run(&mut self, span: Duration) {
        let until = self.now + span;
        while self.now < until {
            self.now += Duration::from_millis(1);
            let now = self.now;
            for node in &mut self.nodes {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
            let mut queue = Vec::new();
            loop {
                for (from, node) in self.nodes.iter_mut().enumerate() {
                    while let Some(t) = node.poll_transmit() {
                        queue.push((from, usize::from(t.to), t.bytes));
                    }
                    while node.poll_event().is_some() {}
                }
                if queue.is_empty() {
                    break;
                }
                for (from, to, bytes) in queue.drain(..) {
                    let source = SocketAddr::V4(address(from));
                    self.nodes[to].handle_datagram(source, &bytes, now);
                }
            }
        }
    }

    fn statuses(&self) -> Vec<Status> {
        self.nodes.iter().map(Node::status).collect()
    }

    /// Runs until every node holds the same view of all of them.
    fn settle(&mut self) -> Vec<Status> {
        for _ in 0..300 {
            self.run(Duration::from_millis(10));
            let all = self.statuses();
            let n = self.nodes.len();
            if all.iter().all(|s| {
                !s.flushing
                    && s.view.as_ref().is_some_and(|v| v.1.len() == n)
                    && s.view == all[0].view
            }) {
                return all;
            }
        }
        panic!("the cluster did not settle");
    }

    /// The view and views installed of each node are those of `before`,
    /// no datagram was refused, and every node heard every other within
    /// a heartbeat or two.
    fn assert_undisturbed(&self, before: &[Status], step: &str) {
        for (i, (now, then)) in self.statuses().iter().zip(before).enumerate() {
            assert_eq!(now.view, then.view, "{step}: node {i} changed view");
            assert_eq!(
                now.views_installed, then.views_installed,
                "{step}: node {i} installed a view"
            );
            assert_eq!(now.refusals.total(), 0, "{step}: node {i} refused");
            assert!(!now.flushing, "{step}: node {i} is changing view");
        }
    }

    /// The key id each node last heard from each other node.
    fn heard_keys(&self) -> Vec<Vec<Option<KeyId>>> {
        self.statuses()
            .iter()
            .map(|s| s.nodes.iter().map(|n| n.key).collect())
            .collect()
    }
}

fn pair(current: Key, accepted: Option<Key>) -> Keys {
    Keys::new(current, accepted).expect("two different keys")
}

#[test]
fn a_rolling_rotation_keeps_the_view_node_by_node() {
    let (old, new) = (old_key(), new_key());
    let mut c = Cluster::new(3, Keys::from(old.clone()));
    let before = c.settle();
    assert!(before
        .iter()
        .all(|s| s.key == old.id() && s.accepted_key.is_none()));
    let gap = Duration::from_millis(120);
    // Step 1: the new key is accepted everywhere; everyone still sends
    // under the old one.
    for i in 0..3 {
        c.nodes[i].set_keys(pair(old.clone(), Some(new.clone())));
        c.run(gap);
        c.assert_undisturbed(&before, "step 1");
    }
    assert_eq!(c.statuses()[0].accepted_key, Some(new.id()));
    // Step 2: node by node, the new key is current, the old one accepted.
    // Between two nodes, some send under either key: both are heard.
    for i in 0..3 {
        c.nodes[i].set_keys(pair(new.clone(), Some(old.clone())));
        c.run(gap);
        c.assert_undisturbed(&before, "step 2");
        let heard = c.heard_keys();
        for (j, row) in heard.iter().enumerate() {
            let expected = |k: usize| Some(if k <= i { new.id() } else { old.id() });
            for (k, key) in row.iter().enumerate() {
                if k != j {
                    assert_eq!(*key, expected(k), "node {j} hears node {k} after {i}");
                }
            }
        }
    }
    // Step 3: the old key goes.
    for i in 0..3 {
        c.nodes[i].set_keys(Keys::from(new.clone()));
        c.run(gap);
        c.assert_undisturbed(&before, "step 3");
    }
    let after = c.statuses();
    assert!(after
        .iter()
        .all(|s| s.key == new.id() && s.accepted_key.is_none()));
    assert!(after
        .iter()
        .flat_map(|s| &s.nodes)
        .all(|n| n.key == Some(new.id())));
}

#[test]
fn the_old_key_is_refused_once_removed() {
    let (old, new) = (old_key(), new_key());
    let mut c = Cluster::new(3, Keys::from(new.clone()));
    let before = c.settle();
    // Node 2 goes back to the old key alone: the others, which no longer
    // accept it, refuse all it sends, and it refuses theirs.
    c.nodes[2].set_keys(Keys::from(old.clone()));
    c.run(Duration::from_millis(1000));
    let after = c.statuses();
    for i in 0..2 {
        assert!(
            after[i].refusals.bad_mac > 0,
            "node {i} refused nothing: {:?}",
            after[i].refusals
        );
        let view = after[i].view.as_ref().expect("still in a view");
        assert_eq!(view.1.len(), 2, "node {i} keeps node 2 out");
        assert_eq!(after[i].nodes[2].key, Some(new.id()), "last accepted");
        assert!(after[i].views_installed > before[i].views_installed);
    }
    assert!(after[2].refusals.bad_mac > 0);
    // Accepting the other key again on every side lets it back without
    // a restart.
    for i in 0..2 {
        c.nodes[i].set_keys(pair(new.clone(), Some(old.clone())));
    }
    c.nodes[2].set_keys(pair(old.clone(), Some(new.clone())));
    let back = c.settle();
    assert_eq!(back[0].nodes[2].key, Some(old.id()));
    assert_eq!(back[2].nodes[0].key, Some(new.id()));
}
