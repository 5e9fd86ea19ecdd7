//! Whole clusters of the real binary (root only): one node per network
//! namespace on a shared bridge, real VIPs on each node's veth, the Spread
//! test daemon between them (scenarios 1 to 8 of the daemon issue, reload
//! and start-up cleanup). See tests/it/support/cluster.rs.

use crate::support::{cluster, descriptors};

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cluster::{
    assert_announced, describe_exit, node_address, vip, Capture, Cluster, Spec, Waits, INTERFACE,
};
use descriptors::Descriptors;

/// Bound for a cluster to settle after a start or a change: maturity (1 s)
/// plus a few one-second balance rounds, with room for a loaded machine.
const SETTLE: Duration = Duration::from_secs(20);
/// Bound for a daemon to exit after SIGTERM.
const EXIT: Duration = Duration::from_secs(10);

/// Reads `path` as lines (empty when it does not exist yet).
fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn three_nodes_share_six_vifs_and_announce_them() {
    let mut cluster = Cluster::new("s1", Spec::new(3, 6));
    let capture = Capture::start(&cluster);
    let started = Instant::now();
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    let all = cluster.vips().to_vec();
    assert_announced(&mut cluster, &capture, &all, started);
}

#[test]
fn a_killed_node_s_vifs_move_to_the_survivors_never_on_two_nodes() {
    let mut cluster = Cluster::new("s2", Spec::new(3, 6)).settled(&[2, 2, 2], SETTLE);
    // Node 1's machine dies, its cable first, so what it held cannot
    // answer; the survivors end with three each.
    cluster.kill_and_take_over(1, &[0, 2], SETTLE);
    cluster.wait_spread_as(&[3, 0, 3], SETTLE);
}

#[test]
fn sigterm_releases_before_exit_and_the_survivors_take_over() {
    let mut cluster = Cluster::new("s3", Spec::new(3, 6)).settled(&[2, 2, 2], SETTLE);
    let capture = Capture::start(&cluster);
    let victim = 2;
    let orphans = cluster.holders()[victim].clone();
    let asked = Instant::now();
    cluster.terminate_releasing(victim, EXIT);
    cluster.wait_spread_as(&[3, 3, 0], SETTLE);
    assert_announced(&mut cluster, &capture, &orphans, asked);
    let log = cluster.log(victim);
    assert!(log.contains("wackamole stopped"), "{log}");
}

/// The `wackatrl -l` listing of the original for `holders`: per VIF its
/// owner's identity, then its only address.
fn expected_listing(holders: &[Vec<Ipv4Addr>], vifs: usize) -> String {
    let mut text = String::new();
    for k in 0..vifs {
        match holders.iter().position(|h| h.contains(&vip(k))) {
            Some(owner) => writeln!(text, "Owner: {}", node_address(owner)).unwrap(),
            None => text.push_str("Owner: not acquired\n"),
        }
        writeln!(text, "\t*   {INTERFACE:>5}:{}/16", vip(k)).unwrap();
    }
    text
}

#[test]
fn wackatrl_lists_fails_and_rejoins_and_balance_restores_two_each() {
    let mut cluster = Cluster::new("s4", Spec::new(3, 6)).settled(&[2, 2, 2], SETTLE);
    let holders = cluster.holders();

    let listing = cluster.ctl(0, &["-l"]);
    assert!(listing.status.success(), "{listing:?}");
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        expected_listing(&holders, 6)
    );

    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    assert_eq!(status.state, "RUN", "{text}");
    assert_eq!(reply.service(), Some(("spread", "connected")), "{text}");
    assert!(status.mature, "{text}");
    assert_eq!(status.identity.as_deref(), Some("10.77.0.10"), "{text}");
    assert!(
        status.view_id.as_ref().is_some_and(|v| v.len() == 3),
        "{text}"
    );
    assert_eq!(
        (
            status.member_count,
            status.vif_count,
            status.acquired_count,
            status.held_count
        ),
        (3, 6, 6, 2),
        "{text}"
    );
    assert_eq!(status.members.len(), 3, "{text}");
    for i in 0..3 {
        let private = format!("#node{i}#wm1");
        let member = status.members.iter().find(|m| m.name == private);
        let member = member.unwrap_or_else(|| panic!("{private} missing in {text}"));
        assert_eq!(member.address, Some(node_address(i).to_string()), "{text}");
        assert_eq!(member.held, 2, "{text}");
    }
    for (k, vif) in status.vifs.iter().enumerate() {
        let owner = holders.iter().position(|h| h.contains(&vip(k))).unwrap();
        assert_eq!(vif.index, k, "{text}");
        assert_eq!(vif.owner, Some(node_address(owner).to_string()), "{text}");
        assert_eq!(vif.addresses.len(), 1, "{text}");
        assert_eq!(vif.addresses[0].interface, INTERFACE, "{text}");
        assert_eq!(vif.addresses[0].address, vip(k).to_string(), "{text}");
        assert_eq!(vif.addresses[0].prefix_len, 16, "{text}");
    }

    // -f: node 0 leaves and lets go; the others share its VIFs.
    let fail = cluster.ctl(0, &["-f"]);
    assert!(fail.status.success(), "{fail:?}");
    let printed = String::from_utf8_lossy(&fail.stdout);
    assert_eq!(printed.matches("Owner: ").count(), 6, "{printed}");
    let own = format!("Owner: {}\n", node_address(0));
    assert!(
        !printed.contains(&own),
        "node 0 still owns a VIF: {printed}"
    );
    cluster.wait_spread_as(&[0, 3, 3], SETTLE);
    cluster.wait_for("node 0 out of the group", SETTLE, |c| {
        !c.members().iter().any(|m| m == "#node0#wm1")
    });
    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    assert_eq!(status.state, "DISCONNECTED", "{text}");
    assert_eq!(reply.service(), Some(("spread", "left")), "{text}");

    // -s: it comes back, and balance gives it its share again.
    let succeed = cluster.ctl(0, &["-s"]);
    assert!(succeed.status.success(), "{succeed:?}");
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
}

#[test]
fn a_preferred_vif_moves_to_its_node_when_it_joins() {
    let mut spec = Spec::new(3, 6);
    // No balance rounds during the test: only the preference moves a VIF.
    spec.balance_interval = "1h".into();
    spec.extra[0] = format!("Prefer {}", vip(3));
    let mut cluster = Cluster::new("s5", spec);
    cluster.start(1);
    cluster.start(2);
    cluster.wait_for("nodes 1 and 2 holding every VIF once", SETTLE, |c| {
        let holders = c.holders();
        c.each_once(&holders) && holders[0].is_empty()
    });
    cluster.start(0);
    cluster.wait_for("the preferred VIF on node 0", SETTLE, |c| {
        let holders = c.holders();
        c.each_once(&holders) && holders[0] == [vip(3)]
    });
    // And it stays there alone: nothing else moves without balancing.
    std::thread::sleep(Duration::from_millis(1500));
    let holders = cluster.holders();
    if !cluster.each_once(&holders) || holders[0] != [vip(3)] {
        cluster.fail("the preferred VIF did not stay put");
    }
}

#[test]
fn after_a_partition_merges_every_vif_is_on_exactly_one_node() {
    let mut cluster = Cluster::new("s6", Spec::new(3, 6)).settled(&[2, 2, 2], SETTLE);
    cluster
        .spread()
        .partition(&[vec!["node0".into()], vec!["node1".into(), "node2".into()]]);
    // Each side believes the others gone and covers every VIF.
    cluster.wait_for(
        "both sides of the partition covering every VIF",
        SETTLE,
        |c| {
            let holders = c.holders();
            let lone = &holders[0];
            let pair: Vec<Vec<Ipv4Addr>> = vec![Vec::new(), holders[1].clone(), holders[2].clone()];
            lone.len() == 6 && c.each_once(&pair)
        },
    );
    cluster.spread().merge();
    cluster.wait_each_once(SETTLE);
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
}

#[test]
fn nodes_release_without_spread_and_reclaim_when_it_returns() {
    let mut cluster = Cluster::new("s7", Spec::new(3, 6)).settled(&[2, 2, 2], SETTLE);
    cluster.stop_spread();
    cluster.wait_all_released(SETTLE);
    for i in 0..3 {
        assert!(cluster.running(i), "node {i} survives the loss of Spread");
    }
    cluster.restart_spread();
    cluster.wait_each_once(SETTLE);
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
}

/// What the hook script records when one round moves VIFs 0..vifs: an
/// `on` record per VIF, then one `post` record naming them all.
fn hook_records(on: (&str, &str), post: (&str, &str), vifs: usize) -> Vec<String> {
    let addresses: Vec<String> = (0..vifs).map(|k| format!("wm0:{}/16", vip(k))).collect();
    (0..vifs)
        .map(|k| format!("{}|{}|{k}|{}|{}|wm0", on.0, on.1, vip(k), addresses[k]))
        .chain(std::iter::once(format!(
            "{}|{}|||{}|wm0",
            post.0,
            post.1,
            addresses.join(" ")
        )))
        .collect()
}

#[test]
fn hooks_run_once_per_event_with_the_event_in_their_environment() {
    let mut spec = Spec::new(1, 3);
    // Replaced by the hook lines once the directory they name exists.
    spec.extra[0] = String::from("HOOKS");
    let mut cluster = Cluster::new("s8", spec);
    let record = cluster.dir().join("hooks.out");
    let script = cluster.dir().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "printf '%s|%s|%s|%s|%s|%s\\n' \"$1\" \"$WACKAMOLE_EVENT\" \"${{WACKAMOLE_VIF-}}\" \
             \"${{WACKAMOLE_PRIMARY-}}\" \"$WACKAMOLE_ADDRESSES\" \"$WACKAMOLE_INTERFACES\" >> '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    let mut hooks = String::new();
    for (event, tag) in [
        ("on up", "a"),
        ("on down", "b"),
        ("post up", "c"),
        ("post down", "d"),
    ] {
        writeln!(hooks, "Run \"/bin/sh {} {tag}\" {event}", script.display()).unwrap();
    }
    let text = cluster.config_text(0).replace("HOOKS", &hooks);
    cluster.write_config(0, &text);

    cluster.start(0);
    cluster.wait_spread_as(&[3], SETTLE);
    let up = hook_records(("a", "on-up"), ("c", "post-up"), 3);
    cluster.wait_for("the up hooks", SETTLE, |_| lines(&record).len() >= up.len());
    let after_up = lines(&record);
    if after_up != up {
        cluster.fail(&format!(
            "hook records after acquisition: {after_up:#?}, expected {up:#?}"
        ));
    }

    cluster.signal(0, libc::SIGTERM);
    let status = cluster.wait_exit(0, EXIT);
    assert_eq!(status.code(), Some(0), "{}", describe_exit(status));
    let down = hook_records(("b", "on-down"), ("d", "post-down"), 3);
    let all = lines(&record);
    let expected: Vec<String> = up.iter().chain(&down).cloned().collect();
    if all != expected {
        cluster.fail(&format!(
            "hook records after SIGTERM: {all:#?}, expected {expected:#?}"
        ));
    }
}

#[test]
fn sighup_applies_live_settings_and_refuses_a_changed_vif_list() {
    let mut cluster = Cluster::new("hup", Spec::new(1, 2)).settled(&[2], SETTLE);
    let original = cluster.config_text(0);

    let slower = original.replace("\tInterval = 1s", "\tInterval = 2s");
    assert_ne!(slower, original);
    cluster.write_config(0, &slower);
    cluster.signal(0, libc::SIGHUP);
    cluster.wait_for("the reload log line", SETTLE, |c| {
        c.log(0)
            .contains("configuration re-read: Balance now in effect")
    });

    let more = slower.replace(
        "VirtualInterfaces {\n",
        &format!("VirtualInterfaces {{\n\t{INTERFACE}:10.77.2.1/16\n"),
    );
    cluster.write_config(0, &more);
    cluster.signal(0, libc::SIGHUP);
    cluster.wait_for("the refusal log line", SETTLE, |c| {
        c.log(0)
            .contains("configuration not reloaded: VirtualInterfaces cannot change while running")
    });
    assert!(cluster.running(0));
    // The running configuration stays: still two VIFs, both held.
    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    assert_eq!((status.vif_count, status.held_count), (2, 2), "{text}");
    let holders = cluster.holders();
    if holders != [vec![vip(0), vip(1)]] {
        cluster.fail("the VIFs moved after a refused reload");
    }
}

#[test]
fn a_vip_left_on_the_interface_is_removed_at_start() {
    let mut cluster = Cluster::new("stale", Spec::new(1, 2));
    // Without Spread the node may own nothing: what it removes stays away.
    cluster.stop_spread();
    let stale = format!("{}/16", vip(1));
    let label = format!("{INTERFACE}:7");
    cluster
        .node(0)
        .ns()
        .ip(&["addr", "add", &stale, "dev", INTERFACE, "label", &label]);
    assert_eq!(cluster.holders(), [vec![vip(1)]]);
    cluster.start(0);
    cluster.wait_for("the leftover removed", SETTLE, |c| {
        c.log(0)
            .contains(&format!("removed {INTERFACE}:{stale} left behind"))
    });
    if cluster.holders() != [Vec::<Ipv4Addr>::new()] {
        cluster.fail("the leftover VIP is still on the interface");
    }
    cluster.restart_spread();
    cluster.wait_spread_as(&[2], SETTLE);
}

/// The kernel refuses the addresses (the interface is down when the node
/// takes its VIFs): the node logs why, keeps them, and brings them up once
/// the interface is back, without any membership change.
#[test]
fn refused_addresses_are_placed_once_the_interface_comes_up() {
    let mut cluster = Cluster::new("refused", Spec::new(1, 2));
    cluster.node(0).ns().ip(&["link", "set", INTERFACE, "down"]);
    cluster.start(0);
    cluster.wait_for("the refusal logged", SETTLE, |c| {
        c.log(0).contains("cannot bring up") && c.log(0).contains("interface is down")
    });
    if cluster.holders() != [Vec::<Ipv4Addr>::new()] {
        cluster.fail("addresses came up on a down interface");
    }
    // A few tries (one a second) while the interface stays down.
    std::thread::sleep(Duration::from_millis(2500));
    cluster.node(0).ns().ip(&["link", "set", INTERFACE, "up"]);
    cluster.wait_spread_as(&[2], SETTLE);
    let views = cluster.log(0).matches("connected to Spread").count();
    if views != 1 {
        cluster.fail("the node reconnected instead of retrying the addresses");
    }
    // Each refusal is an error once, not once per try.
    let errors = cluster.log(0).matches("cannot bring up").count();
    if errors != 2 {
        cluster.fail(&format!("{errors} refusal errors logged for 2 addresses"));
    }
}

/// Node `i`'s descriptors once its Spread session and a packet socket of
/// the announcer are both open.
fn session_and_packet_sockets(cluster: &mut Cluster, i: usize) -> Descriptors {
    let pid = cluster.node(i).pid().expect("the node runs");
    let mut seen = Descriptors::default();
    cluster.wait_for("the Spread session and a packet socket", SETTLE, |_| {
        seen = Descriptors::of(pid).unwrap_or_default();
        !seen.unix_clients.is_empty() && !seen.packet.is_empty()
    });
    seen
}

/// A killed daemon's sockets are released from the highest number down,
/// and each packet socket waits out an RCU grace period as it goes: the
/// Spread session must sit above them all, or Spread (and so the peers)
/// learns of the death only after those waits (see src/descriptor.rs and
/// `make bench`). Also for a session opened again after Spread returns,
/// when the packet socket is older than it.
#[test]
fn the_spread_session_is_numbered_above_every_packet_socket_also_after_a_reconnect() {
    let mut cluster = Cluster::new("fd", Spec::new(1, 2)).settled(&[2], SETTLE);
    for moment in ["at start", "after a reconnect"] {
        if moment != "at start" {
            cluster.stop_spread();
            cluster.wait_all_released(SETTLE);
            cluster.restart_spread();
            cluster.wait_spread_as(&[2], SETTLE);
        }
        let seen = session_and_packet_sockets(&mut cluster, 0);
        let highest_packet = seen.packet.iter().max();
        if seen.unix_clients.iter().min() <= highest_packet {
            cluster.fail(&format!(
                "{moment}: Spread session at {:?}, packet sockets at {:?}",
                seen.unix_clients, seen.packet
            ));
        }
    }
}
