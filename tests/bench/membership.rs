//! Figures of the built-in membership core, in simulation (`make bench`):
//! the traffic of an idle cluster of 3, 8 and 32 nodes at the default
//! settings, the time one datagram takes to check and handle (and to
//! open under two keys during a key rotation), and the
//! simulated time from a crash to the survivors' new view, at the
//! defaults and at the shortest settings the README documents.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::simnet;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simnet::{address, Net};
use wackamole::membership::wire::{self, Body, Echo, Header, Key};
use wackamole::membership::{Node, NodeEvent, Timing};

const SECOND: u64 = 1_000_000;

fn run_until(net: &mut Net, end: u64) {
    while net.next_at().is_some_and(|t| t <= end) {
        net.run_next();
    }
    net.now = net.now.max(end);
}

fn settled(n: usize, settings: Timing, seed: u64) -> Net {
    let mut net = Net::new(n, settings, seed);
    net.delay_us = (50, 200);
    for i in 0..n {
        net.start(i);
    }
    let end = net.now + 2 * SECOND;
    run_until(&mut net, end);
    net.events.clear();
    net
}

/// The traffic of an idle cluster, and what its nodes' own code costs:
/// the simulation runs every node's state machine (and the simulated
/// network) in this one thread, without a kernel, so the time it takes
/// per simulated node-second is the part of an idle node's CPU that is
/// ours, free of the machine's noise.
fn idle_traffic() {
    println!("idle cluster at the defaults (heartbeat 20 ms, timeout 200 ms):");
    for n in [3, 8, 16, 32] {
        let mut net = settled(n, Timing::default(), 1);
        let before = net.stats;
        let start = net.now;
        let clock = Instant::now();
        run_until(&mut net, start + 10 * SECOND);
        let ran = clock.elapsed();
        let datagrams = net.stats.datagrams - before.datagrams;
        let bytes = net.stats.bytes - before.bytes;
        println!(
            "  {n:>2} nodes: {:>7.0} datagrams/s, {:>9.0} bytes/s in all; per node {:>5.0} datagrams/s, {:>7.0} bytes/s sent; \
             the state machines take {:.0} µs per node-second ({:.3}% of a core)",
            datagrams as f64 / 10.0,
            bytes as f64 / 10.0,
            datagrams as f64 / 10.0 / n as f64,
            bytes as f64 / 10.0 / n as f64,
            ran.as_secs_f64() * 1e6 / (10.0 * n as f64),
            ran.as_secs_f64() * 100.0 / (10.0 * n as f64),
        );
    }
}

fn per_datagram() {
    let key = Key::new(b"simulated cluster key, 32 bytes").expect("key");
    let nodes: Vec<_> = (0..8).map(address).collect();
    let digest = wire::cluster_digest(&nodes);
    let start = Instant::now();
    let mut node =
        Node::new(nodes, 0, key.clone(), Timing::default(), 1, start).expect("valid cluster");
    // Vouches for node 0 (incarnation 1): each one renews its lease.
    let echo = Echo {
        incarnation: 1,
        sent: 0,
        in_view: true,
    };
    let body = simnet::heartbeat(0xff, Some(echo));
    let count = 200_000u64;
    let t = Instant::now();
    let datagrams: Vec<Vec<u8>> = (0..count)
        .map(|c| {
            let header = Header {
                digest,
                sender: 1 + (c % 7) as u8,
                destination: 0,
                incarnation: 5,
                counter: c,
            };
            wire::encode(&key, &header, &body)
        })
        .collect();
    let encode = t.elapsed();
    let t = Instant::now();
    for (c, bytes) in datagrams.iter().enumerate() {
        let from = SocketAddr::V4(address(1 + c % 7));
        // Time stands nearly still: every datagram is fresh, no time-out.
        node.handle_datagram(from, bytes, start + Duration::from_nanos(c as u64));
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }
    let handle = t.elapsed();
    println!(
        "one heartbeat ({} bytes): encode and authenticate {:.2} µs, check and handle {:.2} µs",
        datagrams[0].len(),
        encode.as_secs_f64() * 1e6 / count as f64,
        handle.as_secs_f64() * 1e6 / count as f64
    );
}

/// What a second accepted key costs (a key rotation): opening a
/// datagram (a LEAVE) under the current key, under the accepted one (a second
/// MAC), and under neither (refused after both), against one key alone.
fn two_keys() {
    let current = Key::new(b"the current key of the cluster!!").expect("key");
    let accepted = Key::new(b"the accepted key of the cluster!").expect("key");
    let stranger = Key::new(b"a key this cluster does not hold").expect("key");
    let one = wire::Keys::from(current.clone());
    let two = wire::Keys::new(current.clone(), Some(accepted.clone())).expect("two keys");
    let header = Header {
        digest: [0; 8],
        sender: 1,
        destination: 0,
        incarnation: 5,
        counter: 1,
    };
    let signed = |key: &Key| wire::encode(key, &header, &Body::Leave);
    let count = 200_000u32;
    let time = |keys: &wire::Keys, bytes: &[u8]| {
        let t = Instant::now();
        let mut opened = 0u32;
        for _ in 0..count {
            opened += u32::from(wire::open_under(std::hint::black_box(keys), bytes).is_ok());
        }
        (t.elapsed().as_secs_f64() * 1e6 / f64::from(count), opened)
    };
    let (alone, _) = time(&one, &signed(&current));
    let (under_current, a) = time(&two, &signed(&current));
    let (under_accepted, b) = time(&two, &signed(&accepted));
    let (under_neither, c) = time(&two, &signed(&stranger));
    assert_eq!(
        (a, b, c),
        (count, count, 0),
        "opened under current, accepted, neither"
    );
    println!(
        "opening a datagram during a key rotation: one key {alone:.2} µs; two keys, under the \
         current {under_current:.2} µs, under the accepted {under_accepted:.2} µs, under neither \
         (refused) {under_neither:.2} µs"
    );
}

/// Simulated time from crashing `victim` until every survivor has
/// installed a view without it.
fn crash_to_view(n: usize, settings: Timing, seed: u64, victim: usize) -> Duration {
    let mut net = settled(n, settings, seed);
    // Crash at a random phase of the heartbeat period.
    let phase = net.rng.range(0, settings.heartbeat.as_micros() as usize) as u64;
    let at = net.now + phase;
    run_until(&mut net, at);
    net.crash(victim);
    let crashed = net.now;
    let mut pending: Vec<usize> = (0..n).filter(|&i| i != victim).collect();
    let limit = crashed + 10 * SECOND;
    while !pending.is_empty() && net.now < limit {
        net.run_next();
        for (i, e) in net.events.drain(..) {
            if let NodeEvent::View { members, .. } = e {
                if members.iter().all(|m| usize::from(m.node) != victim) {
                    pending.retain(|&p| p != i);
                }
            }
        }
    }
    assert!(pending.is_empty(), "no new view within 10 s");
    Duration::from_micros(net.now - crashed)
}

fn figures(label: &str, mut runs: Vec<Duration>) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {label}: min {:.1} ms, median {:.1} ms, max {:.1} ms ({} runs)",
        ms(runs[0]),
        ms(runs[runs.len() / 2]),
        ms(runs[runs.len() - 1]),
        runs.len()
    );
}

fn failover() {
    let shortest = Timing::new(Duration::from_millis(5), Duration::from_millis(25))
        .expect("documented settings");
    for (name, settings) in [
        ("defaults (20/200 ms)", Timing::default()),
        ("shortest (5/25 ms)", shortest),
    ] {
        println!("crash to new view, simulated, {name}:");
        for n in [3, 8] {
            let leader: Vec<Duration> = (0..25).map(|s| crash_to_view(n, settings, s, 0)).collect();
            figures(&format!("{n} nodes, coordinator crashes"), leader);
            let follower: Vec<Duration> = (0..25)
                .map(|s| crash_to_view(n, settings, s, n - 1))
                .collect();
            figures(&format!("{n} nodes, member crashes     "), follower);
        }
    }
}

fn main() {
    idle_traffic();
    per_datagram();
    two_keys();
    failover();
}
