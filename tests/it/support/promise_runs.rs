//! Faults of a real cluster on the built-in membership, watched by the
//! kernel-order witness (tests/it/support/addr_witness.rs), for the tests of
//! the promise "every address held by exactly one connected machine"
//! (tests/builtin_promise.rs) and its figures (tests/bench/promise.rs).
//! Each run brings the cluster to rest (one view of every running node,
//! every address once among them, balanced within one) before and after
//! its fault, and returns what the witness saw: the tests judge it, the
//! bench counts it.

use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::addr_timeline::{Change, Handover, Timeline};
use crate::support::addr_witness::Witness;
use crate::support::builtin::{BuiltinCluster, Spec};
use crate::support::cluster::Waits;
use crate::support::rng::Rng;

/// Bound for a cluster to come to rest after a change: a new node's
/// listening time-out, maturity (1 s), a few one-second balance rounds,
/// with room for a loaded machine.
pub const SETTLE: Duration = Duration::from_secs(40);

/// Lines added to every node's configuration, from
/// `WACKAMOLE_PROMISE_CONFIG` (`;` separates lines), e.g. a setting the
/// stall runs should use.
pub fn extra_config() -> String {
    std::env::var("WACKAMOLE_PROMISE_CONFIG")
        .map(|text| text.replace(';', "\n") + "\n")
        .unwrap_or_default()
}

/// A seed from `WACKAMOLE_PROMISE_SEED`, or from the clock; printed so a
/// run can be repeated with the same phases.
pub fn seed(what: &str) -> Rng {
    let seed = super::env::number("WACKAMOLE_PROMISE_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("{what}: WACKAMOLE_PROMISE_SEED={seed}");
    Rng(seed)
}

/// A cluster and the witness of its namespaces, started before any
/// daemon.
pub struct Rig {
    // First, so that it stops (and lets the hub go) before the cluster
    // is torn down.
    pub witness: Witness,
    pub cluster: BuiltinCluster,
    pub vips: Vec<IpAddr>,
}

impl Rig {
    /// The cluster of `spec` with [`extra_config`] on every node, and its
    /// witness; no daemon runs yet.
    pub fn new(tag: &str, mut spec: Spec) -> Rig {
        let extra = extra_config();
        for text in &mut spec.extra {
            text.push_str(&extra);
        }
        let cluster = BuiltinCluster::new(tag, spec);
        let namespaces: Vec<_> = (0..cluster.len())
            .map(|i| cluster.node(i).ns_file())
            .collect();
        let witness = Witness::start(cluster.hub(), &namespaces);
        let vips = cluster.vips().iter().map(|&v| IpAddr::V4(v)).collect();
        Rig {
            cluster,
            witness,
            vips,
        }
    }

    pub fn timeline(&self) -> Timeline {
        self.witness.timeline()
    }

    /// Fails with `message`, the timeline of every address and the
    /// cluster's diagnostics.
    pub fn fail(&mut self, message: &str) -> ! {
        let timeline = self.timeline();
        let seen = timeline.describe(&self.vips, timeline.last_at() - SETTLE);
        self.cluster
            .fail(&format!("{message}\nthe witness's last changes:\n{seen}"))
    }

    /// Waits until `nodes` share one view, and every address is in exactly
    /// one of their namespaces, each holding as many as the others within
    /// one (no other namespace is looked at).
    pub fn settle(&mut self, nodes: &[usize]) {
        let vips = self.vips.clone();
        let balanced = |timeline: &Timeline| {
            let counts: Vec<usize> = nodes
                .iter()
                .map(|&n| timeline.held_by(n, &vips).len())
                .collect();
            timeline.each_once_among(&vips, nodes)
                && counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0) <= 1
        };
        for _ in 0..2 {
            if self.witness.wait_until(SETTLE, balanced).is_none() {
                self.fail(&format!(
                    "timed out after {SETTLE:?} waiting for every address once among nodes \
                     {nodes:?}, balanced"
                ));
            }
            self.cluster.wait_view_of(nodes, SETTLE);
        }
    }

    /// The addresses in `node`'s namespace now.
    pub fn held_by(&self, node: usize) -> Vec<IpAddr> {
        self.timeline().held_by(node, &self.vips)
    }
}

/// What the witness saw when a node's port was cut.
#[derive(Debug, Clone)]
pub struct CutRun {
    pub victim: usize,
    /// For each of the victim's addresses: its release in the victim's
    /// namespace and its first acquisition elsewhere.
    pub handovers: Vec<Handover>,
    /// Every handover from the takeover on, while the victim came back
    /// (retakes included).
    pub rejoin: Vec<Handover>,
    pub timeline: Timeline,
    pub since: Instant,
}

/// Cuts `victim`'s port after `phase`, waits until the others hold all its
/// addresses and its kernel has none of them, then brings the port back
/// and waits for rest. Fails when the victim keeps them (it has no
/// quorum) or the others never take them.
pub fn cut_port(rig: &mut Rig, victim: usize, phase: Duration) -> CutRun {
    let everyone: Vec<usize> = (0..rig.cluster.len()).collect();
    let others: Vec<usize> = everyone.iter().copied().filter(|&i| i != victim).collect();
    let orphans = rig.held_by(victim);
    assert!(!orphans.is_empty(), "node {victim} holds nothing to cut");
    thread::sleep(phase);
    let since = Instant::now();
    rig.cluster.link_down(victim);
    let moved = |timeline: &Timeline| {
        orphans.iter().all(|&a| {
            let holders = timeline.holders(a);
            holders.len() == 1 && holders[0] != victim
        })
    };
    if rig.witness.wait_until(SETTLE, moved).is_none() {
        rig.fail(&format!(
            "port of node {victim} cut: its addresses {orphans:?} not released by it and held by \
             one of the others within {SETTLE:?}"
        ));
    }
    let timeline = rig.timeline();
    let handovers = orphans
        .iter()
        .map(|&addr| {
            let changes = timeline.changes();
            let first = |wanted: &dyn Fn(&Change) -> bool| {
                changes
                    .iter()
                    .position(|c| c.at >= since && c.addr == addr && wanted(c))
                    .expect("the wait saw it")
            };
            let released = first(&|c| !c.added && c.node == victim);
            let acquired = first(&|c| c.added && c.node != victim);
            Handover {
                addr,
                from: victim,
                to: changes[acquired].node,
                released: changes[released].at,
                acquired: changes[acquired].at,
                counted_out: false,
                in_order: released < acquired,
            }
        })
        .collect();
    let back = Instant::now();
    rig.settle(&others);
    rig.cluster.link_up(victim);
    rig.settle(&everyone);
    let timeline = rig.timeline();
    let rejoin = timeline.analyse(&rig.vips, back).handovers;
    CutRun {
        victim,
        handovers,
        rejoin,
        timeline,
        since,
    }
}

/// Every handover of `addrs` from one namespace to another from `since`
/// on (retakes left out).
pub fn live_moves(timeline: &Timeline, addrs: &[IpAddr], since: Instant) -> Vec<Handover> {
    timeline
        .analyse(addrs, since)
        .handovers
        .into_iter()
        .filter(|h| !h.retake() && !h.counted_out)
        .collect()
}

/// Starts `joiner` (its namespace wired, its daemon not running) and
/// waits for rest: balance moves addresses to it. Returns the moves and
/// when it started.
pub fn join(rig: &mut Rig, joiner: usize, running: &[usize]) -> (Vec<Handover>, Instant) {
    let mut all = running.to_vec();
    all.push(joiner);
    all.sort_unstable();
    let since = Instant::now();
    rig.cluster.start(joiner);
    rig.settle(&all);
    (live_moves(&rig.timeline(), &rig.vips, since), since)
}

/// SIGTERM of `leaver`: it hands its addresses over and exits; waits for
/// rest among `staying`. Returns the moves and when it was asked.
pub fn leave(rig: &mut Rig, leaver: usize, staying: &[usize]) -> (Vec<Handover>, Instant) {
    let since = Instant::now();
    rig.cluster.signal(leaver, libc::SIGTERM);
    rig.cluster.wait_exit(leaver, SETTLE);
    rig.settle(staying);
    (live_moves(&rig.timeline(), &rig.vips, since), since)
}

/// What the witness saw when a holder was stopped.
#[derive(Debug, Clone)]
pub struct StallRun {
    pub stale: Vec<IpAddr>,
    pub stopped: Instant,
    /// When the last of its addresses was up elsewhere.
    pub taken_over: Instant,
    /// When its kernel had dropped the last of them, if it did while
    /// stopped (looked for until `taken_over` + the wait given).
    pub dropped: Option<Instant>,
    /// How long it was watched while stopped.
    pub watched: Duration,
}

/// SIGSTOP of `victim` until the others hold its addresses, then up to
/// `wait` more for its kernel to drop them (a valid lifetime the daemon
/// stopped renewing); SIGCONT, and rest again. Fails when the others do
/// not take over.
pub fn stall(rig: &mut Rig, victim: usize, wait: Duration) -> StallRun {
    let everyone: Vec<usize> = (0..rig.cluster.len()).collect();
    let stale = rig.held_by(victim);
    assert!(!stale.is_empty(), "node {victim} holds nothing to stall");
    let stopped = Instant::now();
    rig.cluster.signal(victim, libc::SIGSTOP);
    let elsewhere = |timeline: &Timeline| {
        stale
            .iter()
            .all(|&a| timeline.holders(a).iter().any(|&h| h != victim))
    };
    if rig.witness.wait_until(SETTLE, elsewhere).is_none() {
        rig.cluster.signal(victim, libc::SIGCONT);
        rig.fail(&format!(
            "node {victim} stopped: its addresses {stale:?} not taken over within {SETTLE:?}"
        ));
    }
    let gone = |timeline: &Timeline| timeline.held_by(victim, &stale).is_empty();
    rig.witness.wait_until(wait, gone);
    let woken = Instant::now();
    rig.cluster.signal(victim, libc::SIGCONT);
    let timeline = rig.timeline();
    let last = |added: bool, mine: bool| {
        let firsts = stale.iter().map(|&a| {
            let mut after = timeline.changes().iter().filter(|c| c.at >= stopped);
            after
                .find(|c| c.addr == a && c.added == added && (c.node == victim) == mine)
                .map(|c| c.at)
                .filter(|&at| at < woken)
        });
        firsts.collect::<Option<Vec<Instant>>>()?.into_iter().max()
    };
    let (Some(taken_over), dropped) = (last(true, false), last(false, true)) else {
        unreachable!("the wait saw every address taken over");
    };
    if rig.witness.wait_until(SETTLE, gone).is_none() {
        rig.fail(&format!(
            "node {victim} woken: its stale addresses {stale:?} still on it after {SETTLE:?}"
        ));
    }
    rig.settle(&everyone);
    StallRun {
        stale,
        stopped,
        taken_over,
        dropped,
        watched: woken - stopped,
    }
}
