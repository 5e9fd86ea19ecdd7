//! VIP addresses on a veth in namespaces the tests create (root only).

use crate::support::netns;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use netns::Netns;
use wackamole::config::VifAddress;
use wackamole::net::error::Reason;
use wackamole::net::iface::{self, Outcome, Renewal};

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

/// The label and the restored addresses (sorted) of a removal.
fn removed(outcome: Outcome) -> (String, Vec<Ipv4Addr>) {
    let Outcome::Removed {
        label,
        mut restored,
    } = outcome
    else {
        panic!("not a removal: {outcome:?}")
    };
    restored.sort();
    (label, restored)
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
    let (label, restored) = removed(node.run(|| iface::take_down(&a).unwrap()));
    assert_eq!(label, "va:1");
    assert_eq!(
        restored,
        [
            Ipv4Addr::new(10, 20, 0, 6),
            Ipv4Addr::new(10, 20, 0, 7),
            Ipv4Addr::new(10, 20, 0, 9)
        ]
    );
    let after = shown(&node);
    // Labels, masks and broadcasts are kept, the operator's plain label
    // too.
    assert_eq!(
        after,
        [
            "10.20.0.6/24 brd 10.20.0.255 va:2",
            "10.20.0.7/24 brd 10.20.0.255 va:3",
            "10.20.0.9/24 brd - va"
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

/// Dropped addresses come back under their own labels, even where no
/// alias label would be free for them (the ioctls of the original could
/// not put an address back under the interface's own label).
#[test]
fn dropped_addresses_come_back_even_when_no_alias_label_is_free() {
    let node = Netns::new("rfull");
    let peer = Netns::new("rfullp");
    // 13 bytes: only the alias labels IF:1 to IF:9 fit.
    let dev = "restorefull13";
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
    // the operator's secondary has the plain label.
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
    // Every label is taken now.
    let err = node.run(|| iface::bring_up(&vip(dev, [10, 32, 0, 1], 24)).unwrap_err());
    assert!(matches!(err.reason, Reason::LabelTooLong { .. }), "{err}");
    let outcome = node.run(|| iface::take_down(&released).unwrap());
    let Outcome::Removed {
        label,
        mut restored,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(label, label1);
    restored.sort();
    assert_eq!(
        restored,
        [Ipv4Addr::new(10, 30, 0, 6), Ipv4Addr::new(10, 30, 0, 7)]
    );
    let present = node.run(|| iface::list(dev).unwrap());
    let label_of = |a: [u8; 4]| {
        present
            .iter()
            .find(|p| p.addr == Ipv4Addr::from(a))
            .map(|p| p.label.clone())
    };
    assert_eq!(label_of([10, 30, 0, 5]), None, "{present:?}");
    assert_eq!(label_of([10, 30, 0, 6]), Some(format!("{dev}:9")));
    assert_eq!(label_of([10, 30, 0, 7]), Some(dev.to_string()));
    assert_eq!(label_of([10, 41, 0, 1]), Some(label1));
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

/// Polls `present` every 20 ms until it answers false, for at most
/// `bound`; whether it did.
fn gone_within(bound: Duration, mut present: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + bound;
    while Instant::now() < until {
        if !present() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !present()
}

/// The line `ip -4 addr` prints for `addr` on `va`, lifetimes included.
fn ip_line(ns: &Netns, addr: &str) -> String {
    ns.ip(&["-4", "-o", "addr", "show", "dev", "va"])
        .lines()
        .find(|l| l.contains(&format!("inet {addr}/")))
        .unwrap_or("")
        .to_string()
}

const SECOND: Duration = Duration::from_secs(1);
/// How long past its lifetime an address may take to go on a loaded
/// machine (the kernel checks lifetimes from a work queue).
const GENEROUS: Duration = Duration::from_secs(8);

#[test]
fn an_alias_with_a_lifetime_keeps_label_and_broadcast_and_expires_unless_renewed() {
    let (node, _peer) = node("ttl4");
    let timed = vip("va", [10, 20, 0, 5], 24);
    let up = node.run(|| iface::bring_up_for(&timed, Some(SECOND)).unwrap());
    assert_eq!(
        up,
        Outcome::Added {
            label: "va:1".into()
        }
    );
    assert_eq!(shown(&node), ["10.20.0.5/24 brd 10.20.0.255 va:1"]);
    let line = ip_line(&node, "10.20.0.5");
    assert!(
        line.contains("dynamic") && line.contains("valid_lft 1sec"),
        "{line}"
    );
    let listed = node.run(|| iface::list("va").unwrap());
    assert_eq!(
        listed[0].lifetime.map(|l| l <= SECOND),
        Some(true),
        "{listed:?}"
    );
    // Not renewed: the kernel removes it by itself.
    let gone = gone_within(SECOND + GENEROUS, || {
        !ip_line(&node, "10.20.0.5").is_empty()
    });
    assert!(gone, "still there: {}", ip_line(&node, "10.20.0.5"));
    // A renewal now says so, and adds nothing.
    let renewal = node.run(|| iface::renew(&timed, SECOND).unwrap());
    assert_eq!(renewal, Renewal::Missing);
    assert!(shown(&node).is_empty(), "{:?}", shown(&node));
    // Added again, it takes the label it had.
    let up = node.run(|| iface::bring_up_for(&timed, Some(SECOND)).unwrap());
    assert_eq!(
        up,
        Outcome::Added {
            label: "va:1".into()
        }
    );
}

#[test]
fn an_alias_stays_while_renewed() {
    let (node, _peer) = node("renew4");
    let timed = vip("va", [10, 20, 0, 5], 24);
    let other = vip("va", [10, 20, 1, 7], 32);
    node.run(|| {
        iface::bring_up_for(&timed, Some(SECOND)).unwrap();
        iface::bring_up_for(&other, Some(SECOND)).unwrap();
        // Three lifetimes long, renewed every 300 ms.
        let until = Instant::now() + 3 * SECOND;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(300));
            let renewed = iface::renew_all(&[timed.clone(), other.clone()], SECOND).unwrap();
            let renewed: Vec<Renewal> = renewed.into_iter().map(Result::unwrap).collect();
            assert_eq!(renewed, [Renewal::Renewed, Renewal::Renewed]);
        }
    });
    assert_eq!(
        shown(&node),
        [
            "10.20.0.5/24 brd 10.20.0.255 va:1",
            "10.20.1.7/32 brd - va:2"
        ]
    );
    // Renewed once more for longer, it outlives the first lifetime.
    node.run(|| assert_eq!(iface::renew(&timed, 30 * SECOND).unwrap(), Renewal::Renewed));
    let line = ip_line(&node, "10.20.0.5");
    assert!(
        line.contains("valid_lft 30sec") || line.contains("valid_lft 29sec"),
        "{line}"
    );
}

#[test]
fn an_address_added_by_hand_is_never_given_a_lifetime() {
    let (node, _peer) = node("perm4");
    node.ip(&["addr", "add", "10.20.0.9/24", "dev", "va"]);
    node.ip(&["addr", "add", "10.20.3.3/24", "dev", "va", "label", "va:5"]);
    let plain = vip("va", [10, 20, 0, 9], 24);
    let alias = vip("va", [10, 20, 3, 3], 24);
    node.run(|| {
        assert_eq!(
            iface::bring_up_for(&plain, Some(SECOND)).unwrap(),
            Outcome::AlreadyPermanent { label: "va".into() }
        );
        assert_eq!(
            iface::bring_up_for(&alias, Some(SECOND)).unwrap(),
            Outcome::AlreadyPermanent {
                label: "va:5".into()
            }
        );
        // Without a lifetime asked for, it is simply there.
        assert_eq!(
            iface::bring_up(&plain).unwrap(),
            Outcome::AlreadyPresent { label: "va".into() }
        );
        let renewed = iface::renew_all(&[plain.clone(), alias.clone()], SECOND).unwrap();
        let renewed: Vec<Renewal> = renewed.into_iter().map(Result::unwrap).collect();
        assert_eq!(renewed, [Renewal::Permanent, Renewal::Permanent]);
    });
    for addr in ["10.20.0.9", "10.20.3.3"] {
        let line = ip_line(&node, addr);
        assert!(line.contains("valid_lft forever"), "{line}");
    }
    // Well past the lifetime that was asked for: still there.
    std::thread::sleep(2 * SECOND);
    assert_eq!(shown(&node).len(), 2, "{:?}", shown(&node));
    let listed = node.run(|| iface::list("va").unwrap());
    assert!(listed.iter().all(|a| a.lifetime.is_none()), "{listed:?}");
}

#[test]
fn an_address_with_a_lifetime_is_taken_down_and_its_subnet_kept() {
    let (node, _peer) = node("down4");
    let long = 60 * SECOND;
    let a = vip("va", [10, 20, 0, 5], 24);
    let b = vip("va", [10, 20, 0, 6], 24);
    let c = vip("va", [10, 20, 0, 7], 24);
    node.run(|| {
        for v in [&a, &b, &c] {
            iface::bring_up_for(v, Some(long)).unwrap();
        }
    });
    node.ip(&["addr", "add", "10.20.0.9/24", "dev", "va"]);
    let (label, restored) = removed(node.run(|| iface::take_down(&a).unwrap()));
    assert_eq!(label, "va:1");
    assert_eq!(
        restored,
        [6, 7, 9].map(|last| Ipv4Addr::new(10, 20, 0, last))
    );
    assert_eq!(
        shown(&node),
        [
            "10.20.0.6/24 brd 10.20.0.255 va:2",
            "10.20.0.7/24 brd 10.20.0.255 va:3",
            "10.20.0.9/24 brd - va"
        ]
    );
    // The VIPs that came back kept their lifetime (and stay ours to
    // renew); the operator's stayed permanent.
    let listed = node.run(|| iface::list("va").unwrap());
    let lifetime = |last: u8| {
        listed
            .iter()
            .find(|l| l.addr == Ipv4Addr::new(10, 20, 0, last))
            .and_then(|l| l.lifetime)
    };
    for last in [6, 7] {
        let left = lifetime(last).expect("a lifetime");
        assert!(left > long / 2 && left <= long, "{last}: {left:?}");
    }
    assert_eq!(lifetime(9), None);
    node.run(|| {
        let renewed = iface::renew_all(&[b.clone(), c.clone(), a.clone()], long).unwrap();
        let renewed: Vec<Renewal> = renewed.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            renewed,
            [Renewal::Renewed, Renewal::Renewed, Renewal::Missing]
        );
        assert_eq!(iface::take_down(&a).unwrap(), Outcome::AlreadyAbsent);
        assert!(matches!(
            iface::take_down(&c).unwrap(),
            Outcome::Removed { .. }
        ));
    });
}

/// Why a renewal reads the addresses twice: asked to replace the
/// lifetime of an address that is not there, the kernel adds it (even
/// without NLM_F_CREATE). Should a kernel stop doing so, renewals could
/// do with one request.
#[test]
fn the_kernel_adds_a_missing_address_on_replace() {
    use wackamole::net::addrmsg::{Change, KernelAddress, Lifetimes};
    use wackamole::net::netlink::Netlink;

    let (node, _peer) = node("repl4");
    let link = node.ip(&["-o", "link", "show", "dev", "va"]);
    let index: u32 = link
        .split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index in {link}"));
    let address = KernelAddress::new(
        index,
        Ipv4Addr::new(10, 20, 0, 5).into(),
        24,
        Some("va:4".into()),
        Some(Lifetimes::both(30)),
    );
    node.run(|| {
        let mut nl = Netlink::open().unwrap();
        nl.change(Change::Replace, &address).unwrap();
    });
    assert_eq!(shown(&node), ["10.20.0.5/24 brd 10.20.0.255 va:4"]);
}

/// Renewals racing with another thread that adds and removes the
/// address: a renewal never fails, and what it adds back when the address
/// goes between its reads it removes again (the other thread's removal
/// may then find it still there: it is told so). Once the address is
/// removed for good, a renewal finds it missing and leaves it so.
#[test]
fn renewals_racing_with_removals_never_add_the_address() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let (node, _peer) = node("race4");
    let churned = vip("va", [10, 20, 0, 5], 24);
    let stop = AtomicBool::new(false);
    let hard_stop = Instant::now() + Duration::from_secs(20);
    let (failures, answers) = std::thread::scope(|scope| {
        let churn = scope.spawn(|| {
            node.run(|| {
                let mut failures = Vec::new();
                let until = Instant::now() + Duration::from_millis(1500);
                while Instant::now() < until {
                    if let Err(e) = iface::bring_up_for(&churned, Some(5 * SECOND)) {
                        failures.push(e.to_string());
                    }
                    match iface::take_down(&churned) {
                        Err(e) if !matches!(e.reason, Reason::StillPresent) => {
                            failures.push(e.to_string())
                        }
                        _ => {}
                    }
                }
                // Removed for good, even if the last removal raced.
                while iface::take_down(&churned).is_err() && Instant::now() < hard_stop {}
                stop.store(true, Ordering::SeqCst);
                failures
            })
        });
        let answers = node.run(|| {
            let mut answers = Vec::new();
            while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
                answers.push(iface::renew(&churned, 5 * SECOND).map_err(|e| e.to_string()));
            }
            answers
        });
        (churn.join().expect("the churning thread"), answers)
    });
    assert!(failures.is_empty(), "{failures:?}");
    assert!(!answers.is_empty(), "no renewal ran");
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Ok(Renewal::Renewed | Renewal::Missing))),
        "{:?}",
        answers
            .iter()
            .filter(|a| a.is_err())
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        node.run(|| iface::renew(&churned, 5 * SECOND).unwrap()),
        Renewal::Missing
    );
    assert!(shown(&node).is_empty(), "{:?}", shown(&node));
}

#[test]
fn renew_all_answers_each_address_in_order() {
    let (node, _peer) = node("all4");
    let ours = vip("va", [10, 20, 0, 5], 24);
    let removed_by_hand = vip("va", [10, 20, 0, 6], 24);
    let operators = vip("va", [10, 20, 0, 9], 24);
    let ours6 = VifAddress {
        addr: "2001:db8:44::5".parse().unwrap(),
        prefix_len: 64,
        ..ours.clone()
    };
    let elsewhere = vip("nosuch0", [10, 20, 0, 5], 24);
    let bad_name = vip("a:b", [10, 20, 0, 5], 24);
    node.run(|| {
        for v in [&ours, &removed_by_hand, &ours6] {
            iface::bring_up_for(v, Some(30 * SECOND)).unwrap();
        }
    });
    node.ip(&["addr", "del", "10.20.0.6/24", "dev", "va"]);
    node.ip(&["addr", "add", "10.20.0.9/24", "dev", "va"]);
    let answers = node.run(|| {
        iface::renew_all(
            &[
                ours.clone(),
                removed_by_hand.clone(),
                operators.clone(),
                ours6.clone(),
                elsewhere.clone(),
                bad_name.clone(),
            ],
            10 * SECOND,
        )
        .unwrap()
    });
    let (last, answers) = answers.split_last().unwrap();
    let answers: Vec<Renewal> = answers.iter().map(|a| *a.as_ref().unwrap()).collect();
    assert_eq!(
        answers,
        [
            Renewal::Renewed,
            Renewal::Missing,
            Renewal::Permanent,
            Renewal::Renewed,
            Renewal::Missing
        ]
    );
    let err = last.as_ref().unwrap_err();
    assert!(matches!(err.reason, Reason::BadInterfaceName), "{err}");
    let line = ip_line(&node, "10.20.0.5");
    assert!(
        line.contains("valid_lft 10sec") || line.contains("valid_lft 9sec"),
        "{line}"
    );
    assert!(shown(&node).iter().all(|l| !l.contains("10.20.0.6")));
    // A lifetime of zero is refused before anything is done.
    let err =
        node.run(|| iface::renew_all(std::slice::from_ref(&ours), Duration::ZERO).unwrap_err());
    assert!(matches!(err.reason, Reason::BadLifetime { .. }), "{err}");
}

/// What a lifetime cannot avoid: when the kernel lets a primary VIP
/// expire (its holder stalled), it deletes the secondaries of the subnet
/// with it, an operator's permanent one included, with nobody to put them
/// back, unless `promote_secondaries` is set on the interface.
#[test]
fn an_expiring_primary_takes_its_secondaries_unless_they_are_promoted() {
    let (node, _peer) = node("promo4");
    let primary = vip("va", [10, 20, 0, 5], 24);
    let expire_with = |promote: &str| {
        node.exec(
            "sysctl",
            &[
                "-q",
                "-w",
                &format!("net.ipv4.conf.va.promote_secondaries={promote}"),
            ],
        );
        let up = node.run(|| iface::bring_up_for(&primary, Some(SECOND)).unwrap());
        assert_eq!(
            up,
            Outcome::Added {
                label: "va:1".into()
            }
        );
        node.ip(&["addr", "add", "10.20.0.9/24", "dev", "va"]);
        let gone = gone_within(SECOND + GENEROUS, || {
            !ip_line(&node, "10.20.0.5").is_empty()
        });
        assert!(gone, "{:?}", shown(&node));
        let left = shown(&node);
        node.ip(&["addr", "flush", "dev", "va"]);
        left
    };
    assert!(expire_with("0").is_empty());
    assert_eq!(expire_with("1"), ["10.20.0.9/24 brd - va"]);
}
