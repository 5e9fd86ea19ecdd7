//! A dead daemon on a living host, with the real binary (root only): 3
//! nodes, each in its own network namespace on one bridge (see
//! tests/it/support/builtin.rs). kill -9 of one daemon leaves its namespace
//! up, so its kernel answers the survivors' next heartbeats with ICMP
//! port unreachable, and they take its addresses over long before the
//! time-out; with `PortUnreachable = off`, only the time-out tells.
//!
//! The time-out is 2 s here, so that "well before the time-out" (1 s)
//! cannot be met by the time-out itself, however loaded the machine.

use crate::support::{builtin, cluster};

use std::time::{Duration, Instant};

use builtin::{BuiltinCluster, Spec};
use cluster::{ms, takeover_watch, Waits};

/// Bound for the cluster to settle after a start: the 2 s a new node
/// listens first, maturity, balance rounds, and room for a loaded machine.
const SETTLE: Duration = Duration::from_secs(40);
const TIMEOUT: Duration = Duration::from_secs(2);
/// What the port unreachable must beat: half the time-out.
const FAST: Duration = Duration::from_secs(1);

fn cluster(tag: &str, port_unreachable: &str) -> BuiltinCluster {
    let mut spec = Spec::new(3, 6).timing("20ms", "2s");
    spec.service.extra = format!("\tPortUnreachable = {port_unreachable}\n");
    let mut cluster = BuiltinCluster::new(tag, spec).settled(&[2, 2, 2], SETTLE);
    cluster.wait_view_of(&[0, 1, 2], SETTLE);
    cluster
}

/// A settled cluster with `PortUnreachable = <port_unreachable>`, then
/// kill -9 of node 2's daemon, its namespace left up: the cluster and how
/// long until every address node 2 held is up on nodes 0 and 1 (printed).
fn kill_daemon(tag: &str, port_unreachable: &str) -> (BuiltinCluster, Duration) {
    let mut cluster = cluster(tag, port_unreachable);
    let orphans = cluster.holders()[2].clone();
    assert!(!orphans.is_empty(), "node 2 held nothing");
    let watch = takeover_watch(&cluster, &orphans, &[0, 1], SETTLE);
    let killed = Instant::now();
    cluster.signal(2, libc::SIGKILL);
    let Some(up) = watch.join().expect("watcher") else {
        cluster.fail(&format!("node 2's VIFs {orphans:?} not taken over"));
    };
    cluster.wait_exit(2, Duration::from_secs(10));
    cluster.wait_each_once_among(&[0, 1], SETTLE);
    let took = up - killed;
    println!(
        "kill -9 of a daemon, host alive, PortUnreachable {port_unreachable}, Timeout \
         {TIMEOUT:?}: VIFs up elsewhere after {:.1} ms",
        ms(took)
    );
    (cluster, took)
}

#[test]
fn a_dead_daemon_on_a_live_host_is_taken_over_before_the_time_out() {
    let (mut cluster, took) = kill_daemon("pu", "on");
    if took >= FAST {
        cluster.fail(&format!(
            "the takeover took {took:?}: the port unreachable did not speed it up"
        ));
    }
    // A survivor counted the suspicion: whichever heard its probe bounce
    // first proposed the view, and the other may have followed it before
    // its own probe came back. Nobody counted more than one (once per peer
    // per Timeout).
    let counts: Vec<Option<u64>> = [0, 1]
        .iter()
        .map(|&i| cluster.status(i).unreachable_suspicions())
        .collect();
    let total: u64 = counts.iter().flatten().sum();
    if total < 1 || counts.iter().any(|c| c.is_none_or(|c| c > 1)) {
        cluster.fail(&format!(
            "the survivors count {counts:?} port unreachable suspicions: one of them at \
             least one, each at most one"
        ));
    }
}

#[test]
fn with_port_unreachable_off_a_dead_daemon_waits_for_the_time_out() {
    let (mut cluster, took) = kill_daemon("pf", "off");
    // The last heartbeat came at most a heartbeat before the kill.
    if took < TIMEOUT - Duration::from_millis(40) {
        cluster.fail(&format!(
            "the takeover took only {took:?}, under the time-out, with PortUnreachable off"
        ));
    }
}
