//! The announcer on the wire for IPv6 and the periodic refresh: a sniffer
//! on the peer end of a veth, in namespaces the tests create, captures
//! what it sends (root only). IPv6 is on in these namespaces, so the
//! kernel's own traffic (router solicitations, MLD, DAD of link-local
//! addresses) also crosses the link; the checks pick the frames that
//! concern our addresses.

use crate::support::{announce_rig, sniffer};

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use announce_rig::{lan, Lan, Stack};
use sniffer::{Advertisement, Frame, SEND_DELAY, STAMP_SLACK};
use wackamole::config::{NotifyTarget, VifAddress};
use wackamole::net::announce::AnnounceSettings;

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Bound for what the announcer owes to be seen: generous, for a loaded
/// machine.
const WITHIN: Duration = Duration::from_secs(30);
/// How long the capture goes on once everything owed was seen, to catch
/// frames that should not come.
const GRACE: Duration = Duration::from_millis(600);

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

/// Every frame from the node until `enough` holds for them (failing
/// after [`WITHIN`]), then [`GRACE`] more.
fn capture_until(lan: &Lan, what: &str, enough: impl Fn(&[Frame]) -> bool) -> Vec<Frame> {
    let deadline = Instant::now() + WITHIN;
    let mut frames = lan
        .sniffer
        .capture_from(lan.node_mac, deadline, |seen| enough(seen));
    assert!(
        enough(&frames),
        "{what} not seen within {WITHIN:?}: {frames:?}"
    );
    frames.extend(lan.capture(GRACE));
    frames
}

/// How many of `frames` announce `addr`.
fn announcements(frames: &[Frame], addr: IpAddr) -> usize {
    frames.iter().filter(|f| announced(f) == Some(addr)).count()
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
    let frames = capture_until(&lan, "three announcements of each address", |seen| {
        vips.iter().all(|v| announcements(seen, v.addr) >= 3)
    });
    lan.no_failure();
    let interval = AnnounceSettings::default().gratuitous_interval;
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
        // Announcement n is due n intervals after the request: late is
        // possible (a busy machine), early not.
        for (n, frame) in sent.iter().enumerate() {
            let due = asked + interval * n as u32;
            assert!(
                frame.at + STAMP_SLACK >= due,
                "announcement {n} of {v} {:?} after the request, due after {:?}",
                frame.at - asked,
                due - asked
            );
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
    // Ours is unsolicited (the kernel may also answer the neighbour's
    // solicitation, which has the Solicited flag).
    let ours_to_the_neighbour = |f: &Frame| {
        f.advertisement()
            .is_some_and(|na| na.destination == neighbour && !na.solicited)
    };
    let frames = capture_until(&lan, "the advertisement to the neighbour", |seen| {
        seen.iter().any(ours_to_the_neighbour)
    });
    lan.no_failure();
    // Exactly one.
    let ours: Vec<&Frame> = frames.iter().filter(|f| ours_to_the_neighbour(f)).collect();
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
    // Each address's first announcement is its acquisition; then three
    // refreshes of each.
    let all: Vec<IpAddr> = first.iter().chain(&second).map(|v| v.addr).collect();
    let frames = capture_until(&lan, "three refreshes of every address", |seen| {
        all.iter().all(|a| announcements(seen, *a) >= 4)
    });
    lan.no_failure();
    let refreshes = refreshes_of(&frames, &all);
    // One at a time, in turn: between two refreshes of an address every
    // other address is refreshed exactly once.
    for round in refreshes.windows(all.len()) {
        let mut addresses: Vec<IpAddr> = round.iter().map(|(_, a)| *a).collect();
        addresses.sort();
        addresses.dedup();
        assert_eq!(
            addresses.len(),
            all.len(),
            "not refreshed in turn: {refreshes:?}"
        );
    }
    // Paced a quarter period apart: one sent late (a busy machine) never
    // brings the next closer than half of that (less what the machine
    // may hold a frame once it is due), and none is sent before its
    // time, so over the whole run they are at least that far apart on
    // average (the first refresh, if late, is all that shortens it; a
    // quarter of the spacing is allowed for that).
    let spacing = period / 4;
    for pair in refreshes.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + SEND_DELAY >= spacing / 2,
            "two refreshes {gap:?} apart: {refreshes:?}"
        );
    }
    let span = refreshes[refreshes.len() - 1].0 - refreshes[0].0;
    let mean = span / (refreshes.len() - 1) as u32;
    assert!(
        mean >= spacing - spacing / 4,
        "refreshes {mean:?} apart on average, promised {spacing:?}: {refreshes:?}"
    );
    // A released VIF is no longer refreshed: after the cancel, only the
    // refresh the worker may have been sending at that moment.
    let cancelled = Instant::now();
    lan.announcer.cancel(0);
    let later = capture_until(&lan, "two refreshes of the VIF still held", |seen| {
        second.iter().all(|v| announcements(seen, v.addr) >= 2)
    });
    let refreshed: Vec<IpAddr> = later
        .iter()
        .filter(|f| f.at >= cancelled)
        .filter_map(announced)
        .collect();
    let released = |a: &IpAddr| first.iter().any(|v| v.addr == *a);
    let after_the_first = refreshed.get(1..).unwrap_or_default();
    assert!(!after_the_first.iter().any(released), "{refreshed:?}");
}

/// The refreshes among `frames`: every announcement of one of `addresses`
/// after that address's first (its acquisition), with its time.
fn refreshes_of(frames: &[Frame], addresses: &[IpAddr]) -> Vec<(Instant, IpAddr)> {
    let mut acquired: Vec<IpAddr> = Vec::new();
    frames
        .iter()
        .filter_map(|f| announced(f).map(|a| (f.at, a)))
        .filter(|(_, a)| addresses.contains(a))
        .filter(|(_, a)| {
            let first = !acquired.contains(a);
            acquired.push(*a);
            !first
        })
        .collect()
}
