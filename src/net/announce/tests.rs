//! The announcer's schedule in memory: a recording [`Link`] in place of
//! the packet sockets and a clock the tests move by hand, so which frames
//! go out, on which interface and at what time is checked exactly.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::arp::{self, Mac, BROADCAST_MAC};
use super::super::error::{Action, Error, Result};
use super::super::ndp;
use super::job::TURN;
use super::link::Link;
use super::schedule::{Schedule, LEASE_RETRY};
use super::{AnnounceReport, AnnounceSettings, Lease, Request};
use crate::base::{Ipv4Block, NotifyTarget, VifAddress};

const ETH0: Mac = [0x02, 0, 0, 0, 0, 0x10];
const ETH1: Mac = [0x02, 0, 0, 0, 0, 0x11];

/// What went out on the link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Sent {
    /// A whole Ethernet frame on an interface.
    Frame(&'static str, Vec<u8>),
    /// A unicast neighbour advertisement through the kernel:
    /// (interface, VIP, MAC, neighbour).
    Unicast(&'static str, Ipv6Addr, Mac, Ipv6Addr),
}

/// A link with interfaces `eth0` and `eth1` that records what is sent on
/// them, with the time the test's clock shows; interfaces in `down`
/// refuse to send, any other name does not exist.
struct Recorder {
    now: Instant,
    sent: Vec<(Instant, Sent)>,
    down: BTreeSet<&'static str>,
}

impl Recorder {
    fn new(now: Instant) -> Recorder {
        Recorder {
            now,
            sent: Vec::new(),
            down: BTreeSet::new(),
        }
    }

    /// The interface by name, or the error of opening a packet socket on
    /// one that does not exist.
    fn interface(&self, name: &str) -> Result<(&'static str, Mac)> {
        match name {
            "eth0" => Ok(("eth0", ETH0)),
            "eth1" => Ok(("eth1", ETH1)),
            _ => Err(Error::os(
                Action::OpenPacketSocket,
                name,
                None,
                io::Error::from_raw_os_error(libc::ENODEV),
            )),
        }
    }

    fn record(&mut self, interface: &'static str, sent: Sent) -> Result<()> {
        if self.down.contains(interface) {
            return Err(Error::os(
                Action::SendFrame,
                interface,
                None,
                io::Error::from_raw_os_error(libc::ENETDOWN),
            ));
        }
        self.sent.push((self.now, sent));
        Ok(())
    }

    /// Everything sent so far, forgotten here.
    fn take(&mut self) -> Vec<(Instant, Sent)> {
        std::mem::take(&mut self.sent)
    }
}

impl Link for Recorder {
    fn mac(&mut self, interface: &str) -> Result<Mac> {
        self.interface(interface).map(|(_, mac)| mac)
    }

    fn send(&mut self, interface: &str, frame: &[u8]) -> Result<()> {
        let (name, _) = self.interface(interface)?;
        self.record(name, Sent::Frame(name, frame.to_vec()))
    }

    fn advertise(
        &mut self,
        interface: &str,
        vip: Ipv6Addr,
        mac: Mac,
        neighbour: Ipv6Addr,
    ) -> Result<()> {
        let (name, _) = self.interface(interface)?;
        self.record(name, Sent::Unicast(name, vip, mac, neighbour))
    }
}

/// A report, comparable: (kind, VIF, error text).
fn summary(report: &AnnounceReport) -> (&'static str, usize, String) {
    match report {
        AnnounceReport::Done { vif_index } => ("done", *vif_index, String::new()),
        AnnounceReport::Failed { vif_index, error } => ("failed", *vif_index, error.to_string()),
        AnnounceReport::RefreshFailed { vif_index, error } => {
            ("refresh failed", *vif_index, error.to_string())
        }
    }
}

/// Runs `schedule` as the worker thread does, from one due time to the
/// next, from `from` up to `until`; returns the reports with their times.
fn run_until(
    schedule: &mut Schedule,
    link: &mut Recorder,
    from: Instant,
    until: Instant,
) -> Vec<(Instant, (&'static str, usize, String))> {
    let mut now = from;
    let mut reports = Vec::new();
    for _ in 0..100_000 {
        let Some(due) = schedule.next_due() else {
            return reports;
        };
        now = now.max(due);
        if now > until {
            return reports;
        }
        link.now = now;
        let done = schedule.run_due(now, link);
        reports.extend(done.iter().map(|r| (now, summary(r))));
    }
    panic!("the schedule never settled");
}

/// A schedule with `settings` (no lease) and an empty recorder, both
/// starting at the returned instant.
fn start(settings: AnnounceSettings) -> (Instant, Schedule, Recorder) {
    let t0 = Instant::now();
    (t0, Schedule::new(settings, None, t0), Recorder::new(t0))
}

/// Announcing once on acquiring, and refreshing every `period`.
fn refreshing(period: Duration) -> AnnounceSettings {
    AnnounceSettings {
        refresh: Some(period),
        ..once()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn vip(interface: &str, addr: &str, prefix_len: u8) -> VifAddress {
    let addr: IpAddr = addr.parse().expect("test address");
    VifAddress {
        interface: interface.into(),
        addr,
        prefix_len,
        network_len: if addr.is_ipv4() { 24 } else { prefix_len },
    }
}

fn v4(vip: &VifAddress) -> Ipv4Addr {
    vip.ipv4().expect("an IPv4 VIP")
}

fn network(addr: [u8; 4], prefix_len: u8, throttle: Option<u32>, ping: bool) -> NotifyTarget {
    NotifyTarget::Network {
        interface: "eth0".into(),
        block: Ipv4Block {
            addr: addr.into(),
            prefix_len,
        },
        throttle,
        ping,
    }
}

fn request(vif_index: usize, addresses: &[VifAddress], notify: Vec<NotifyTarget>) -> Request {
    Request {
        vif_index,
        addresses: addresses.to_vec(),
        notify,
        arp_cache: Vec::new(),
    }
}

fn once() -> AnnounceSettings {
    AnnounceSettings {
        gratuitous_count: 1,
        ..AnnounceSettings::default()
    }
}

/// The gratuitous announcement of `vip` as its interface sends it.
fn gratuitous(vip: &VifAddress) -> Sent {
    match (vip.interface.as_str(), vip.addr) {
        ("eth0", IpAddr::V4(addr)) => Sent::Frame("eth0", arp::gratuitous(ETH0, addr)),
        ("eth1", IpAddr::V4(addr)) => Sent::Frame("eth1", arp::gratuitous(ETH1, addr)),
        ("eth0", IpAddr::V6(addr)) => Sent::Frame("eth0", ndp::unsolicited(ETH0, addr)),
        ("eth1", IpAddr::V6(addr)) => Sent::Frame("eth1", ndp::unsolicited(ETH1, addr)),
        _ => panic!("no such test interface: {vip}"),
    }
}

/// The notification of `target` about `vip` (on eth0) to Ethernet
/// `destination`.
fn notification(vip: &VifAddress, target: Ipv4Addr, destination: Mac) -> Sent {
    Sent::Frame(
        "eth0",
        arp::notification(ETH0, v4(vip), target, destination),
    )
}

#[test]
fn one_announcement_at_once_and_the_repeats_within_500_ms_on_each_interface() {
    let (t0, mut schedule, mut link) = start(AnnounceSettings::default());
    let vips = [
        vip("eth0", "10.0.0.5", 32),
        vip("eth1", "2001:db8::5", 64),
        vip("eth1", "192.0.2.7", 32),
    ];
    assert_eq!(schedule.next_due(), None, "idle until asked");
    schedule.announce(request(4, &vips, vec![]), t0);
    assert_eq!(schedule.next_due(), Some(t0), "the first round at once");
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(5000));
    let expected: Vec<(Instant, Sent)> = [0, 250, 500]
        .iter()
        .flat_map(|&at| vips.iter().map(move |v| (t0 + ms(at), gratuitous(v))))
        .collect();
    assert_eq!(link.take(), expected);
    assert_eq!(reports, vec![(t0 + ms(500), ("done", 4, String::new()))]);
    assert_eq!(schedule.next_due(), None, "nothing left, no refresh");
}

#[test]
fn a_throttled_walk_notifies_its_block_in_batches_a_second_apart() {
    let (t0, mut schedule, mut link) = start(once());
    let address = vip("eth0", "10.30.0.5", 32);
    let notify = vec![
        network([10, 30, 0, 16], 28, Some(4), false),
        // Outside the attached /24: not walked.
        network([10, 31, 0, 0], 24, None, false),
    ];
    schedule.announce(request(3, std::slice::from_ref(&address), notify), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    let mut expected = vec![(t0, gratuitous(&address))];
    for batch in 0..4u8 {
        let at = t0 + Duration::from_secs(u64::from(batch));
        for host in 16 + 4 * batch..20 + 4 * batch {
            let target = Ipv4Addr::new(10, 30, 0, host);
            let frame = notification(&address, target, BROADCAST_MAC);
            expected.extend([(at, frame.clone()), (at, frame)]);
        }
    }
    assert_eq!(link.take(), expected);
    assert_eq!(reports, vec![(t0 + ms(3000), ("done", 3, String::new()))]);
}

#[test]
fn an_unthrottled_walk_goes_in_short_turns_and_release_stops_it() {
    let (t0, mut schedule, mut link) = start(once());
    let address = vip("eth0", "10.30.0.5", 32);
    let whole = || vec![network([10, 30, 0, 0], 24, None, false)];
    schedule.announce(request(2, std::slice::from_ref(&address), whole()), t0);
    // Each turn yields after TURN destinations (two frames each), due
    // again at once, so a command waiting meanwhile is applied between
    // turns.
    let turn = usize::try_from(2 * TURN).expect("small");
    assert!(schedule.run_due(t0, &mut link).is_empty());
    assert_eq!(link.take().len(), 1 + turn);
    assert_eq!(schedule.next_due(), Some(t0));
    assert!(schedule.run_due(t0, &mut link).is_empty());
    let second = link.take();
    assert_eq!(second.len(), turn);
    let first_target = Ipv4Addr::new(10, 30, 0, 32);
    assert_eq!(
        second[0],
        (t0, notification(&address, first_target, BROADCAST_MAC))
    );
    schedule.cancel(2);
    assert_eq!(schedule.next_due(), None);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    assert!(reports.is_empty(), "a released VIF reports nothing");
    assert!(link.take().is_empty(), "nothing after release");

    // Left alone, the same walk covers the whole /24.
    schedule.announce(request(2, std::slice::from_ref(&address), whole()), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    assert_eq!(reports, vec![(t0, ("done", 2, String::new()))]);
    assert_eq!(link.take().len(), 1 + 2 * 256);
}

#[test]
fn known_hosts_get_broadcast_and_unicast_replies_and_numbered_pings() {
    let (t0, mut schedule, mut link) = start(once());
    let address = vip("eth0", "10.30.0.5", 32);
    let (m1, m2) = ([0x02, 1, 1, 1, 1, 1], [0x02, 2, 2, 2, 2, 2]);
    let mut asked = request(
        1,
        std::slice::from_ref(&address),
        vec![
            network([10, 30, 0, 8], 30, None, true),
            NotifyTarget::ArpCache { ping: true },
        ],
    );
    asked.arp_cache = vec![
        (Ipv4Addr::new(10, 30, 0, 50), m1),
        (Ipv4Addr::new(10, 99, 0, 1), m2), // outside the attached network
        (Ipv4Addr::new(10, 30, 0, 51), m2),
    ];
    schedule.announce(asked, t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    assert_eq!(reports, vec![(t0, ("done", 1, String::new()))]);
    let echo = |target, mac, sequence| {
        Sent::Frame(
            "eth0",
            arp::echo_request(ETH0, v4(&address), target, mac, sequence),
        )
    };
    let mut expected = vec![gratuitous(&address)];
    // The network's hosts, MACs unknown: broadcast replies, a broadcast
    // ping.
    for (host, sequence) in (8..12).zip(1..) {
        let target = Ipv4Addr::new(10, 30, 0, host);
        let reply = notification(&address, target, BROADCAST_MAC);
        expected.extend([reply.clone(), reply, echo(target, BROADCAST_MAC, sequence)]);
    }
    // The cache's hosts: unicast replies too, and the ping to their MAC.
    for (host, mac, sequence) in [(50, m1, 5), (51, m2, 6)] {
        let target = Ipv4Addr::new(10, 30, 0, host);
        let broadcast = notification(&address, target, BROADCAST_MAC);
        let unicast = notification(&address, target, mac);
        expected.extend([
            broadcast.clone(),
            broadcast,
            unicast.clone(),
            unicast,
            echo(target, mac, sequence),
        ]);
    }
    let sent: Vec<Sent> = link.take().into_iter().map(|(_, s)| s).collect();
    assert_eq!(sent, expected);
}

#[test]
fn ipv6_neighbours_on_the_interface_get_one_unicast_advertisement() {
    let (t0, mut schedule, mut link) = start(once());
    let address = vip("eth0", "2001:db8::10", 64);
    let neighbour = |interface: &str, addr: &str| NotifyTarget::Neighbour {
        interface: interface.into(),
        addr: addr.parse().expect("test address"),
    };
    let notify = vec![
        neighbour("eth0", "2001:db8::1"),
        neighbour("eth1", "2001:db8::2"), // another interface
        neighbour("eth0", "fe80::1"),
    ];
    schedule.announce(request(0, std::slice::from_ref(&address), notify), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    assert_eq!(reports, vec![(t0, ("done", 0, String::new()))]);
    let vip6: Ipv6Addr = "2001:db8::10".parse().expect("test address");
    let to = |addr: &str| {
        let neighbour = addr.parse().expect("test address");
        (t0, Sent::Unicast("eth0", vip6, ETH0, neighbour))
    };
    assert_eq!(
        link.take(),
        vec![(t0, gratuitous(&address)), to("2001:db8::1"), to("fe80::1")]
    );
}

#[test]
fn a_new_announcement_of_a_vif_replaces_the_running_one() {
    let (t0, mut schedule, mut link) = start(once());
    let old = vip("eth0", "10.30.0.5", 32);
    let throttled = vec![network([10, 30, 0, 0], 24, Some(1), false)];
    schedule.announce(request(7, std::slice::from_ref(&old), throttled), t0);
    run_until(&mut schedule, &mut link, t0, t0 + ms(1500));
    assert_eq!(link.take().len(), 1 + 2 * 2, "two seconds' worth");
    let new = vip("eth1", "192.0.2.9", 32);
    schedule.announce(
        request(7, std::slice::from_ref(&new), vec![]),
        t0 + ms(1500),
    );
    let reports = run_until(&mut schedule, &mut link, t0 + ms(1500), t0 + ms(60_000));
    assert_eq!(link.take(), vec![(t0 + ms(1500), gratuitous(&new))]);
    assert_eq!(reports, vec![(t0 + ms(1500), ("done", 7, String::new()))]);
}

#[test]
fn link_failures_are_reported_per_vif_and_the_others_go_on() {
    let (t0, mut schedule, mut link) = start(AnnounceSettings::default());
    link.down.insert("eth1");
    let fine = vip("eth0", "10.0.0.5", 32);
    schedule.announce(request(0, std::slice::from_ref(&fine), vec![]), t0);
    schedule.announce(request(1, &[vip("eth1", "10.0.1.5", 32)], vec![]), t0);
    schedule.announce(request(2, &[vip("nosuch0", "10.30.0.5", 32)], vec![]), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(60_000));
    assert_eq!(
        reports,
        vec![
            (
                t0,
                (
                    "failed",
                    1,
                    "cannot send a frame 10.0.1.5 on eth1: interface is down \
                     (Network is down (os error 100))"
                        .to_string()
                )
            ),
            (
                t0,
                (
                    "failed",
                    2,
                    "cannot open a packet socket 10.30.0.5 on nosuch0: no such interface \
                     (No such device (os error 19))"
                        .to_string()
                )
            ),
            (t0 + ms(500), ("done", 0, String::new())),
        ]
    );
    let sent: Vec<Instant> = link.take().into_iter().map(|(at, _)| at).collect();
    assert_eq!(sent, vec![t0, t0 + ms(250), t0 + ms(500)], "VIF 0 as usual");

    // A walk that fails midway stops there, for good.
    let address = vip("eth1", "192.0.2.5", 32);
    let throttled = vec![NotifyTarget::Network {
        interface: "eth1".into(),
        block: Ipv4Block {
            addr: Ipv4Addr::new(192, 0, 2, 0),
            prefix_len: 24,
        },
        throttle: Some(2),
        ping: false,
    }];
    let t1 = t0 + ms(60_000);
    link.down.clear();
    schedule.announce(request(3, &[address], throttled), t1);
    assert!(run_until(&mut schedule, &mut link, t1, t1 + ms(500)).is_empty());
    assert_eq!(link.take().len(), 3 + 2 * 2, "three gratuitous, two hosts");
    link.down.insert("eth1");
    let reports = run_until(&mut schedule, &mut link, t1, t1 + ms(1500));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].0, t1 + ms(1000), "the next batch failed");
    assert_eq!(reports[0].1 .0, "failed");
    link.down.clear();
    assert!(run_until(&mut schedule, &mut link, t1, t1 + ms(60_000)).is_empty());
    assert!(link.take().is_empty(), "nothing after a failure");
}

#[test]
fn refresh_sends_each_held_address_once_per_period_evenly_spaced() {
    let period = ms(1000);
    let (t0, mut schedule, mut link) = start(refreshing(period));
    let first = [
        vip("eth0", "10.63.0.1", 32),
        vip("eth0", "2001:db8:63::1", 64),
    ];
    let second = [
        vip("eth1", "10.63.0.2", 32),
        vip("eth1", "2001:db8:63::2", 64),
    ];
    schedule.announce(request(0, &first, vec![]), t0);
    schedule.announce(request(1, &second, vec![]), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + ms(3000));
    assert_eq!(
        reports,
        vec![
            (t0, ("done", 0, String::new())),
            (t0, ("done", 1, String::new()))
        ]
    );
    let held: Vec<&VifAddress> = first.iter().chain(&second).collect();
    let mut expected: Vec<(Instant, Sent)> = held.iter().map(|v| (t0, gratuitous(v))).collect();
    // One period in, one address at a time, a quarter period apart.
    for (n, v) in held.iter().cycle().take(9).enumerate() {
        let at = t0 + period + period / 4 * u32::try_from(n).expect("small");
        expected.push((at, gratuitous(v)));
    }
    assert_eq!(link.take(), expected);

    // Released, VIF 0 is no longer refreshed; VIF 1 now has the period to
    // itself, half of it apart.
    schedule.cancel(0);
    assert!(run_until(&mut schedule, &mut link, t0 + ms(3000), t0 + ms(6000)).is_empty());
    let later = link.take();
    let announced: BTreeSet<Sent> = later.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(
        announced,
        second.iter().map(gratuitous).collect::<BTreeSet<_>>()
    );
    for pair in later.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, period / 2);
    }
}

#[test]
fn a_late_refresh_sends_one_address_and_keeps_half_the_spacing() {
    let period = ms(10_000);
    let (t0, mut schedule, mut link) = start(refreshing(period));
    let vips: Vec<VifAddress> = (1..=10)
        .map(|i| vip("eth0", &format!("10.64.0.{i}"), 32))
        .collect();
    schedule.announce(request(0, &vips, vec![]), t0);
    schedule.run_due(t0, &mut link);
    assert_eq!(link.take().len(), 10);
    assert_eq!(schedule.next_due(), Some(t0 + period));
    // The worker wakes two periods late: one address, not a burst.
    let late = t0 + 3 * period;
    link.now = late;
    assert!(schedule.run_due(late, &mut link).is_empty());
    assert_eq!(link.take(), vec![(late, gratuitous(&vips[0]))]);
    let gap = period / 10;
    assert_eq!(schedule.next_due(), Some(late + gap / 2));
    link.now = late + gap / 2;
    assert!(schedule.run_due(late + gap / 2, &mut link).is_empty());
    assert_eq!(link.take(), vec![(late + gap / 2, gratuitous(&vips[1]))]);
    assert_eq!(schedule.next_due(), Some(late + gap / 2 + gap));
}

#[test]
fn refresh_failures_are_reported_and_the_next_round_tries_again() {
    let period = ms(1000);
    let (t0, mut schedule, mut link) = start(refreshing(period));
    let address = vip("eth1", "10.65.0.1", 32);
    link.down.insert("eth1");
    schedule.announce(request(5, std::slice::from_ref(&address), vec![]), t0);
    let reports = run_until(&mut schedule, &mut link, t0, t0 + period);
    let kinds: Vec<(Instant, &str, usize)> = reports
        .iter()
        .map(|(at, (kind, vif, error))| {
            assert!(error.contains("10.65.0.1 on eth1"), "{error}");
            (*at, *kind, *vif)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![(t0, "failed", 5), (t0 + period, "refresh failed", 5)]
    );
    // The address is still held: once the link is back, it is refreshed.
    link.down.clear();
    let reports = run_until(&mut schedule, &mut link, t0 + period, t0 + 2 * period);
    assert!(reports.is_empty());
    assert_eq!(link.take(), vec![(t0 + 2 * period, gratuitous(&address))]);
}

/// With a lease, nothing is sent unless it was renewed within its maximum
/// age; held-back work waits (it is not dropped) unless released.
#[test]
fn a_lease_holds_frames_back_until_it_is_renewed() {
    let t0 = Instant::now();
    let lease = Arc::new(Lease::new(ms(150)));
    let settings = AnnounceSettings {
        gratuitous_count: 20,
        gratuitous_interval: ms(50),
        refresh: Some(ms(100)),
    };
    let mut schedule = Schedule::new(settings, Some(lease.clone()), t0);
    let mut link = Recorder::new(t0);
    let address = vip("eth0", "10.9.0.1", 32);
    schedule.announce(request(0, std::slice::from_ref(&address), vec![]), t0);
    assert!(run_until(&mut schedule, &mut link, t0, t0 + ms(300)).is_empty());
    assert!(link.take().is_empty(), "never renewed: silence");
    assert!(
        schedule.next_due() <= Some(t0 + ms(300) + LEASE_RETRY),
        "held back, looked at again soon"
    );

    lease.renew(t0 + ms(300));
    assert!(run_until(&mut schedule, &mut link, t0 + ms(300), t0 + ms(449)).is_empty());
    let renewed = link.take();
    assert!(!renewed.is_empty(), "renewed: the announcement runs");
    assert!(renewed.iter().all(|(at, _)| *at >= t0 + ms(300)));

    // Aged out: the rest waits...
    assert!(run_until(&mut schedule, &mut link, t0 + ms(450), t0 + ms(800)).is_empty());
    assert!(link.take().is_empty(), "a frame on an expired lease");
    // ... and goes on once renewed...
    lease.renew(t0 + ms(800));
    assert!(run_until(&mut schedule, &mut link, t0 + ms(800), t0 + ms(900)).is_empty());
    assert!(!link.take().is_empty());
    // ... unless released first.
    lease.revoke();
    run_until(&mut schedule, &mut link, t0 + ms(900), t0 + ms(1000));
    schedule.cancel(0);
    lease.renew(t0 + ms(1000));
    let reports = run_until(&mut schedule, &mut link, t0 + ms(1000), t0 + ms(5000));
    assert!(reports.is_empty(), "a released job reported: {reports:?}");
    assert!(link.take().is_empty(), "a released VIF went on");
}
