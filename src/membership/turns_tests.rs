//! Heartbeats in turn (module documentation, "Timing" and "Failure
//! detector"): a quiet cluster of more than nine nodes heartbeats each
//! peer once per round instead of every period, yet a crash is noticed
//! as soon as before (the peers' heartbeats relay whom they heard), a cut
//! link is still noticed, and a node that keeps a quorum lease still gets
//! an answer every period.

use std::time::Duration;

use super::testnet::{agreed, until_agreed, Cluster, MS};
use super::turns::spread;
use super::wire::Kind;
use super::{NodeEvent, Timing};

/// Heartbeats `from` sent to `to` in `[since, until)`.
fn heartbeats(c: &Cluster, from: usize, to: usize, since: std::time::Instant) -> usize {
    c.sent
        .iter()
        .filter(|(t, (a, b, bytes))| {
            *t >= since && (*a, *b) == (from, to) && bytes[3] == Kind::Heartbeat.byte()
        })
        .count()
}

/// The nodes `0..n` but `gone`.
fn all_but(n: usize, gone: &[usize]) -> Vec<u8> {
    (0..n as u8)
        .filter(|i| !gone.contains(&usize::from(*i)))
        .collect()
}

#[test]
fn the_spread_grows_with_the_cluster_from_ten_nodes() {
    assert_eq!(spread(2), 1);
    assert_eq!(spread(9), 1);
    assert_eq!(spread(10), 2);
    assert_eq!(spread(17), 2);
    assert_eq!(spread(18), 3);
    assert_eq!(spread(32), 4);
}

/// At 32 nodes each node heartbeats a quarter of its peers per period,
/// every peer still gets one every round, and nothing changes in the
/// views.
#[test]
fn a_quiet_cluster_of_32_heartbeats_each_peer_once_a_round() {
    let mut c = Cluster::new(32, 0);
    c.settle();
    c.run(Duration::from_secs(1));
    let views = c.node(0).status().views_installed;
    let since = c.now;
    let span = Duration::from_secs(2);
    c.run(span);
    let periods = (span.as_millis() / Timing::default().heartbeat.as_millis()) as usize;
    for from in [0, 13, 31] {
        let sent: usize = (0..32)
            .filter(|&to| to != from)
            .map(|to| heartbeats(&c, from, to, since))
            .sum();
        // Every period at most a quarter of the 31 peers, rounded up (and
        // a period brought forward now and then to keep pace).
        assert!(
            sent <= periods * 9,
            "node {from} sent {sent} heartbeats in {periods} periods"
        );
        for to in (0..32).filter(|&to| to != from) {
            let got = heartbeats(&c, from, to, since);
            assert!(
                got >= periods / 4 - 1,
                "node {to} got {got} heartbeats from node {from} in {periods} periods"
            );
        }
    }
    assert_eq!(c.node(0).status().views_installed, views, "a view change");
}

/// A crashed node is left out of the view a time-out after its last
/// heartbeat, as when every node heartbeats every other every period:
/// those who heard it last relay that to the rest.
#[test]
fn a_crash_in_a_cluster_of_32_is_noticed_within_the_time_out() {
    let mut c = Cluster::new(32, 0);
    c.settle();
    c.run(Duration::from_millis(500));
    let first = c.node(0).status().view.expect("a view").0;
    for crashed in [7, 0] {
        let old = c.node(1).status().view.expect("a view").0;
        c.nodes[crashed] = None;
        let survivors = all_but(32, &[7, crashed]);
        let (took, _) = until_agreed(&mut c, &survivors, old);
        let timing = Timing::default();
        // Its last heartbeat went at most a period before the crash, and
        // no node counts it out before `Timeout` has passed since.
        assert!(
            took + timing.heartbeat >= timing.timeout
                && took <= timing.timeout + timing.heartbeat + MS,
            "node {crashed}'s crash took {took:?} to notice"
        );
    }
    assert!(agreed(&c, &all_but(32, &[0, 7]), first).is_some());
}

/// A daemon that dies on a live host in a cluster of 32 is dropped within
/// a heartbeat, as in a small cluster, though each peer heartbeats it
/// only once a round: here it dies just after the coordinator's
/// heartbeat to it, so the coordinator's own turn comes a round later;
/// but the first peer whose heartbeat bounces says at once that it no
/// longer hears it, and the coordinator then checks on it.
#[test]
fn a_dead_daemon_in_a_cluster_of_32_is_dropped_within_a_heartbeat() {
    let mut c = Cluster::new(32, 0);
    c.hosts_alive = true;
    c.settle();
    c.run(Duration::from_millis(500));
    let old = c.node(1).status().view.expect("a view").0;
    let sent_0_to_7 = |c: &Cluster| heartbeats(c, 0, 7, c.start);
    let before = sent_0_to_7(&c);
    for _ in 0..200 {
        c.run(MS);
        if sent_0_to_7(&c) > before {
            break;
        }
    }
    assert!(sent_0_to_7(&c) > before, "node 0 never heartbeated node 7");
    c.nodes[7] = None;
    let (took, _) = until_agreed(&mut c, &all_but(32, &[7]), old);
    let heartbeat = Timing::default().heartbeat;
    assert!(
        took <= heartbeat + MS,
        "node 7's dead daemon took {took:?} to drop"
    );
}

/// A dead daemon's host answers each peer with at most six port
/// unreachables before its kernel holds back the rest (`IcmpLimit`), so
/// what a peer sends the dead daemon must not outrun that: when several
/// peers tell the coordinator at once that they stopped hearing it, the
/// coordinator checks on it once, not once per peer, and the bounce of
/// that check is enough. Whichever period of a round the daemon dies in
/// (so whether the coordinator's own turn to heartbeat it comes first or
/// not), in a cluster of 16 that reads its socket in batches as the
/// daemon does, it is dropped within a heartbeat, well before the
/// time-out.
#[test]
fn a_dead_daemon_is_dropped_within_a_heartbeat_whatever_its_kernel_holds_back() {
    let heartbeat = Timing::default().heartbeat;
    for (victim, offset) in [(11, 0), (11, 1), (11, 2), (11, 3), (6, 0), (6, 1)] {
        let mut c = Cluster::new(16, 0);
        c.hosts_alive = true;
        c.batched = true;
        c.settle();
        c.run(Duration::from_millis(500) + heartbeat / 2 * offset);
        let old = c.node(0).status().view.expect("a view").0;
        c.nodes[victim] = None;
        let (took, _) = until_agreed(&mut c, &all_but(16, &[victim]), old);
        assert!(
            took <= heartbeat + 2 * MS,
            "killed {offset} half-periods on, node {victim}'s dead daemon took {took:?} to \
             drop ({} bounces sent, {} held back by its kernel)",
            c.bounces,
            c.icmp.refused
        );
    }
}

/// A message delivered in a quiet cluster of 32 changes every member's
/// delivery counters, which only a coordinator and its members read of
/// each other: a member then heartbeats its coordinator every period
/// (so repair and stability keep their pace), but another member only at
/// its turn, once a round, instead of every period for a round.
#[test]
fn a_delivered_message_costs_no_round_of_heartbeats_between_members() {
    let mut c = Cluster::new(32, 0);
    c.settle();
    c.run(Duration::from_millis(500));
    let (view, _) = c.node(5).status().view.expect("a view");
    assert_eq!(view.coordinator, 0);
    let since = c.now;
    c.nodes[5]
        .as_mut()
        .expect("running")
        .multicast(view, b"one message".to_vec(), since)
        .expect("a view to multicast in");
    c.collect(5);
    let periods = 5;
    c.run(Timing::default().heartbeat * periods);
    for i in 0..32 {
        let delivered = c.events.iter().any(|(n, t, e)| {
            *n == i
                && *t >= since
                && matches!(e, NodeEvent::Deliver { payload, .. } if payload == b"one message")
        });
        assert!(delivered, "node {i} did not deliver the message");
    }
    for member in [13, 20, 31] {
        let to_coordinator = heartbeats(&c, member, 0, since);
        assert!(
            to_coordinator >= periods as usize - 1,
            "node {member} heartbeated its coordinator {to_coordinator} times in {periods} periods"
        );
        for other in [7, 26] {
            let to_member = heartbeats(&c, member, other, since);
            assert!(
                to_member <= 2,
                "node {member} heartbeated node {other} {to_member} times in {periods} periods"
            );
        }
    }
}

/// With a tenth of all datagrams lost, a quiet cluster of 32 keeps its
/// view: a node heartbeated directly only every fourth period is still
/// heard through the peers that relay it (without them, two losses in a
/// row would silence it for a time-out).
#[test]
fn a_cluster_of_32_losing_a_tenth_of_its_datagrams_keeps_its_view() {
    let mut c = Cluster::new(32, 0);
    c.settle();
    c.run(Duration::from_millis(500));
    let views = c.node(0).status().views_installed;
    c.loss = 10;
    c.run(Duration::from_secs(5));
    let status = c.node(0).status();
    assert_eq!(status.views_installed, views, "a view change under loss");
    assert_eq!(status.view.expect("a view").1.len(), 32);
}

/// Both directions of the link between the coordinator and a member cut,
/// in a cluster of twelve (a spread of 2): the others still relay that
/// each of the two is alive, but the link is taken for cut once silent
/// for two time-outs, and the coordinator's view goes on without the
/// member. (A link cut between two members changes no view, with
/// heartbeats in turn or not: the coordinator still reaches both.)
#[test]
fn a_cut_link_between_two_live_nodes_is_still_noticed() {
    let mut c = Cluster::new(12, 0);
    c.settle();
    c.run(Duration::from_millis(500));
    let old = c.node(0).status().view.expect("a view").0;
    c.cut[0][5] = true;
    c.cut[5][0] = true;
    let cut_at = c.now;
    let timing = Timing::default();
    let mut changed = None;
    for _ in 0..3000 {
        c.run(MS);
        if c.node(0).status().view.is_some_and(|(id, _)| id != old) {
            changed = Some(c.now - cut_at);
            break;
        }
    }
    let changed = changed.expect("no view change within 3 s of the cut");
    assert!(
        changed >= timing.timeout * 2 - timing.heartbeat * 2
            && changed <= timing.timeout * 2 + timing.heartbeat * 2,
        "the view changed {changed:?} after the cut, not at the end of the link's window"
    );
    let members = c.node(0).status().view.expect("a view").1;
    let nodes: Vec<u8> = members.iter().map(|m| m.node).collect();
    assert_eq!(nodes, all_but(12, &[5]));
}

/// With a quorum, each node asks for an answer to every heartbeat, and
/// gets one: the lease of a quiet cluster of twelve never lapses.
#[test]
fn a_node_keeping_a_quorum_lease_is_answered_every_period() {
    let mut c = Cluster::new(12, 7);
    c.settle();
    c.run(Duration::from_millis(500));
    let since = c.now;
    let lapses_before = lapses(&c);
    c.run(Duration::from_secs(2));
    assert_eq!(
        lapses(&c),
        lapses_before,
        "a lease lapsed in a quiet cluster"
    );
    let periods = 2000 / Timing::default().heartbeat.as_millis() as usize;
    let got = heartbeats(&c, 4, 9, since);
    assert!(
        got >= periods - 1,
        "node 9 got {got} heartbeats from node 4 in {periods} periods"
    );
}

/// `Lease(false)` events so far, at every node.
fn lapses(c: &Cluster) -> usize {
    c.events
        .iter()
        .filter(|(_, _, e)| matches!(e, NodeEvent::Lease(false)))
        .count()
}
