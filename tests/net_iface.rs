//! VIP addresses on a veth in namespaces the tests create (root only).

#[path = "support/netns.rs"]
mod netns;

use std::net::Ipv4Addr;

use netns::Netns;
use wackamole::config::VifAddress;
use wackamole::net::error::Reason;
use wackamole::net::iface::{self, Outcome};

fn vip(interface: &str, addr: [u8; 4], prefix_len: u8) -> VifAddress {
    VifAddress {
        interface: interface.into(),
        addr: Ipv4Addr::from(addr).into(),
        prefix_len,
        network_len: 24,
    }
}

/// A namespace with veth `va` up, its peer in a second namespace.
fn node(tag: &str) -> (Netns, Netns) {
    let node = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    netns::veth(&node, "va", &peer, "vb");
    (node, peer)
}

/// `ip -4 addr` of `va` as "address/prefix brd BROADCAST label" lines,
/// sorted.
fn shown(ns: &Netns) -> Vec<String> {
    let mut lines: Vec<String> = ns
        .ip(&["-4", "-o", "addr", "show", "dev", "va"])
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |key: &str| words.iter().position(|w| *w == key).map(|i| words[i + 1]);
            // The label is the last word before the lifetimes.
            let lifetimes = words
                .iter()
                .position(|w| *w == "valid_lft")
                .expect("valid_lft");
            let label = words[lifetimes - 1].trim_end_matches('\\');
            format!(
                "{} brd {} {}",
                after("inet").expect("inet"),
                after("brd").unwrap_or("-"),
                label
            )
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn labels_and_idempotence() {
    let (node, _peer) = node("lab");
    let first = vip("va", [10, 20, 0, 5], 24);
    let second = vip("va", [10, 20, 1, 7], 32);
    let third = vip("va", [10, 20, 2, 9], 28);
    node.run(|| {
        assert_eq!(
            iface::bring_up(&first).unwrap(),
            Outcome::Added {
                label: "va:1".into()
            }
        );
        assert_eq!(
            iface::bring_up(&first).unwrap(),
            Outcome::AlreadyPresent {
                label: "va:1".into()
            }
        );
        assert_eq!(
            iface::bring_up(&second).unwrap(),
            Outcome::Added {
                label: "va:2".into()
            }
        );
    });
    assert_eq!(
        shown(&node),
        [
            "10.20.0.5/24 brd 10.20.0.255 va:1",
            "10.20.1.7/32 brd - va:2"
        ]
    );

    node.run(|| {
        assert!(matches!(iface::take_down(&first).unwrap(), Outcome::Removed { label, restored } if label == "va:1" && restored.is_empty()));
        assert_eq!(iface::take_down(&first).unwrap(), Outcome::AlreadyAbsent);
        // The lowest free label is reused.
        assert_eq!(iface::bring_up(&third).unwrap(), Outcome::Added { label: "va:1".into() });
        let listed = iface::list("va").unwrap();
        let summary: Vec<_> = listed.iter().map(|a| (a.label.as_str(), a.addr, a.prefix_len, a.broadcast)).collect();
        assert_eq!(
            summary,
            [
                ("va:2", Ipv4Addr::new(10, 20, 1, 7), 32, Ipv4Addr::UNSPECIFIED),
                ("va:1", Ipv4Addr::new(10, 20, 2, 9), 28, Ipv4Addr::new(10, 20, 2, 15)),
            ]
        );
    });
    assert_eq!(
        shown(&node),
        [
            "10.20.1.7/32 brd - va:2",
            "10.20.2.9/28 brd 10.20.2.15 va:1"
        ]
    );
    // An interface that does not exist holds nothing: removing is a success.
    node.run(|| {
        assert_eq!(
            iface::take_down(&vip("nosuch0", [10, 20, 0, 5], 24)).unwrap(),
            Outcome::AlreadyAbsent
        )
    });
}

#[test]
fn releasing_a_primary_keeps_the_other_vips_of_its_subnet() {
    let (node, _peer) = node("sec");
    // The condition under test: the kernel deletes secondaries with their
    // primary on this interface.
    assert_eq!(
        node.exec("sysctl", &["-n", "net.ipv4.conf.va.promote_secondaries"])
            .trim(),
        "0"
    );
    let a = vip("va", [10, 20, 0, 5], 24);
    let b = vip("va", [10, 20, 0, 6], 24);
    let c = vip("va", [10, 20, 0, 7], 24);
    node.run(|| {
        for v in [&a, &b, &c] {
            iface::bring_up(v).unwrap();
        }
    });
    // The operator's own address in the same subnet, with the plain label.
    node.ip(&["addr", "add", "10.20.0.9/24", "dev", "va"]);
    assert_eq!(
        shown(&node),
        [
            "10.20.0.5/24 brd 10.20.0.255 va:1",
            "10.20.0.6/24 brd 10.20.0.255 va:2",
            "10.20.0.7/24 brd 10.20.0.255 va:3",
            "10.20.0.9/24 brd - va"
        ]
    );
    let outcome = node.run(|| iface::take_down(&a).unwrap());
    let Outcome::Removed {
        label,
        mut restored,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(label, "va:1");
    restored.sort();
    assert_eq!(
        restored,
        [
            Ipv4Addr::new(10, 20, 0, 6),
            Ipv4Addr::new(10, 20, 0, 7),
            Ipv4Addr::new(10, 20, 0, 9)
        ]
    );
    let after = shown(&node);
    // Alias labels, masks and broadcasts are kept; the operator's address
    // comes back under a free alias label (ioctls cannot re-add under the
    // plain one).
    assert_eq!(
        after,
        [
            "10.20.0.6/24 brd 10.20.0.255 va:2",
            "10.20.0.7/24 brd 10.20.0.255 va:3",
            "10.20.0.9/24 brd - va:1"
        ]
    );
    // Releasing a secondary drops nothing else.
    let outcome = node.run(|| iface::take_down(&c).unwrap());
    assert_eq!(
        outcome,
        Outcome::Removed {
            label: "va:3".into(),
            restored: vec![]
        }
    );
    assert_eq!(shown(&node).len(), 2);
}

/// When one dropped address cannot be put back, the others still are, and
/// the error names the one that stays lost.
#[test]
fn a_vip_is_restored_even_when_another_address_cannot_be() {
    let node = Netns::new("rfail");
    let peer = Netns::new("rfailp");
    // 13 bytes: only the alias labels IF:1 to IF:9 fit.
    let dev = "restorefail13";
    netns::veth(&node, dev, &peer, "vb");
    let released = vip(dev, [10, 30, 0, 5], 24);
    node.run(|| {
        iface::bring_up(&released).unwrap();
        for n in 2..=8 {
            iface::bring_up(&vip(dev, [10, 31, n, 1], 24)).unwrap();
        }
    });
    let label1 = format!("{dev}:1");
    // IF:1 stays taken after the release (another subnet shares it), and
    // an operator's secondary with the plain label will find no free label.
    node.ip(&["addr", "add", "10.41.0.1/24", "dev", dev, "label", &label1]);
    node.ip(&["addr", "add", "10.30.0.7/24", "dev", dev]);
    let kept = vip(dev, [10, 30, 0, 6], 24);
    let up = node.run(|| iface::bring_up(&kept).unwrap());
    assert_eq!(
        up,
        Outcome::Added {
            label: format!("{dev}:9")
        }
    );
    let err = node.run(|| iface::take_down(&released).unwrap_err());
    assert_eq!(
        err.address,
        Some(Ipv4Addr::new(10, 30, 0, 7).into()),
        "{err}"
    );
    assert!(matches!(err.reason, Reason::LabelTooLong { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot restore 10.30.0.7 on {dev}")),
        "{text}"
    );
    let present = node.run(|| iface::list(dev).unwrap());
    let has = |a: [u8; 4]| present.iter().any(|p| p.addr == Ipv4Addr::from(a));
    assert!(!has([10, 30, 0, 5]), "{present:?}");
    assert!(
        has([10, 30, 0, 6]),
        "the restorable VIP was lost: {present:?}"
    );
    assert!(has([10, 41, 0, 1]), "{present:?}");
}

#[test]
fn leftovers_of_a_crashed_instance_are_removed_and_nothing_else() {
    let (node, _peer) = node("left");
    let configured = [
        vip("va", [10, 20, 0, 5], 24),
        vip("va", [10, 20, 3, 1], 32),
        vip("va", [10, 20, 4, 1], 24), // present with another mask: not ours
        vip("va", [10, 20, 5, 1], 24), // present under the plain label: not ours
        vip("va", [10, 20, 6, 1], 24), // absent
    ];
    node.run(|| {
        iface::bring_up(&configured[0]).unwrap();
        iface::bring_up(&configured[1]).unwrap();
    });
    node.ip(&["addr", "add", "10.20.4.1/16", "dev", "va", "label", "va:7"]);
    node.ip(&["addr", "add", "10.20.5.1/24", "dev", "va"]);
    let removed = node.run(|| iface::remove_leftovers(&configured).unwrap());
    assert_eq!(removed, configured[..2]);
    assert_eq!(
        shown(&node),
        ["10.20.4.1/16 brd - va:7", "10.20.5.1/24 brd - va"]
    );
}

#[test]
fn errors_name_interface_address_and_reason() {
    let (node, _peer) = node("err");
    // Spare veth pairs inside the test namespace (no dummy driver needed).
    node.ip(&[
        "link",
        "add",
        "name",
        "abcdefghijklmn",
        "type",
        "veth",
        "peer",
        "name",
        "long1",
    ]);
    node.ip(&["link", "set", "abcdefghijklmn", "up"]);
    node.ip(&[
        "link", "add", "name", "down0", "type", "veth", "peer", "name", "down1",
    ]);
    node.ip(&["addr", "add", "10.20.9.9/24", "dev", "va"]);
    node.run(|| {
        let err = iface::bring_up(&vip("nosuch0", [10, 20, 0, 5], 24)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot add 10.20.0.5 on nosuch0: no such interface (No such device (os error 19))"
        );

        let err = iface::bring_up(&vip("abcdefghijklmn", [10, 20, 0, 5], 24)).unwrap_err();
        assert!(matches!(err.reason, Reason::LabelTooLong { .. }));
        assert_eq!(
            err.to_string(),
            "cannot add 10.20.0.5 on abcdefghijklmn: alias label \"abcdefghijklmn:1\" would be 16 bytes, \
             longer than the 15 Linux allows"
        );

        let err = iface::bring_up(&vip("down0", [10, 20, 0, 5], 24)).unwrap_err();
        assert_eq!(err.to_string(), "cannot add 10.20.0.5 on down0: interface is down");

        let err = iface::bring_up(&vip("abcdefghijklmnop", [10, 20, 0, 5], 24)).unwrap_err();
        assert!(matches!(err.reason, Reason::BadInterfaceName), "{err}");

        let err = iface::take_down(&vip("va", [10, 20, 9, 9], 24)).unwrap_err();
        assert!(matches!(err.reason, Reason::NotAnAlias { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot remove 10.20.9.9 on va: "), "{err}");

        without_net_admin(|| {
            let err = iface::bring_up(&vip("va", [10, 20, 0, 5], 24)).unwrap_err();
            assert!(
                err.to_string().starts_with("cannot add 10.20.0.5 on va: permission denied"),
                "{err}"
            );
        });
    });
    // Nothing was added by any of the failures.
    assert_eq!(shown(&node), ["10.20.9.9/24 brd - va"]);
}

/// Runs `f` on a thread whose effective capabilities lack CAP_NET_ADMIN
/// (capabilities are per thread on Linux; the rest of the process keeps
/// them).
fn without_net_admin(f: impl FnOnce() + Send) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_ADMIN: u32 = 12;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut header = Header {
                    version: VERSION_3,
                    pid: 0,
                };
                let mut data = [Data::default(); 2];
                // SAFETY: capget/capset with a v3 header and two data words.
                unsafe {
                    assert_eq!(
                        libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
                        0
                    );
                    data[0].effective &= !(1 << CAP_NET_ADMIN);
                    assert_eq!(
                        libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()),
                        0,
                        "capset: {}",
                        std::io::Error::last_os_error()
                    );
                }
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
}

/// Listing while another thread adds and removes addresses: an address
/// that goes away between the kernel's list and the look-up of its mask is
/// simply left out, never an error.
#[test]
fn listing_races_with_removals_without_failing() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    // Both sides run until each has done this many rounds (however long
    // a loaded machine takes, within a generous bound).
    const ROUNDS: u32 = 500;
    const WITHIN: Duration = Duration::from_secs(120);
    let (node, _peer) = node("race");
    let churn: Vec<VifAddress> = (1..=8).map(|i| vip("va", [10, 21, 0, i], 24)).collect();
    let stop = AtomicBool::new(false);
    let listed = AtomicU32::new(0);
    let (churned, lists, failures) = std::thread::scope(|scope| {
        let churner = scope.spawn(|| {
            node.run(|| {
                let until = Instant::now() + WITHIN;
                let mut rounds = 0u32;
                while (rounds < ROUNDS || listed.load(Ordering::SeqCst) < ROUNDS)
                    && Instant::now() < until
                {
                    for address in &churn {
                        iface::bring_up(address).unwrap();
                    }
                    for address in &churn {
                        iface::take_down(address).unwrap();
                    }
                    rounds += 1;
                }
                stop.store(true, Ordering::SeqCst);
                rounds
            })
        });
        let (lists, failures) = node.run(|| {
            let (mut lists, mut failures) = (0u32, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                match iface::list("va") {
                    Ok(_) => lists += 1,
                    Err(e) => failures.push(e.to_string()),
                }
                listed.store(lists, Ordering::SeqCst);
            }
            (lists, failures)
        });
        (churner.join().expect("churner"), lists, failures)
    });
    assert!(
        churned >= ROUNDS && lists >= ROUNDS,
        "{churned} rounds of churn and {lists} listings in {WITHIN:?}, wanted {ROUNDS} each"
    );
    assert!(
        failures.is_empty(),
        "{} of {} listings failed: {:?}",
        failures.len(),
        lists + failures.len() as u32,
        &failures[..failures.len().min(3)]
    );
}
