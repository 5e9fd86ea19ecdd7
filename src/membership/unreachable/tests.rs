//! The port unreachable rule: the bookkeeping of one peer's bounces, and
//! a few real nodes on a network that answers a dead daemon's datagrams
//! with bounces (and carries forged ones).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::super::testnet::{key, Cluster, INCARNATION, MS};
use super::{Bounce, Verdict, REFUTED_TIMEOUTS};
use crate::membership::{Node, NodeEvent, Timing};

const TIMEOUT: Duration = Duration::from_millis(200);

// The rule on its own.

/// A fresh bounce record that saw datagram `first` bounce and probed with
/// datagram `probe`, and the time it started.
fn probed(first: u64, probe: u64) -> (Instant, Bounce) {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    assert_eq!(b.take(first, 0, 1, t0, TIMEOUT), Verdict::Probe);
    b.probing(probe);
    (t0, b)
}

#[test]
fn a_first_bounce_probes_and_a_bounce_of_the_probe_suspects() {
    let (t0, mut b) = probed(10, 12);
    // A datagram sent before the probe says nothing new.
    assert_eq!(b.take(11, 0, 1, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(12, 0, 1, t0 + MS, TIMEOUT), Verdict::Suspect);
    b.suspect(7, t0 + MS);
    assert_eq!(b.suspected, Some(7));
    // Suspected: further bounces change nothing.
    assert_eq!(b.take(13, 0, 1, t0 + MS, TIMEOUT), Verdict::Ignore);
}

/// A probe sent out of turn, before any bounce (a peer stopped hearing
/// the node): its bounce alone suspects; earlier datagrams' bounces that
/// come first neither probe again nor suspect.
#[test]
fn a_probe_sent_before_any_bounce_needs_only_its_own() {
    let t0 = Instant::now();
    let mut b = Bounce::default();
    b.probing(20);
    assert_eq!(b.take(18, 0, 1, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(19, 0, 1, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(20, 0, 1, t0 + MS, TIMEOUT), Verdict::Suspect);
}

#[test]
fn each_bounced_datagram_counts_once() {
    let (t0, mut b) = probed(10, 10);
    // The same bounce again (a duplicate, or a replay) confirms nothing.
    assert_eq!(b.take(10, 0, 1, t0, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.suspected, None);
}

#[test]
fn a_datagram_of_the_node_cancels_the_probe() {
    let (t0, mut b) = probed(10, 11);
    b.heard(7, t0 + MS, TIMEOUT);
    // The next bounce starts over: it probes again, it does not suspect.
    assert_eq!(b.take(11, 0, 1, t0 + MS, TIMEOUT), Verdict::Probe);
}

#[test]
fn suspicions_are_rate_limited_and_a_refuted_one_turns_bounces_off() {
    let (t0, mut b) = probed(1, 2);
    assert_eq!(b.take(2, 0, 1, t0, TIMEOUT), Verdict::Suspect);
    b.suspect(7, t0);
    // A new incarnation speaks: the suspicion ends, nothing was refuted.
    b.heard(8, t0 + MS, TIMEOUT);
    assert_eq!(b.suspected, None);
    // Within a time-out of the last suspicion, no new one.
    assert_eq!(b.take(3, 0, 1, t0 + 2 * MS, TIMEOUT), Verdict::Ignore);
    let later = t0 + TIMEOUT;
    assert_eq!(b.take(4, 0, 1, later, TIMEOUT), Verdict::Probe);
    b.probing(5);
    assert_eq!(b.take(5, 0, 1, later, TIMEOUT), Verdict::Suspect);
    b.suspect(8, later);
    // The same incarnation speaks again: the bounces lied.
    b.heard(8, later + MS, TIMEOUT);
    let off_until = later + MS + TIMEOUT * REFUTED_TIMEOUTS;
    assert_eq!(b.take(6, 0, 1, off_until - MS, TIMEOUT), Verdict::Ignore);
    assert_eq!(b.take(7, 0, 1, off_until, TIMEOUT), Verdict::Probe);
}

// Real nodes.

/// When node `i` first installed a view without `gone` after `since`.
fn view_without(c: &Cluster, i: usize, gone: usize, since: Instant) -> Option<Instant> {
    c.events.iter().find_map(|(n, t, e)| match e {
        NodeEvent::View { members, .. }
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
        .filter(|(_, _, e)| matches!(e, NodeEvent::View { .. }))
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

/// Runs `c` for `before`, kills node 2's daemon, runs it for `after`, and
/// gives the time of the kill.
fn kill_node_2(c: &mut Cluster, before: Duration, after: Duration) -> Instant {
    c.run(before);
    let killed = c.now;
    c.nodes[2] = None;
    c.run(after);
    killed
}

fn cluster(port_unreachable: bool, needed: usize) -> Cluster {
    let settings = Timing {
        port_unreachable,
        ..Timing::default()
    };
    let mut c = Cluster::with_settings(3, settings, needed);
    c.hosts_alive = true;
    c.settle();
    c
}

#[test]
fn a_dead_daemon_on_a_live_host_is_dropped_within_a_heartbeat() {
    let mut c = cluster(true, 0);
    let killed = kill_node_2(&mut c, Duration::from_millis(7), Duration::from_millis(100));
    for i in 0..2 {
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        let took = at - killed;
        // One heartbeat to reach it, a probe, and the view change (at
        // once on this network).
        assert!(
            took <= Timing::default().heartbeat + MS,
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
    let killed = kill_node_2(&mut c, Duration::from_millis(7), TIMEOUT * 2);
    for i in 0..2 {
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        assert!(at - killed >= TIMEOUT - Timing::default().heartbeat);
        assert_eq!(c.node(i).status().unreachable_suspicions, 0);
    }
}

#[test]
fn with_a_quorum_the_flush_still_waits_for_the_promise() {
    let mut c = cluster(true, 2);
    let killed = kill_node_2(&mut c, Duration::from_millis(5), TIMEOUT * 2);
    for i in 0..2 {
        assert_eq!(c.node(i).status().unreachable_suspicions, 1);
        let at = view_without(&c, i, 2, killed).expect("a view without node 2");
        // The last heartbeat of node 2 came at most a heartbeat before
        // the kill; the promise holds the FLUSH 3/4 of a time-out after
        // it, and no bounce shortens that.
        let promise = TIMEOUT * 3 / 4;
        assert!(
            at + Timing::default().heartbeat >= killed + promise,
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

// Two nodes on two links.

/// Node `i`'s address on link `link`.
fn on_link(link: usize, i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 8 + link as u8, 0, i as u8 + 1), 4820)
}

/// Node 0 watches node 1 over two links, datagrams delivered at once.
struct Linked {
    /// `None`: the daemon is gone, its host bounces what it is sent.
    nodes: Vec<Option<Node>>,
    now: Instant,
    /// Links on which node 1's address leads to a host without its
    /// daemon: what node 0 sends over them bounces, and nothing of node 1
    /// comes over them.
    bouncing: Vec<u8>,
    /// Links that carry nothing either way.
    cut: Vec<u8>,
    /// Bounces node 0 was handed.
    bounces: usize,
}

impl Linked {
    fn settled() -> Linked {
        let t0 = Instant::now();
        let nodes = (0..2)
            .map(|i| {
                let node = Node::with_links(
                    vec![on_link(0, 0), on_link(0, 1)],
                    vec![vec![on_link(1, 0), on_link(1, 1)]],
                    i,
                    key(),
                    Timing::default(),
                    INCARNATION + i as u64,
                    t0,
                )
                .expect("a valid cluster");
                Some(node)
            })
            .collect();
        let mut l = Linked {
            nodes,
            now: t0,
            bouncing: Vec::new(),
            cut: Vec::new(),
            bounces: 0,
        };
        l.run(Duration::from_secs(1));
        assert_eq!(l.members(0), 2, "the pair formed one view");
        l
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("running")
    }

    /// Members in node `i`'s view.
    fn members(&self, i: usize) -> usize {
        self.node(i).status().view.map_or(0, |v| v.1.len())
    }

    /// Hands on what the nodes sent until nothing is left.
    fn deliver(&mut self) {
        loop {
            let mut out = Vec::new();
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if let Some(node) = node {
                    while let Some(t) = node.poll_transmit() {
                        out.push((i, t));
                    }
                    while node.poll_event().is_some() {}
                }
            }
            if out.is_empty() {
                return;
            }
            let now = self.now;
            for (from, t) in out {
                let (to, link) = (usize::from(t.to), t.link);
                if self.cut.contains(&link) {
                    continue;
                }
                let bounces =
                    self.nodes[to].is_none() || (to == 1 && self.bouncing.contains(&link));
                if from == 1 && self.bouncing.contains(&link) {
                    continue;
                }
                if bounces {
                    if let Some(node) = self.nodes[from].as_mut() {
                        self.bounces += 1;
                        let at = SocketAddr::V4(on_link(usize::from(link), to));
                        node.handle_unreachable(at, &t.bytes, now);
                    }
                } else if let Some(node) = self.nodes[to].as_mut() {
                    let at = SocketAddr::V4(on_link(usize::from(link), from));
                    node.handle_datagram(at, &t.bytes, now);
                }
            }
        }
    }

    /// Kills node 1's daemon and checks that node 0 drops it within a
    /// heartbeat, on one suspicion.
    fn kill_node_1_and_see_it_dropped_within_a_heartbeat(&mut self) {
        let killed = self.now;
        self.nodes[1] = None;
        let alone = self
            .run(Duration::from_millis(100))
            .expect("node 1 dropped");
        let took = alone - killed;
        assert!(took <= Timing::default().heartbeat + MS, "took {took:?}");
        assert_eq!(self.node(0).status().unreachable_suspicions, 1);
    }

    /// Runs for `span` in steps of a millisecond; when node 0 first had a
    /// view of itself alone, if it did.
    fn run(&mut self, span: Duration) -> Option<Instant> {
        let until = self.now + span;
        let mut alone = None;
        while self.now < until {
            self.now += MS;
            let now = self.now;
            for node in self.nodes.iter_mut().flatten() {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
            self.deliver();
            if alone.is_none() && self.nodes[0].is_some() && self.members(0) == 1 {
                alone = Some(now);
            }
        }
        alone
    }
}

#[test]
fn a_bounce_over_one_link_of_a_peer_heard_over_another_suspects_nothing() {
    let mut l = Linked::settled();
    let views = l.node(0).status().views_installed;
    // Node 1's address on link 0 now leads to a host without its daemon;
    // link 1 works. Node 0's datagrams and probes bounce over link 0
    // every heartbeat, before node 1's next datagram comes over link 1.
    l.bouncing = vec![0];
    let alone = l.run(Duration::from_secs(2));
    assert!(l.bounces > 50, "only {} bounces", l.bounces);
    assert_eq!(alone, None, "node 0 dropped node 1");
    let status = l.node(0).status();
    assert_eq!(status.unreachable_suspicions, 0);
    assert_eq!(status.views_installed, views, "no view change");
}

#[test]
fn a_dead_daemon_bounces_over_every_link_and_is_dropped_within_a_heartbeat() {
    let mut l = Linked::settled();
    l.kill_node_1_and_see_it_dropped_within_a_heartbeat();
}

#[test]
fn a_link_silent_for_the_time_out_is_not_waited_for() {
    let mut l = Linked::settled();
    l.cut = vec![1];
    l.run(TIMEOUT + 10 * MS);
    assert_eq!(l.members(0), 2, "one link still works");
    l.kill_node_1_and_see_it_dropped_within_a_heartbeat();
}
