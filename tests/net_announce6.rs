//! The announcer on the wire for IPv6 and the periodic refresh: a sniffer
//! on the peer end of a veth, in namespaces the tests create, captures
//! what it sends (root only). IPv6 is on in these namespaces, so the
//! kernel's own traffic (router solicitations, MLD, DAD of link-local
//! addresses) also crosses the link; the checks pick the frames that
//! concern our addresses.

#[path = "support/announce_rig.rs"]
mod announce_rig;
#[path = "support/netns.rs"]
mod netns;
#[path = "support/sniffer.rs"]
mod sniffer;

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use announce_rig::{lan, Stack};
use sniffer::{Advertisement, Frame};
use wackamole::config::{NotifyTarget, VifAddress};
use wackamole::net::announce::AnnounceSettings;

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

fn vip(addr: &str, prefix_len: u8) -> VifAddress {
    let addr: IpAddr = addr.parse().expect("test address");
    VifAddress {
        interface: "va".into(),
        addr,
        prefix_len,
        network_len: if addr.is_ipv4() { 24 } else { prefix_len },
    }
}

/// What a frame announces: the VIP of a gratuitous ARP or of an
/// unsolicited neighbour advertisement.
fn announced(frame: &Frame) -> Option<IpAddr> {
    if let Some(arp) = frame.arp().filter(|a| a.is_gratuitous()) {
        return Some(arp.sender_ip.into());
    }
    frame
        .advertisement()
        .filter(|na| na.destination == ALL_NODES)
        .map(|na| na.target.into())
}

fn check_unsolicited(frame: &Frame, mac: [u8; 6], vip: Ipv6Addr) {
    assert_eq!(frame.destination(), [0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(frame.source(), mac);
    let na = frame.advertisement().expect("a neighbour advertisement");
    assert_eq!(
        na,
        Advertisement {
            source: vip,
            destination: ALL_NODES,
            hop_limit: 255,
            router: false,
            solicited: false,
            override_flag: true,
            target: vip,
            target_mac: Some(mac),
            checksum_ok: true,
        }
    );
}

#[test]
fn unsolicited_advertisements_every_field_and_the_gratuitous_schedule() {
    let lan = lan("na", Stack::Dual, AnnounceSettings::default());
    let vips = [
        vip("10.60.0.5", 24),
        vip("2001:db8:60::5", 64),
        vip("2001:db8:61::6", 128),
    ];
    lan.bring_up(&vips);
    let asked = Instant::now();
    lan.announcer.announce(0, vips.to_vec(), vec![], vec![]);
    let frames = lan.capture(Duration::from_millis(1200));
    lan.no_failure();
    for v in &vips {
        let sent: Vec<&Frame> = frames
            .iter()
            .filter(|f| announced(f) == Some(v.addr))
            .collect();
        assert_eq!(sent.len(), 3, "three announcements of {v}: {frames:?}");
        if let IpAddr::V6(addr) = v.addr {
            for frame in &sent {
                check_unsolicited(frame, lan.node_mac, addr);
            }
        }
        // One at once, the repeats within the first 500 ms.
        assert!(sent[0].at - asked < Duration::from_millis(100));
        assert!(sent[2].at - asked < Duration::from_millis(650));
        for pair in sent.windows(2) {
            assert!(pair[1].at - pair[0].at >= Duration::from_millis(200));
        }
    }
}

#[test]
fn ipv6_neighbours_in_notify_get_a_unicast_advertisement() {
    let lan = lan(
        "nan",
        Stack::Dual,
        AnnounceSettings {
            gratuitous_count: 1,
            ..AnnounceSettings::default()
        },
    );
    lan.peer.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:62::1/64",
        "dev",
        "vb",
        "nodad",
    ]);
    let address = vip("2001:db8:62::10", 64);
    lan.bring_up(std::slice::from_ref(&address));
    let neighbour: Ipv6Addr = "2001:db8:62::1".parse().unwrap();
    let notify = vec![NotifyTarget::Neighbour {
        interface: "va".into(),
        addr: neighbour,
    }];
    lan.announcer.announce(0, vec![address], notify, vec![]);
    let frames = lan.capture(Duration::from_millis(1500));
    lan.no_failure();
    let unicast: Vec<&Frame> = frames
        .iter()
        .filter(|f| {
            f.advertisement()
                .is_some_and(|na| na.destination == neighbour)
        })
        .collect();
    // Exactly one of ours (the kernel may also answer the neighbour's
    // solicitation, which has the Solicited flag).
    let ours: Vec<&&Frame> = unicast
        .iter()
        .filter(|f| !f.advertisement().unwrap().solicited)
        .collect();
    assert_eq!(ours.len(), 1, "{frames:?}");
    let frame = ours[0];
    assert_eq!(frame.destination(), lan.peer_mac);
    let vip: Ipv6Addr = "2001:db8:62::10".parse().unwrap();
    assert_eq!(
        frame.advertisement().unwrap(),
        Advertisement {
            source: vip,
            destination: neighbour,
            hop_limit: 255,
            router: false,
            solicited: false,
            override_flag: true,
            target: vip,
            target_mac: Some(lan.node_mac),
            checksum_ok: true,
        }
    );
}

#[test]
fn refresh_announces_every_held_address_once_per_period_one_at_a_time() {
    let period = Duration::from_millis(1000);
    let lan = lan(
        "rfr",
        Stack::Dual,
        AnnounceSettings {
            gratuitous_count: 1,
            refresh: Some(period),
            ..AnnounceSettings::default()
        },
    );
    let first = [vip("10.63.0.1", 24), vip("2001:db8:63::1", 64)];
    let second = [vip("10.63.0.2", 24), vip("2001:db8:63::2", 64)];
    lan.bring_up(&first);
    lan.bring_up(&second);
    lan.announcer.announce(0, first.to_vec(), vec![], vec![]);
    lan.announcer.announce(1, second.to_vec(), vec![], vec![]);
    // Initial announcements, then three periods of refresh.
    let frames = lan.capture(Duration::from_millis(3400));
    lan.no_failure();
    let ours: Vec<(Instant, IpAddr)> = frames
        .iter()
        .filter_map(|f| announced(f).map(|a| (f.at, a)))
        .collect();
    let start = ours[0].0;
    let refreshes: Vec<(Instant, IpAddr)> = ours
        .iter()
        .copied()
        .filter(|(at, _)| *at - start > Duration::from_millis(500))
        .collect();
    // 4 addresses, 3 periods: 12 refreshes (the first one period in).
    let all: Vec<IpAddr> = first.iter().chain(&second).map(|v| v.addr).collect();
    for a in &all {
        let count = refreshes.iter().filter(|(_, b)| b == a).count();
        assert!(
            (2..=3).contains(&count),
            "{a} refreshed {count} times in three periods: {refreshes:?}"
        );
    }
    assert!(refreshes.len() >= 10, "{refreshes:?}");
    // Paced: one address at a time, a quarter period apart; one sent late
    // (a busy machine) never brings the next closer than half of that.
    let spacing = period / 4;
    for pair in refreshes.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + Duration::from_millis(10) >= spacing / 2,
            "two refreshes {gap:?} apart: {refreshes:?}"
        );
    }
    let median = {
        let mut gaps: Vec<Duration> = refreshes.windows(2).map(|p| p[1].0 - p[0].0).collect();
        gaps.sort();
        gaps[gaps.len() / 2]
    };
    assert!(
        median + Duration::from_millis(10) >= spacing && median <= spacing + spacing / 2,
        "median spacing {median:?}, promised {spacing:?}"
    );
    // A released VIF is no longer refreshed.
    lan.announcer.cancel(0);
    let later = lan.capture(Duration::from_millis(1600));
    let refreshed: Vec<IpAddr> = later.iter().filter_map(announced).collect();
    assert!(
        refreshed
            .iter()
            .all(|a| !first.iter().any(|v| v.addr == *a)),
        "{refreshed:?}"
    );
    for v in &second {
        assert!(refreshed.contains(&v.addr), "{} not refreshed", v.addr);
    }
}
