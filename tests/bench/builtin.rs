//! The built-in membership end to end, on 3-node clusters of the real
//! binary in namespaces (root only; see tests/it/support/builtin.rs), at the
//! default timings and at the shortest settings the README documents
//! (Heartbeat 5ms, Timeout 25ms):
//!
//! - kill -9 of a node's daemon (its host lives on, and answers the
//!   survivors' heartbeats with ICMP port unreachable), the death of a
//!   node's host (its link goes down as its daemon is killed: no answer
//!   at all), and SIGSTOP of a node, each until every VIF it held is up
//!   on a survivor AND its gratuitous ARP from that survivor is on the
//!   bridge; SIGTERM likewise; min/median/max over `WACKAMOLE_BENCH_RUNS`
//!   runs (default 20) each;
//! - idle CPU, memory (VmRSS) and datagrams and bytes per second sent by
//!   each node of a 3-node cluster over `WACKAMOLE_BENCH_IDLE_SECS`
//!   seconds (default 20);
//! - at the defaults, the idle CPU per node by cluster size (time on a
//!   core from the scheduler's accounting of each daemon, so the figure
//!   holds on a loaded machine): the sizes of `WACKAMOLE_BENCH_IDLE_SIZES`
//!   (default `3,8,16,32`), each idle for `WACKAMOLE_BENCH_IDLE_SECS`
//!   seconds; the mean, lowest and highest node, the wake-ups per node and
//!   the datagrams node 0 sends and receives; then, at 16 nodes and more,
//!   kill -9 and host death of a member, `WACKAMOLE_BENCH_SIZE_RUNS` runs
//!   each (default 5), timed until its VIFs are up on a survivor.
//!
//! `WACKAMOLE_BENCH_IDLE_ONLY=1` measures only the idle figures;
//! `WACKAMOLE_BENCH_BINARY=PATH` runs that build of the daemon instead of
//! this one (to compare two builds on one machine);
//! `WACKAMOLE_BENCH_IDLE_HOLD=SECS` prints the daemons' pids and waits
//! that long before each size is measured (to attach `perf`).
//!
//! With `WACKAMOLE_BENCH_LOAD_SECS` set (`make bench-load`: 600), it
//! measures only this instead: an idle 3-node cluster at the defaults
//! while two busy loops keep both cores loaded, counting view changes
//! (target: none).
//!
//! `cargo bench --bench builtin` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[path = "procfs.rs"]
mod procfs;
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use procfs::{on_cpu, status_kib, wakeups};

use support::{builtin, builtin_status, cluster, sniffer};

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use builtin::{millis, port_name, BuiltinCluster, Spec, PORT};
use builtin_status::ViewWatch;
use cluster::{Observer, Waits};
use sniffer::Sniffer;
use wackamole::membership::{DEFAULT_HEARTBEAT, DEFAULT_TIMEOUT};

const SETTLE: Duration = Duration::from_secs(30);
/// Longest a single takeover may take before the run counts as failed.
const TAKEOVER: Duration = Duration::from_secs(10);
const NODES: usize = 3;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, found `{text}`"))
    })
}

fn main() {
    if let Some(secs) = env_number("WACKAMOLE_BENCH_LOAD_SECS") {
        under_load(Duration::from_secs(secs));
        return;
    }
    let runs = env_number("WACKAMOLE_BENCH_RUNS").unwrap_or(20) as usize;
    let idle = Duration::from_secs(env_number("WACKAMOLE_BENCH_IDLE_SECS").unwrap_or(20));
    let idle_only = env_number("WACKAMOLE_BENCH_IDLE_ONLY").is_some_and(|n| n != 0);
    let (heartbeat, timeout) = (millis(DEFAULT_HEARTBEAT), millis(DEFAULT_TIMEOUT));
    for (name, heartbeat, timeout) in [
        ("defaults", heartbeat.as_str(), timeout.as_str()),
        ("shortest", "5ms", "25ms"),
    ] {
        let setting = format!("{name} (Heartbeat {heartbeat}, Timeout {timeout})");
        let spec = || Spec::new(NODES, NODES).timing(heartbeat, timeout);
        for fault in [Fault::Kill, Fault::HostDeath, Fault::Stop, Fault::Term] {
            if idle_only {
                break;
            }
            let samples = takeovers(spec(), fault, runs);
            report(
                &format!("{} to takeover, {setting}", fault.name()),
                "VIFs up and announced",
                &samples,
            );
        }
        idle_figures(spec(), &setting, idle);
    }
    for size in idle_sizes() {
        idle_by_size(size, idle);
    }
}

/// A cluster running `WACKAMOLE_BENCH_BINARY` when set (to compare
/// builds), else the binary of this build.
fn new_cluster(tag: &str, spec: Spec) -> BuiltinCluster {
    let mut cluster = BuiltinCluster::new(tag, spec);
    if let Ok(binary) = std::env::var("WACKAMOLE_BENCH_BINARY") {
        cluster.binary = binary.into();
    }
    cluster
}

/// The cluster sizes of the idle figures by size.
fn idle_sizes() -> Vec<usize> {
    let text = std::env::var("WACKAMOLE_BENCH_IDLE_SIZES").unwrap_or_else(|_| "3,8,16,32".into());
    text.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse()
                .ok()
                .filter(|&n| (2..=32).contains(&n))
                .unwrap_or_else(|| {
                    panic!("WACKAMOLE_BENCH_IDLE_SIZES: `{t}` is no cluster size (2 to 32)")
                })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// kill -9 of the daemon; its host lives.
    Kill,
    /// The host dies: its link goes down, then its daemon is killed.
    HostDeath,
    Stop,
    Term,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9 of the daemon (host alive)",
            Fault::HostDeath => "death of the host (link down, kill -9)",
            Fault::Stop => "SIGSTOP",
            Fault::Term => "SIGTERM",
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `what`, timed until `until` (what the samples measure the end by).
fn report(what: &str, until: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    println!(
        "{what}: {until}, {n} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(sorted[0]),
        ms(sorted[n / 2]),
        ms(sorted[n - 1])
    );
}

/// When every VIF of `orphans` is up on one of `survivors`, asked over
/// and over (each sweep asks every survivor's namespace in turn); `None`
/// once `deadline` passes.
fn taken_over(
    observer: &Observer,
    survivors: &[usize],
    orphans: &[std::net::Ipv4Addr],
    deadline: Instant,
) -> Option<Instant> {
    loop {
        let holders: Vec<_> = survivors.iter().map(|&s| observer.on_node(s)).collect();
        if orphans
            .iter()
            .all(|v| holders.iter().any(|h| h.contains(v)))
        {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_micros(100));
    }
}

/// Every node in one view, each VIF on exactly one node, one each.
fn ready(cluster: &mut BuiltinCluster) {
    cluster.wait_spread_as(&[1; NODES], SETTLE);
    let all: Vec<usize> = (0..NODES).collect();
    cluster.wait_view_of(&all, SETTLE);
}

/// `runs` times: `fault` on one node (each in turn), timed until every VIF
/// it held is up on a survivor and announced from there; then the node
/// comes back and the cluster settles again.
fn takeovers(spec: Spec, fault: Fault, runs: usize) -> Vec<Duration> {
    let tag = match fault {
        Fault::Kill => "xk",
        Fault::HostDeath => "xh",
        Fault::Stop => "xs",
        Fault::Term => "xt",
    };
    let mut cluster = new_cluster(tag, spec);
    let capture = cluster.capture();
    let observer = cluster.observer();
    cluster.start_all();
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        ready(&mut cluster);
        let victim = run % NODES;
        let survivors: Vec<usize> = (0..NODES).filter(|&i| i != victim).collect();
        let orphans = cluster.holders()[victim].clone();
        let deadline = Instant::now() + TAKEOVER;
        let watcher = {
            let (observer, orphans, survivors) =
                (observer.clone(), orphans.clone(), survivors.clone());
            thread::spawn(move || taken_over(&observer, &survivors, &orphans, deadline))
        };
        let struck = Instant::now();
        if fault == Fault::HostDeath {
            cluster.link_down(victim);
        }
        cluster.signal(
            victim,
            match fault {
                Fault::Kill | Fault::HostDeath => libc::SIGKILL,
                Fault::Stop => libc::SIGSTOP,
                Fault::Term => libc::SIGTERM,
            },
        );
        let up = watcher.join().expect("watcher");
        let holders = cluster.holders();
        let mut last = up;
        for vip in &orphans {
            let heir = survivors
                .iter()
                .copied()
                .find(|&s| holders[s].contains(vip));
            let announced = heir.and_then(|heir| {
                capture.wait_announced(*vip, cluster.node(heir).mac, struck, deadline)
            });
            last = last.zip(announced).map(|(a, b)| a.max(b));
        }
        let Some(last) = last else {
            let seen = capture.summary();
            cluster.fail(&format!(
                "{} run {run}: node {victim}'s VIFs {orphans:?} not taken over and announced \
                 within {TAKEOVER:?}; {seen}",
                fault.name()
            ));
        };
        samples.push(last - struck);
        // The node comes back.
        match fault {
            Fault::Kill | Fault::HostDeath => {
                cluster.wait_exit(victim, Duration::from_secs(10));
                cluster.cut(victim);
                cluster.wire(victim);
                cluster.start(victim);
            }
            Fault::Stop => cluster.signal(victim, libc::SIGCONT),
            Fault::Term => {
                cluster.wait_exit(victim, Duration::from_secs(10));
                cluster.start(victim);
            }
        }
    }
    samples
}

/// What a node's bridge port carried of the membership's datagrams.
#[derive(Debug, Default, Clone, Copy)]
struct Datagrams {
    /// Sent by the node (from the membership port).
    sent: u64,
    /// Bytes of UDP payload of those.
    sent_bytes: u64,
    /// Sent to it (to the membership port).
    received: u64,
}

/// The membership datagrams seen on `sniffer` with a kernel time stamp in
/// `[from, until)`, from or to the node of `mac`. Frames queued before
/// `from` are skipped; those stamped before `until` but read late still
/// count (up to a second late).
fn count_datagrams(sniffer: &Sniffer, mac: [u8; 6], from: Instant, until: Instant) -> Datagrams {
    let mut seen = Datagrams::default();
    while let Some(frame) = sniffer.next(until + Duration::from_secs(1)) {
        if frame.at >= until {
            break;
        }
        let b = &frame.bytes;
        if frame.at < from || b.len() < 42 || frame.ethertype() != 0x0800 || b[23] != 17 {
            continue;
        }
        let ip = 14 + usize::from(b[14] & 0x0f) * 4;
        let Some(udp) = b.get(ip..ip + 8) else {
            continue;
        };
        let (source_port, destination_port) = (
            u16::from_be_bytes([udp[0], udp[1]]),
            u16::from_be_bytes([udp[2], udp[3]]),
        );
        if frame.source() == mac && source_port == PORT {
            seen.sent += 1;
            seen.sent_bytes += u64::from(u16::from_be_bytes([udp[4], udp[5]])).saturating_sub(8);
        } else if b[..6] == mac && destination_port == PORT {
            seen.received += 1;
        }
    }
    seen
}

fn idle_figures(spec: Spec, setting: &str, period: Duration) {
    let mut cluster = new_cluster("xi", spec);
    cluster.start_all();
    ready(&mut cluster);
    // Let the announcements finish first.
    thread::sleep(Duration::from_secs(2));
    let pids: Vec<u32> = (0..NODES)
        .map(|i| cluster.node(i).pid().expect("the node runs"))
        .collect();
    // Each node's bridge port sees what the node sends (and what it is
    // sent: told apart by the source MAC).
    let sniffers: Vec<(Sniffer, [u8; 6])> = (0..NODES)
        .map(|i| {
            let sniffer = cluster.hub().run(|| Sniffer::open(&port_name(i)));
            (sniffer, cluster.node(i).mac)
        })
        .collect();
    let before: Vec<Duration> = pids.iter().map(|&p| on_cpu(p)).collect();
    let started = Instant::now();
    let deadline = started + period;
    let counts: Vec<Datagrams> = thread::scope(|scope| {
        let counters: Vec<_> = sniffers
            .iter()
            .map(|(s, mac)| scope.spawn(move || count_datagrams(s, *mac, started, deadline)))
            .collect();
        counters
            .into_iter()
            .map(|c| c.join().expect("counter"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    for i in 0..NODES {
        assert!(cluster.running(i));
        let cpu = on_cpu(pids[i]) - before[i];
        let Datagrams {
            sent, sent_bytes, ..
        } = counts[i];
        println!(
            "idle node {i} of {NODES}, {setting}, over {:.0} s: CPU {:.2} ms/s ({:.3}%), \
             VmRSS {} KiB, {:.1} datagrams/s, {:.0} bytes/s of UDP payload",
            elapsed,
            ms(cpu) / elapsed,
            cpu.as_secs_f64() / elapsed * 100.0,
            status_kib(pids[i], "VmRSS"),
            sent as f64 / period.as_secs_f64(),
            sent_bytes as f64 / period.as_secs_f64()
        );
    }
}

/// An idle cluster of `size` nodes at the defaults: the CPU time of each
/// daemon over `period` (mean, lowest and highest node), the wake-ups per
/// node, and the datagrams node 0 sends and receives.
fn idle_by_size(size: usize, period: Duration) {
    wait_for_neighbour_room(size);
    let mut cluster = new_cluster("xn", Spec::new(size, size));
    cluster.start_all();
    let all: Vec<usize> = (0..size).collect();
    cluster.wait_view_of(&all, SETTLE);
    // Balanced: no engine traffic left but the idle cluster's.
    cluster.wait_spread_as(&vec![1; size], SETTLE * 4);
    thread::sleep(Duration::from_secs(2));
    let pids: Vec<u32> = (0..size)
        .map(|i| cluster.node(i).pid().expect("the node runs"))
        .collect();
    if let Some(hold) = env_number("WACKAMOLE_BENCH_IDLE_HOLD") {
        eprintln!("{size} nodes, pids {pids:?}: measuring in {hold} s");
        thread::sleep(Duration::from_secs(hold));
    }
    // Node 0's port only: a sniffer per node would load the machine with
    // the square of the cluster's datagrams. (Opened after the hold, so
    // that the cluster is without it while held.)
    let sniffer = cluster.hub().run(|| Sniffer::open(&port_name(0)));
    let mac = cluster.node(0).mac;
    let before: Vec<Duration> = pids.iter().map(|&p| on_cpu(p)).collect();
    let woken: u64 = pids.iter().map(|&p| wakeups(p)).sum();
    let started = Instant::now();
    let until = started + period;
    let seen = count_datagrams(&sniffer, mac, started, until);
    let elapsed = started.elapsed().as_secs_f64();
    let woken = pids.iter().map(|&p| wakeups(p)).sum::<u64>() - woken;
    let shares: Vec<f64> = (0..size)
        .map(|i| {
            assert!(cluster.running(i), "node {i} ended while idle");
            (on_cpu(pids[i]) - before[i]).as_secs_f64() / elapsed * 100.0
        })
        .collect();
    // Idle means no view change: every node is still in the one view.
    cluster.wait_view_of(&all, SETTLE);
    let mean = shares.iter().sum::<f64>() / size as f64;
    let lowest = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = shares.iter().copied().fold(0.0, f64::max);
    let secs = period.as_secs_f64();
    println!(
        "idle CPU per node, {size} nodes at the defaults, over {elapsed:.0} s: mean {mean:.2}% \
         of a core (lowest {lowest:.2}%, highest {highest:.2}%), {:.0} wake-ups/s per node; \
         node 0 sends {:.0} and receives {:.0} datagrams/s",
        woken as f64 / elapsed / size as f64,
        seen.sent as f64 / secs,
        seen.received as f64 / secs
    );
    let runs = env_number("WACKAMOLE_BENCH_SIZE_RUNS").unwrap_or(5) as usize;
    if size >= 16 && runs > 0 {
        for fault in [Fault::Kill, Fault::HostDeath] {
            let samples = takeovers_in(&mut cluster, size, fault, runs);
            report(
                &format!("{} to takeover, {size} nodes at the defaults", fault.name()),
                "VIFs up on a survivor",
                &samples,
            );
        }
    }
}

/// `runs` times in the idle cluster of `size` nodes: `fault` on one node
/// (the last ones in turn, members that follow node 0), timed until every
/// VIF it held is up on a survivor; then the node comes back and the
/// cluster settles again. The announcements are not timed: a capture on
/// the bridge would see every heartbeat of the cluster (some 12,000 a
/// second at 32 nodes). Each sweep asks every survivor's namespace in
/// turn, so a figure is late by up to a sweep (a few ms at 32 nodes).
fn takeovers_in(
    cluster: &mut BuiltinCluster,
    size: usize,
    fault: Fault,
    runs: usize,
) -> Vec<Duration> {
    let observer = cluster.observer();
    let all: Vec<usize> = (0..size).collect();
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        cluster.wait_spread_as(&vec![1; size], SETTLE * 4);
        cluster.wait_view_of(&all, SETTLE);
        let victim = size - 1 - run % (size - 1);
        let survivors: Vec<usize> = all.iter().copied().filter(|&i| i != victim).collect();
        let orphans = cluster.holders()[victim].clone();
        let deadline = Instant::now() + TAKEOVER;
        let struck = Instant::now();
        if fault == Fault::HostDeath {
            cluster.link_down(victim);
        }
        cluster.signal(victim, libc::SIGKILL);
        let Some(up) = taken_over(&observer, &survivors, &orphans, deadline) else {
            cluster.fail(&format!(
                "{} of node {victim} of {size}: its VIFs {orphans:?} not taken over within \
                 {TAKEOVER:?}",
                fault.name()
            ));
        };
        samples.push(up - struck);
        cluster.wait_exit(victim, Duration::from_secs(10));
        if fault == Fault::HostDeath {
            cluster.cut(victim);
            cluster.wire(victim);
        }
        cluster.start(victim);
    }
    samples
}

fn under_load(period: Duration) {
    let mut cluster = new_cluster("xl", Spec::new(NODES, NODES));
    cluster.start_all();
    ready(&mut cluster);
    let before: Vec<Option<String>> = (0..NODES).map(|i| cluster.status(i).view_id()).collect();
    let mut burners = Burners::start(2);
    let controls = (0..NODES)
        .map(|i| (i, cluster.node(i).control.clone()))
        .collect();
    let watch = ViewWatch::start(controls, Duration::from_secs(1));
    let end = Instant::now() + period;
    while Instant::now() < end {
        thread::sleep(Duration::from_secs(1).min(end.saturating_duration_since(Instant::now())));
        assert!(burners.running(), "a busy loop ended");
        for i in 0..NODES {
            assert!(cluster.running(i));
        }
    }
    let seen = watch.finish();
    drop(burners);
    let after: Vec<Option<String>> = (0..NODES).map(|i| cluster.status(i).view_id()).collect();
    // Per node, the distinct views after the first; a change the polls
    // missed still shows in the ids before and after (ids never repeat).
    let mut changes: usize = seen.values().map(|h| h.changes()).sum();
    if changes == 0 && before != after {
        changes = 1;
    }
    println!(
        "under load (2 busy loops on 2 cores), idle {NODES}-node cluster at the defaults for {} s: \
         {changes} view changes (target 0); views seen by node: {seen:?}",
        period.as_secs()
    );
}

/// Busy loops in processes of their own (`sh -c 'while :; do :; done'`),
/// killed by pid and reaped on drop.
pub struct Burners {
    children: Vec<Child>,
}

impl Burners {
    pub fn start(count: usize) -> Burners {
        let children = (0..count)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("cannot start a busy loop")
            })
            .collect();
        Burners { children }
    }

    /// Whether every loop still runs.
    pub fn running(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The kernel keeps one neighbour table for every namespace, and a cluster
/// of `size` nodes fills `size × (size - 1)` entries of it: 992 at 32
/// nodes, against a default limit (`gc_thresh3`) of 1,024. Past the limit
/// a node's sends fail with "No buffer space available" and the cluster
/// never forms. Waits (up to 30 s) until what earlier clusters left in the
/// table is gone; says so when there is still no room.
fn wait_for_neighbour_room(size: usize) {
    let limit = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(1024);
    // The bridge's and the hub's own few entries.
    let needed = size * (size - 1) + 8;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let Some(entries) = neighbour_entries() else {
            return;
        };
        if entries + needed <= limit {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "warning: {entries} neighbour entries in use and {needed} wanted for {size} \
                 nodes, over the kernel's limit of {limit} (gc_thresh3): the cluster may not form"
            );
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Entries in the kernel's IPv4 neighbour table, all namespaces together
/// (the first column of /proc/net/stat/arp_cache, in hexadecimal).
fn neighbour_entries() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/net/stat/arp_cache").ok()?;
    let line = text.lines().nth(1)?;
    usize::from_str_radix(line.split_whitespace().next()?, 16).ok()
}
