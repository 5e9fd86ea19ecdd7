//! Redundant links with the real binary (root only): every node has an
//! address on two networks, the hub's `br0` (the nodes' `wm0`) and a
//! second bridge `bl2` (their `wl1`), both listed in `Nodes` as
//! `A/B`. A link is cut by setting the node's port on that bridge down
//! in the hub (its interface loses its carrier), a whole network by
//! setting every port of its bridge down. See tests/support/builtin.rs.

#[path = "support/builtin.rs"]
mod builtin;
#[path = "support/builtin_checks.rs"]
mod builtin_checks;
#[path = "support/builtin_status.rs"]
mod builtin_status;
#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/faults.rs"]
mod faults;
#[path = "support/netns.rs"]
mod netns;
#[path = "support/rng.rs"]
mod rng;
#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/sniffer.rs"]
mod sniffer;
#[path = "support/spread_daemon.rs"]
mod spread_daemon;
#[path = "support/status.rs"]
mod status;

use std::net::Ipv4Addr;
use std::thread;
use std::time::Duration;

use builtin::{node_address, port_name, BuiltinCluster, Spec};
use builtin_checks::{assert_no_view_change, view_ids, MIN_POLLS};
use builtin_status::ViewWatch;
use cluster::{Waits, INTERFACE};
use faults::Loss;

/// Bound for a cluster to settle after a start or a change.
const SETTLE: Duration = Duration::from_secs(30);
/// How long the link-loss test keeps a link cut and the other lossy, in
/// all (seconds); `WACKAMOLE_LINK_SECS` changes it.
const LINK_SECS: u64 = 60;
/// Sweeps a sampler must have made for "never on two nodes" to mean
/// anything.
const MIN_SWEEPS: usize = 10;
/// The second link's bridge in the hub and interface in each node.
const BRIDGE2: &str = "bl2";
const INTERFACE2: &str = "wl1";

/// Node `i`'s address on the second link.
fn second_address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 79, 0, 10 + i as u8)
}

/// The hub's port of node `i` on link `link` (0: `br0`, 1: [`BRIDGE2`]).
fn port(i: usize, link: usize) -> String {
    match link {
        0 => port_name(i),
        _ => format!("l{i}"),
    }
}

/// A cluster of `spec` whose nodes each have a second link, listed in
/// `Nodes`; no node runs yet.
fn two_links(tag: &str, spec: Spec) -> BuiltinCluster {
    let cluster = BuiltinCluster::new(tag, spec);
    let hub = cluster.hub();
    hub.ip(&["link", "add", BRIDGE2, "type", "bridge"]);
    hub.ip(&["link", "set", BRIDGE2, "up"]);
    let n = cluster.len();
    for i in 0..n {
        let ns = cluster.node(i).ns();
        netns::quiet_veth(ns, INTERFACE2, hub, &port(i, 1));
        hub.ip(&["link", "set", &port(i, 1), "master", BRIDGE2]);
        ns.ip(&[
            "addr",
            "add",
            &format!("{}/16", second_address(i)),
            "dev",
            INTERFACE2,
        ]);
    }
    let one: Vec<String> = (0..n).map(|i| node_address(i).to_string()).collect();
    let both: Vec<String> = (0..n)
        .map(|i| format!("{}/{}", node_address(i), second_address(i)))
        .collect();
    for i in 0..n {
        let text = cluster.config_text(i);
        let old = format!("Nodes {{ {} }}", one.join(" "));
        assert!(text.contains(&old), "node {i}'s configuration: {text}");
        let new = format!("Nodes {{ {} }}", both.join(" "));
        cluster.write_config(i, &text.replace(&old, &new));
    }
    cluster
}

fn set_port(cluster: &BuiltinCluster, i: usize, link: usize, up: bool) {
    let state = if up { "up" } else { "down" };
    cluster.hub().ip(&["link", "set", &port(i, link), state]);
}

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
    // (node or every node, the link cut); the other link loses 10%.
    let phases: [(Option<usize>, usize); 6] = [
        (Some(0), 0),
        (Some(1), 1),
        (Some(2), 0),
        (None, 0),
        (None, 1),
        (Some(2), 1),
    ];
    let each = Duration::from_secs(secs) / phases.len() as u32;
    for (who, link) in phases {
        let nodes: Vec<usize> = who.map_or((0..3).collect(), |i| vec![i]);
        let other = if link == 0 { INTERFACE2 } else { INTERFACE };
        let targets: Vec<(&netns::Netns, &str)> =
            (0..3).map(|i| (cluster.node(i).ns(), other)).collect();
        let loss = Loss::on_egress(&targets, 10);
        for &i in &nodes {
            set_port(&cluster, i, link, false);
        }
        thread::sleep(each);
        for &i in &nodes {
            set_port(&cluster, i, link, true);
        }
        loss.clear();
        println!(
            "link {} of {who:?} cut for {each:?}, 10% loss on the other",
            link + 1
        );
    }
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
    spec.quorum = "majority".into();
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
