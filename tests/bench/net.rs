//! Acquisition latency: from asking for a VIF to be acquired (bring its
//! addresses up, hand it to the announcer) to the first announcement of
//! its primary captured on the peer end of the veth: a gratuitous ARP for
//! IPv4 VIFs, an unsolicited neighbour advertisement for IPv6 ones (added
//! through rtnetlink without duplicate address detection). Then, for
//! addresses with a lifetime: the stall bound, from the last renewal to
//! the kernel's removal of the address, and what a renewal costs. Root
//! only: runs in namespaces it creates. `cargo bench --bench net` prints
//! min/median/max.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{netns, sniffer};
#[path = "net_stall.rs"]
mod stall;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netns::Netns;
use sniffer::Sniffer;
use wackamole::config::VifAddress;
use wackamole::net::announce::{AnnounceSettings, Announcer};
use wackamole::net::iface;

const RUNS: usize = 200;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

fn main() {
    measure(Family::V4);
    measure(Family::V6);
    stall::bound();
    stall::renew_cost();
}

/// Address `i` of the VIF of run `run`, unique across the runs.
fn address(family: Family, run: usize, i: usize) -> VifAddress {
    let (addr, prefix_len, network_len): (IpAddr, u8, u8) = match family {
        Family::V4 => (
            Ipv4Addr::new(10, 40 + i as u8, (run / 250) as u8, (run % 250 + 1) as u8).into(),
            24,
            24,
        ),
        Family::V6 => (
            Ipv6Addr::new(0x2001, 0xdb8, 0xb0, i as u16, 0, 0, 0, run as u16 + 1).into(),
            64,
            64,
        ),
    };
    VifAddress {
        interface: "va".into(),
        addr,
        prefix_len,
        network_len,
    }
}

fn measure(family: Family) {
    let tag = if family == Family::V4 {
        "bench"
    } else {
        "bench6"
    };
    let node = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    if family == Family::V4 {
        netns::quiet_veth(&node, "va", &peer, "vb");
    } else {
        netns::veth(&node, "va", &peer, "vb");
    }
    let node_mac = netns::mac_of(&node, "va");
    let sniffer = peer.run(|| Sniffer::open("vb"));

    // The sniffer thread reports (announced address, capture time) of
    // every gratuitous ARP or unsolicited advertisement from the node.
    let (captured_tx, captured) = mpsc::channel::<(IpAddr, Instant)>();
    let (stop_tx, stop) = mpsc::channel::<()>();
    let sniffing = std::thread::spawn(move || {
        while stop.try_recv().is_err() {
            if let Some(frame) = sniffer.next(Instant::now() + Duration::from_millis(100)) {
                if frame.source() != node_mac {
                    continue;
                }
                if let Some(arp) = frame.arp().filter(sniffer::Arp::is_gratuitous) {
                    let _ = captured_tx.send((arp.sender_ip.into(), frame.at));
                }
                if let Some(na) = frame
                    .advertisement()
                    .filter(|na| na.destination == ALL_NODES)
                {
                    let _ = captured_tx.send((na.target.into(), frame.at));
                }
            }
        }
    });

    node.run(move || {
        let announcer = Announcer::spawn(AnnounceSettings::default(), |_| {}).expect("announcer");
        for size in [1usize, 8] {
            let mut samples = Vec::with_capacity(RUNS);
            let mut bring_ups = Vec::with_capacity(RUNS);
            for run in 0..RUNS {
                let vif: Vec<VifAddress> = (0..size).map(|i| address(family, run, i)).collect();
                let primary = vif[0].addr;
                let asked = Instant::now();
                for address in &vif {
                    iface::bring_up(address).expect("bring up");
                }
                bring_ups.push(asked.elapsed());
                announcer.announce(run, vif.clone(), vec![], vec![]);
                let seen = loop {
                    let (ip, at) = captured
                        .recv_timeout(Duration::from_secs(2))
                        .expect("announcement seen");
                    if ip == primary && at >= asked {
                        break at;
                    }
                };
                samples.push(seen - asked);
                announcer.cancel(run);
                for address in &vif {
                    iface::take_down(address).expect("take down");
                }
            }
            let plural = if size == 1 { "" } else { "es" };
            let (what, frame) = match family {
                Family::V4 => ("IPv4", "gratuitous ARP"),
                Family::V6 => ("IPv6", "neighbour advertisement"),
            };
            report(
                &format!(
                    "acquire -> first {frame} on the wire, VIF of {size} {what} address{plural}"
                ),
                samples,
            );
            report(
                &format!("  of which bringing up the {size} address{plural}"),
                bring_ups,
            );
        }
    });
    let _ = stop_tx.send(());
    let _ = sniffing.join();
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    println!(
        "net: {what}, {n} runs: min {:?}, median {:?}, max {:?}",
        samples[0],
        samples[n / 2],
        samples[n - 1]
    );
}
