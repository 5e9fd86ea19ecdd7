//! Trackers end to end, on 3-node clusters of the real binary on the
//! built-in membership at its default timings (root only; see
//! tests/it/support/builtin.rs and tests/it/support/track_rig.rs), one VIF per
//! node, `WACKAMOLE_BENCH_RUNS` runs each (default 20), min/median/max:
//!
//! - carrier loss on a tracked uplink: from just before the test sets the
//!   uplink's peer down (an ioctl from its own thread) until every VIF of
//!   that node is announced by another node (its gratuitous ARP on the
//!   bridge; target: median at most 20 ms);
//! - a failing check command (`Interval = 100ms`, `Fall = 2`): from the
//!   moment the test makes it fail (creates the file it tests) until the
//!   node's VIF is announced by another node, against Interval × Fall +
//!   20 ms.
//!
//! `cargo bench --bench track` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{builtin, cluster, scratch, track_rig};

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use builtin::{BuiltinCluster, Spec};
use cluster::Waits;
use track_rig::{add_uplink, track_block, uplink_peer, LinkSwitch, UPLINK};

const NODES: usize = 3;
const SETTLE: Duration = Duration::from_secs(30);
/// Longest one hand-over may take before the run counts as failed.
const HANDOVER: Duration = Duration::from_secs(10);
/// The check command's settings.
const INTERVAL: Duration = Duration::from_millis(100);
const FALL: u32 = 2;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs = std::env::var("WACKAMOLE_BENCH_RUNS")
        .ok()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|_| panic!("WACKAMOLE_BENCH_RUNS must be a number: {text}"))
        })
        .unwrap_or(20usize);
    let samples = handovers("xu", runs, Fault::Carrier);
    report(
        "carrier loss on a tracked uplink to the VIF announced by another node (target: \
         median <= 20 ms)",
        &samples,
    );
    let samples = handovers("xc", runs, Fault::Check);
    let bound = INTERVAL * FALL + Duration::from_millis(20);
    report(
        &format!(
            "check command failing (Interval {} ms, Fall {FALL}) to the VIF announced by another \
             node (bound Interval x Fall + 20 ms = {:.0} ms)",
            INTERVAL.as_millis(),
            ms(bound)
        ),
        &samples,
    );
    let within = samples.iter().filter(|&&s| s <= bound).count();
    println!("  {within} of {} runs within the bound", samples.len());
}

fn report(what: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    println!(
        "{what}, {n} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(sorted[0]),
        ms(sorted[n / 2]),
        ms(sorted[n - 1])
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Carrier,
    Check,
}

fn fail_file(dir: &Path, i: usize) -> std::path::PathBuf {
    dir.join(format!("fail{i}"))
}

/// `runs` times, a node each in turn: the fault, timed until each VIF it
/// held is announced by another node; then the fault ends and the cluster
/// comes back to one VIF per node.
fn handovers(tag: &str, runs: usize, fault: Fault) -> Vec<Duration> {
    let scratch = scratch::Scratch::new(tag);
    let mut spec = Spec::new(NODES, NODES);
    for (i, text) in spec.extra.iter_mut().enumerate() {
        let check = format!(
            "Command = \"test ! -e {}\" {{ Interval = {}ms  Timeout = 50ms  Fall = {FALL}  \
             Rise = 1 }}",
            fail_file(scratch.dir(), i).display(),
            INTERVAL.as_millis()
        );
        let tracker = match fault {
            Fault::Carrier => format!("Interface = {UPLINK}"),
            Fault::Check => check,
        };
        text.push_str(&track_block(&[tracker, "HoldDown = 500ms".into()]));
    }
    let mut cluster = BuiltinCluster::new(tag, spec);
    for i in 0..NODES {
        add_uplink(cluster.node(i).ns(), cluster.hub(), i);
    }
    let switch = LinkSwitch::open(cluster.hub());
    let capture = cluster.capture();
    cluster.start_all();
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        cluster.wait_spread_as(&[1; NODES], SETTLE);
        cluster.wait_view_of(&(0..NODES).collect::<Vec<_>>(), SETTLE);
        let victim = run % NODES;
        let orphans: Vec<Ipv4Addr> = cluster.holders()[victim].clone();
        let macs: Vec<[u8; 6]> = (0..NODES)
            .filter(|&i| i != victim)
            .map(|i| cluster.node(i).mac)
            .collect();
        let struck = Instant::now();
        match fault {
            Fault::Carrier => switch.set(&uplink_peer(victim), false),
            Fault::Check => fs::write(fail_file(scratch.dir(), victim), "").expect("fail file"),
        }
        let deadline = struck + HANDOVER;
        let mut last = Some(struck);
        for &vip in &orphans {
            let announced = loop {
                let seen = macs
                    .iter()
                    .filter_map(|&mac| capture.announced(vip, mac, struck))
                    .min();
                if seen.is_some() || Instant::now() >= deadline {
                    break seen;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            last = last.zip(announced).map(|(a, b)| a.max(b));
        }
        let Some(last) = last else {
            let seen = capture.summary();
            cluster.fail(&format!(
                "{fault:?} run {run}: node {victim}'s VIFs {orphans:?} not announced by another \
                 node within {HANDOVER:?}; {seen}"
            ));
        };
        samples.push(last.saturating_duration_since(struck));
        match fault {
            Fault::Carrier => switch.set(&uplink_peer(victim), true),
            Fault::Check => fs::remove_file(fail_file(scratch.dir(), victim)).expect("fail file"),
        }
    }
    samples
}
