//! The promise "every address held by exactly one connected machine" in
//! figures, seen by the kernel-order witness (tests/it/support/addr_witness.rs)
//! on clusters of the real binary on the built-in membership at the
//! default timings (root only):
//!
//! - a cut port under `Quorum = majority` (5 nodes, 10 addresses), at a
//!   random phase of the heartbeat, `WACKAMOLE_BENCH_RUNS` times (20):
//!   for each address of the cut node, the time from its release in the
//!   cut node's namespace to its acquisition by the majority (negative: the
//!   majority had it first);
//! - moves between live nodes (the balance to a fifth node joining 4 that
//!   hold 8 addresses, the hand-over of its SIGTERM, and the moves back to
//!   a cut node when its port returns): the order and the gap of release
//!   and acquisition;
//! - the stall bound: SIGSTOP of a holder (3 nodes, 6 addresses), until
//!   the others hold its addresses and up to `WACKAMOLE_BENCH_STALL_WATCH_MS`
//!   (3000) more; how long after the stop its kernel dropped them, over
//!   `WACKAMOLE_BENCH_RUNS` runs.
//!
//! `WACKAMOLE_PROMISE_CONFIG` adds lines to every node's configuration
//! (`;` between lines), e.g. to turn on a setting under measure;
//! `WACKAMOLE_PROMISE_SEED` repeats the phases of a run.
//!
//! `cargo bench --bench promise` prints the figures.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{addr_timeline, builtin, promise_runs};

use std::time::{Duration, Instant};

use addr_timeline::{signed_ms, spread, Handover};
use builtin::Spec;
use promise_runs::{cut_port, join, leave, seed, stall, Rig};
use wackamole::membership::DEFAULT_HEARTBEAT;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, found `{text}`"))
    })
}

fn majority(nodes: usize, vifs: usize) -> Spec {
    let mut spec = Spec::new(nodes, vifs);
    spec.service.quorum = "majority".into();
    spec
}

fn main() {
    let runs = env_number("WACKAMOLE_BENCH_RUNS", 20) as usize;
    let watch = Duration::from_millis(env_number("WACKAMOLE_BENCH_STALL_WATCH_MS", 3000));
    let mut rejoin = cut_ports(runs);
    let mut moves = joins_and_leaves(runs.div_ceil(4).max(1));
    moves.append(&mut rejoin);
    report_moves("moves between live nodes (all of the above)", &moves);
    stalls(runs, watch);
}

/// "n: min / median / max" of `samples` (milliseconds).
fn figures(samples: &[f64]) -> String {
    match spread(samples) {
        Some((min, median, max)) => format!(
            "{} samples: min {min:+.3} ms, median {median:+.3} ms, max {max:+.3} ms",
            samples.len()
        ),
        None => "no samples".into(),
    }
}

fn report_moves(what: &str, moves: &[Handover]) {
    let gaps: Vec<f64> = moves.iter().map(Handover::gap_ms).collect();
    let first = moves.iter().filter(|h| h.in_order).count();
    println!(
        "{what}: release first in {first} of {} (acquisition first in {}); gap from release to \
         acquisition, {}",
        moves.len(),
        moves.len() - first,
        figures(&gaps)
    );
}

/// The cut-port runs; returns the moves seen as the cut nodes came back.
fn cut_ports(runs: usize) -> Vec<Handover> {
    let mut rig = Rig::new("yc", majority(5, 10));
    println!(
        "witness at real-time priority: {} (stamps trail the kernels by scheduling latency)",
        rig.witness.realtime()
    );
    let everyone: Vec<usize> = (0..5).collect();
    rig.cluster.start_all();
    rig.settle(&everyone);
    let mut rng = seed("cut port");
    let heartbeat = DEFAULT_HEARTBEAT.as_micros() as usize;
    let (mut gaps, mut worst, mut rejoin) = (Vec::new(), Vec::new(), Vec::new());
    let mut overlaps = 0;
    for run in 0..runs {
        let phase = Duration::from_micros(rng.below(heartbeat) as u64);
        let seen = cut_port(&mut rig, run % 5, phase);
        let run_gaps: Vec<f64> = seen.handovers.iter().map(Handover::gap_ms).collect();
        overlaps += seen.handovers.iter().filter(|h| !h.in_order).count();
        worst.extend(run_gaps.iter().copied().reduce(f64::min));
        gaps.extend(run_gaps);
        rejoin.extend(seen.rejoin.into_iter().filter(|h| !h.retake()));
    }
    println!(
        "cut port, Quorum = majority, 5 nodes, {runs} runs at random heartbeat phases: from the \
         cut node's release to the majority's acquisition, {} ({overlaps} acquired first); \
         worst address of each run, {}",
        figures(&gaps),
        figures(&worst)
    );
    report_moves("moves as a cut node came back", &rejoin);
    rejoin
}

/// Rounds of a fifth node joining four (balance) and leaving (SIGTERM).
fn joins_and_leaves(rounds: usize) -> Vec<Handover> {
    let mut rig = Rig::new("ym", Spec::new(5, 8));
    let four: Vec<usize> = (0..4).collect();
    for &i in &four {
        rig.cluster.start(i);
    }
    rig.settle(&four);
    let (mut joined, mut left) = (Vec::new(), Vec::new());
    let print = |rig: &Rig, what: &str, (moves, since): (Vec<Handover>, Instant)| {
        let timeline = rig.timeline();
        for h in &moves {
            let at = timeline.stamp(since);
            println!("  {what} of node 4 (at {at}): {}", timeline.handover(h));
        }
        moves
    };
    for _ in 0..rounds {
        let moves = join(&mut rig, 4, &four);
        joined.extend(print(&rig, "start", moves));
        let moves = leave(&mut rig, 4, &four);
        left.extend(print(&rig, "SIGTERM", moves));
    }
    report_moves(
        &format!("balance to a joining fifth node, {rounds} rounds"),
        &joined,
    );
    report_moves(
        &format!("hand-over of a leaving node (SIGTERM), {rounds} rounds"),
        &left,
    );
    joined.append(&mut left);
    joined
}

/// The stall bound over `runs` SIGSTOPs.
fn stalls(runs: usize, watch: Duration) {
    let mut rig = Rig::new("ys", majority(3, 6));
    rig.cluster.start_all();
    rig.settle(&[0, 1, 2]);
    let (mut bounds, mut takeovers, mut doubles) = (Vec::new(), Vec::new(), Vec::new());
    let mut kept = 0;
    for run in 0..runs {
        let seen = stall(&mut rig, run % 3, watch);
        takeovers.push(signed_ms(seen.stopped, seen.taken_over));
        match seen.dropped {
            Some(dropped) => {
                bounds.push(signed_ms(seen.stopped, dropped));
                doubles.push(signed_ms(seen.taken_over, dropped));
            }
            None => kept += 1,
        }
    }
    println!(
        "SIGSTOP of a holder, 3 nodes, {runs} runs: others hold its addresses after {}",
        figures(&takeovers)
    );
    println!(
        "stall bound (SIGSTOP to its kernel dropping its addresses): {}; kept them for the whole \
         watch ({} ms after the takeover) in {kept} of {runs} runs",
        figures(&bounds),
        watch.as_millis()
    );
    println!(
        "time both the stopped host and the others had them (takeover to drop): {}",
        figures(&doubles)
    );
}
