//! Clusters of the real binary whose nodes each have two links (root
//! only): the hub's `br0` (each node's `wm0`, see tests/it/support/builtin.rs)
//! and a second bridge [`BRIDGE2`] (each node's [`INTERFACE2`]), both
//! listed in `Nodes` as `A/B`. A link is cut by setting the node's port on
//! that bridge down in the hub, a whole network by setting every port of
//! its bridge down. Include beside builtin.rs and its helpers, and
//! faults.rs.

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::builtin::{node_address, port_name, BuiltinCluster, Spec};
use crate::support::cluster::INTERFACE;
use crate::support::faults::Loss;
use crate::support::netns;

/// The second link's bridge in the hub and interface in each node.
pub const BRIDGE2: &str = "bl2";
pub const INTERFACE2: &str = "wl1";

/// Node `i`'s address on the second link.
pub fn second_address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 79, 0, 10 + i as u8)
}

/// The hub's port of node `i` on link `link` (0: `br0`, 1: [`BRIDGE2`]).
pub fn port(i: usize, link: usize) -> String {
    match link {
        0 => port_name(i),
        _ => format!("l{i}"),
    }
}

/// A cluster of `spec` whose nodes each have a second link, listed in
/// `Nodes`; no node runs yet.
pub fn two_links(tag: &str, spec: Spec) -> BuiltinCluster {
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

pub fn set_port(cluster: &BuiltinCluster, i: usize, link: usize, up: bool) {
    let state = if up { "up" } else { "down" };
    cluster.hub().ip(&["link", "set", &port(i, link), state]);
}

/// Takes node `i`'s hub port on link `link` out of its bridge (`cut`) or
/// puts it back. Unlike [`set_port`], both ends keep their carrier: the
/// traffic stops as when a switch upstream fails. The VIFs sit on link 1,
/// and a node's VIFs rightly move when their own interface loses carrier
/// (per-VIF tracking; tests/track_wire.rs), so a cut of link 1 that must
/// move nothing is made this way.
pub fn detach_port(cluster: &BuiltinCluster, i: usize, link: usize, cut: bool) {
    let bridge = if link == 0 { "br0" } else { BRIDGE2 };
    let port = port(i, link);
    if cut {
        cluster.hub().ip(&["link", "set", &port, "nomaster"]);
    } else {
        cluster.hub().ip(&["link", "set", &port, "master", bridge]);
    }
}

/// Waits (at most `bound`) until every node hears every other over every
/// link, as its status says: a link that was just given back works both
/// ways before the next cut, or the two would be down together.
pub fn wait_every_link_up(cluster: &BuiltinCluster, bound: Duration) {
    let until = Instant::now() + bound;
    let all_up = |i: usize| {
        cluster.try_status(i).is_ok_and(|s| {
            s.nodes()
                .iter()
                .filter(|n| n.state != "self")
                .all(|n| n.links.len() == 2 && n.links.iter().all(|l| l.state == "up"))
        })
    };
    while !(0..cluster.len()).all(all_up) {
        assert!(
            Instant::now() < until,
            "a link given back does not work both ways within {bound:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Cuts, in turn, link 1 of node 0, link 2 of node 1, link 1 of node 2,
/// all of network 1, all of network 2 and link 2 of node 2 (three nodes),
/// each for a sixth of `total`, with 10% loss on every node's other link
/// meanwhile; every link is back, and works both ways, at the end of each
/// phase. Link 1 (the VIFs' link) is cut by [`detach_port`], link 2 (a
/// heartbeat-only link) by [`set_port`], carrier and all.
pub fn cut_in_turn(cluster: &BuiltinCluster, total: Duration) {
    // (node or every node, the link cut); the other link loses 10%.
    let phases: [(Option<usize>, usize); 6] = [
        (Some(0), 0),
        (Some(1), 1),
        (Some(2), 0),
        (None, 0),
        (None, 1),
        (Some(2), 1),
    ];
    let each = total / phases.len() as u32;
    let n = cluster.len();
    let cut = |i: usize, link: usize, down: bool| match link {
        0 => detach_port(cluster, i, link, down),
        _ => set_port(cluster, i, link, !down),
    };
    for (who, link) in phases {
        let nodes: Vec<usize> = who.map_or((0..n).collect(), |i| vec![i]);
        let other = if link == 0 { INTERFACE2 } else { INTERFACE };
        let targets: Vec<(&netns::Netns, &str)> =
            (0..n).map(|i| (cluster.node(i).ns(), other)).collect();
        let loss = Loss::on_egress(&targets, 10);
        for &i in &nodes {
            cut(i, link, true);
        }
        thread::sleep(each);
        for &i in &nodes {
            cut(i, link, false);
        }
        loss.clear();
        wait_every_link_up(cluster, Duration::from_secs(10));
        println!(
            "link {} of {who:?} cut for {each:?}, 10% loss on the other",
            link + 1
        );
    }
}
