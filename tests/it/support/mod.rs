//! What the integration tests share: namespaces, scratch directories,
//! clusters of the real binary (on Spread or on the built-in membership),
//! sniffers, the Spread test daemon, the seeded simulators and their
//! checkers. Declared once in `tests/it/main.rs`; the benches of
//! `tests/bench/` reach the same tree through one `#[path]` to this file.
//!
//! # Tests of different modules run at once
//!
//! All the integration tests share one process, and libtest runs
//! `--test-threads` of them at a time, whichever modules they come from.
//! What keeps them apart:
//!
//! - Names: namespaces ([`netns::Netns`]) and directories
//!   ([`scratch::Scratch`]) are named by a tag, the process and a counter
//!   shared by the whole binary, so no two tests ever share one; interface
//!   names live inside a test's own namespaces; sockets bind port 0 or a
//!   path in the test's own directory.
//! - Descriptors: every socket the support opens is close-on-exec, so a
//!   daemon one test starts never inherits another test's sniffer or
//!   netlink socket (descriptor checks count the daemon's sockets).
//! - Process state: no test sets an environment variable, changes the
//!   directory or the umask of the process, or installs a signal handler;
//!   signals are blocked per thread and sent to threads (process_signals)
//!   or to child processes. The packet-level simulation lowers the
//!   library's log level for the process, which only quietens it.
//! - CPU: the seeded simulations spread their seeds over every core. On
//!   a two-core machine that would starve a cluster test running beside
//!   them, whose daemons must answer heartbeats in time. So a simulation
//!   runs its seeds holding [`exclusive`], and every namespace and
//!   scratch directory holds [`shared`] while it lives: a simulation waits
//!   for the running cluster and process tests to end, and they wait for
//!   it. Tests that hold neither (parsers, codecs, transcripts) run beside
//!   anything.
//!
//! A thread that holds [`exclusive`] may take [`shared`] too (it passes);
//! nothing else waits on a lock while holding [`shared`], so the gate
//! cannot deadlock. Shared holders do not wait for a waiting simulation,
//! so a namespace test never waits on a simulation it would have to
//! outlive.

pub mod addr_timeline;
pub mod addr_witness;
pub mod announce_rig;
pub mod builtin;
pub mod builtin_checks;
pub mod builtin_status;
pub mod cluster;
pub mod descriptors;
pub mod env;
pub mod faults;
// The library's model of Linux's ICMP limit, which its unit tests use too.
#[path = "../../../src/membership/icmp_limit.rs"]
pub mod icmp_limit;
pub mod links;
pub mod netns;
pub mod promise_runs;
pub mod rng;
pub mod roff;
pub mod rotation;
pub mod scratch;
pub mod sim_handoff;
pub mod simdaemon;
pub mod simnet;
pub mod sniffer;
pub mod spread_daemon;
pub mod status;
pub mod track_rig;
pub mod transcript;
pub mod vsync;

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

/// Who holds a CPU gate: how many shared holders, and the thread of the
/// exclusive one.
struct Holders {
    shared: usize,
    exclusive: Option<ThreadId>,
}

/// A readers-writer gate on the machine's CPUs, by thread: any number of
/// shared holders, or one exclusive holder (which may also take shares
/// on its own thread, counted as nothing).
pub struct Gate {
    holders: Mutex<Holders>,
    changed: Condvar,
}

/// The gate every test of this binary passes: [`shared`] and
/// [`exclusive`].
static GATE: Gate = Gate::new();

/// A share of the machine, held by a test whose timing matters (a
/// namespace, a scratch directory); released on drop.
#[must_use = "the share ends when the guard is dropped"]
pub struct Shared<'g> {
    gate: &'g Gate,
    counted: bool,
}

/// The whole machine, held by a simulation while it spreads its seeds over
/// every core; released on drop.
#[must_use = "the machine is given back when the guard is dropped"]
pub struct Exclusive<'g>(&'g Gate);

/// Waits until no simulation holds the machine, then shares it.
pub fn shared() -> Shared<'static> {
    GATE.shared()
}

/// Waits until no other test holds the machine, shared or whole, then
/// holds it alone.
pub fn exclusive() -> Exclusive<'static> {
    GATE.exclusive()
}

impl Gate {
    pub const fn new() -> Gate {
        Gate {
            holders: Mutex::new(Holders {
                shared: 0,
                exclusive: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn holders(&self) -> MutexGuard<'_, Holders> {
        // The lock is held only to count, never across a test's code.
        self.holders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until nobody holds the gate whole (but this thread), then
    /// shares it.
    pub fn shared(&self) -> Shared<'_> {
        let me = thread::current().id();
        let mut now = self.holders();
        if now.exclusive == Some(me) {
            return Shared {
                gate: self,
                counted: false,
            };
        }
        while now.exclusive.is_some() {
            now = self
                .changed
                .wait(now)
                .unwrap_or_else(PoisonError::into_inner);
        }
        now.shared += 1;
        Shared {
            gate: self,
            counted: true,
        }
    }

    /// Waits until nobody holds the gate, shared or whole, then holds it
    /// alone.
    pub fn exclusive(&self) -> Exclusive<'_> {
        let me = thread::current().id();
        let mut now = self.holders();
        assert_ne!(now.exclusive, Some(me), "the machine is already held here");
        while now.exclusive.is_some() || now.shared > 0 {
            now = self
                .changed
                .wait(now)
                .unwrap_or_else(PoisonError::into_inner);
        }
        now.exclusive = Some(me);
        Exclusive(self)
    }
}

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.gate.holders().shared -= 1;
            self.gate.changed.notify_all();
        }
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.0.holders().exclusive = None;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod gate_tests {
    use super::Gate;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    /// How long a waiter is given to (wrongly) get in.
    const GRACE: Duration = Duration::from_millis(100);

    /// Runs `take` on another thread while `held` is alive: it must not
    /// get in before `held` is dropped, and must once it is.
    fn waits_for<H>(gate: &'static Gate, held: H, take: fn(&'static Gate)) {
        let inside = AtomicBool::new(false);
        thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                take(gate);
                inside.store(true, Ordering::SeqCst);
            });
            thread::sleep(GRACE);
            assert!(
                !inside.load(Ordering::SeqCst),
                "got in while the gate was held"
            );
            drop(held);
            waiter
                .join()
                .expect("the waiter got in once the gate was free");
        });
        assert!(inside.load(Ordering::SeqCst));
    }

    fn leak() -> &'static Gate {
        Box::leak(Box::new(Gate::new()))
    }

    #[test]
    fn the_whole_machine_waits_for_every_share() {
        let gate = leak();
        let (a, b) = (gate.shared(), gate.shared());
        waits_for(gate, (a, b), |g| drop(g.exclusive()));
    }

    #[test]
    fn a_share_waits_for_the_whole_machine() {
        let gate = leak();
        let whole = gate.exclusive();
        waits_for(gate, whole, |g| drop(g.shared()));
    }

    #[test]
    fn shares_do_not_wait_for_each_other_and_the_holder_may_share() {
        let gate = leak();
        let first = gate.shared();
        thread::scope(|scope| {
            scope
                .spawn(|| drop(gate.shared()))
                .join()
                .expect("a second share at once");
        });
        drop(first);
        let whole = gate.exclusive();
        // The simulation's own thread may take a share (a scratch
        // directory) without waiting for itself.
        drop(gate.shared());
        drop(whole);
        drop(gate.exclusive());
    }
}
