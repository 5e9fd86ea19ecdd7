//! Running seeds: one (with a trace to replay it) or many over threads,
//! and the counts of what they exercised.

use super::sim::Sim;

/// What the runs exercised, so a schedule generator gone dull shows.
#[derive(Default, Debug)]
pub(super) struct Stats {
    pub(super) mature_checks: u64,
    pub(super) immature_checks: u64,
    pub(super) views: u64,
    pub(super) balances: u64,
    pub(super) proceeds: u64,
    pub(super) duplicates: u64,
    pub(super) partitions: u64,
    pub(super) merges: u64,
    /// Components whose C twins agreed, and whose table ours matched.
    pub(super) c_agreements: u64,
    /// Components whose C twins disagreed among themselves.
    pub(super) c_splits: u64,
    /// VIFs one of our nodes brought up on the RELEASED of another.
    pub(super) handoffs: u64,
    /// ... in a component with an original node.
    pub(super) mixed_handoffs: u64,
    /// Changes of a node's health.
    pub(super) health_changes: u64,
    /// Checks of a quiet component where health was agreed and some
    /// member could not serve everything.
    pub(super) health_checks: u64,
}

/// Runs one seed; on failure prints how to replay it and returns Err.
pub(super) fn run_seed(seed: u64, tracing: bool) -> Result<Stats, ()> {
    run_seed_with(seed, tracing, true)
}

/// [`run_seed`], with changes of health or without (a schedule kept from
/// before health existed).
pub(super) fn run_seed_with(seed: u64, tracing: bool, health: bool) -> Result<Stats, ()> {
    let mut sim = Sim::new(seed, tracing);
    sim.health_on &= health;
    let steps = sim.rng.range(10, 40);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..steps {
            sim.step();
        }
        sim.quiesce(false);
        sim.check();
    }));
    if result.is_err() {
        if let Some(trace) = sim.trace.as_ref() {
            eprintln!("trace of seed {seed}:\n{}", trace.join("\n"));
        }
        eprintln!("simulation failed for seed {seed}; replay it with WACKAMOLE_SIM_SEED={seed}");
        return Err(());
    }
    Ok(sim.stats)
}

impl Stats {
    fn add(&mut self, s: &Stats) {
        self.mature_checks += s.mature_checks;
        self.immature_checks += s.immature_checks;
        self.views += s.views;
        self.balances += s.balances;
        self.proceeds += s.proceeds;
        self.duplicates += s.duplicates;
        self.partitions += s.partitions;
        self.merges += s.merges;
        self.c_agreements += s.c_agreements;
        self.c_splits += s.c_splits;
        self.handoffs += s.handoffs;
        self.mixed_handoffs += s.mixed_handoffs;
        self.health_changes += s.health_changes;
        self.health_checks += s.health_checks;
    }
}

/// Runs seeds `0..seeds` on `threads` threads, each taking the next batch
/// of seeds as it finishes one; stops at the first failure and names the
/// lowest failing seed found.
pub(super) fn run_seeds(seeds: u64, threads: usize) -> Stats {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    const BATCH: u64 = 64;
    // A lock, not an AtomicU64: 32-bit PowerPC (make cross-test) has no
    // 64-bit atomics.
    let next = Mutex::new(0u64);
    let failed = AtomicBool::new(false);
    let first_failure: Mutex<Option<u64>> = Mutex::new(None);
    let total = Mutex::new(Stats::default());
    let _cores = crate::support::exclusive();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut mine = Stats::default();
                'batches: while !failed.load(Ordering::Relaxed) {
                    let start = {
                        let mut next = next.lock().expect("not poisoned");
                        let start = *next;
                        *next += BATCH;
                        start
                    };
                    for seed in start..seeds.min(start + BATCH) {
                        match run_seed(seed, false) {
                            Ok(s) => mine.add(&s),
                            Err(()) => {
                                failed.store(true, Ordering::Relaxed);
                                let mut first = first_failure.lock().expect("not poisoned");
                                *first = Some(first.map_or(seed, |f| f.min(seed)));
                                break 'batches;
                            }
                        }
                    }
                    if start + BATCH >= seeds {
                        break;
                    }
                }
                total.lock().expect("not poisoned").add(&mine);
            });
        }
    });
    if let Some(seed) = *first_failure.lock().expect("not poisoned") {
        panic!("the simulation failed; replay with WACKAMOLE_SIM_SEED={seed}");
    }
    total.into_inner().expect("not poisoned")
}

pub(super) fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|e| panic!("{name}={value:?} is not a number: {e}")),
    )
}
