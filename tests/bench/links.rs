//! Redundant links end to end (root only; see tests/it/support/links.rs): a
//! 3-node cluster of the real binary on two bridges at the default
//! timings; each link of a node, and each whole network, is cut in turn
//! while the other link loses 10%, for `WACKAMOLE_BENCH_LINK_SECS`
//! seconds in all (default 60). It prints the view changes and the VIF
//! moves seen (target: none of either).
//!
//! `cargo bench --bench links` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{builtin, builtin_status, cluster, links};

use std::time::Duration;

use builtin::Spec;
use builtin_status::ViewWatch;
use cluster::Waits;
use links::{cut_in_turn, two_links};

const SETTLE: Duration = Duration::from_secs(30);
const NODES: usize = 3;

fn main() {
    let secs: u64 = std::env::var("WACKAMOLE_BENCH_LINK_SECS")
        .ok()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|_| panic!("WACKAMOLE_BENCH_LINK_SECS must be a number"))
        })
        .unwrap_or(60);
    let mut cluster = two_links("xk", Spec::new(NODES, 2 * NODES));
    cluster.start_all();
    cluster.wait_spread_as(&[2; NODES], SETTLE);
    let all: Vec<usize> = (0..NODES).collect();
    cluster.wait_view_of(&all, SETTLE);
    let before: Vec<Option<String>> = all.iter().map(|&i| cluster.status(i).view_id()).collect();
    let holders = cluster.holders();
    let controls = all
        .iter()
        .map(|&i| (i, cluster.node(i).control.clone()))
        .collect();
    let watch = ViewWatch::start(controls, Duration::from_millis(200));
    let sampler = cluster.observer().sample(Duration::from_millis(20));
    cut_in_turn(&cluster, Duration::from_secs(secs));
    let seen = watch.finish();
    let report = sampler.finish();
    let after: Vec<Option<String>> = all.iter().map(|&i| cluster.status(i).view_id()).collect();
    // Per node, the distinct views after the first; a change the polls
    // missed still shows in the ids before and after (ids never repeat).
    let mut changes: usize = seen.values().map(|h| h.changes()).sum();
    if changes == 0 && before != after {
        changes = 1;
    }
    if changes > 0 {
        // Why: what each node saw, and its log but the link lines.
        println!("views seen by node: {seen:?}");
        for i in 0..NODES {
            for line in cluster.log(i).lines() {
                if !line.contains("membership: link") {
                    println!("node {i}: {line}");
                }
            }
        }
    }
    let now = cluster.holders();
    let moved: usize = (0..NODES)
        .map(|i| holders[i].iter().filter(|v| !now[i].contains(v)).count())
        .sum();
    println!(
        "link loss, {NODES} nodes on two links at the defaults, a link of each node and each \
         whole network cut in turn with 10% loss on the other, {secs} s: {changes} view changes \
         (target 0), {moved} VIFs moved, {} sweeps with a VIF on two nodes ({} sweeps)",
        report.doubles.len(),
        report.sweeps
    );
}
