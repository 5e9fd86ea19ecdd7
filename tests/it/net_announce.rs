//! The announcer on the wire: a sniffer on the peer end of a veth, in
//! namespaces the tests create, captures what it sends (root only).

use crate::support::{announce_rig, sniffer};

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use announce_rig::{Lan, Stack};
use sniffer::{Frame, STAMP_SLACK};
use wackamole::config::{Ipv4Block, NotifyTarget, VifAddress};
use wackamole::net::announce::{AnnounceReport, AnnounceSettings};

const BROADCAST: [u8; 6] = [0xff; 6];
/// Bound for an announcement to be done: generous, for a loaded machine.
const DONE: Duration = Duration::from_secs(30);

/// A rig on an IPv4-only link: every frame from the node is the
/// announcer's.
fn lan(tag: &str, settings: AnnounceSettings) -> Lan {
    announce_rig::lan(tag, Stack::Ipv4, settings)
}

fn vip(addr: [u8; 4], network_len: u8) -> VifAddress {
    VifAddress {
        interface: "va".into(),
        addr: Ipv4Addr::from(addr).into(),
        prefix_len: 32,
        network_len,
    }
}

fn ipv4(vip: &VifAddress) -> Ipv4Addr {
    vip.ipv4().expect("an IPv4 VIP")
}

fn network(
    interface: &str,
    addr: [u8; 4],
    prefix_len: u8,
    throttle: Option<u32>,
    ping: bool,
) -> NotifyTarget {
    NotifyTarget::Network {
        interface: interface.into(),
        block: Ipv4Block {
            addr: Ipv4Addr::from(addr),
            prefix_len,
        },
        throttle,
        ping,
    }
}

impl Lan {
    /// Waits for the report of VIF `vif_index`; fails on a failure report.
    fn wait_done(&self, vif_index: usize, within: Duration) {
        match self.reports.recv_timeout(within) {
            Ok(AnnounceReport::Done { vif_index: done }) => assert_eq!(done, vif_index),
            Ok(
                AnnounceReport::Failed { error, .. } | AnnounceReport::RefreshFailed { error, .. },
            ) => {
                panic!("announcement failed: {error}")
            }
            Err(_) => panic!("no report within {within:?}"),
        }
    }

    /// Everything from our MAC until the announcement of `vif_index` is
    /// done, plus a short grace for frames still in flight.
    fn capture_announcement(&self, vif_index: usize, within: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + within;
        let mut frames = Vec::new();
        loop {
            frames.extend(self.sniffer.capture_from(
                self.node_mac,
                Instant::now() + Duration::from_millis(50),
                |_| false,
            ));
            match self.reports.try_recv() {
                Ok(AnnounceReport::Done { vif_index: done }) => {
                    assert_eq!(done, vif_index);
                    break;
                }
                Ok(
                    AnnounceReport::Failed { error, .. }
                    | AnnounceReport::RefreshFailed { error, .. },
                ) => {
                    panic!("announcement failed: {error}")
                }
                Err(_) => assert!(
                    Instant::now() < deadline,
                    "announcement not done within {within:?}"
                ),
            }
        }
        frames.extend(self.sniffer.capture_from(
            self.node_mac,
            Instant::now() + Duration::from_millis(200),
            |_| false,
        ));
        frames
    }
}

/// Checks the fields every frame of ours shares (size, padding, Ethernet
/// header, ARP header, sender MAC) and returns the ARP packet.
fn check_arp(frame: &Frame, node_mac: [u8; 6], ethernet_destination: [u8; 6]) -> sniffer::Arp {
    assert_eq!(frame.bytes.len(), 60, "padded to 60 bytes");
    assert!(frame.bytes[42..].iter().all(|b| *b == 0), "zero padding");
    assert_eq!(frame.destination(), ethernet_destination);
    assert_eq!(frame.source(), node_mac);
    assert_eq!(frame.ethertype(), 0x0806);
    let arp = frame.arp().expect("an ARP frame");
    let header = (
        arp.hardware,
        arp.protocol,
        arp.hardware_len,
        arp.protocol_len,
    );
    assert_eq!(header, (1, 0x0800, 6, 4), "Ethernet/IPv4");
    assert_eq!(arp.sender_mac, node_mac);
    arp
}

/// Checks every field of a notification reply and returns its target.
fn check_notification(
    frame: &Frame,
    node_mac: [u8; 6],
    vip: Ipv4Addr,
    ethernet_destination: [u8; 6],
) -> Ipv4Addr {
    let arp = check_arp(frame, node_mac, ethernet_destination);
    assert_eq!(arp.operation, 2, "a reply");
    assert_eq!(arp.sender_ip, vip);
    assert_eq!(arp.target_mac, BROADCAST);
    arp.target_ip
}

fn is_gratuitous(frame: &Frame) -> bool {
    frame.arp().is_some_and(|a| a.is_gratuitous())
}

#[test]
fn gratuitous_arps_every_field_and_the_repeat_schedule() {
    let interval = Duration::from_millis(150);
    let settings = AnnounceSettings {
        gratuitous_count: 4,
        gratuitous_interval: interval,
        refresh: None,
    };
    let lan = lan("garp", settings);
    let vips = [vip([10, 30, 0, 5], 24), vip([10, 30, 1, 6], 24)];
    lan.bring_up(&vips);
    let asked = Instant::now();
    lan.announcer.announce(0, vips.to_vec(), vec![], vec![]);
    let frames = lan.capture_announcement(0, DONE);
    assert_eq!(frames.len(), 8, "4 per address, nothing else: {frames:?}");
    for vip in &vips {
        let sent: Vec<&Frame> = frames
            .iter()
            .filter(|f| f.arp().is_some_and(|a| a.sender_ip == vip.addr))
            .collect();
        assert_eq!(sent.len(), 4);
        for frame in &sent {
            let arp = check_arp(frame, lan.node_mac, BROADCAST);
            assert_eq!(arp.operation, 1, "an announcement is a request");
            assert_eq!(arp.sender_ip, vip.addr);
            assert_eq!((arp.target_mac, arp.target_ip), ([0; 6], ipv4(vip)));
        }
        // Repeat n is due n intervals after the request: late is possible
        // (a busy machine), early not. (Two sends may be closer than the
        // interval when the first was late.)
        for (n, frame) in sent.iter().enumerate() {
            let due = asked + interval * n as u32;
            assert!(
                frame.at + STAMP_SLACK >= due,
                "repeat {n} of {} sent {:?} after the request, due after {:?}",
                vip.addr,
                frame.at - asked,
                due - asked
            );
        }
    }
}

#[test]
fn throttled_network_walk_covers_every_target_at_a_bounded_rate() {
    let settings = AnnounceSettings {
        gratuitous_count: 1,
        gratuitous_interval: Duration::from_millis(100),
        refresh: None,
    };
    let lan = lan("thr", settings);
    let address = vip([10, 30, 0, 5], 24);
    lan.bring_up(std::slice::from_ref(&address));
    let notify = vec![
        network("va", [10, 30, 0, 16], 28, Some(4), false),
        network("vb", [10, 30, 0, 0], 24, None, false), // another interface
        network("va", [10, 31, 0, 0], 24, None, false), // outside the attached /24
    ];
    lan.announcer
        .announce(3, vec![address.clone()], notify, vec![]);
    let frames = lan.capture_announcement(3, DONE);
    let replies: Vec<&Frame> = frames.iter().filter(|f| !is_gratuitous(f)).collect();
    let mut per_target: BTreeMap<Ipv4Addr, Vec<Instant>> = BTreeMap::new();
    for frame in &replies {
        let target = check_notification(frame, lan.node_mac, ipv4(&address), BROADCAST);
        per_target.entry(target).or_default().push(frame.at);
    }
    let expected: Vec<Ipv4Addr> = (16..32).map(|i| Ipv4Addr::new(10, 30, 0, i)).collect();
    assert_eq!(
        per_target.keys().copied().collect::<Vec<_>>(),
        expected,
        "exactly the /28"
    );
    assert!(
        per_target.values().all(|times| times.len() == 2),
        "two replies each"
    );

    // 16 targets at 4 per second: four batches, each at least a second
    // after the previous one began (a late batch is later still, never
    // earlier), by the kernel's receive times. Counted loosely in
    // one-second windows from the first reply.
    let first = replies[0].at;
    let last = replies[replies.len() - 1].at;
    assert!(
        last - first >= Duration::from_millis(2500),
        "walk took only {:?}",
        last - first
    );
    let mut windows: BTreeMap<u64, usize> = BTreeMap::new();
    for times in per_target.values() {
        *windows.entry((times[0] - first).as_secs()).or_default() += 1;
    }
    assert!(
        windows.values().all(|n| *n <= 8),
        "targets per second: {windows:?}"
    );
}

#[test]
fn arp_cache_walk_sends_broadcast_and_unicast_replies_and_pings() {
    let lan = lan(
        "cache",
        AnnounceSettings {
            gratuitous_count: 1,
            gratuitous_interval: Duration::from_millis(100),
            refresh: None,
        },
    );
    let address = vip([10, 30, 0, 5], 24);
    lan.bring_up(std::slice::from_ref(&address));
    let other_mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let cache = vec![
        (Ipv4Addr::new(10, 30, 0, 50), lan.peer_mac),
        (Ipv4Addr::new(10, 30, 0, 51), other_mac),
        (Ipv4Addr::new(10, 99, 0, 1), other_mac), // outside the attached network
    ];
    lan.announcer.announce(
        1,
        vec![address.clone()],
        vec![NotifyTarget::ArpCache { ping: true }],
        cache,
    );
    let frames = lan.capture_announcement(1, DONE);
    let walk: Vec<&Frame> = frames.iter().filter(|f| !is_gratuitous(f)).collect();
    assert_eq!(
        walk.len(),
        10,
        "per entry: 2 broadcast, 2 unicast, 1 echo: {walk:?}"
    );
    for (chunk, (target, mac)) in walk.chunks(5).zip([
        (Ipv4Addr::new(10, 30, 0, 50), lan.peer_mac),
        (Ipv4Addr::new(10, 30, 0, 51), other_mac),
    ]) {
        for frame in &chunk[..2] {
            assert_eq!(
                check_notification(frame, lan.node_mac, ipv4(&address), BROADCAST),
                target
            );
        }
        for frame in &chunk[2..4] {
            assert_eq!(
                check_notification(frame, lan.node_mac, ipv4(&address), mac),
                target
            );
        }
        let echo = chunk[4];
        assert_eq!(echo.destination(), mac);
        assert_eq!(echo.source(), lan.node_mac);
        assert_eq!(echo.echo_request(), Some((ipv4(&address), target)));
        let ip = &echo.bytes[14..34];
        assert_eq!(
            wackamole::net::arp::internet_checksum(ip),
            0,
            "IP header checksum"
        );
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert_eq!(
            wackamole::net::arp::internet_checksum(&echo.bytes[34..14 + total]),
            0,
            "ICMP checksum"
        );
    }
}

#[test]
fn failures_are_reported_with_interface_and_address() {
    let lan = lan("fail", AnnounceSettings::default());
    lan.announcer.announce(
        5,
        vec![VifAddress {
            interface: "nosuch0".into(),
            ..vip([10, 30, 0, 5], 24)
        }],
        vec![],
        vec![],
    );
    match lan.reports.recv_timeout(DONE) {
        Ok(AnnounceReport::Failed { vif_index, error }) => {
            assert_eq!(vif_index, 5);
            assert!(
                error.to_string().contains("10.30.0.5 on nosuch0"),
                "{error}"
            );
            assert!(error.to_string().contains("no such interface"), "{error}");
        }
        other => panic!("expected a failure report, got {other:?}"),
    }
    // The worker carries on with the next announcement.
    let address = vip([10, 30, 0, 6], 24);
    lan.bring_up(std::slice::from_ref(&address));
    lan.announcer.announce(6, vec![address], vec![], vec![]);
    lan.wait_done(6, DONE);
}
