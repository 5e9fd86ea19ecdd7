//! The daemon end to end, on clusters of the real binary in namespaces
//! (root only; see tests/it/support/cluster.rs):
//!
//! - failover latency: from SIGKILL of the node holding a VIP until that
//!   VIP is up on the survivor AND its gratuitous ARP is on the bridge;
//!   min/median/max over `WACKAMOLE_BENCH_RUNS` runs (default 25);
//! - idle resident memory (VmRSS) of a daemon holding 254 VIFs;
//! - the size of the release binary, and of dist/wackamole when
//!   `make static` made one;
//! - CPU time (utime + stime) of an idle daemon in a 3-node cluster over
//!   `WACKAMOLE_BENCH_IDLE_SECS` seconds (default 60).
//!
//! `cargo bench --bench daemon` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[path = "procfs.rs"]
mod procfs;
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use procfs::{on_cpu, status_kib};

use support::cluster;

use std::net::Ipv4Addr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use cluster::{vip, Capture, Cluster, Observer, Spec, Waits, BINARY};

const SETTLE: Duration = Duration::from_secs(30);

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, found `{text}`")),
        Err(_) => default,
    }
}

fn main() {
    binary_sizes();
    failover_latency(env_number("WACKAMOLE_BENCH_RUNS", 25) as usize);
    idle_memory(Path::new(BINARY));
    if let Some(static_binary) = static_binary() {
        idle_memory(&static_binary);
    }
    idle_cpu(Duration::from_secs(env_number(
        "WACKAMOLE_BENCH_IDLE_SECS",
        60,
    )));
}

fn binary_sizes() {
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len());
    let release = size(Path::new(BINARY)).expect("the release binary");
    println!(
        "binary size: {BINARY}: {release} bytes ({:.2} MiB)",
        mib(release)
    );
    match static_binary() {
        Some(path) => {
            let bytes = size(&path).expect("the static binary");
            println!(
                "binary size: {}: {bytes} bytes ({:.2} MiB)",
                path.display(),
                mib(bytes)
            );
        }
        None => println!("binary size: dist/wackamole absent (run `make static` first)"),
    }
}

/// dist/wackamole, when `make static` made it.
fn static_binary() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/wackamole");
    path.exists().then_some(path)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Whether node `i` runs, in a view of `members`, mature and settled.
fn ready(cluster: &Cluster, i: usize, members: usize) -> bool {
    cluster
        .try_status(i)
        .is_ok_and(|s| s.doc.state == "RUN" && s.doc.mature && s.doc.member_count == members)
}

/// Two nodes, one VIF: kill whichever holds it, time the takeover, bring
/// the dead node back (a fresh cable, a fresh daemon), and again.
fn failover_latency(runs: usize) {
    let mut cluster = Cluster::new("bf", Spec::new(2, 1));
    let capture = Capture::start(&cluster);
    let observer = cluster.observer();
    let address = vip(0);
    cluster.start_all();
    cluster.wait_each_once(SETTLE);
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        // Only the heir is asked: the victim dies as it runs unattended,
        // with no control connection open.
        cluster.wait_for(
            "the VIF on one node, the other in RUN with it",
            SETTLE,
            |c| {
                let holders = c.holders();
                let heir = holders.iter().position(Vec::is_empty);
                c.each_once(&holders) && heir.is_some_and(|heir| ready(c, heir, 2))
            },
        );
        let holders = cluster.holders();
        let Some(victim) = holders.iter().position(|h| h.contains(&address)) else {
            cluster.fail(&format!("run {run}: {address} is on no node"));
        };
        let heir = 1 - victim;
        let heir_mac = cluster.node(heir).mac;
        // The machine dies: its cable first, so its copy cannot answer.
        cluster.cut(victim);
        // Watch the heir from before the kill: reaping the dead daemon
        // takes longer than the takeover itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        let watcher = {
            let observer = observer.clone();
            thread::spawn(move || wait_on_node(&observer, heir, address, deadline))
        };
        let killed = Instant::now();
        cluster.signal(victim, libc::SIGKILL);
        let up = watcher.join().expect("watcher");
        let announced = capture.wait_announced(address, heir_mac, killed, deadline);
        let status = cluster.wait_exit(victim, Duration::from_secs(10));
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        let (Some(up), Some(announced)) = (up, announced) else {
            let seen = capture.summary();
            cluster.fail(&format!(
                "run {run}: no takeover by node {heir} (up {up:?}, announced {announced:?}); {seen}"
            ));
        };
        samples.push(up.max(announced) - killed);
        cluster.wire(victim);
        cluster.start(victim);
    }
    samples.sort();
    let slow = samples.iter().filter(|d| ms(**d) > 5.0).count();
    println!(
        "failover latency (SIGKILL to VIP up and announced, {runs} runs): \
         min {:.2} ms, median {:.2} ms, max {:.2} ms ({slow} runs above 5 ms)",
        ms(samples[0]),
        ms(samples[runs / 2]),
        ms(samples[runs - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn idle_memory(binary: &Path) {
    let mut cluster = Cluster::new("bm", Spec::new(1, 254));
    cluster.binary = binary.to_path_buf();
    cluster.start(0);
    cluster.wait_spread_as(&[254], SETTLE);
    // Let the announcements of every VIF finish first.
    thread::sleep(Duration::from_secs(3));
    let pid = cluster.node(0).pid().expect("the daemon runs");
    assert!(cluster.running(0));
    let [rss, anon, file, peak] =
        ["VmRSS", "RssAnon", "RssFile", "VmHWM"].map(|field| status_kib(pid, field));
    println!(
        "idle memory, {} holding 254 VIFs: VmRSS {rss} KiB ({:.2} MiB; anonymous {anon} KiB, \
         file-backed {file} KiB), peak {peak} KiB",
        binary.display(),
        rss as f64 / 1024.0
    );
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Fields after the command name (which may hold spaces) start at 3:
    // state; utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')').expect("stat format") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("stat number"))
        .collect();
    fields.iter().sum()
}

fn idle_cpu(period: Duration) {
    let mut spec = Spec::new(3, 6);
    // The shipped defaults, not the tests' short ones.
    spec.mature = "5s".into();
    spec.balance_interval = "4s".into();
    let mut cluster = Cluster::new("bc", spec);
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], Duration::from_secs(60));
    // The leader (first in the view) is the busiest: it runs the balance
    // timer.
    let reply = cluster.status(0);
    let (status, text) = (&reply.doc, &reply.text);
    let leader = (0..3)
        .find(|i| status.members[0].name == format!("#node{i}#wm1"))
        .unwrap_or_else(|| panic!("no leader among the nodes: {text}"));
    let pid = cluster.node(leader).pid().expect("the daemon runs");
    let (before, scheduled_before) = (cpu_ticks(pid), on_cpu(pid));
    thread::sleep(period);
    assert!(cluster.running(leader));
    let (after, scheduled_after) = (cpu_ticks(pid), on_cpu(pid));
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let used_ms = (after - before) * 1000 / hz;
    println!(
        "idle CPU, the leading daemon of a settled 3-node cluster over {}s: {used_ms} ms \
         (utime + stime, {hz} ticks/s); {:.3} ms on a CPU (schedstat of every thread)",
        period.as_secs(),
        ms(scheduled_after - scheduled_before)
    );
}

/// Polls node `i` of `observer` as fast as it can until `vip` is on it; returns when
/// it was first seen, or None at `deadline`.
fn wait_on_node(
    observer: &Observer,
    i: usize,
    vip: Ipv4Addr,
    deadline: Instant,
) -> Option<Instant> {
    loop {
        if observer.on_node(i).contains(&vip) {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_micros(100));
    }
}
