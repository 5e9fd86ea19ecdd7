//! IPv6 VIFs on a 3-node cluster of the real binary on the built-in
//! membership (root only): each node's `wm0` has IPv6 on, in namespaces
//! the test creates (see tests/it/support/builtin.rs). One dual-stack VIF and
//! two IPv6-only ones: every address sits with its VIF on exactly one node
//! and is never tentative; `Announce { Refresh }` advertises each again
//! once per period; after `kill -9` of a holder, the heir's
//! unsolicited neighbour advertisement is seen on the bridge with every
//! field right, and a neighbour that reached the address before points to
//! the heir after it (the neighbour sends nothing meanwhile, so nothing
//! else could have told it); the node that comes back takes a VIF over by
//! balancing, and the releasing node keeps every other address.

use crate::support::{builtin, cluster, netns, sniffer};

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use builtin::{node_address, BuiltinCluster, Spec};
use cluster::{Waits, INTERFACE};
use netns::Netns;
use sniffer::{Advertisement, Sniffer, SEND_DELAY};

const SETTLE: Duration = Duration::from_secs(30);
/// Every node's `Announce { Refresh }`.
const REFRESH: Duration = Duration::from_millis(1000);
/// Advertisements of each IPv6 address when it is acquired; refreshes
/// follow.
const ACQUIRED: usize = 3;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const CLIENT: &str = "2001:db8:78::100";

/// The VIFs, by their addresses as configured.
const VIFS: [&[&str]; 3] = [
    &["10.78.1.1/16", "2001:db8:78::1/64"],
    &["2001:db8:78::2/64", "2001:db8:78::3/64"],
    &["2001:db8:78::4/64"],
];

fn address(written: &str) -> IpAddr {
    written
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("test address")
}

fn all_vip_addresses() -> Vec<IpAddr> {
    VIFS.iter()
        .flat_map(|v| v.iter().map(|a| address(a)))
        .collect()
}

/// Neighbour advertisements seen on `br0`: (time, source MAC, content).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<SeenNa>>>);

type SeenNa = (Instant, [u8; 6], Advertisement);

struct NaCapture {
    seen: Seen,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl NaCapture {
    fn on_bridge(hub: &Netns) -> NaCapture {
        let sniffer = hub.run(|| Sniffer::open("br0"));
        let seen = Seen::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let until = Instant::now() + Duration::from_millis(50);
                    let Some(frame) = sniffer.next(until) else {
                        continue;
                    };
                    if let Some(na) = frame.advertisement() {
                        let mut seen = seen.0.lock().unwrap_or_else(|p| p.into_inner());
                        seen.push((frame.at, frame.source(), na));
                    }
                }
            })
        };
        NaCapture {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// When unsolicited advertisements of `target` to all nodes from `mac`
    /// were seen, at or after `since`.
    fn all(&self, target: Ipv6Addr, mac: [u8; 6], since: Instant) -> Vec<Instant> {
        let seen = self.seen.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .filter(|(at, source, na)| {
                *at >= since && *source == mac && na.target == target && na.destination == ALL_NODES
            })
            .map(|(at, _, _)| *at)
            .collect()
    }

    /// The first unsolicited advertisement of `target` to all nodes from
    /// `mac` at or after `since`.
    fn first(
        &self,
        target: Ipv6Addr,
        mac: [u8; 6],
        since: Instant,
    ) -> Option<(Instant, Advertisement)> {
        let seen = self.seen.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .find(|(at, source, na)| {
                *at >= since && *source == mac && na.target == target && na.destination == ALL_NODES
            })
            .map(|(at, _, na)| (*at, na.clone()))
    }
}

impl Drop for NaCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The global addresses on node `i`'s `wm0`: (address, tentative).
fn addresses_of(cluster: &BuiltinCluster, i: usize) -> Vec<(IpAddr, bool)> {
    let ns = cluster.node(i).ns();
    let Ok(out) = std::panic::catch_unwind(|| {
        ns.ip(&["-o", "addr", "show", "dev", INTERFACE, "scope", "global"])
    }) else {
        // The interface is gone (the machine was cut off).
        return Vec::new();
    };
    out.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "inet" || *w == "inet6")?;
            Some((address(words[at + 1]), words.contains(&"tentative")))
        })
        .collect()
}

/// Which node holds each VIF, if every address of every VIF is on
/// exactly one node, with the other addresses of its VIF, and none is
/// tentative (the tentative ones are returned as an error).
fn placement(cluster: &BuiltinCluster, nodes: &[usize]) -> Result<Vec<usize>, String> {
    let on: Vec<Vec<(IpAddr, bool)>> = nodes.iter().map(|&i| addresses_of(cluster, i)).collect();
    let mut holders = Vec::new();
    for vif in VIFS {
        let mut holder = None;
        for written in vif {
            let a = address(written);
            let with: Vec<usize> = nodes
                .iter()
                .zip(&on)
                .filter(|(_, list)| list.iter().any(|(b, _)| *b == a))
                .map(|(&i, _)| i)
                .collect();
            if with.len() != 1 {
                return Err(format!("{a} on nodes {with:?}"));
            }
            if holder.is_some_and(|h| h != with[0]) {
                return Err(format!("VIF {vif:?} split across nodes"));
            }
            holder = Some(with[0]);
        }
        holders.push(holder.expect("a VIF has addresses"));
    }
    for (&i, list) in nodes.iter().zip(&on) {
        if let Some((a, _)) = list.iter().find(|(_, tentative)| *tentative) {
            return Err(format!("TENTATIVE {a} on node {i}"));
        }
    }
    Ok(holders)
}

/// Waits for every VIF on exactly one of `nodes`, one VIF per node when
/// there are three; a tentative address fails at once.
fn wait_placed(cluster: &mut BuiltinCluster, nodes: &[usize], what: &str) -> Vec<usize> {
    let deadline = Instant::now() + SETTLE;
    loop {
        match placement(cluster, nodes) {
            Ok(holders) => {
                let mut counts = vec![0; cluster.len()];
                for &h in &holders {
                    counts[h] += 1;
                }
                let balanced = nodes.iter().all(|&i| counts[i] >= 1) || nodes.len() < VIFS.len();
                if balanced {
                    return holders;
                }
            }
            Err(e) if e.starts_with("TENTATIVE") => cluster.fail(&e),
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            let why = placement(cluster, nodes).err().unwrap_or_default();
            cluster.fail(&format!("{what}: not placed within {SETTLE:?}: {why}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn enable_ipv6(cluster: &BuiltinCluster, i: usize) {
    cluster.node(i).ns().exec(
        "sysctl",
        &[
            "-q",
            "-w",
            &format!("net.ipv6.conf.{INTERFACE}.disable_ipv6=0"),
        ],
    );
}

fn vif_config(cluster: &BuiltinCluster, i: usize) -> String {
    let mut block = String::from("VirtualInterfaces {\n");
    for vif in VIFS {
        let list: Vec<String> = vif.iter().map(|a| format!("{INTERFACE}:{a}")).collect();
        block.push_str(&format!("\t{{ {} }}\n", list.join(" ")));
    }
    block.push_str("}\n");
    let text = cluster.default_config(i);
    let empty = "VirtualInterfaces {\n}\n";
    assert!(text.contains(empty), "{text}");
    text.replace(empty, &block)
}

/// The MAC the client's neighbour cache holds for `vip`, if any.
fn cached_mac(client: &Netns, vip: &str) -> Option<String> {
    let out = client.ip(&["-6", "neigh", "show", vip, "dev", "cl0"]);
    let words: Vec<&str> = out.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "lladdr")?;
    Some(words[at + 1].to_string())
}

/// Sends a datagram from the client to `vip`, so its kernel resolves
/// the neighbour (the same as a ping, which needs no tool).
fn reach(client: &Netns, vip: &str) {
    client.run(|| {
        let socket = std::net::UdpSocket::bind(format!("[{CLIENT}]:0")).expect("client socket");
        socket
            .send_to(b"hello", format!("[{vip}]:9"))
            .expect("send to the address");
    });
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn dual_stack_and_ipv6_only_vifs_fail_over_with_a_neighbour_advertisement() {
    let mut spec = Spec::new(3, 0);
    spec.extra = vec![format!("Announce {{ Refresh = {}ms }}", REFRESH.as_millis()); 3];
    let mut cluster = BuiltinCluster::new("b6", spec);
    for i in 0..3 {
        enable_ipv6(&cluster, i);
        let text = vif_config(&cluster, i);
        cluster.write_config(i, &text);
    }
    // A neighbour on the bridge with IPv6 on.
    let client = Netns::new("b6c");
    netns::veth(&client, "cl0", cluster.hub(), "pc6");
    cluster.hub().ip(&["link", "set", "pc6", "master", "br0"]);
    client.ip(&[
        "-6",
        "addr",
        "add",
        &format!("{CLIENT}/64"),
        "dev",
        "cl0",
        "nodad",
    ]);
    let capture = NaCapture::on_bridge(cluster.hub());

    cluster.start_all();
    let everyone = [0, 1, 2];
    let started = Instant::now();
    let holders = wait_placed(&mut cluster, &everyone, "first placement");

    // Refresh: past the three announcements of acquiring, every held
    // IPv6 address is advertised again by its holder, again and again
    // (waited for, however slowly a loaded machine lets it come), and
    // never sooner than half a period after the last time (a late one
    // never brings the next closer than that), less what the machine may
    // hold a frame once it is due.
    let ipv6: Vec<(Ipv6Addr, [u8; 6])> = VIFS
        .iter()
        .enumerate()
        .flat_map(|(v, vif)| vif.iter().map(move |written| (v, address(written))))
        .filter_map(|(v, a)| match a {
            IpAddr::V6(target) => Some((target, cluster.node(holders[v]).mac)),
            IpAddr::V4(_) => None,
        })
        .collect();
    let deadline = Instant::now() + SETTLE;
    while !ipv6
        .iter()
        .all(|&(target, mac)| capture.all(target, mac, started).len() >= ACQUIRED + 2)
    {
        if Instant::now() >= deadline {
            let seen: Vec<_> = ipv6
                .iter()
                .map(|&(target, mac)| (target, capture.all(target, mac, started).len()))
                .collect();
            cluster.fail(&format!(
                "not two refreshes of every address within {SETTLE:?}: advertisements {seen:?}"
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
    for &(target, mac) in &ipv6 {
        let times = capture.all(target, mac, started);
        let refreshes = &times[ACQUIRED..];
        for pair in refreshes.windows(2) {
            assert!(
                pair[1] - pair[0] + SEND_DELAY >= REFRESH / 2,
                "{target} refreshed {:?} apart",
                pair[1] - pair[0]
            );
        }
    }

    // The status shows each address's family; the listing (every VIF,
    // from any node) prints IPv6 in its usual form.
    let holder = holders[1];
    let report = cluster.status(holder);
    for needle in [
        r#""family":"ipv6","address":"2001:db8:78::2","prefix_len":64"#,
        r#""family":"ipv6","address":"2001:db8:78::3","prefix_len":64"#,
    ] {
        assert!(report.text.contains(needle), "{needle} in {}", report.text);
    }
    let dual = cluster.status(holders[0]);
    assert!(
        dual.text
            .contains(r#""family":"ipv4","address":"10.78.1.1","prefix_len":16"#),
        "{}",
        dual.text
    );
    let mut listing = Vec::new();
    let control = cluster.dir().join(format!("node{holder}.sock"));
    wackamole::control::run(
        &control,
        wackamole::control::Action::List,
        false,
        &mut listing,
    )
    .expect("listing");
    let listing = String::from_utf8(listing).expect("UTF-8 listing");
    assert!(
        listing.contains(&format!("\t*     {INTERFACE}:2001:db8:78::2/64\n"))
            && listing.contains(&format!("\t ->   {INTERFACE}:2001:db8:78::3/64\n"))
            && listing.contains(&format!("\t*     {INTERFACE}:10.78.1.1/16\n"))
            && listing.contains(&format!("\t ->   {INTERFACE}:2001:db8:78::1/64\n")),
        "{listing}"
    );

    // The client reaches the address: its cache points to the holder.
    let vip = "2001:db8:78::2";
    reach(&client, vip);
    let holder_mac = mac_text(cluster.node(holder).mac);
    let deadline = Instant::now() + SETTLE;
    while cached_mac(&client, vip).as_deref() != Some(holder_mac.as_str()) {
        if Instant::now() > deadline {
            cluster.fail(&format!(
                "the neighbour caches {:?} for {vip}, not the holder's {holder_mac}",
                cached_mac(&client, vip)
            ));
        }
        thread::sleep(Duration::from_millis(10));
    }

    // The holder's machine dies: its link goes and its daemon is killed
    // (in that order: a host that outlived its daemon would answer with
    // port unreachable and keep the address beside the heir's).
    let killed = Instant::now();
    cluster.cut(holder);
    cluster.kill(holder);
    let rest: Vec<usize> = everyone.iter().copied().filter(|&i| i != holder).collect();
    let after = wait_placed(&mut cluster, &rest, "after kill -9");
    let heir = after[1];
    assert_ne!(heir, holder);
    let heir_mac = cluster.node(heir).mac;
    let target: Ipv6Addr = vip.parse().unwrap();
    let deadline = Instant::now() + SETTLE;
    let (seen_at, na) = loop {
        if let Some(found) = capture.first(target, heir_mac, killed) {
            break found;
        }
        if Instant::now() >= deadline {
            cluster.fail("no advertisement of the moved address on the bridge");
        }
        thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(
        na,
        Advertisement {
            source: target,
            destination: ALL_NODES,
            hop_limit: 255,
            router: false,
            solicited: false,
            override_flag: true,
            target,
            target_mac: Some(heir_mac),
            checksum_ok: true,
        }
    );
    // The other address of the VIF is advertised by the heir too.
    assert!(capture
        .first("2001:db8:78::3".parse().unwrap(), heir_mac, killed)
        .is_some());
    // The neighbour follows the advertisement. It has sent nothing since
    // it reached the holder, so its cache entry only ages (reachable,
    // then stale, still naming the dead holder): nothing but the
    // advertisement can point it to the heir. How soon it did is printed
    // (polled: the first look may be late, never early).
    let heir_text = mac_text(heir_mac);
    let deadline = seen_at + SETTLE;
    let updated = loop {
        let now = Instant::now();
        if cached_mac(&client, vip).as_deref() == Some(heir_text.as_str()) {
            break now;
        }
        if now > deadline {
            cluster.fail(&format!(
                "the neighbour still caches {:?} for {vip} {SETTLE:?} after the advertisement",
                cached_mac(&client, vip)
            ));
        }
        thread::sleep(Duration::from_millis(2));
    };
    println!(
        "the neighbour pointed to the heir {:?} after its advertisement was seen",
        updated.saturating_duration_since(seen_at)
    );
    // The machine comes back: balancing gives it a VIF, and the node that
    // releases one keeps its own and every other address.
    cluster.wire(holder);
    enable_ipv6(&cluster, holder);
    let before: Vec<Vec<(IpAddr, bool)>> = (0..3).map(|i| addresses_of(&cluster, i)).collect();
    cluster.start(holder);
    let last = wait_placed(&mut cluster, &everyone, "after the node returned");
    let vips = all_vip_addresses();
    for i in rest {
        let now = addresses_of(&cluster, i);
        for (a, _) in &before[i] {
            let moved_away = vips.contains(a)
                && !last
                    .iter()
                    .enumerate()
                    .any(|(v, &h)| h == i && VIFS[v].iter().any(|w| address(w) == *a));
            if !moved_away {
                assert!(
                    now.iter().any(|(b, _)| b == a),
                    "node {i} lost {a}: {now:?}"
                );
            }
        }
        assert!(now.iter().any(|(b, _)| *b == IpAddr::from(node_address(i))));
    }
}
