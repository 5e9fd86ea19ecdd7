//! A node's VIFs moving to the others, on either backend: the check that
//! moved VIFs are announced, a takeover timed from a thread, and the
//! whole death of a machine ([`Harness::kill_and_take_over`]).

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use super::{Backend, Capture, Harness, Waits, MIN_SWEEPS};

/// Bound for a gratuitous ARP to show once its VIP is up: generous, for
/// a loaded machine.
const ANNOUNCE: Duration = Duration::from_secs(20);

/// Fails unless the bridge saw a gratuitous ARP at or after `since` for
/// every VIP in `vips` from the MAC of the node now holding it; returns
/// the latest of those instants.
pub fn assert_announced<B: Backend>(
    cluster: &mut Harness<B>,
    capture: &Capture,
    vips: &[Ipv4Addr],
    since: Instant,
) -> Instant {
    let holders = cluster.holders();
    let mut last = since;
    for &vip in vips {
        let Some(owner) = holders.iter().position(|h| h.contains(&vip)) else {
            cluster.fail(&format!("{vip} is on no node"));
        };
        let mac = cluster.node(owner).mac;
        let deadline = Instant::now() + ANNOUNCE;
        match capture.wait_announced(vip, mac, since, deadline) {
            Some(at) => last = last.max(at),
            None => {
                let seen = capture.summary();
                cluster.fail(&format!(
                    "no gratuitous ARP for {vip} from node {owner} ({mac:02x?}); {seen}"
                ));
            }
        }
    }
    last
}

/// Polls, from a thread, until every VIP of `vips` is on one of `heirs`;
/// the instant it first was.
pub fn takeover_watch<B: Backend>(
    cluster: &Harness<B>,
    vips: &[Ipv4Addr],
    heirs: &[usize],
    within: Duration,
) -> thread::JoinHandle<Option<Instant>> {
    let (observer, vips, heirs) = (cluster.observer(), vips.to_vec(), heirs.to_vec());
    let deadline = Instant::now() + within;
    thread::spawn(move || loop {
        let holders = observer.sweep();
        let placed = vips
            .iter()
            .all(|v| heirs.iter().any(|&h| holders[h].contains(v)));
        if placed {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_micros(200));
    })
}

/// `d` in milliseconds, for printed timings.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl<B: Backend> Harness<B> {
    /// The machine of `victim` is gone (its link deleted, and its daemon
    /// killed with -9 at once): its VIFs come up on `survivors` within
    /// `within`, each announced from its new holder and then on exactly
    /// one of them, and no VIP is ever on two nodes (sampled every 2 ms
    /// from before the kill). Prints how long the takeover and the
    /// announcements took. (The link goes first: a daemon killed on a
    /// host that lives on leaves its addresses configured there until
    /// their lifetime ends, and its host's port unreachable lets the
    /// survivors of the built-in membership take them over within
    /// milliseconds, so they would be on two hosts for that while;
    /// tests/it/builtin_port_unreachable.rs covers that case.)
    pub fn kill_and_take_over(&mut self, victim: usize, survivors: &[usize], within: Duration) {
        let capture = Capture::on_bridge(&self.hub, "br0");
        let sampler = self.observer().sample(Duration::from_millis(2));
        let orphans = self.holders()[victim].clone();
        assert!(!orphans.is_empty(), "node {victim} held nothing");
        let watch = takeover_watch(self, &orphans, survivors, within);
        // The sampler has seen the cluster before the kill.
        assert!(
            sampler.wait_sweeps(1, within) >= 1,
            "the sampler never swept"
        );
        let killed = Instant::now();
        self.cut(victim);
        self.kill(victim);
        let Some(up) = watch.join().expect("watcher") else {
            self.fail(&format!("node {victim}'s VIFs {orphans:?} not taken over"));
        };
        let announced = assert_announced(self, &capture, &orphans, killed);
        self.wait_each_once_among(survivors, within);
        println!(
            "kill -9 of node {victim}: its VIFs up elsewhere after {:.1} ms, announced after \
             {:.1} ms",
            ms(up - killed),
            ms(announced - killed)
        );
        let report = sampler.finish_after(MIN_SWEEPS, within);
        if report.sweeps < MIN_SWEEPS || !report.doubles.is_empty() {
            self.fail(&format!("VIPs on two nodes at once: {report:?}"));
        }
    }
}
