//! The real binary on the built-in membership (root only): the nodes of
//! tests/it/support/cluster.rs (one network namespace each, on one bridge),
//! each configured with a `Membership` block instead of Spread. They
//! form one view and split the VIFs, report the membership in their JSON
//! status, hand a stopped node's VIFs over at once, hold nothing below
//! the quorum, and take new timing and quorum settings on SIGHUP.

use crate::support::{builtin, cluster};

use std::time::{Duration, Instant};

use cluster::{describe_exit, node_address, Cluster, Spec, Waits};

/// Bound for a cluster to settle: maturity (1 s) and a few balance
/// rounds, with room for a loaded machine.
const SETTLE: Duration = Duration::from_secs(20);
const EXIT: Duration = Duration::from_secs(10);

/// A cluster of `nodes` whose configurations name the built-in
/// membership (heartbeat 50 ms, time-out 1 s: nothing here is about
/// speed, and a loaded machine must not make a node look dead) and
/// `quorum`.
fn cluster(tag: &str, nodes: usize, vifs: usize, quorum: &str) -> Cluster {
    let cluster = Cluster::new(tag, Spec::new(nodes, vifs));
    let key = cluster.dir().join("cluster.key");
    builtin::keygen(&key);
    let listed: Vec<String> = (0..nodes).map(|i| node_address(i).to_string()).collect();
    for i in 0..nodes {
        let spread_free: String = cluster
            .config_text(i)
            .lines()
            .filter(|l| !l.starts_with("Spread"))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!(
            "Membership {{\n\tNodes {{ {} }}\n\tKey = {}\n\tHeartbeat = 50ms\n\tTimeout = 1s\n}}\n\
             Quorum = {quorum}\n{spread_free}",
            listed.join(" "),
            key.display()
        );
        cluster.write_config(i, &text);
    }
    cluster
}

/// Whether node `i` answers and reports a membership view of `members`.
fn in_view_of(cluster: &Cluster, i: usize, members: usize) -> bool {
    cluster.try_status(i).is_ok_and(|s| {
        s.membership()
            .and_then(|m| m.view.as_ref())
            .is_some_and(|v| v.members.len() == members)
    })
}

#[test]
fn three_nodes_form_one_view_split_the_vifs_and_report_it() {
    let mut cluster = cluster("m1", 3, 6, "majority");
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);

    let reply = cluster.status(1);
    let (status, text) = (&reply.doc, &reply.text);
    assert_eq!(status.state, "RUN", "{text}");
    assert_eq!(status.identity.as_deref(), Some("10.77.0.11"), "{text}");
    assert_eq!((status.member_count, status.held_count), (3, 2), "{text}");
    let service = status.service.as_ref().expect("the service");
    assert_eq!(service.name, "membership", "{text}");
    assert_eq!(service.state, "in view", "{text}");
    assert_eq!(service.endpoint, "udp:10.77.0.11:4810", "{text}");
    let m = reply.membership().expect("the membership's part");
    assert_eq!(m.node, 1, "{text}");
    let view = m.view.as_ref().expect("a view");
    assert_eq!(view.members.len(), 3, "{text}");
    for (i, member) in view.members.iter().enumerate() {
        assert!(
            member.starts_with(&format!("{}/", node_address(i))),
            "{text}"
        );
    }
    // The engine's members are the view's, in the same order.
    let names: Vec<&str> = status.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, view.members, "{text}");
    let states: Vec<&str> = m.nodes.iter().map(|n| n.state.as_str()).collect();
    assert_eq!(states, ["in view", "self", "in view"], "{text}");
    for (i, node) in m.nodes.iter().enumerate() {
        assert_eq!(node.address, node_address(i).to_string(), "{text}");
        assert!(node.incarnation.is_some(), "{text}");
        if i != 1 {
            // Heard lately (in view means within the time-out; the bound
            // is loose, for a loaded machine that answers late).
            assert!(node.last_heard_ms.is_some_and(|ms| ms < 10_000), "{text}");
        }
    }
    let quorum = status.quorum.as_ref().expect("the quorum");
    assert_eq!(
        (
            quorum.rule.as_str(),
            quorum.needed,
            quorum.members,
            quorum.met
        ),
        ("majority", 2, Some(3), true),
        "{text}"
    );
    // Every node agrees on the view.
    let ids: Vec<_> = (0..3).map(|i| cluster.status(i).doc.view_id).collect();
    assert!(
        ids.iter().all(|id| id.is_some() && *id == ids[0]),
        "{ids:?}"
    );
}

#[test]
fn sigterm_hands_over_at_once_and_a_lone_survivor_below_the_quorum_holds_nothing() {
    let mut cluster = cluster("m2", 3, 6, "majority");
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    let sampler = cluster.observer().sample(Duration::from_millis(2));

    // A clean stop: released before exit, taken by the others without
    // waiting for the time-out.
    let asked = Instant::now();
    cluster.signal(2, libc::SIGTERM);
    let status = cluster.wait_exit(2, EXIT);
    assert_eq!(status.code(), Some(0), "{}", describe_exit(status));
    cluster.wait_spread_as(&[3, 3, 0], SETTLE);
    println!("SIGTERM to VIFs up on the survivors: {:?}", asked.elapsed());

    // A crash: two of three met the majority, one alone does not.
    // (What the dead node had up stays on its interface until it starts
    // again and removes it.)
    cluster.kill(1);
    cluster.wait_for("the survivor releasing everything", SETTLE, |c| {
        c.holders()[0].is_empty()
    });
    // Its quorum lease lapses (Timeout / 2) before the view without the
    // dead node forms (Timeout): the addresses go first, the view after.
    cluster.wait_for("the survivor's view of one", SETTLE, |c| {
        c.try_status(0)
            .is_ok_and(|s| s.doc.quorum.as_ref().is_some_and(|q| q.members == Some(1)))
    });
    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    let quorum = status.quorum.as_ref().expect("the quorum");
    assert_eq!((quorum.members, quorum.met), (Some(1), false), "{text}");
    assert_eq!(status.state, "DISCONNECTED", "{text}");
    assert!(
        cluster.log(0).contains("below quorum"),
        "{}",
        cluster.log(0)
    );

    // A second node back: the quorum is met again, the VIFs come back.
    cluster.start(1);
    cluster.wait_spread_as(&[3, 3, 0], SETTLE);
    let report = sampler.finish_after(10, SETTLE);
    if report.sweeps < 10 || !report.doubles.is_empty() {
        cluster.fail(&format!("VIPs on two nodes at once: {report:?}"));
    }
}

#[test]
fn sighup_changes_timing_and_quorum_live() {
    let mut cluster = cluster("m3", 2, 4, "majority");
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2], SETTLE);

    // Slower timing on both, one after the other: the view holds.
    for i in 0..2 {
        let text = cluster
            .config_text(i)
            .replace("Heartbeat = 50ms", "Heartbeat = 60ms")
            .replace("Timeout = 1s", "Timeout = 1500ms");
        cluster.write_config(i, &text);
        cluster.signal(i, libc::SIGHUP);
        cluster.wait_for("the reload", SETTLE, |c| {
            c.log(i)
                .contains("configuration re-read: Heartbeat, Timeout now in effect")
        });
    }
    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    assert_eq!(status.held_count, 2, "{text}");

    // One of two dies (its cable first, so that what it held goes with
    // it): with a majority of two, the survivor holds nothing.
    cluster.cut(1);
    cluster.kill(1);
    cluster.wait_all_released(SETTLE);
    cluster.wait_for("the survivor's view of one", SETTLE, |c| {
        c.try_status(0)
            .is_ok_and(|s| s.doc.quorum.as_ref().is_some_and(|q| q.members == Some(1)))
    });
    // Told that one node is enough, it takes everything (it leaves and
    // joins again, so that its view is counted afresh).
    let text = cluster
        .config_text(0)
        .replace("Quorum = majority", "Quorum = none");
    cluster.write_config(0, &text);
    cluster.signal(0, libc::SIGHUP);
    cluster.wait_spread_as(&[4, 0], SETTLE);
    let log = cluster.log(0);
    assert!(log.contains("Quorum now in effect"), "{log}");
    assert!(log.contains("leaving and joining the group again"), "{log}");
    assert!(in_view_of(&cluster, 0, 1));

    // An AcceptKey holding Key's own key is refused on SIGHUP, and the
    // running configuration stays (tests/it/membership_rotation.rs rotates
    // keys for real).
    let key = cluster.dir().join("cluster.key");
    let copy = cluster.dir().join("copy.key");
    std::fs::copy(&key, &copy).expect("copy the key (and its mode)");
    let key_line = format!("Key = {}\n", key.display());
    let text = cluster.config_text(0).replace(
        &key_line,
        &format!("{key_line}\tAcceptKey = {}\n", copy.display()),
    );
    cluster.write_config(0, &text);
    cluster.signal(0, libc::SIGHUP);
    cluster.wait_for("the key refusal", SETTLE, |c| {
        c.log(0).contains(&format!(
            "configuration not reloaded: AcceptKey {} holds the same key as Key {}",
            copy.display(),
            key.display()
        ))
    });
    assert!(cluster
        .log(0)
        .contains("the running configuration and keys stay"));
    assert!(cluster.running(0));
}
