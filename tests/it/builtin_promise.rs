//! The promise "every address held by exactly one connected machine",
//! seen from the kernels (root only): clusters of the real binary on the
//! built-in membership (tests/it/support/builtin.rs), every namespace's
//! address changes recorded in kernel order by one witness
//! (tests/it/support/addr_witness.rs) and judged by its checker
//! (tests/it/support/addr_timeline.rs). Nodes are numbered from 0: node 0 is
//! the first of `Nodes`.
//!
//! - a routine restart of node 0 (port down, kill -9, back) under
//!   `Quorum = majority`: no address unheld but node 0's own while they
//!   fail over, no survivor releasing an address and taking it back
//!   (finding 1), no move overlapping (finding 3);
//! - a cut port under `Quorum = majority`, at random heartbeat phases:
//!   the cut node releases each of its addresses before the majority
//!   acquires it (finding 2);
//! - moves between live nodes (balance to a joining node, the hand-over
//!   of a leaving one): release before acquisition (finding 3);
//! - a stopped holder: the others take over; how long its kernel keeps
//!   its addresses is printed (the stall bound, finding 4).
//!
//! `WACKAMOLE_PROMISE_RUNS` sets the cut-port repetitions (20),
//! `WACKAMOLE_PROMISE_SEED` the phases, `WACKAMOLE_PROMISE_CONFIG` lines
//! added to every node's configuration (`;` between lines).
//!
//! The checker's own tests need no root.

use crate::support::{addr_timeline, builtin, env, promise_runs};

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use addr_timeline::{spread, Change, Handover, Timeline};
use builtin::Spec;
use promise_runs::{cut_port, join, leave, seed, stall, Rig};
use wackamole::membership::DEFAULT_HEARTBEAT;

/// Restarts of node 0 in the restart test.
const RESTARTS: usize = 4;
/// Join-and-leave rounds of the fifth node in the move test.
const MOVE_ROUNDS: usize = 8;
/// How long a stopped holder is watched once the others hold its
/// addresses.
const STALL_WATCH: Duration = Duration::from_secs(5);

fn majority(nodes: usize, vifs: usize) -> Spec {
    let mut spec = Spec::new(nodes, vifs);
    spec.service.quorum = "majority".into();
    spec
}

/// "min / median / max" of the gaps of `moves`, in milliseconds.
fn gaps(moves: &[Handover]) -> String {
    let samples: Vec<f64> = moves.iter().map(Handover::gap_ms).collect();
    match spread(&samples) {
        Some((min, median, max)) => format!(
            "{} gaps: min {min:+.3} ms, median {median:+.3} ms, max {max:+.3} ms",
            samples.len()
        ),
        None => "no gaps".into(),
    }
}

/// Where `at` falls among the rounds' (departure, return, end) marks.
fn phase_of(rounds: &[(Instant, Instant)], at: Instant) -> String {
    match rounds.iter().rposition(|&(down, _)| down <= at) {
        None => "before the first restart".into(),
        Some(r) if at < rounds[r].1 => format!("round {r}, departure of node 0"),
        Some(r) => format!("round {r}, return of node 0"),
    }
}

/// What breaks the promise among the handovers around the departure or
/// return of `node` (its own failover, counted out, excepted), a line each
/// after `context`: a retake or a move between two of the others (the
/// others dropping what they hold: a fresh allocation), finding 1; an
/// acquisition before the release, finding 3.
fn around(
    node: usize,
    handovers: &[Handover],
    timeline: &Timeline,
    context: &dyn Fn(&Handover) -> String,
) -> String {
    let mut found: Vec<(Instant, String)> = Vec::new();
    for h in handovers.iter().filter(|h| !h.counted_out) {
        let mut finding = if h.retake() {
            "finding 1 (one of the others released an address it kept)".to_string()
        } else if h.from != node && h.to != node {
            "finding 1 (an address moved between two of the others: a reallocation)".to_string()
        } else if !h.in_order {
            "finding 3 (a move overlapped)".to_string()
        } else {
            continue;
        };
        if !h.in_order && !finding.starts_with("finding 3") {
            finding += " and finding 3 (it overlapped)";
        }
        let line = format!("{finding}: {}: {}\n", context(h), timeline.handover(h));
        found.push((h.started(), line));
    }
    found.sort();
    found.into_iter().map(|(_, line)| line).collect()
}

#[test]
fn a_restart_of_the_first_node_leaves_no_address_unheld_and_none_retaken() {
    let mut rig = Rig::new("pa", majority(5, 8));
    let everyone: Vec<usize> = (0..5).collect();
    let survivors: Vec<usize> = (1..5).collect();
    rig.cluster.start_all();
    rig.settle(&everyone);
    let begin = Instant::now();
    let logged: Vec<usize> = survivors
        .iter()
        .map(|&i| rig.cluster.log(i).len())
        .collect();
    // (port down, back) of each round; node 0 counted out from its port
    // going down until its interface is gone with every address on it.
    let mut rounds = Vec::new();
    let mut out = Vec::new();
    for _ in 0..RESTARTS {
        let down = Instant::now();
        rig.cluster.link_down(0);
        rig.cluster.kill(0);
        rig.cluster.cut(0);
        out.push((down, Instant::now()));
        rig.settle(&survivors);
        let back = Instant::now();
        rig.cluster.wire(0);
        rig.cluster.start(0);
        rig.settle(&everyone);
        rounds.push((down, back));
    }
    let seen = rig.timeline();
    let timeline = out
        .iter()
        .fold(seen, |t, &(down, gone)| t.without(0, down, Some(gone)));
    let analysis = timeline.analyse(&rig.vips, begin);
    let context = |h: &Handover| phase_of(&rounds, h.started());
    let mut violations = around(0, &analysis.handovers, &timeline, &context);
    for i in analysis.unheld.iter().filter(|i| i.to.is_none()) {
        let _ = writeln!(
            violations,
            "finding 1 (an address left unheld): {}",
            timeline.interval(i)
        );
    }
    // A double no overlapping handover explains: the newcomer backed off.
    let unexplained = analysis.doubles.iter().filter(|d| {
        !analysis
            .handovers
            .iter()
            .any(|h| !h.in_order && h.addr == d.addr && h.acquired == d.from)
    });
    for d in unexplained {
        let _ = writeln!(
            violations,
            "finding 3 (an address on two live nodes): {}: {}",
            phase_of(&rounds, d.from),
            timeline.interval(d)
        );
    }
    let failovers: Vec<&Handover> = analysis
        .handovers
        .iter()
        .filter(|h| h.counted_out)
        .collect();
    let moves: Vec<Handover> = analysis
        .handovers
        .iter()
        .filter(|h| !h.counted_out && !h.retake())
        .cloned()
        .collect();
    println!(
        "{RESTARTS} restarts of node 0: {} failovers of its addresses, {} moves between live \
         nodes ({}), {} retakes, {} doubles",
        failovers.len(),
        moves.len(),
        gaps(&moves),
        analysis.handovers.iter().filter(|h| h.retake()).count(),
        analysis.doubles.len()
    );
    if !violations.is_empty() {
        let below: Vec<usize> = survivors
            .iter()
            .zip(&logged)
            .map(|(&i, &from)| rig.cluster.log(i)[from..].matches("below quorum").count())
            .collect();
        rig.fail(&format!(
            "restarting node 0 broke the promise (`below quorum` lines logged meanwhile by \
             nodes {survivors:?}: {below:?}):\n{violations}"
        ));
    }
}

#[test]
fn a_node_cut_off_under_a_majority_quorum_releases_before_the_majority_acquires() {
    let runs = env::number("WACKAMOLE_PROMISE_RUNS").unwrap_or(20) as usize;
    let mut rig = Rig::new("pc", majority(5, 10));
    let everyone: Vec<usize> = (0..5).collect();
    rig.cluster.start_all();
    rig.settle(&everyone);
    let mut rng = seed("cut port");
    let heartbeat = DEFAULT_HEARTBEAT.as_micros() as usize;
    let (mut cut, mut rejoin) = (Vec::new(), Vec::new());
    let mut violations = String::new();
    let mut healing_flaps: Vec<String> = Vec::new();
    for run in 0..runs {
        let phase = Duration::from_micros(rng.below(heartbeat) as u64);
        let seen = cut_port(&mut rig, run % 5, phase);
        for h in seen.handovers.iter().filter(|h| !h.in_order) {
            let _ = writeln!(
                violations,
                "finding 2 (the majority acquired before the cut node released): run {run}, \
                 node {} cut {:.3} ms into a heartbeat at {}: {}",
                seen.victim,
                phase.as_secs_f64() * 1000.0,
                seen.timeline.stamp(seen.since),
                seen.timeline.handover(h)
            );
        }
        let context = |_: &Handover| format!("run {run}, node {} came back", seen.victim);
        // As the cut node comes back, a move that overlaps breaks the
        // promise; a survivor that reallocates or releases and retakes
        // (finding 1 on the healing side, not yet fixed there: the
        // restarts of the first test must show none) is counted and shown.
        for line in around(seen.victim, &seen.rejoin, &seen.timeline, &context).lines() {
            if line.contains("finding 3") {
                violations += line;
                violations.push('\n');
            } else {
                healing_flaps.push(line.to_string());
            }
        }
        cut.extend(seen.handovers);
        rejoin.extend(seen.rejoin.into_iter().filter(|h| !h.retake()));
    }
    println!(
        "{runs} cut ports: the cut node's release to the majority's acquisition, {}; moves as it \
         came back, {}",
        gaps(&cut),
        gaps(&rejoin)
    );
    println!(
        "{} survivor releases or reallocations as a cut node came back (finding 1 on healing)",
        healing_flaps.len()
    );
    for line in &healing_flaps {
        println!("  {line}");
    }
    if !violations.is_empty() {
        rig.fail(&format!("a cut port broke the promise:\n{violations}"));
    }
}

#[test]
fn moves_between_live_nodes_release_before_they_acquire() {
    let mut rig = Rig::new("pm", Spec::new(5, 8));
    let four: Vec<usize> = (0..4).collect();
    for &i in &four {
        rig.cluster.start(i);
    }
    rig.settle(&four);
    let mut all = Vec::new();
    let mut violations = String::new();
    for round in 0..MOVE_ROUNDS {
        let (joined, since) = join(&mut rig, 4, &four);
        if joined.is_empty() {
            rig.fail(&format!(
                "round {round}: node 4 joined and holds {:?}, but no address moved to it",
                rig.held_by(4)
            ));
        }
        let (left, _) = leave(&mut rig, 4, &four);
        let timeline = rig.timeline();
        for (what, h) in joined
            .iter()
            .map(|h| ("join", h))
            .chain(left.iter().map(|h| ("leave", h)))
        {
            if !h.in_order {
                let _ = writeln!(
                    violations,
                    "finding 3 (a move between live nodes overlapped): round {round} (from {}), \
                     {what} of node 4: {}",
                    timeline.stamp(since),
                    timeline.handover(h)
                );
            }
        }
        all.extend(joined);
        all.extend(left);
    }
    println!(
        "{MOVE_ROUNDS} joins and leaves of node 4: {} moves, {} in order; {}",
        all.len(),
        all.iter().filter(|h| h.in_order).count(),
        gaps(&all)
    );
    if !violations.is_empty() {
        rig.fail(&format!(
            "moves between live nodes broke the promise:\n{violations}"
        ));
    }
}

#[test]
fn a_stopped_holder_is_taken_over_and_how_long_its_kernel_keeps_its_addresses_is_measured() {
    let mut rig = Rig::new("ps", majority(3, 6));
    rig.cluster.start_all();
    rig.settle(&[0, 1, 2]);
    let seen = stall(&mut rig, 1, STALL_WATCH);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let took = ms(seen.taken_over - seen.stopped);
    match seen.dropped {
        Some(dropped) => println!(
            "SIGSTOP of node 1: its addresses {:?} up elsewhere after {took:.1} ms; its kernel \
             dropped them after {:.1} ms (the stall bound), {:.1} ms on two machines",
            seen.stale,
            ms(dropped - seen.stopped),
            ms(dropped.saturating_duration_since(seen.taken_over))
        ),
        None => println!(
            "SIGSTOP of node 1: its addresses {:?} up elsewhere after {took:.1} ms; its kernel \
             still had them when woken {:.1} ms after the stop (no stall bound)",
            seen.stale,
            ms(seen.watched)
        ),
    }
}

// The checker itself, on made-up timelines.

fn at(origin: Instant, ms: u64) -> Instant {
    origin + Duration::from_millis(ms)
}

fn timeline_of(origin: Instant, changes: &[(u64, usize, u8, bool)]) -> Timeline {
    let mut timeline = Timeline::new(origin);
    for &(ms, node, last, added) in changes {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, last));
        timeline.push(Change::seen(at(origin, ms), node, addr, 16, added));
    }
    timeline
}

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

#[test]
fn the_checker_finds_overlaps_gaps_and_retakes() {
    let o = Instant::now();
    let timeline = timeline_of(
        o,
        &[
            (0, 1, 1, true),
            (10, 2, 1, true), // overlap: 2 acquires while 1 holds
            (10, 1, 1, true), // a renewal changes nothing
            (12, 1, 1, false),
            (20, 2, 1, false), // then a move 2 -> 3, release first
            (23, 3, 1, true),
            (30, 3, 1, false), // and a retake by 3
            (31, 3, 1, true),
            (40, 3, 2, true), // another address, left unheld
            (45, 3, 2, false),
        ],
    );
    let all = timeline.analyse(&[addr(1), addr(2)], o);
    assert_eq!(all.doubles.len(), 1);
    let d = &all.doubles[0];
    assert_eq!(
        (d.nodes.clone(), d.from, d.to),
        (vec![1, 2], at(o, 10), Some(at(o, 12)))
    );
    let summary: Vec<(usize, usize, bool, i64)> = all
        .handovers
        .iter()
        .map(|h| (h.from, h.to, h.in_order, h.gap_ms().round() as i64))
        .collect();
    assert_eq!(
        summary,
        vec![(1, 2, false, -2), (2, 3, true, 3), (3, 3, true, 1)]
    );
    assert!(all.handovers[2].retake());
    let unheld: Vec<(IpAddr, Instant, Option<Instant>)> =
        all.unheld.iter().map(|i| (i.addr, i.from, i.to)).collect();
    assert_eq!(
        unheld,
        vec![
            (addr(1), at(o, 20), Some(at(o, 23))),
            (addr(1), at(o, 30), Some(at(o, 31))),
            (addr(2), at(o, 45), None),
        ]
    );
    // Only what starts from `since` on.
    let later = timeline.analyse(&[addr(1)], at(o, 25));
    assert_eq!((later.doubles.len(), later.handovers.len()), (0, 1));
}

#[test]
fn a_node_counted_out_fails_over_and_its_stale_changes_do_not_count() {
    let o = Instant::now();
    let timeline = timeline_of(
        o,
        &[
            (0, 0, 1, true),
            (0, 1, 2, true),
            (15, 1, 1, true), // node 0 is disconnected from 10: no double
            (20, 0, 1, false),
            (30, 0, 3, true), // back from 25 with this one
        ],
    );
    let counted = timeline.without(0, at(o, 10), Some(at(o, 25)));
    let all = counted.analyse(&[addr(1), addr(2), addr(3)], o);
    assert!(all.doubles.is_empty(), "{:?}", all.doubles);
    assert_eq!(all.unheld.len(), 1);
    assert!(all.unheld[0].counted_out);
    assert_eq!(all.unheld[0].length(o), Duration::from_millis(5));
    let failover = &all.handovers[0];
    assert!(failover.counted_out && failover.in_order && !failover.retake());
    assert_eq!(counted.holders(addr(3)), vec![0]);
    // Without an end it stays out: its later changes do not count.
    let gone = timeline.without(0, at(o, 10), None);
    assert!(gone.holders(addr(3)).is_empty());
    assert_eq!(gone.holders(addr(1)), vec![1]);
}

#[test]
fn an_ioctl_installation_is_one_acquisition_and_a_release_before_it_is_a_retake() {
    let o = Instant::now();
    let mut timeline = Timeline::new(o);
    // Installed: the classful entry, its removal, the entry with the mask;
    // later released and installed again the same way.
    for (ms, prefix, added) in [
        (0, 8, true),
        (0, 8, false),
        (0, 16, true),
        (10, 16, false),
        (11, 8, true),
        (11, 8, false),
        (11, 16, true),
    ] {
        timeline.push(Change::seen(at(o, ms), 2, addr(1), prefix, added));
    }
    let all = timeline.analyse(&[addr(1)], o);
    assert!(all.doubles.is_empty());
    assert_eq!(all.handovers.len(), 1, "{:?}", all.handovers);
    let retake = &all.handovers[0];
    assert!(retake.retake());
    assert_eq!((retake.released, retake.acquired), (at(o, 10), at(o, 11)));
    assert_eq!(timeline.holders(addr(1)), vec![2]);
}
