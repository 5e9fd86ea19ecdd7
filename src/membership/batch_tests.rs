//! Datagrams handed over in batches ([`Node::take_datagram`] for each,
//! then one [`Node::settle`]), as the daemon's worker does with one read
//! of its socket: the cluster forms its views and fails over as when each
//! datagram is handled alone (and as fast), and a refusal in a batch is
//! counted once and spoils nothing else.

use std::net::SocketAddr;
use std::time::Duration;

use super::testnet::{address, key, until_agreed, Cluster, INCARNATION, MS};
use super::{Node, Timing};

/// In a settled 5-node cluster, node 4 crashes and then starts again: how
/// long until the four survivors agree on a view without it, and how long
/// after its start until all five agree on one.
fn failover_and_rejoin(batched: bool) -> (Duration, Duration) {
    let mut c = Cluster::new(5, 0);
    c.batched = batched;
    c.settle();
    let first = c.node(0).status().view.expect("a view").0;
    // Node 4 crashes (its host too: nothing answers).
    c.nodes[4] = None;
    let (failover, without) = until_agreed(&mut c, &[0, 1, 2, 3], first);
    let mut node = Node::new(
        (0..5).map(address).collect(),
        4,
        key(),
        Timing::default(),
        INCARNATION + 1_000,
        c.now,
    )
    .expect("a valid cluster");
    node.set_quorum(0);
    c.nodes[4] = Some(node);
    c.collect(4);
    let (rejoin, _) = until_agreed(&mut c, &[0, 1, 2, 3, 4], without);
    (failover, rejoin)
}

/// Read in batches, the survivors agree on the view without a crashed
/// node, and all agree on the view with it again when it restarts, as
/// soon as when each datagram is handled alone: settling once per batch
/// draws every conclusion at once, none waits for a later timer.
#[test]
fn a_cluster_that_reads_in_batches_fails_over_and_rejoins_as_fast() {
    let alone = failover_and_rejoin(false);
    let batched = failover_and_rejoin(true);
    assert!(
        batched.0 <= alone.0 + MS && batched.1 <= alone.1 + MS,
        "failover and rejoin in batches {batched:?}, one by one {alone:?}"
    );
}

#[test]
fn a_refused_datagram_in_a_batch_is_counted_once_and_the_rest_is_taken() {
    let mut c = Cluster::new(3, 0);
    c.settle();
    // Node 1's next heartbeats; the one to node 0, and a copy of it with
    // its tag broken.
    let at = c.node(1).poll_timeout().expect("a heartbeat to come");
    c.now = c.now.max(at);
    let now = c.now;
    let node1: &mut Node = c.nodes[1].as_mut().expect("running");
    node1.handle_timeout(now);
    let mut good = None;
    while let Some(t) = node1.poll_transmit() {
        if t.to == 0 {
            good = Some(t.bytes);
        }
    }
    let good = good.expect("a heartbeat to node 0");
    let mut broken = good.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0x55;
    let from = SocketAddr::V4(address(1));
    let node0 = c.nodes[0].as_mut().expect("running");
    let before = node0.refusals();
    let counted = node0.refused_count();
    node0.take_datagram(from, &broken, now);
    node0.take_datagram(from, &good, now);
    node0.settle(now);
    assert_eq!(node0.refused_count(), counted + 1);
    let after = node0.refusals();
    assert_eq!(after.bad_mac, before.bad_mac + 1);
    assert_eq!(after.total(), before.total() + 1);
    // The good copy was taken: node 1 was heard just now.
    let heard = node0.status().nodes[1].last_heard;
    assert_eq!(heard, Some(now));
    // A second copy of the good one is a replay, counted as such.
    node0.take_datagram(from, &good, now);
    node0.settle(now);
    assert_eq!(node0.refused_count(), counted + 2);
    assert_eq!(node0.refusals().replayed, before.replayed + 1);
}
