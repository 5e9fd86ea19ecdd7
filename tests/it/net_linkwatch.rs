//! The interface watcher against the real kernel, in namespaces the test
//! creates (root only): a veth whose peer goes down loses carrier, comes
//! back, is set down, renamed and deleted, and the watcher reports each.

use crate::support::netns;

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use netns::Netns;
use wackamole::net::linkwatch::{self, LinkEvent};

/// Generous: the kernel reports within milliseconds, but the machine is
/// shared.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits for the first event that `wanted` accepts; the time it took.
fn wait_for(events: &Receiver<LinkEvent>, what: &str, wanted: impl Fn(&LinkEvent) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if wanted(&event) => return,
            Ok(event) => seen.push(event),
            Err(_) => panic!("no report of {what} within {PATIENCE:?}; saw {seen:?}"),
        }
    }
}

fn link(name: &str, up: bool, carrier: bool) -> impl Fn(&LinkEvent) -> bool + '_ {
    move |event| {
        *event
            == LinkEvent::Link {
                name: name.to_string(),
                up,
                carrier,
            }
    }
}

fn gone(name: &str) -> impl Fn(&LinkEvent) -> bool + '_ {
    move |event| {
        *event
            == LinkEvent::Gone {
                name: name.to_string(),
            }
    }
}

#[test]
fn the_watcher_reports_carrier_state_renames_and_deletion() {
    let node = Netns::new("lw");
    let peer = Netns::new("lwp");
    // The kernel reports a lost carrier through its link-watch work, at
    // most once a second for all interfaces of the machine, unless the
    // change is urgent; for a veth it is urgent when the two ends have
    // different indices. Two links first in the peer's namespace make
    // them differ, so the time measured is the watcher's, not that
    // second (a physical NIC's carrier loss may wait up to it).
    peer.ip(&["link", "add", "x0", "type", "veth", "peer", "name", "x1"]);
    netns::veth(&node, "va", &peer, "vb");
    let (tx, events) = mpsc::channel();
    node.run(|| linkwatch::spawn(move |event| tx.send(event).is_ok()))
        .expect("the watcher starts");

    // The starting dump: both links of the namespace, then Synced.
    let mut dumped = Vec::new();
    loop {
        match events.recv_timeout(PATIENCE).expect("the dump") {
            LinkEvent::Synced => break,
            event => dumped.push(event),
        }
    }
    assert!(dumped.iter().any(link("va", true, true)), "{dumped:?}");
    assert!(dumped.iter().any(link("lo", true, true)), "{dumped:?}");

    // The peer goes down: carrier lost here.
    let pulled = Instant::now();
    peer.ip(&["link", "set", "vb", "down"]);
    let done = pulled.elapsed();
    wait_for(&events, "carrier lost", link("va", true, false));
    let took = pulled.elapsed();
    println!(
        "`ip link set down` on the peer to the watcher's report: {took:?} (the ip command \
         itself: {done:?})"
    );

    peer.ip(&["link", "set", "vb", "up"]);
    wait_for(&events, "carrier back", link("va", true, true));

    node.ip(&["link", "set", "va", "down"]);
    wait_for(&events, "administratively down", link("va", false, false));

    node.ip(&["link", "set", "va", "name", "wan0"]);
    wait_for(&events, "the old name gone", gone("va"));
    wait_for(&events, "the new name", link("wan0", false, false));

    node.ip(&["link", "del", "wan0"]);
    wait_for(&events, "the deletion", gone("wan0"));
}
