//! The bounded waits every cluster (Spread or built-in) offers: poll a
//! condition until it holds or the time is up, then fail with the
//! cluster's diagnostics. Bring [`Waits`] into scope to use them.

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use super::{owners, Observer, POLL};

/// How long a test keeps asking a node for its status before it counts
/// as not answering (a loaded machine may answer late).
pub const STATUS_PATIENCE: Duration = Duration::from_secs(30);

/// Calls `ask` (every [`POLL`]) until it answers or `within` has passed;
/// then its last error.
pub fn patiently<T>(
    within: Duration,
    mut ask: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + within;
    loop {
        match ask() {
            Ok(answer) => return Ok(answer),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// What a cluster answers, and the waits built on it.
pub trait Waits: Sized {
    /// The observer of every node's VIPs, and every VIF's address in
    /// configuration order.
    fn watched(&self) -> (&Observer, &[Ipv4Addr]);

    /// Everything that explains a failure: each node's state, addresses
    /// and log, and what the cluster's group service knows.
    fn diagnostics(&mut self) -> String;

    /// The VIPs on each node's `wm0`, by node.
    fn holders(&self) -> Vec<Vec<Ipv4Addr>> {
        self.watched().0.sweep()
    }

    /// Every VIF's address, in configuration order.
    fn vips(&self) -> &[Ipv4Addr] {
        self.watched().1
    }

    /// Fails the test with `message` and the diagnostics.
    fn fail(&mut self, message: &str) -> ! {
        panic!("{message}\n{}", self.diagnostics());
    }

    /// Polls `done` until it holds or `within` passes; then fails with
    /// `what` and the diagnostics.
    fn wait_for(&mut self, what: &str, within: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if done(self) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {within:?} waiting for {what}"));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until every VIF is on exactly one node and each node holds
    /// `counts[i]` of them.
    fn wait_spread_as(&mut self, counts: &[usize], within: Duration) {
        let what = format!("every VIF on exactly one node, held {counts:?}");
        self.wait_for(&what, within, |c| {
            let holders = c.holders();
            c.each_once(&holders) && holders.iter().map(Vec::len).eq(counts.iter().copied())
        });
    }

    /// Waits until every VIF is on exactly one node (however spread).
    fn wait_each_once(&mut self, within: Duration) {
        self.wait_for("every VIF on exactly one node", within, |c| {
            c.each_once(&c.holders())
        });
    }

    /// Waits until every VIF is on exactly one of `nodes` (the others are
    /// not looked at: a dead or frozen machine keeps what it had).
    fn wait_each_once_among(&mut self, nodes: &[usize], within: Duration) {
        let what = format!("every VIF on exactly one of nodes {nodes:?}");
        self.wait_for(&what, within, |c| c.each_once_among(&c.holders(), nodes));
    }

    /// Waits until no node holds any VIF.
    fn wait_all_released(&mut self, within: Duration) {
        self.wait_for("every VIF released", within, |c| {
            c.holders().iter().all(Vec::is_empty)
        });
    }

    /// Whether every VIF is on exactly one node in `holders`.
    fn each_once(&self, holders: &[Vec<Ipv4Addr>]) -> bool {
        let all: Vec<usize> = (0..holders.len()).collect();
        self.each_once_among(holders, &all)
    }

    /// Whether every VIF is on exactly one of `nodes` in `holders`.
    fn each_once_among(&self, holders: &[Vec<Ipv4Addr>], nodes: &[usize]) -> bool {
        let only: Vec<Vec<Ipv4Addr>> = holders
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if nodes.contains(&i) {
                    h.clone()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let owners = owners(&only);
        self.vips()
            .iter()
            .all(|v| owners.get(v).is_some_and(|o| o.len() == 1))
    }
}
