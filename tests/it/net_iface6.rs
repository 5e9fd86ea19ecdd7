//! IPv6 VIP addresses through rtnetlink on a veth in namespaces the tests
//! create, with IPv6 and duplicate address detection on (root only).

use crate::support::netns;

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use netns::Netns;
use wackamole::config::VifAddress;
use wackamole::net::error::Reason;
use wackamole::net::iface::{self, Outcome, Renewal};
use wackamole::net::iface6;

fn vip(addr: &str, prefix_len: u8) -> VifAddress {
    VifAddress {
        interface: "va".into(),
        addr: addr.parse().expect("test address"),
        prefix_len,
        network_len: prefix_len,
    }
}

/// A namespace with veth `va` up (carrier on, so the kernel runs
/// duplicate address detection), its peer in a second namespace.
fn node(tag: &str) -> (Netns, Netns) {
    let node = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    netns::veth(&node, "va", &peer, "vb");
    for (ns, dev) in [(&node, "va"), (&peer, "vb")] {
        ns.exec(
            "sysctl",
            &["-q", "-w", &format!("net.ipv6.conf.{dev}.accept_dad=1")],
        );
        ns.exec(
            "sysctl",
            &["-q", "-w", &format!("net.ipv6.conf.{dev}.dad_transmits=3")],
        );
    }
    (node, peer)
}

/// `ip -6 addr` of `va` (global scope) as "address/prefix [tentative]"
/// lines, sorted.
fn shown(ns: &Netns) -> Vec<String> {
    let mut lines: Vec<String> = ns
        .ip(&["-6", "-o", "addr", "show", "dev", "va", "scope", "global"])
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "inet6").expect("inet6");
            let tentative = if words.contains(&"tentative") {
                " tentative"
            } else {
                ""
            };
            format!("{}{tentative}", words[at + 1])
        })
        .collect();
    lines.sort();
    lines
}

/// `addr` as `iface6::list` shows it on `va`.
fn listed(ns: &Netns, addr: &str) -> iface6::Ipv6InterfaceAddress {
    let addr: Ipv6Addr = addr.parse().expect("test address");
    let all = ns.run(|| iface6::list("va")).expect("list");
    all.into_iter()
        .find(|a| a.addr == addr)
        .unwrap_or_else(|| panic!("{addr} not listed"))
}

#[test]
fn an_address_comes_up_usable_at_once_and_idempotently() {
    let (node, _peer) = node("v6up");
    let first = vip("2001:db8:6::10", 64);
    let outcome = node.run(|| iface::bring_up(&first)).expect("bring up");
    assert_eq!(outcome, Outcome::Added { label: "va".into() });
    // Straight after the add: no duplicate address detection delay.
    assert_eq!(shown(&node), ["2001:db8:6::10/64"]);
    let ours = listed(&node, "2001:db8:6::10");
    assert!(ours.is_nodad() && !ours.is_tentative(), "{ours:?}");
    // The same address again (even with another prefix): nothing done.
    assert_eq!(
        node.run(|| iface::bring_up(&vip("2001:db8:6::10", 128)))
            .expect("again"),
        Outcome::AlreadyPresent { label: "va".into() }
    );
    assert_eq!(shown(&node), ["2001:db8:6::10/64"]);
    // Usable at once: a socket can bind to it.
    node.run(|| std::net::UdpSocket::bind("[2001:db8:6::10]:0").expect("bind to the new address"));
    // For contrast, an address added the usual way starts tentative.
    node.ip(&["-6", "addr", "add", "2001:db8:6::99/64", "dev", "va"]);
    assert_eq!(
        shown(&node),
        ["2001:db8:6::10/64", "2001:db8:6::99/64 tentative"]
    );
}

#[test]
fn releasing_one_address_leaves_every_other_in_place() {
    let (node, _peer) = node("v6rel");
    node.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:7::1/64",
        "dev",
        "va",
        "nodad",
    ]);
    node.ip(&["addr", "add", "10.70.0.1/24", "dev", "va"]);
    let vips = [
        vip("2001:db8:7::10", 64),
        vip("2001:db8:7::11", 64),
        vip("2001:db8:8::12", 128),
    ];
    node.run(|| {
        for v in &vips {
            iface::bring_up(v).expect("bring up");
        }
    });
    let v4_before = node.ip(&["-4", "-o", "addr", "show", "dev", "va"]);
    let outcome = node.run(|| iface::take_down(&vips[0])).expect("take down");
    assert_eq!(
        outcome,
        Outcome::Removed {
            label: "va".into(),
            restored: vec![]
        }
    );
    assert_eq!(
        shown(&node),
        [
            "2001:db8:7::1/64",
            "2001:db8:7::11/64",
            "2001:db8:8::12/128"
        ]
    );
    assert_eq!(
        node.ip(&["-4", "-o", "addr", "show", "dev", "va"]),
        v4_before
    );
    // The prefix route stays while another address of the prefix does.
    let routes = node.ip(&["-6", "route", "show", "dev", "va"]);
    assert!(routes.contains("2001:db8:7::/64"), "{routes}");
    // Absent already: success, nothing touched.
    assert_eq!(
        node.run(|| iface::take_down(&vips[0])).expect("again"),
        Outcome::AlreadyAbsent
    );
    assert_eq!(shown(&node).len(), 3);
}

#[test]
fn leftovers_of_a_crashed_instance_are_removed_and_nothing_else() {
    let (node, _peer) = node("v6left");
    // What a crashed instance left: added as we add them.
    node.run(|| iface::bring_up(&vip("2001:db8:9::10", 64)))
        .expect("up");
    // The operator's: added with duplicate address detection, or with
    // another prefix than the configured one.
    node.ip(&["-6", "addr", "add", "2001:db8:9::11/64", "dev", "va"]);
    node.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:9::12/80",
        "dev",
        "va",
        "nodad",
    ]);
    let configured = [
        vip("2001:db8:9::10", 64),
        vip("2001:db8:9::11", 64),
        vip("2001:db8:9::12", 64),
        vip("2001:db8:9::13", 64),
    ];
    let removed = node
        .run(|| iface::remove_leftovers(&configured))
        .expect("cleanup");
    assert_eq!(removed, vec![configured[0].clone()]);
    let left: Vec<String> = shown(&node)
        .into_iter()
        .map(|l| l.replace(" tentative", ""))
        .collect();
    assert_eq!(left, ["2001:db8:9::11/64", "2001:db8:9::12/80"]);
}

#[test]
fn errors_name_interface_address_and_kernel_reason() {
    let (node, _peer) = node("v6err");
    let missing = VifAddress {
        interface: "nosuch0".into(),
        ..vip("2001:db8:a::10", 64)
    };
    let err = node.run(|| iface::bring_up(&missing)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("cannot add 2001:db8:a::10 on nosuch0: no such interface"),
        "{text}"
    );
    node.ip(&["link", "set", "va", "down"]);
    let err = node
        .run(|| iface::bring_up(&vip("2001:db8:a::10", 64)))
        .unwrap_err();
    assert!(matches!(err.reason, Reason::InterfaceDown), "{err}");
    node.ip(&["link", "set", "va", "up"]);
    // IPv6 off on the interface: said as such, not as a missing
    // capability (the kernel answers EACCES).
    node.exec("sysctl", &["-q", "-w", "net.ipv6.conf.va.disable_ipv6=1"]);
    let err = node
        .run(|| iface::bring_up(&vip("2001:db8:a::10", 64)))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("cannot add 2001:db8:a::10 on va: IPv6 is disabled on the interface"),
        "{text}"
    );
}

const SECOND: Duration = Duration::from_secs(1);
/// How long past its lifetime an address may take to go on a loaded
/// machine (the kernel checks lifetimes from a work queue).
const GENEROUS: Duration = Duration::from_secs(8);

/// The line `ip -6 addr` prints for `addr` on `va`, lifetimes included.
fn ip_line(ns: &Netns, addr: &str) -> String {
    ns.ip(&["-6", "-o", "addr", "show", "dev", "va"])
        .lines()
        .find(|l| l.contains(&format!("inet6 {addr}/")))
        .unwrap_or("")
        .to_string()
}

fn wait_gone(ns: &Netns, addr: &str, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    while Instant::now() < until {
        if ip_line(ns, addr).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ip_line(ns, addr).is_empty()
}

#[test]
fn an_address_with_a_lifetime_expires_unless_renewed() {
    let (node, _peer) = node("v6ttl");
    let timed = vip("2001:db8:6::10", 64);
    let up = node
        .run(|| iface::bring_up_for(&timed, Some(SECOND)))
        .expect("up");
    assert_eq!(up, Outcome::Added { label: "va".into() });
    // Usable at once, as without a lifetime.
    assert_eq!(shown(&node), ["2001:db8:6::10/64"]);
    let line = ip_line(&node, "2001:db8:6::10");
    assert!(
        line.contains("nodad") && line.contains("valid_lft 1sec"),
        "{line}"
    );
    let ours = listed(&node, "2001:db8:6::10");
    assert!(ours.is_nodad() && !ours.is_tentative(), "{ours:?}");
    assert_eq!(ours.lifetime.map(|l| l <= SECOND), Some(true), "{ours:?}");
    assert!(
        wait_gone(&node, "2001:db8:6::10", SECOND + GENEROUS),
        "still there: {}",
        ip_line(&node, "2001:db8:6::10")
    );
    assert_eq!(
        node.run(|| iface::renew(&timed, SECOND)).expect("renew"),
        Renewal::Missing
    );
    assert!(shown(&node).is_empty(), "{:?}", shown(&node));
}

#[test]
fn an_address_stays_while_renewed() {
    let (node, _peer) = node("v6renew");
    let timed = vip("2001:db8:6::10", 64);
    node.run(|| {
        iface::bring_up_for(&timed, Some(SECOND)).expect("up");
        let until = Instant::now() + 3 * SECOND;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(
                iface::renew(&timed, SECOND).expect("renew"),
                Renewal::Renewed
            );
        }
    });
    assert_eq!(shown(&node), ["2001:db8:6::10/64"]);
    let line = ip_line(&node, "2001:db8:6::10");
    assert!(line.contains("nodad") && line.contains("dynamic"), "{line}");
    // The prefix route follows the address's lifetime, renewed with it.
    let routes = node.ip(&["-6", "route", "show", "dev", "va"]);
    assert!(routes.contains("2001:db8:6::/64"), "{routes}");
}

#[test]
fn an_address_added_by_hand_is_never_given_a_lifetime() {
    let (node, _peer) = node("v6perm");
    node.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:6::10/64",
        "dev",
        "va",
        "nodad",
    ]);
    let theirs = vip("2001:db8:6::10", 64);
    node.run(|| {
        assert_eq!(
            iface::bring_up_for(&theirs, Some(SECOND)).expect("up"),
            Outcome::AlreadyPermanent { label: "va".into() }
        );
        assert_eq!(
            iface::renew(&theirs, SECOND).expect("renew"),
            Renewal::Permanent
        );
    });
    std::thread::sleep(2 * SECOND);
    let line = ip_line(&node, "2001:db8:6::10");
    assert!(line.contains("valid_lft forever"), "{line}");
}

#[test]
fn an_address_with_a_lifetime_is_taken_down_like_any() {
    let (node, _peer) = node("v6down");
    let timed = vip("2001:db8:6::10", 64);
    let other = vip("2001:db8:6::11", 64);
    node.run(|| {
        iface::bring_up_for(&timed, Some(60 * SECOND)).expect("up");
        iface::bring_up_for(&other, Some(60 * SECOND)).expect("up");
        assert_eq!(
            iface::take_down(&timed).expect("down"),
            Outcome::Removed {
                label: "va".into(),
                restored: vec![]
            }
        );
        assert_eq!(
            iface::take_down(&timed).expect("again"),
            Outcome::AlreadyAbsent
        );
        assert_eq!(
            iface::renew(&timed, SECOND).expect("renew"),
            Renewal::Missing
        );
        assert_eq!(
            iface::renew(&other, SECOND).expect("renew"),
            Renewal::Renewed
        );
    });
    assert_eq!(shown(&node), ["2001:db8:6::11/64"]);
}
