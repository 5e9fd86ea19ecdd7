//! Reading the kernel's ARP table of a namespace the test creates (root).

use crate::support::netns;

use std::net::Ipv4Addr;

use netns::Netns;
use wackamole::net::arptable::{self, ArpEntry};

#[test]
fn reads_complete_entries_of_the_namespace() {
    let node = Netns::new("arpt");
    let peer = Netns::new("arptp");
    netns::veth(&node, "va", &peer, "vb");
    node.ip(&["addr", "add", "10.50.0.1/24", "dev", "va"]);
    node.ip(&[
        "neigh",
        "add",
        "10.50.0.7",
        "lladdr",
        "02:00:00:00:00:07",
        "dev",
        "va",
        "nud",
        "permanent",
    ]);
    node.ip(&[
        "neigh",
        "add",
        "10.50.0.8",
        "lladdr",
        "02:00:00:00:00:08",
        "dev",
        "va",
        "nud",
        "reachable",
    ]);
    // Incomplete entries (flags 0x0) are covered by the parser's unit test.
    let mut entries = node.run(|| arptable::read().expect("read /proc/net/arp"));
    entries.sort_by_key(|e| e.addr);
    assert_eq!(
        entries,
        [
            ArpEntry {
                addr: Ipv4Addr::new(10, 50, 0, 7),
                mac: [2, 0, 0, 0, 0, 7],
            },
            ArpEntry {
                addr: Ipv4Addr::new(10, 50, 0, 8),
                mac: [2, 0, 0, 0, 0, 8],
            },
        ]
    );
}
