//! Key rotation on a running 3-node cluster of the real binary at the
//! default timings (root only; see tests/it/support/builtin.rs and
//! tests/it/support/rotation.rs): the README's three steps, node by node,
//! each by SIGHUP, `WACKAMOLE_BENCH_ROTATIONS` times (default 3; each
//! rotation's new key is the next one's old key). Prints, per rotation
//! and in all, the view changes seen (target: none), the VIPs seen on two
//! nodes or moved (target: none), the datagrams refused meanwhile
//! (target: none) and how long the nine reloads took.
//!
//! `cargo bench --bench rotation` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{builtin, cluster, rotation};

use std::time::{Duration, Instant};

use builtin::{BuiltinCluster, Spec};
use cluster::Waits;
use rotation::{watch, Rotation};

const SETTLE: Duration = Duration::from_secs(30);
const NODES: [usize; 3] = [0, 1, 2];

fn main() {
    let rotations = std::env::var("WACKAMOLE_BENCH_ROTATIONS")
        .ok()
        .map_or(3, |text| {
            text.parse()
                .unwrap_or_else(|_| panic!("WACKAMOLE_BENCH_ROTATIONS must be a number: {text}"))
        });
    let mut cluster = BuiltinCluster::new("bk", Spec::new(3, 6));
    cluster.start_all();
    cluster.wait_spread_as(&[2, 2, 2], SETTLE);
    cluster.wait_view_of(&NODES, SETTLE);
    let (mut changes, mut moves, mut refused) = (0, 0, 0);
    let mut key = cluster.key().to_path_buf();
    for run in 1..=rotations {
        let refused_before: u64 = NODES.iter().map(|&i| cluster.status(i).refused()).sum();
        let (watch, sampler) = watch(&cluster, &NODES);
        let new = cluster.dir().join(format!("key{run}.key"));
        let rotation = Rotation::prepare(&mut cluster, &NODES, &key, new, SETTLE);
        let started = Instant::now();
        rotation.accept_new(&mut cluster);
        rotation.switch(&mut cluster);
        rotation.drop_old(&mut cluster);
        let took = started.elapsed();
        let seen = watch.finish_after(3, SETTLE);
        let report = sampler.finish_after(10, SETTLE);
        let run_changes: usize = seen.values().map(|h| h.changes()).sum();
        let run_moves = report.doubles.len() + usize::from(cluster.holders() != rotation.holders);
        let run_refused = NODES
            .iter()
            .map(|&i| cluster.status(i).refused())
            .sum::<u64>()
            - refused_before;
        println!(
            "key rotation {run} of {rotations} (defaults, 3 nodes, 9 SIGHUPs in {:.0} ms): \
             view changes {run_changes}, VIPs doubled or moved {run_moves}, datagrams refused \
             {run_refused} ({} status polls, {} sweeps)",
            took.as_secs_f64() * 1000.0,
            seen.values().map(|h| h.polls).min().unwrap_or(0),
            report.sweeps
        );
        changes += run_changes;
        moves += run_moves;
        refused += run_refused;
        // The next rotation starts from this one's key.
        key = rotation.new;
    }
    println!(
        "key rotation, {rotations} rotations in all: view changes {changes} (target 0), VIPs \
         doubled or moved {moves} (target 0), datagrams refused {refused} (target 0)"
    );
}
