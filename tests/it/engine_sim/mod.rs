//! Deterministic simulation of whole clusters of engines.
//!
//! Each seed builds a cluster (1..=16 members, 1..=64 VIFs, random
//! preferences, balance settings and maturity, sometimes a foreign client
//! that never speaks, sometimes two nodes sharing one identity) and runs a
//! random schedule of joins, graceful leaves, crashes, partitions, merges,
//! partial deliveries and timer firings. A group service stand-in delivers
//! agreed messages in one total order per component; when the membership
//! changes, a prefix of the old component's queue reaches its members in
//! the old view and the rest is delivered in the sender's new view (as a
//! group service may). After every quiescent point the invariants of the
//! allocation are checked.
//!
//! Every node also has a twin, a reference model of a C node written from
//! etc/design/ALGORITHM.md, fed the same views and messages: wherever the C
//! twins of a component agree on a table, our engines must compute that
//! very table (owner and priority of every VIF). C twins can disagree
//! among themselves after merges (their member counts depend on each
//! node's previous table); those components are counted, not compared.
//! Every STATE our engine sends must report exactly what its twin's would
//! (the twin's previous table), as long as the twin last ran with our
//! engine's table.
//!
//! Some seeds mix in original nodes (`support/sim_handoff.rs`): our
//! engine behind a filter of the messages only ours speak. Every message
//! reaches the members of a component in a random order, and whenever one
//! of our nodes brings a VIF up, no other node of ours in its component
//! may still have it up: a VIF handed from one of our nodes to another
//! goes down at the old owner before it comes up at the new one. A VIF
//! waiting for its RELEASED changes neither the table nor what a STATE
//! reports, so the comparisons with the C twins need no exception for
//! it; holdings are compared at quiet points, once every RELEASED came.
//!
//! Half the seeds also change the health of nodes of ours at random
//! moments (node-wide, or some VIFs' interfaces), delivered as HEALTH in
//! agreed order among everything else; some of those release a VIF no
//! member can serve. Once quiet, in a view where health is agreed (every
//! member ours), each VIF is held exactly once and never by a member that
//! cannot serve it while one can, and the members that can serve
//! everything are balanced (while no member is partly servable). The C
//! twins model no health: a seed stops comparing with them at its first
//! change of health, and the preference check is left out from then on
//! (a VIF moved off an unhealthy preferring member returns to it on the
//! next view, not at once).
//!
//! `WACKAMOLE_SIM_SEED=N` replays one seed with a trace of its schedule;
//! `WACKAMOLE_SIM_SEEDS=N` changes how many seeds the default run covers
//! (100,000; `make soak` runs a million), spread over every core or over
//! `WACKAMOLE_SIM_THREADS`.
//!
//! The parts, in engine_sim/: sim.rs (the simulated cluster and the group
//! service stand-in), schedule.rs (the random events and the step that
//! draws them), checks.rs (the invariants of a quiet component),
//! c_rules.rs (the C twin), runs.rs (one seed or many, and the counts of
//! what they exercised), scripted.rs (engines and twins driven by hand).
//! This file holds the tests.

mod c_rules;
mod checks;
mod runs;
mod schedule;
mod scripted;
mod sim;

use std::net::Ipv4Addr;

use wackamole::engine::codec::StateBody;
use wackamole::engine::{ClaimPriority, VifIndex};

use checks::table_of;
use runs::{env_u64, run_seed, run_seed_with, run_seeds};
use scripted::Scripted;

/// How many seeds the default run covers.
const DEFAULT_SEEDS: u64 = 100_000;

#[test]
fn clusters_agree_on_one_balanced_allocation() {
    if let Some(seed) = env_u64("WACKAMOLE_SIM_SEED") {
        let stats = run_seed(seed, true).unwrap_or_else(|()| panic!("seed {seed} failed"));
        eprintln!("seed {seed}: {stats:?}");
        return;
    }
    let seeds = env_u64("WACKAMOLE_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let threads = match env_u64("WACKAMOLE_SIM_THREADS") {
        Some(t) => t.max(1) as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let began = std::time::Instant::now();
    let total = run_seeds(seeds, threads);
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "{seeds} seeds simulated on {threads} threads in {secs:.1} s ({:.0} seeds/s): {total:?}",
        seeds as f64 / secs
    );
    if seeds >= 1000 {
        // The schedules must reach every situation the invariants are
        // about, not just idle clusters.
        for (what, count) in [
            ("mature components checked", total.mature_checks),
            ("immature components checked", total.immature_checks),
            ("BALANCE deliveries", total.balances),
            ("PROCEED deliveries", total.proceeds),
            ("duplicate identities", total.duplicates),
            ("partitions", total.partitions),
            ("merges", total.merges),
            ("components checked against the C rules", total.c_agreements),
            ("handoffs on RELEASED", total.handoffs),
            (
                "handoffs on RELEASED beside original nodes",
                total.mixed_handoffs,
            ),
            ("changes of health", total.health_changes),
            (
                "components checked with health agreed and in play",
                total.health_checks,
            ),
        ] {
            assert!(count >= seeds / 100, "too few {what}: {count}");
        }
    }
}

/// The schedule the reduced test below comes from, kept as it was found
/// (a merge of three components cut short by a partition after three
/// STATEs), whatever `WACKAMOLE_SIM_SEEDS` says.
#[test]
fn seed_41312_a_merge_cut_short_by_a_partition() {
    let stats = run_seed_with(41312, false, false).expect("seed 41312 passes");
    assert!(stats.merges >= 1 && stats.partitions >= 1 && stats.c_agreements >= 1);
}

/// Reduced from seed 41312. A merge is cut short after two members'
/// STATEs claimed the same VIFs: every C node rewrites those entries of
/// its previous table to the winner, so a C node that still has one of
/// those VIFs up stops reporting it. Our node used to report what it
/// held; in the next view a C node then counted that VIF for ours as well
/// as for the member preferring it, and gave the unclaimed VIFs out
/// differently from our node: a split table in a mixed cluster.
#[test]
fn a_merge_cut_short_after_a_conflict_leaves_a_mixed_cluster_one_table() {
    // a = 0 and e = 3 share six VIFs; c = 2 and b = 1, each alone, hold
    // all six and both prefer VIF 2, which a holds.
    let (a, b, c, e) = (0, 1, 2, 3);
    let mut s = Scripted::new(6, &[&[], &[2], &[2], &[]]);
    s.settle(1, &[a, e]);
    assert!((0..6).all(|v| s.engines[a].holds(VifIndex(v)) == (v % 2 == 0)));
    s.settle(2, &[c]);
    s.settle(3, &[b]);
    // The merge: c's STATE, then b's, which loses every VIF to c; then
    // the view is replaced before a's and e's STATEs arrive.
    let states = s.view(4, &[a, b, c, e]);
    let state_of = |n: usize| {
        let name = Scripted::name(n);
        states
            .iter()
            .find(|m| m.sender == name)
            .expect("a STATE")
            .clone()
    };
    s.deliver(&[a, b, c, e], &state_of(c));
    s.deliver(&[a, b, c, e], &state_of(b));
    assert!(
        s.engines[a].holds(VifIndex(2)),
        "a still has VIF 2 up, as a C node would"
    );
    let states = s.view(5, &[a, b]);
    let reported = StateBody::decode(&states[0].body, false).expect("a's STATE");
    assert_eq!(
        reported.held,
        s.twins[a].reported(),
        "a reports as a C node does"
    );
    assert!(reported.held.is_empty(), "c won every VIF a held");
    for state in &states {
        s.deliver(&[a, b], state);
    }
    let ours = table_of(&s.engines[a].snapshot());
    assert_eq!(ours, table_of(&s.engines[b].snapshot()));
    assert_eq!(ours, s.twins[a].alloc, "a C node in a's place");
    assert_eq!(ours, s.twins[b].alloc, "a C node in b's place");
    assert_eq!(
        ours[2],
        (
            Some(Ipv4Addr::new(192, 168, 1, 2)),
            ClaimPriority::PreferClaimed
        )
    );
    assert!(!s.engines[a].holds(VifIndex(2)), "a gave VIF 2 up to b");
    assert!(s.engines[b].holds(VifIndex(2)));
}
