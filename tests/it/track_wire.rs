//! Trackers on the wire (root only): clusters of the real binary in
//! network namespaces, every address change of every node's kernel seen
//! in kernel order by the witness (tests/it/support/addr_witness.rs), ARP on
//! the bridge captured. Each node has a tracked uplink `up0` whose peer
//! in the hub the test sets down and up (tests/it/support/track_rig.rs).
//!
//! - a pulled uplink: the node's addresses come up and are announced on
//!   the others, never on two nodes at once; the node stays in the view,
//!   its tracker fails; restored, it gets its share back after the
//!   hold-down; every node unhealthy: nothing moves (`Unservable = keep`);
//!   a link flapping 20 times in 2 s moves each address at most once per
//!   hold-down and changes health at most once per hold-down;
//! - a check command failing and passing again, a drain file, a SIGHUP
//!   that adds then removes a tracker (trackers[] and health follow), and
//!   every node drained under `Unservable = release`: all released;
//! - a VIF's own interface losing carrier: only the VIFs on it move, and
//!   their new holders announce them on that interface's bridge;
//! - the pulled uplink on Spread (the test daemon, our nodes only).

use crate::support::{
    addr_timeline, addr_witness, builtin, cluster, netns, promise_runs, scratch, status, track_rig,
};

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use addr_timeline::Timeline;
use addr_witness::Witness;
use builtin::Spec;
use cluster::{Capture, Waits};
use promise_runs::{Rig, SETTLE};
use status::Status;
use track_rig::{
    add_uplink, add_vif_link, track_block, uplink_peer, vif_link_address, vif_port, LinkSwitch,
    UPLINK, VIF_BRIDGE, VIF_LINK,
};
use wackamole::control::json::JsonTracker;

const NODES: usize = 3;
/// The hold-down of these tests: the default.
const HOLD_DOWN: Duration = Duration::from_secs(2);
/// Room for a loaded machine between two moves the hold-down separates.
const SLACK: Duration = Duration::from_millis(300);
/// Longest a hand-over or an announcement may take here.
const HANDOVER: Duration = Duration::from_secs(10);
/// How long "nothing moves" is watched.
const QUIET: Duration = Duration::from_secs(3);

fn all() -> Vec<usize> {
    (0..NODES).collect()
}

fn others(victim: usize) -> Vec<usize> {
    all().into_iter().filter(|&i| i != victim).collect()
}

fn v4(addr: IpAddr) -> Ipv4Addr {
    match addr {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => panic!("{a} is not IPv4"),
    }
}

/// `spec` with `track[i]` appended to node i's configuration.
fn with_tracks(mut spec: Spec, track: impl Fn(usize) -> String) -> Spec {
    for (i, text) in spec.extra.iter_mut().enumerate() {
        text.push_str(&track(i));
    }
    spec
}

/// A built-in cluster whose nodes each track their uplink, and the
/// switch of the hub's links.
fn uplinked(tag: &str, spec: Spec) -> (Rig, LinkSwitch) {
    let spec = with_tracks(spec, |_| {
        track_block(&[format!("Interface = {UPLINK}"), "HoldDown = 2s".into()])
    });
    let rig = Rig::new(tag, spec);
    for i in 0..rig.cluster.len() {
        add_uplink(rig.cluster.node(i).ns(), rig.cluster.hub(), i);
    }
    let switch = LinkSwitch::open(rig.cluster.hub());
    (rig, switch)
}

/// Whether `victim` holds none of `addrs` and each is on exactly one of
/// the others.
fn moved_off(timeline: &Timeline, addrs: &[IpAddr], victim: usize, others: &[usize]) -> bool {
    timeline.held_by(victim, addrs).is_empty() && timeline.each_once_among(addrs, others)
}

/// Fails when, from `since` on, any of the rig's addresses was on two
/// nodes at once.
fn never_two_holders(rig: &mut Rig, since: Instant, what: &str) {
    let timeline = rig.timeline();
    let analysis = timeline.analyse(&rig.vips, since);
    if !analysis.doubles.is_empty() {
        let mut text = String::new();
        for d in &analysis.doubles {
            let _ = writeln!(text, "  {}", timeline.interval(d));
        }
        rig.fail(&format!("{what}: an address on two nodes at once:\n{text}"));
    }
}

/// Waits until each of `addrs` has been announced (gratuitous ARP on the
/// bridge) since `since` by the node that holds it now, from its
/// `interface`.
fn announced_by_holders(
    rig: &mut Rig,
    capture: &Capture,
    interface: &str,
    addrs: &[IpAddr],
    since: Instant,
) {
    let timeline = rig.timeline();
    let deadline = Instant::now() + HANDOVER;
    for &addr in addrs {
        let holders = timeline.holders(addr);
        let [holder] = holders[..] else {
            rig.fail(&format!("{addr} is held by {holders:?}, not by one node"));
        };
        let mac = netns::mac_of(rig.cluster.node(holder).ns(), interface);
        if capture
            .wait_announced(v4(addr), mac, since, deadline)
            .is_none()
        {
            let seen = capture.summary();
            rig.fail(&format!(
                "{addr}, now on node {holder}, not announced from there within {HANDOVER:?}; \
                 {seen}"
            ));
        }
    }
}

/// Node `i`'s tracker of `kind` on `target`, from its JSON status.
fn tracker_of(status: &Status, kind: &str, target: &str) -> Option<JsonTracker> {
    status
        .doc
        .trackers
        .iter()
        .flatten()
        .find(|t| t.kind == kind && t.target == target)
        .cloned()
}

/// Waits until every node's status shows the member whose address is
/// `member` with the agreed `health`: health is agreed, not local.
fn wait_member_health(rig: &mut Rig, member: &Option<String>, health: &str) {
    for i in 0..NODES {
        let what = format!("node {i} sees member {member:?} as {health}");
        rig.cluster.wait_for(&what, SETTLE, |c| {
            c.try_status(i).is_ok_and(|s| {
                s.doc
                    .members
                    .iter()
                    .any(|m| &m.address == member && m.health.as_deref() == Some(health))
            })
        });
    }
}

/// Waits until node `i` shows its tracker of `kind` on `target` in
/// `state` (`None`: not listed at all).
fn wait_tracker(rig: &mut Rig, i: usize, kind: &str, target: &str, state: Option<&str>) {
    let what = format!("node {i}'s {kind} tracker of {target} in state {state:?}");
    rig.cluster.wait_for(&what, SETTLE, |c| {
        c.try_status(i)
            .is_ok_and(|s| tracker_of(&s, kind, target).map(|t| t.state).as_deref() == state)
    });
}

/// Waits (bounded) until `victim` holds none of `addrs` and each is on
/// one of the others.
fn wait_moved_off(rig: &mut Rig, addrs: &[IpAddr], victim: usize, why: &str) {
    let rest = others(victim);
    if rig
        .witness
        .wait_until(SETTLE, |t| moved_off(t, addrs, victim, &rest))
        .is_none()
    {
        rig.fail(&format!(
            "{why}: node {victim}'s addresses {addrs:?} not moved to nodes {rest:?} within \
             {SETTLE:?}"
        ));
    }
}

/// Waits until every address is on exactly one node but `victim`,
/// balanced within one among them, and every node (`victim` too: it stays
/// a member) is in one view.
fn settle_without(rig: &mut Rig, victim: usize) {
    let rest = others(victim);
    let vips = rig.vips.clone();
    let balanced = |t: &Timeline| {
        let counts: Vec<usize> = rest.iter().map(|&n| t.held_by(n, &vips).len()).collect();
        let (most, least) = (counts.iter().max(), counts.iter().min());
        t.each_once_among(&vips, &rest) && most.zip(least).is_some_and(|(m, l)| m - l <= 1)
    };
    if rig.witness.wait_until(SETTLE, balanced).is_none() {
        rig.fail(&format!(
            "every address not once among nodes {rest:?}, balanced, within {SETTLE:?}"
        ));
    }
    rig.cluster.wait_view_of(&all(), SETTLE);
}

/// Waits until node `i`'s log has `text`.
fn wait_log(rig: &mut Rig, i: usize, text: &str) {
    let what = format!("node {i} to log `{text}`");
    rig.cluster
        .wait_for(&what, SETTLE, |c| c.log(i).contains(text));
}

/// The number of changes of health node `i` logged after `from` bytes.
fn health_changes(rig: &Rig, i: usize, from: usize) -> usize {
    rig.cluster.log(i)[from..]
        .matches("health: this node is")
        .count()
}

#[test]
fn a_pulled_uplink_hands_over_without_overlap_and_the_node_takes_its_share_back() {
    let (mut rig, switch) = uplinked("tu", Spec::new(NODES, 6));
    let capture = rig.cluster.capture();
    rig.cluster.start_all();
    rig.settle(&all());
    let begin = Instant::now();

    // Node 0's uplink is pulled: its addresses go, it stays in the view.
    let orphans = rig.held_by(0);
    assert!(!orphans.is_empty(), "node 0 holds nothing");
    let pulled = Instant::now();
    switch.set(&uplink_peer(0), false);
    wait_moved_off(&mut rig, &orphans, 0, "uplink of node 0 pulled");
    announced_by_holders(&mut rig, &capture, cluster::INTERFACE, &orphans, pulled);
    wait_tracker(&mut rig, 0, "interface", UPLINK, Some("failing"));
    settle_without(&mut rig, 0);
    thread::sleep(HOLD_DOWN + Duration::from_secs(1));
    let kept = rig.held_by(0);
    if !kept.is_empty() {
        rig.fail(&format!(
            "node 0 is unhealthy but holds {kept:?} again while healthy nodes exist"
        ));
    }
    let status = rig.cluster.status(0);
    if status.view_size() != NODES {
        rig.fail(&format!(
            "node 0 left the view when its uplink was pulled: {}",
            status.summary()
        ));
    }
    wait_log(
        &mut rig,
        0,
        &format!("tracked interface {UPLINK} lost carrier"),
    );
    let node0 = status.doc.identity.clone();
    wait_member_health(&mut rig, &node0, "unhealthy");

    // Restored: after the hold-down and balancing it has its share again.
    switch.set(&uplink_peer(0), true);
    wait_tracker(&mut rig, 0, "interface", UPLINK, Some("passing"));
    rig.settle(&all());
    if rig.held_by(0).is_empty() {
        rig.fail("node 0 healthy again but holds nothing");
    }
    wait_member_health(&mut rig, &node0, "healthy");
    never_two_holders(&mut rig, begin, "uplink pulled and restored");

    // Every node unhealthy: what they hold stays where it is (keep).
    switch.set(&uplink_peer(1), false);
    switch.set(&uplink_peer(2), false);
    let vips = rig.vips.clone();
    if rig
        .witness
        .wait_until(SETTLE, |t| t.each_once_among(&vips, &[0]))
        .is_none()
    {
        rig.fail("nodes 1 and 2 unhealthy: node 0 did not take every address");
    }
    let everything_down = Instant::now();
    switch.set(&uplink_peer(0), false);
    thread::sleep(QUIET);
    let moved: Vec<String> = rig
        .timeline()
        .changes()
        .iter()
        .filter(|c| c.at >= everything_down && !c.added && vips.contains(&c.addr))
        .map(|c| format!("{} released by node {}", c.addr, c.node))
        .collect();
    if !moved.is_empty() || !rig.timeline().each_once_among(&vips, &[0]) {
        rig.fail(&format!(
            "every node unhealthy (Unservable = keep): {moved:?}, or not all on node 0"
        ));
    }
    wait_log(&mut rig, 0, "it stays with");
    for i in all() {
        switch.set(&uplink_peer(i), true);
    }
    rig.settle(&all());

    // A link flapping 20 times in 2 s: each address moves at most once
    // per hold-down, health changes at most once per hold-down.
    let logged = rig.cluster.log(1).len();
    let flapping = Instant::now();
    for _ in 0..20 {
        switch.set(&uplink_peer(1), false);
        thread::sleep(Duration::from_millis(50));
        switch.set(&uplink_peer(1), true);
        thread::sleep(Duration::from_millis(50));
    }
    let flapped = Instant::now();
    wait_tracker(&mut rig, 1, "interface", UPLINK, Some("passing"));
    rig.settle(&all());
    let window = Instant::now() - flapping;
    let allowed = (window.as_secs_f64() / HOLD_DOWN.as_secs_f64()).ceil() as usize + 1;
    let changes = health_changes(&rig, 1, logged);
    let timeline = rig.timeline();
    let moves = promise_runs::live_moves(&timeline, &rig.vips, flapping);
    let mut close = String::new();
    for (k, a) in moves.iter().enumerate() {
        if let Some(b) = moves[k + 1..].iter().find(|b| b.addr == a.addr) {
            if b.started().duration_since(a.started()) + SLACK < HOLD_DOWN {
                let _ = writeln!(
                    close,
                    "  {}\n  {}",
                    timeline.handover(a),
                    timeline.handover(b)
                );
            }
        }
    }
    println!(
        "flapping for {:?}: {changes} changes of health, {} moves over {window:?}",
        flapped - flapping,
        moves.len()
    );
    if changes == 0 || changes > allowed || !close.is_empty() {
        rig.fail(&format!(
            "a link flapping 20 times in 2 s: {changes} changes of health over {window:?} \
             (at most {allowed}), moves closer than the hold-down ({HOLD_DOWN:?}):\n{close}"
        ));
    }
    never_two_holders(&mut rig, begin, "the whole run");
}

#[test]
fn a_check_command_a_drain_file_and_a_reload_make_a_node_hand_over_and_come_back() {
    let scratch = scratch::Scratch::new("tc");
    let fail = scratch.path("fail");
    let drain = |i: usize| scratch.path(&format!("drain{i}"));
    let spec = with_tracks(Spec::new(NODES, 6), |i| {
        let mut lines = vec![
            format!("File = {}", drain(i).display()),
            "HoldDown = 500ms".into(),
            "Unservable = release".into(),
        ];
        if i == 1 {
            lines.push(format!(
                "Command = \"test ! -e {}\" {{ Interval = 200ms  Timeout = 100ms  Fall = 2  \
                 Rise = 2 }}",
                fail.display()
            ));
        }
        track_block(&lines)
    });
    let mut rig = Rig::new("tc", spec);
    rig.cluster.start_all();
    rig.settle(&all());
    let begin = Instant::now();
    let command = format!("test ! -e {}", fail.display());

    // The check command fails, then passes again.
    let held = rig.held_by(1);
    fs::write(&fail, "").expect("fail file");
    wait_moved_off(&mut rig, &held, 1, "check command failing");
    wait_tracker(&mut rig, 1, "command", &command, Some("failing"));
    wait_log(&mut rig, 1, "failed 2 times in a row");
    fs::remove_file(&fail).expect("fail file");
    wait_tracker(&mut rig, 1, "command", &command, Some("passing"));
    rig.settle(&all());

    // The drain file.
    let held = rig.held_by(1);
    fs::write(drain(1), "").expect("drain file");
    wait_moved_off(&mut rig, &held, 1, "drain file created");
    let target = drain(1).display().to_string();
    wait_tracker(&mut rig, 1, "file", &target, Some("failing"));
    fs::remove_file(drain(1)).expect("drain file");
    rig.settle(&all());
    wait_tracker(&mut rig, 1, "file", &target, Some("passing"));

    // SIGHUP adds a tracker that fails (node 2 drains), then removes it.
    let extra = scratch.path("extra");
    fs::write(&extra, "").expect("extra drain file");
    let before = rig.cluster.config_text(2);
    let added = before.replace(
        "Track {\n",
        &format!("Track {{\n\tFile = {}\n", extra.display()),
    );
    assert_ne!(before, added, "node 2's configuration has a Track block");
    let held = rig.held_by(2);
    rig.cluster.write_config(2, &added);
    rig.cluster.signal(2, libc::SIGHUP);
    let target = extra.display().to_string();
    wait_tracker(&mut rig, 2, "file", &target, Some("failing"));
    wait_moved_off(&mut rig, &held, 2, "a failing tracker added by SIGHUP");
    rig.cluster.write_config(2, &before);
    rig.cluster.signal(2, libc::SIGHUP);
    wait_tracker(&mut rig, 2, "file", &target, None);
    rig.settle(&all());

    // Every node drained under Unservable = release: nobody holds any.
    for i in [1, 2] {
        fs::write(drain(i), "").expect("drain file");
    }
    let vips = rig.vips.clone();
    if rig
        .witness
        .wait_until(SETTLE, |t| t.each_once_among(&vips, &[0]))
        .is_none()
    {
        rig.fail("nodes 1 and 2 drained: node 0 did not take every address");
    }
    fs::write(drain(0), "").expect("drain file");
    let released = |t: &Timeline| all().iter().all(|&i| t.held_by(i, &vips).is_empty());
    if rig.witness.wait_until(SETTLE, released).is_none() {
        rig.fail("every node drained under Unservable = release: addresses still held");
    }
    wait_log(&mut rig, 0, "released, nobody holds it");
    for i in all() {
        fs::remove_file(drain(i)).expect("drain file");
    }
    rig.settle(&all());
    never_two_holders(&mut rig, begin, "check command, drain file and reload");
}

#[test]
fn a_vifs_own_interface_losing_carrier_moves_only_the_vifs_on_it() {
    let mut rig = Rig::new("tv", Spec::new(NODES, 3));
    let own: Vec<IpAddr> = (0..3).map(|k| IpAddr::V4(vif_link_address(k))).collect();
    for i in 0..NODES {
        add_vif_link(rig.cluster.node(i).ns(), rig.cluster.hub(), i);
        let mut lines = String::new();
        for addr in &own {
            let _ = writeln!(lines, "\t{VIF_LINK}:{addr}/24");
        }
        let text = rig.cluster.config_text(i).replace(
            "VirtualInterfaces {\n",
            &format!("VirtualInterfaces {{\n{lines}"),
        );
        rig.cluster.write_config(i, &text);
    }
    rig.vips.extend(own.iter().copied());
    let switch = LinkSwitch::open(rig.cluster.hub());
    let capture = Capture::on_bridge(rig.cluster.hub(), VIF_BRIDGE);
    rig.cluster.start_all();
    rig.settle(&all());
    let begin = Instant::now();

    let Some(victim) = all()
        .into_iter()
        .find(|&i| !rig.timeline().held_by(i, &own).is_empty())
    else {
        rig.fail("nobody holds the VIFs on vx0");
    };
    let on_link = rig.timeline().held_by(victim, &own);
    let elsewhere: Vec<IpAddr> = rig
        .held_by(victim)
        .into_iter()
        .filter(|a| !own.contains(a))
        .collect();
    let pulled = Instant::now();
    switch.set(&vif_port(victim), false);
    wait_moved_off(
        &mut rig,
        &on_link,
        victim,
        "the VIFs' own interface lost carrier",
    );
    announced_by_holders(&mut rig, &capture, VIF_LINK, &on_link, pulled);
    wait_tracker(&mut rig, victim, "vif-interface", VIF_LINK, Some("failing"));
    thread::sleep(QUIET);
    let timeline = rig.timeline();
    let lost: Vec<String> = timeline
        .changes()
        .iter()
        .filter(|c| c.at >= pulled && c.node == victim && !c.added && elsewhere.contains(&c.addr))
        .map(|c| c.addr.to_string())
        .collect();
    if !lost.is_empty() || !timeline.held_by(victim, &own).is_empty() {
        rig.fail(&format!(
            "{VIF_LINK} of node {victim} without carrier: it released {lost:?} (on {}) too, or \
             holds VIFs on {VIF_LINK} again: {:?}",
            cluster::INTERFACE,
            timeline.held_by(victim, &own)
        ));
    }
    let status = rig.cluster.status(victim);
    if status.view_size() != NODES {
        rig.fail(&format!(
            "node {victim} left the view: {}",
            status.summary()
        ));
    }
    switch.set(&vif_port(victim), true);
    wait_tracker(&mut rig, victim, "vif-interface", VIF_LINK, Some("passing"));
    rig.settle(&all());
    never_two_holders(
        &mut rig,
        begin,
        "a VIF's interface lost and regained carrier",
    );
}

#[test]
fn a_pulled_uplink_hands_over_on_spread() {
    let spec = cluster::Spec {
        extra: (0..NODES)
            .map(|_| track_block(&[format!("Interface = {UPLINK}"), "HoldDown = 1s".into()]))
            .collect(),
        ..cluster::Spec::new(NODES, 6)
    };
    let mut cluster = cluster::Cluster::new("ts", spec);
    for i in 0..NODES {
        add_uplink(cluster.node(i).ns(), cluster.hub(), i);
    }
    let namespaces: Vec<_> = (0..NODES).map(|i| cluster.node(i).ns_file()).collect();
    let witness = Witness::start(cluster.hub(), &namespaces);
    let switch = LinkSwitch::open(cluster.hub());
    let capture = Capture::start(&cluster);
    let vips: Vec<IpAddr> = cluster.vips().iter().map(|&v| IpAddr::V4(v)).collect();
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    let begin = Instant::now();

    let orphans = cluster.holders()[0].clone();
    let orphans: Vec<IpAddr> = orphans.into_iter().map(IpAddr::V4).collect();
    let pulled = Instant::now();
    switch.set(&uplink_peer(0), false);
    if witness
        .wait_until(SETTLE, |t| moved_off(t, &orphans, 0, &[1, 2]))
        .is_none()
    {
        cluster.fail(&format!(
            "Spread: uplink of node 0 pulled: {orphans:?} not moved to nodes 1 and 2"
        ));
    }
    let timeline = witness.timeline();
    let deadline = Instant::now() + HANDOVER;
    for &addr in &orphans {
        let holder = timeline.holders(addr)[0];
        let mac = cluster.node(holder).mac;
        if capture
            .wait_announced(v4(addr), mac, pulled, deadline)
            .is_none()
        {
            let seen = capture.summary();
            cluster.fail(&format!(
                "Spread: {addr} not announced by node {holder}; {seen}"
            ));
        }
    }
    let members = cluster.members();
    if members.len() != NODES {
        cluster.fail(&format!(
            "Spread: node 0 left the group when its uplink was pulled: {members:?}"
        ));
    }
    thread::sleep(Duration::from_secs(2));
    if !witness.timeline().held_by(0, &orphans).is_empty() {
        cluster.fail("Spread: node 0 unhealthy but holds addresses again");
    }
    switch.set(&uplink_peer(0), true);
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    let timeline = witness.timeline();
    let doubles = timeline.analyse(&vips, begin).doubles;
    if !doubles.is_empty() {
        let text: Vec<String> = doubles.iter().map(|d| timeline.interval(d)).collect();
        cluster.fail(&format!(
            "Spread: an address on two nodes at once: {text:?}"
        ));
    }
}
