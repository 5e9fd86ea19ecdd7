//! The port unreachable rule: the bookkeeping of one peer's bounces, and
//! a few real nodes on a network that answers a dead daemon's datagrams
//! with bounces (and carries forged ones).

use std::time::{Duration, Instant};

use super::super::testnet::{Cluster, MS};
use super::{Bounce, Verdict, REFUTED_TIMEOUTS};
use crate::membership::{Event, Settings};

const TIMEOUT: Duration = Duration::from_millis(200);

// The rule on its own.

#[test]
fn a_first_bounce_probes_and_a_bounce_of_the_probe_suspects() {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    assert_eq!(b.take(10, t0, TIMEOUT), Verdict::Probe);
    b.probing(12);
    // A datagram sent before the probe says nothing new.
    assert_eq!(b.take(11, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(12, t0 + MS, TIMEOUT), Verdict::Suspect);
    b.suspect(7, t0 + MS);
    assert_eq!(b.suspected, Some(7));
    // Suspected: further bounces change nothing.
    assert_eq!(b.take(13, t0 + MS, TIMEOUT), Verdict::Ignore);
}

#[test]
fn each_bounced_datagram_counts_once() {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    assert_eq!(b.take(10, t0, TIMEOUT), Verdict::Probe);
    b.probing(10);
    // The same bounce again (a duplicate, or a replay) confirms nothing.
    assert_eq!(b.take(10, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.suspected, None);
}

#[test]
fn a_datagram_of_the_node_cancels_the_probe() {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    assert_eq!(b.take(10, t0, TIMEOUT), Verdict::Probe);
    b.probing(11);
    b.heard(7, t0 + MS, TIMEOUT);
    // The next bounce starts over: it probes again, it does not suspect.
    assert_eq!(b.take(11, t0 + MS, TIMEOUT), Verdict::Probe);
}

#[test]
fn suspicions_are_rate_limited_and_a_refuted_one_turns_bounces_off() {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    assert_eq!(b.take(1, t0, TIMEOUT), Verdict::Probe);
    b.probing(2);
    assert_eq!(b.take(2, t0, TIMEOUT), Verdict::Suspect);
    b.suspect(7, t0);
    // A new incarnation speaks: the suspicion ends, nothing was refuted.
    b.heard(8, t0 + MS, TIMEOUT);
    assert_eq!(b.suspected, None);
    // Within a time-out of the last suspicion, no new one.
    assert_eq!(b.take(3, t0 + 2 * MS, TIMEOUT), Verdict::Ignore);
    let later = t0 + TIMEOUT;
    assert_eq!(b.take(4, later, TIMEOUT), Verdict::Probe);
    b.probing(5);
    assert_eq!(b.take(5, later, TIMEOUT), Verdict::Suspect);
    b.suspect(8, later);
    // The same incarnation speaks again: the bounces lied.
    b.heard(8, later + MS, TIMEOUT);
    let off_until = later + MS + TIMEOUT * REFUTED_TIMEOUTS;
    assert_eq!(b.take(6, off_until - MS, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(7, off_until, TIMEOUT), Verdict::Probe);
}

// Real nodes.

/// When node `i` first installed a view without `gone` after `since`.
fn view_without(c: &Cluster, i: usize, gone: usize, since: Instant) -> Option<Instant> {
    c.events.iter().find_map(|(n, t, e)| match e {
        Event::View { members, .. }
            if *n == i && *t > since && members.iter().all(|m| usize::from(m.node) != gone) =>
        {
            Some(*t)
        }
        _ => None,
    })
}

fn views(c: &Cluster) -> usize {
    c.events
        .iter()
        .filter(|(_, _, e)| matches!(e, Event::View { .. }))
        .count()
}

/// The last datagram `from` sent `to`.
fn last_sent(c: &Cluster, from: usize, to: usize) -> Vec<u8> {
    c.sent
        .iter()
        .rev()
        .find(|(_, (f, t, _))| *f == from && *t == to)
        .map(|(_, (_, _, b))| b.clone())
        .expect("something was sent")
}

fn cluster(port_unreachable: bool, needed: usize) -> Cluster {
    let settings = Settings {
        port_unreachable,
        ..Settings::default()
    };
    let mut c = Cluster::with_settings(3, settings, needed);
    c.hosts_alive = true;
    c.settle();
    c
}

#[test]
fn a_dead_daemon_on_a_live_host_is_dropped_within_a_heartbeat() {
    let mut c = cluster(true, 0);
    c.run(Duration::from_millis(7));
    let killed = c.now;
    c.nodes[2] = None;
    c.run(Duration::from_millis(100));
    for i in 0..2 {
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        let took = at - killed;
        // One heartbeat to reach it, a probe, and the view change (at
        // once on this network).
        assert!(
            took <= Settings::default().heartbeat + MS,
            "node {i} took {took:?}"
        );
        assert_eq!(c.node(i).status().unreachable_suspicions, 1);
    }
    assert!(
        c.bounces >= 4,
        "each survivor's heartbeat and probe bounced"
    );
}

#[test]
fn with_the_setting_off_a_dead_daemon_waits_for_the_time_out() {
    let mut c = cluster(false, 0);
    c.run(Duration::from_millis(7));
    let killed = c.now;
    c.nodes[2] = None;
    c.run(TIMEOUT * 2);
    for i in 0..2 {
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        assert!(at - killed >= TIMEOUT - Settings::default().heartbeat);
        assert_eq!(c.node(i).status().unreachable_suspicions, 0);
    }
}

#[test]
fn with_a_quorum_the_flush_still_waits_for_the_promise() {
    let mut c = cluster(true, 2);
    c.run(Duration::from_millis(5));
    let killed = c.now;
    c.nodes[2] = None;
    c.run(TIMEOUT * 2);
    for i in 0..2 {
        assert_eq!(c.node(i).status().unreachable_suspicions, 1);
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        // The last heartbeat of node 2 came at most a heartbeat before
        // the kill; the promise holds the FLUSH 3/4 of a time-out after
        // it, and no bounce shortens that.
        let promise = TIMEOUT * 3 / 4;
        assert!(
            at + Settings::default().heartbeat >= killed + promise,
            "node {i} installed after {:?}",
            at - killed
        );
        // Still sooner than the time-out alone.
        assert!(at - killed < TIMEOUT, "node {i} took {:?}", at - killed);
    }
}

#[test]
fn forged_bounces_without_a_datagram_of_ours_change_nothing() {
    let mut c = cluster(true, 0);
    let before = views(&c);
    // Made-up bytes, a datagram of another node, one of ours to another
    // node, and one of ours too old to be a bounce of the present.
    let old = c
        .sent
        .iter()
        .find(|(_, (f, t, _))| *f == 0 && *t == 2)
        .map(|(_, (_, _, b))| b.clone())
        .expect("sent");
    let of_another = last_sent(&c, 1, 2);
    let to_another = last_sent(&c, 0, 1);
    for quoted in [vec![0u8; 133], of_another, to_another, old] {
        for _ in 0..3 {
            c.bounce(0, 2, &quoted);
        }
    }
    // Cut short, as a host quoting only 8 bytes would.
    let recent = last_sent(&c, 0, 2);
    c.bounce(0, 2, &recent[..8]);
    c.bounce(0, 2, &recent[..8]);
    c.run(Duration::from_millis(50));
    assert_eq!(views(&c), before, "no view change");
    assert_eq!(c.node(0).status().unreachable_suspicions, 0);
}

#[test]
fn a_forged_bounce_of_the_probe_costs_one_view_change_then_bounces_are_off() {
    let mut c = cluster(true, 0);
    // An attacker who sees our datagrams bounces our last one to node 2
    // and then our probe, before node 2 speaks again.
    // (Both bounces come before node 2's next heartbeat.)
    let forge = |c: &mut Cluster| {
        let quoted = last_sent(c, 0, 2);
        c.bounce(0, 2, &quoted);
        let probe = last_sent(c, 0, 2);
        c.bounce(0, 2, &probe);
        probe != quoted
    };
    assert!(forge(&mut c), "a first bounce sends a probe");
    assert_eq!(c.node(0).status().unreachable_suspicions, 1);
    c.run(Duration::from_millis(1));
    // Node 2 speaks again: it comes back like a node that returns.
    c.settle();
    let before = views(&c);
    for _ in 0..10 {
        assert!(!forge(&mut c), "no probe while bounces are off");
        c.run(Duration::from_millis(50));
    }
    assert_eq!(views(&c), before, "the refuted bounces are ignored");
    assert_eq!(c.node(0).status().unreachable_suspicions, 1);
}
