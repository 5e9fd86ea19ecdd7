//! Redundant links with the real binary (root only): every node has an
//! address on two networks, the hub's `br0` (the nodes' `wm0`) and a
//! second bridge `bl2` (their `wl1`), both listed in `Nodes` as
//! `A/B`. A link is cut by setting the node's port on that bridge down
//! in the hub (its interface loses its carrier), a whole network by
//! setting every port of its bridge down. See tests/it/support/builtin.rs.

use crate::support::{builtin, builtin_checks, builtin_status, cluster, links};

use std::thread;
use std::time::Duration;

use builtin::{node_address, Spec};
use builtin_checks::{assert_no_view_change, view_ids, MIN_POLLS};
use builtin_status::ViewWatch;
use cluster::{Waits, MIN_SWEEPS};
use links::{cut_in_turn, second_address, set_port, two_links};

/// Bound for a cluster to settle after a start or a change.
const SETTLE: Duration = Duration::from_secs(30);
/// How long the link-loss test keeps a link cut and the other lossy, in
/// all (seconds); `WACKAMOLE_LINK_SECS` changes it.
const LINK_SECS: u64 = 60;
/// Three nodes, two links. In turn: either link of each node cut, and
/// each whole network down, with 10% loss on the other link all along;
/// not one view change, no VIF moves, never a VIF on two nodes, and the
/// logs say each link went and came back.
#[test]
fn a_cut_link_beside_a_lossy_one_changes_no_view() {
    let secs = std::env::var("WACKAMOLE_LINK_SECS")
        .map(|s| s.parse().expect("WACKAMOLE_LINK_SECS: seconds"))
        .unwrap_or(LINK_SECS);
    let mut cluster = two_links("kl", Spec::new(3, 6));
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    cluster.wait_view_of(&[0, 1, 2], SETTLE);
    let holders = cluster.holders();
    let before = view_ids(&mut cluster, &[0, 1, 2]);
    let controls = (0..3)
        .map(|i| (i, cluster.node(i).control.clone()))
        .collect();
    let watch = ViewWatch::start(controls, Duration::from_millis(200));
    let sampler = cluster.observer().sample(Duration::from_millis(20));
    cut_in_turn(&cluster, Duration::from_secs(secs));
    // The links that came back are seen again before the watch ends.
    thread::sleep(Duration::from_secs(1));
    let seen = watch.finish_after(MIN_POLLS, SETTLE);
    let report = sampler.finish_after(MIN_SWEEPS, SETTLE);
    println!("views seen {seen:?}");
    assert_no_view_change(&mut cluster, &before, &seen);
    if cluster.holders() != holders || report.sweeps < MIN_SWEEPS || !report.doubles.is_empty() {
        cluster.fail(&format!(
            "VIFs moved with a link cut: before {holders:?}, {report:?}"
        ));
    }
    // Node 1 saw link 1 to node 0 go and come back (the first phase).
    let log = cluster.log(1);
    let name = node_address(0);
    for said in [
        format!("link 1 to node {name} ({name}) is down"),
        format!("link 1 to node {name} ({name}) works again"),
    ] {
        if !log.contains(&said) {
            cluster.fail(&format!("node 1's log does not say {said:?}"));
        }
    }
    let status = cluster.status(1);
    let text = &status.text;
    for address in [second_address(0), second_address(2)] {
        if !text.contains(&format!("\"address\":\"{address}\"")) {
            cluster.fail(&format!("no link to {address} in node 1's status"));
        }
    }
}

/// Both links of a node cut: an ordinary failover (under a majority the
/// cut node lets go, the two others take its VIFs).
#[test]
fn both_links_cut_is_an_ordinary_failover() {
    let mut spec = Spec::new(3, 6);
    spec.service.quorum = "majority".into();
    let mut cluster = two_links("kb", spec);
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    let sampler = cluster.observer().sample(Duration::from_millis(5));
    set_port(&cluster, 2, 0, false);
    set_port(&cluster, 2, 1, false);
    cluster.wait_spread_as(&[3, 3, 0], SETTLE);
    let report = sampler.finish_after(MIN_SWEEPS, SETTLE);
    if report.sweeps < MIN_SWEEPS || !report.doubles.is_empty() {
        cluster.fail(&format!("VIPs on two nodes at once: {report:?}"));
    }
}

/// Two nodes, a data link and a dedicated link, no quorum: pulling the
/// dedicated link changes no view and no VIF is ever on both nodes.
#[test]
fn pulling_the_dedicated_link_of_a_pair_holds_nothing_twice() {
    let mut cluster = two_links("kp", Spec::new(2, 4));
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2], SETTLE);
    cluster.wait_view_of(&[0, 1], SETTLE);
    let holders = cluster.holders();
    let before = view_ids(&mut cluster, &[0, 1]);
    let controls = (0..2)
        .map(|i| (i, cluster.node(i).control.clone()))
        .collect();
    let watch = ViewWatch::start(controls, Duration::from_millis(200));
    let sampler = cluster.observer().sample(Duration::from_millis(5));
    // The dedicated cable is the second link: pulled at one end.
    set_port(&cluster, 0, 1, false);
    thread::sleep(Duration::from_secs(10));
    let seen = watch.finish_after(MIN_POLLS, SETTLE);
    let report = sampler.finish_after(MIN_SWEEPS, SETTLE);
    assert_no_view_change(&mut cluster, &before, &seen);
    if cluster.holders() != holders || report.sweeps < MIN_SWEEPS || !report.doubles.is_empty() {
        cluster.fail(&format!(
            "the pair split when its dedicated link was pulled: before {holders:?}, {report:?}"
        ));
    }
}
