//! Acquisition latency: from asking for a VIF to be acquired (bring its
//! addresses up, hand it to the announcer) to the first gratuitous ARP
//! captured on the peer end of the veth. Root only: runs in namespaces it
//! creates. `cargo bench --bench net` prints min/median/max.

#[path = "../support/netns.rs"]
mod netns;
#[path = "../support/sniffer.rs"]
mod sniffer;

use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netns::Netns;
use sniffer::Sniffer;
use wackamole::config::VifAddress;
use wackamole::net::announce::{AnnounceSettings, Announcer};
use wackamole::net::iface;

const RUNS: usize = 200;

fn main() {
    let node = Netns::new("bench");
    let peer = Netns::new("benchp");
    netns::quiet_veth(&node, "va", &peer, "vb");
    let node_mac = netns::mac_of(&node, "va");
    let sniffer = peer.run(|| Sniffer::open("vb"));

    // The sniffer thread reports (sender address, capture time) of every
    // gratuitous ARP from the node.
    let (captured_tx, captured) = mpsc::channel::<(Ipv4Addr, Instant)>();
    let (stop_tx, stop) = mpsc::channel::<()>();
    let sniffing = std::thread::spawn(move || {
        while stop.try_recv().is_err() {
            if let Some(frame) = sniffer.next(Instant::now() + Duration::from_millis(100)) {
                if frame.source() != node_mac {
                    continue;
                }
                if let Some(arp) = frame.arp().filter(sniffer::Arp::is_gratuitous) {
                    let _ = captured_tx.send((arp.sender_ip, frame.at));
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
                let vif: Vec<VifAddress> = (0..size)
                    .map(|i| VifAddress {
                        interface: "va".into(),
                        addr: Ipv4Addr::new(
                            10,
                            40 + i as u8,
                            (run / 250) as u8,
                            (run % 250 + 1) as u8,
                        )
                        .into(),
                        prefix_len: 24,
                        network_len: 24,
                    })
                    .collect();
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
                        .expect("gratuitous ARP seen");
                    if ip == primary {
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
            report(
                &format!(
                    "acquire -> first gratuitous ARP on the wire, VIF of {size} address{plural}"
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
