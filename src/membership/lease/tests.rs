//! The lease's bookkeeping on a few real nodes, driven by hand: what the
//! echoes say, how the lease is computed, the lapse at exactly its
//! expiry, the FLUSH held back by the promise, and hostile echoes.

use std::time::{Duration, Instant};

use super::super::node::NodePhase;
use super::super::testnet::{address, key, Cluster, INCARNATION, MS};
use super::super::wire::{self, Body, Echo, Header, Heartbeat, Kind};
use super::super::{NodeEvent, QuorumLease, Timing};
use super::{lease_span, promise_span};

/// The heartbeat in a datagram, if it is one.
fn heartbeat_of(bytes: &[u8]) -> Option<Heartbeat> {
    let opened = wire::open(&key(), bytes).ok()?;
    match wire::decode_body(opened.kind, opened.body).ok()? {
        Body::Heartbeat(hb) => Some(hb),
        _ => None,
    }
}

/// The last heartbeat `from` sent `to`.
fn last_heartbeat(c: &Cluster, from: usize, to: usize) -> Heartbeat {
    c.sent
        .iter()
        .rev()
        .filter(|(_, (f, t, _))| *f == from && *t == to)
        .find_map(|(_, (_, _, bytes))| heartbeat_of(bytes))
        .expect("a heartbeat was sent")
}

#[test]
fn echoes_carry_the_latest_send_time_and_the_view_flag() {
    let mut c = Cluster::new(2, 2);
    c.run(25 * MS);
    // Before any view: echoed, not vouched for.
    let hb = last_heartbeat(&c, 1, 0);
    let echo = hb.echo.expect("node 1 heard node 0");
    assert_eq!(echo.incarnation, INCARNATION);
    assert!(!echo.in_view);
    c.settle();
    c.run(Duration::from_millis(100));
    let from_0 = last_heartbeat(&c, 0, 1);
    let from_1 = last_heartbeat(&c, 1, 0);
    // Node 1 echoes the send time of the latest heartbeat it got from 0,
    // which is node 0's clock (µs since its start).
    let echo = from_1.echo.expect("an echo");
    assert!(echo.in_view, "node 1 names a view holding node 0");
    assert_eq!(echo.incarnation, INCARNATION);
    assert!(echo.sent <= from_0.sent);
    assert!(
        from_0.sent - echo.sent <= 2 * 20_000,
        "at most a period old"
    );
    // The send time is µs since the start.
    let sent_at = c
        .sent
        .iter()
        .rev()
        .find(|(_, (f, t, b))| *f == 0 && *t == 1 && heartbeat_of(b).is_some())
        .map(|(t, _)| *t)
        .expect("sent");
    assert_eq!(from_0.sent, (sent_at - c.start).as_micros() as u64);
}

#[test]
fn the_lease_is_the_needed_th_latest_expiry() {
    let mut c = Cluster::new(5, 3);
    let node = c.nodes[0].as_mut().expect("running");
    let now = node.now;
    let at = |ms: u64| now + Duration::from_millis(ms);
    node.peers.get_mut(1).lease = Some(at(10));
    node.peers.get_mut(2).lease = Some(at(30));
    node.peers.get_mut(3).lease = Some(at(20));
    node.peers.get_mut(4).lease = None;
    // Ourselves (never) and the two latest others.
    assert_eq!(node.quorum_until(now), Some(at(20)));
    node.needed = 4;
    assert_eq!(node.quorum_until(now), Some(at(10)));
    node.needed = 5;
    assert_eq!(node.quorum_until(now), None, "node 4 gave nothing");
    node.needed = 6;
    assert_eq!(node.quorum_until(now), None, "more than the cluster");
    node.needed = 3;
    // An expiry at `now` has passed.
    assert_eq!(node.quorum_until(at(20)), Some(at(30)).filter(|_| false));
    assert_eq!(node.quorum_until(at(19)), Some(at(20)));
    for needed in [0, 1] {
        node.needed = needed;
        assert!(node.lease_holds(at(1_000_000)), "no quorum: always held");
        assert_eq!(node.lease_status(), QuorumLease::NotRequired);
    }
}

#[test]
fn the_lease_is_granted_in_a_view_and_lapses_exactly_at_its_expiry() {
    let mut c = Cluster::new(3, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    for i in 0..3 {
        assert_eq!(c.leases(i), vec![true], "node {i}");
        let until = c.node(i).lease_until().expect("held");
        assert!(until > c.now && until <= c.now + lease_span(Timing::default().timeout));
        assert!(matches!(c.node(i).status().lease, QuorumLease::Held { .. }));
    }
    // Node 0 hears nobody any more.
    c.cut[1][0] = true;
    c.cut[2][0] = true;
    c.run(Duration::from_millis(20));
    let until = c.node(0).lease_until().expect("still held");
    assert!(
        c.node(0).poll_timeout() <= Some(until),
        "woken at the expiry"
    );
    c.run_until(until - Duration::from_micros(1));
    assert_eq!(c.leases(0), vec![true], "held up to the last µs");
    c.run_until(until);
    assert_eq!(c.leases(0), vec![true, false]);
    let lapse = c
        .events
        .iter()
        .rev()
        .find(|(n, _, e)| *n == 0 && *e == NodeEvent::Lease(false));
    assert_eq!(lapse.map(|(_, t, _)| *t), Some(until));
    assert_eq!(c.node(0).lease_until(), None);
    assert_eq!(c.node(0).status().lease, QuorumLease::Lapsed);
    // The others never lapsed.
    assert_eq!(c.leases(1), vec![true]);
    assert_eq!(c.leases(2), vec![true]);
}

#[test]
fn set_quorum_applies_at_once() {
    let mut c = Cluster::new(2, 0);
    c.settle();
    assert_eq!(c.leases(0), vec![true], "no quorum: held from the view");
    assert_eq!(c.node(0).lease_until(), None);
    // A quorum above the cluster lapses it at once; back to none holds it.
    c.nodes[0].as_mut().expect("up").set_quorum(3);
    c.collect(0);
    assert_eq!(c.leases(0), vec![true, false]);
    c.nodes[0].as_mut().expect("up").set_quorum(1);
    c.collect(0);
    assert_eq!(c.leases(0), vec![true, false, true]);
}

/// Node 0 stops hearing node 2 while node 1 still hears it: node 0
/// proposes {0, 1}, and node 1 answers only `3/4 × Timeout` after the
/// last heartbeat of node 2 it vouched for.
#[test]
fn a_flush_excluding_a_node_still_heard_waits_for_the_promise() {
    let mut c = Cluster::new(3, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    c.cut[2][0] = true;
    c.cut[0][2] = true;
    let since = c.now;
    let mut proposed = None;
    for _ in 0..1000 {
        c.run(MS);
        if let Some(t) = c.first_sent(0, Kind::Propose, since) {
            proposed = Some(t);
            break;
        }
    }
    let proposed = proposed.expect("node 0 proposes without node 2");
    // The last heartbeat node 1 sent node 2 vouching for it, and the
    // heartbeat of node 2 it echoed (delivery is instant: sent = heard).
    let (vouched_at, echoed) = c
        .sent
        .iter()
        .filter(|(_, (f, to, _))| *f == 1 && *to == 2)
        .filter_map(|(t, (_, _, b))| Some((*t, heartbeat_of(b)?.echo?)))
        .rfind(|(_, e)| e.in_view)
        .expect("node 1 vouched for node 2");
    let heard = c
        .sent
        .iter()
        .filter(|(t, (f, to, b))| *f == 2 && *to == 1 && *t <= vouched_at && b[3] == 1)
        .filter(|(_, (_, _, b))| heartbeat_of(b).is_some_and(|hb| hb.sent == echoed.sent))
        .map(|(t, _)| *t)
        .next_back()
        .expect("node 1 heard node 2");
    c.run(Duration::from_millis(400));
    let flushed = c
        .first_sent(1, Kind::Flush, proposed)
        .expect("node 1 flushes");
    let promise = promise_span(Timing::default().timeout);
    assert!(
        flushed >= heard + promise,
        "FLUSH {:?} after the proposal, {:?} after node 2 was last heard",
        flushed - proposed,
        flushed - heard
    );
    assert_eq!(flushed, heard + promise, "and not later");
    // Node 1 stopped vouching for node 2 as soon as it accepted.
    let after: Vec<Echo> = c
        .sent
        .iter()
        .filter(|(t, (f, to, _))| *f == 1 && *to == 2 && *t > proposed + MS)
        .filter_map(|(_, (_, _, b))| heartbeat_of(b)?.echo)
        .collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|e| !e.in_view));
}

#[test]
fn a_flush_excluding_a_crashed_node_goes_at_once() {
    let mut c = Cluster::new(3, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    c.nodes[2] = None;
    let since = c.now;
    for _ in 0..1000 {
        c.run(MS);
        if c.first_sent(1, Kind::Flush, since).is_some() {
            break;
        }
    }
    let proposed = c.first_sent(0, Kind::Propose, since).expect("proposed");
    let flushed = c.first_sent(1, Kind::Flush, since).expect("flushed");
    assert_eq!(flushed, proposed, "answered in the same instant");
}

/// A node that said LEAVE gave up its lease first: the promise to it
/// ends, and the view without it follows at once.
#[test]
fn a_flush_excluding_a_node_that_left_goes_at_once() {
    let mut c = Cluster::new(3, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    let since = c.now;
    let now = c.now;
    c.nodes[2].as_mut().expect("up").leave(now);
    c.collect(2);
    c.nodes[2] = None;
    c.deliver_all();
    let proposed = c.first_sent(0, Kind::Propose, since).expect("proposed");
    assert_eq!(proposed, since);
    assert_eq!(c.first_sent(1, Kind::Flush, since), Some(since));
}

/// Heartbeats of node 1 to node 0 with forged echoes, signed with the
/// cluster key (a peer gone wrong): none may panic or carry node 0's
/// lease beyond what a genuine echo of its latest heartbeat gives.
#[test]
fn hostile_echoes_never_extend_the_lease() {
    let mut c = Cluster::new(2, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    let genuine = c.node(0).lease_until().expect("held");
    let bound = c.now + lease_span(Timing::default().timeout);
    let base = last_heartbeat(&c, 1, 0);
    let latest = last_heartbeat(&c, 0, 1).sent;
    let forged = [
        (u64::MAX, INCARNATION),
        (latest + 1, INCARNATION),
        (latest, INCARNATION + 1),
        (latest, 0xFFFF_FFFF_FFFF_FFFF),
        (0, INCARNATION),
    ];
    for (counter, (sent, incarnation)) in (1_000_000u64..).zip(forged) {
        let mut hb = base.clone();
        hb.echo = Some(Echo {
            incarnation,
            sent,
            in_view: true,
        });
        let header = Header {
            digest: wire::cluster_digest(&[address(0), address(1)]),
            sender: 1,
            destination: 0,
            incarnation: INCARNATION + 1,
            counter,
        };
        let bytes = wire::encode(&key(), &header, &Body::Heartbeat(hb));
        c.receive(1, 0, &bytes);
        let until = c.node(0).lease_until();
        assert!(
            until.map_or(true, |t| t <= bound && t <= genuine.max(c.now)),
            "echo {sent} of incarnation {incarnation} gave {:?}",
            until.map(|t| t - c.now)
        );
    }
    // The last one (time 0) is genuine but long past: the lease lapsed.
    assert_eq!(c.node(0).lease_until(), None);
    assert_eq!(c.leases(0), vec![true, false]);
}

/// Node 1 flushed for a view without node 2 (the coordinator lost node
/// 2), and that view may be installed by others whatever node 1 does
/// next: node 1 must not vouch for node 2 again, even while it flushes
/// for a later proposal that holds node 2, until it installs a view with
/// node 2.
#[test]
fn a_flush_without_a_node_stops_vouching_for_it_until_a_view_with_it() {
    let mut c = Cluster::new(3, 2);
    c.settle();
    c.run(Duration::from_millis(100));
    c.cut[2][0] = true;
    c.cut[0][2] = true;
    // Node 1 accepts the proposal without node 2 and holds its FLUSH;
    // node 0's INSTALL will not reach it.
    for _ in 0..1000 {
        c.run(MS);
        if c.node(1).held_flush.is_some() {
            break;
        }
    }
    assert!(c.node(1).held_flush.is_some(), "node 1 holds its FLUSH");
    c.cut[0][1] = true;
    let since = c.now;
    for _ in 0..1000 {
        c.run(MS);
        if c.first_sent(1, Kind::Flush, since).is_some() {
            break;
        }
    }
    let flushed = c.first_sent(1, Kind::Flush, since).expect("node 1 flushed");
    c.run(MS);
    let without_2 = |m: &Vec<_>| m.len() == 2;
    assert!(c
        .events
        .iter()
        .any(|(n, _, e)| *n == 0
            && matches!(e, NodeEvent::View { members, .. } if without_2(members))));
    // Everything heals; node 0 proposes all three, and node 1 (which
    // never got the INSTALL without node 2) accepts: its INSTALL is held
    // back for three heartbeats.
    for row in &mut c.cut {
        row.fill(false);
    }
    c.drop = Some((0, 1, Kind::Install));
    let flushing_all = |c: &Cluster| {
        let node = c.node(1);
        matches!(node.phase, NodePhase::Flushing { .. }) && node.flushing_members.len() == 3
    };
    for _ in 0..2000 {
        c.run(MS);
        if flushing_all(&c) {
            break;
        }
    }
    assert!(flushing_all(&c), "node 1 flushes for a view of all three");
    let accepted = c.now;
    c.run(Duration::from_millis(60));
    assert!(flushing_all(&c), "still flushing");
    c.drop = None;
    c.settle();
    c.run(Duration::from_millis(100));
    let installed = c
        .events
        .iter()
        .find(|(n, t, e)| {
            *n == 1
                && *t > accepted
                && matches!(e, NodeEvent::View { members, .. } if members.len() == 3)
        })
        .map(|(_, t, _)| *t)
        .expect("node 1 installs a view with node 2");
    let echoes: Vec<(Instant, bool)> = c
        .sent
        .iter()
        .filter(|(t, (f, to, _))| *f == 1 && *to == 2 && *t >= flushed)
        .filter_map(|(t, (_, _, b))| Some((*t, heartbeat_of(b)?.echo?.in_view)))
        .collect();
    let while_flushing: Vec<_> = echoes
        .iter()
        .filter(|(t, _)| *t > accepted && *t < installed)
        .collect();
    assert!(while_flushing.len() >= 3, "{while_flushing:?}");
    assert!(
        echoes
            .iter()
            .filter(|(t, _)| *t < installed)
            .all(|(_, flag)| !flag),
        "no echo vouches for node 2 before the view with it: {echoes:?}"
    );
    assert!(echoes.iter().any(|(t, flag)| *t >= installed && *flag));
}
