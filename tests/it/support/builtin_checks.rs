//! Checks shared by the cluster tests of the built-in membership: the
//! announcements of moved VIFs, takeovers timed from a thread, views that
//! must not change, and each node's picture of the others.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::builtin::BuiltinCluster;
use crate::support::builtin_status::ViewHistory;
use crate::support::cluster::{Capture, Waits};

/// Bound for a gratuitous ARP to show once its VIP is up: generous, for
/// a loaded machine.
const ANNOUNCE: Duration = Duration::from_secs(20);
/// How many times a [`crate::support::builtin_status::ViewWatch`] must have asked
/// each node for [`assert_no_view_change`] to mean anything (see
/// `ViewWatch::finish_after`).
pub const MIN_POLLS: usize = 3;

/// Fails unless the bridge saw a gratuitous ARP at or after `since` for
/// every VIP in `vips` from the MAC of the node now holding it; returns
/// the latest of those instants.
pub fn assert_announced(
    cluster: &mut BuiltinCluster,
    capture: &Capture,
    vips: &[Ipv4Addr],
    since: Instant,
) -> Instant {
    let holders = cluster.holders();
    let mut last = since;
    for &vip in vips {
        let Some(owner) = holders.iter().position(|h| h.contains(&vip)) else {
            cluster.fail(&format!("{vip} is on no node"));
        };
        let mac = cluster.node(owner).mac;
        let deadline = Instant::now() + ANNOUNCE;
        match capture.wait_announced(vip, mac, since, deadline) {
            Some(at) => last = last.max(at),
            None => {
                let seen = capture.summary();
                cluster.fail(&format!(
                    "no gratuitous ARP for {vip} from node {owner} ({mac:02x?}); {seen}"
                ));
            }
        }
    }
    last
}

/// Polls, from a thread, until every VIP of `vips` is on one of `heirs`;
/// the instant it first was.
pub fn takeover_watch(
    cluster: &BuiltinCluster,
    vips: &[Ipv4Addr],
    heirs: &[usize],
    within: Duration,
) -> thread::JoinHandle<Option<Instant>> {
    let (observer, vips, heirs) = (cluster.observer(), vips.to_vec(), heirs.to_vec());
    let deadline = Instant::now() + within;
    thread::spawn(move || loop {
        let holders = observer.sweep();
        let placed = vips
            .iter()
            .all(|v| heirs.iter().any(|&h| holders[h].contains(v)));
        if placed {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_micros(200));
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every node's view id, by node.
pub fn view_ids(cluster: &mut BuiltinCluster, nodes: &[usize]) -> BTreeMap<usize, Option<String>> {
    nodes
        .iter()
        .map(|&i| (i, cluster.status(i).view_id()))
        .collect()
}

/// Fails unless every watched node kept the one view it started with.
pub fn assert_no_view_change(
    cluster: &mut BuiltinCluster,
    before: &BTreeMap<usize, Option<String>>,
    seen: &BTreeMap<usize, ViewHistory>,
) {
    for (i, history) in seen {
        let expected = vec![before[i].clone()];
        if history.views != expected || history.changes() != 0 || history.polls < MIN_POLLS {
            cluster.fail(&format!(
                "node {i} changed views: had {:?}, saw {:?} ({} polls, {} unanswered)",
                before[i], history.views, history.polls, history.silent
            ));
        }
    }
    let after = view_ids(cluster, &before.keys().copied().collect::<Vec<_>>());
    if &after != before {
        cluster.fail(&format!(
            "views changed: before {before:?}, after {after:?}"
        ));
    }
}

/// Each node's own status lists every configured node: itself as
/// `self`, and `in view` for each of `members`.
pub fn assert_node_states(cluster: &mut BuiltinCluster, i: usize, members: &[usize]) {
    let report = cluster.status(i);
    let states = report.node_states();
    let expected: Vec<&str> = (0..cluster.len())
        .map(|n| match n {
            n if n == i => "self",
            n if members.contains(&n) => "in view",
            _ => "?",
        })
        .collect();
    let matches = states.len() == expected.len()
        && states
            .iter()
            .zip(&expected)
            .all(|(s, e)| *e == "?" || s == e);
    if !matches {
        cluster.fail(&format!(
            "node {i} reports node states {states:?}, expected {expected:?}: {}",
            report.text
        ));
    }
}
