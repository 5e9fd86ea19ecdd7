//! How soon a killed daemon's death reaches Spread: from SIGKILL of a
//! daemon holding its VIFs (so its announcer has AF_PACKET sockets open)
//! until the Spread test daemon reads the end of that daemon's session.
//! That is when Spread tells the peers, and so when they start taking the
//! addresses over. Min, median and max over `WACKAMOLE_BENCH_DEATH_RUNS`
//! runs (default 60), each on a freshly started daemon, with the
//! descriptor numbers of the daemon's sockets printed once.
//!
//! Root only: the daemon runs in network namespaces the bench creates
//! (see tests/it/support/cluster.rs). `cargo bench --bench death`.

// The integration tests' support tree; a bench uses a part of it, so
// what it leaves unused is not dead (the test binary reports that).
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use support::{cluster, descriptors};

use std::os::unix::process::ExitStatusExt;
use std::thread;
use std::time::{Duration, Instant};

use cluster::{Cluster, Spec, Waits};
use descriptors::Descriptors;

const VIFS: usize = 4;
const SETTLE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

fn main() {
    let runs = match std::env::var("WACKAMOLE_BENCH_DEATH_RUNS") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("WACKAMOLE_BENCH_DEATH_RUNS must be a number, found `{text}`")
        }),
        Err(_) => 60,
    };
    assert!(runs > 0, "WACKAMOLE_BENCH_DEATH_RUNS must be at least 1");
    let mut cluster = Cluster::new("bk", Spec::new(1, VIFS));
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        cluster.start(0);
        let pid = cluster.node(0).pid().expect("the daemon runs");
        let mut layout = Descriptors::default();
        cluster.wait_for(
            "every VIF up, announced from a packet socket, and the Spread session open",
            SETTLE,
            |c| {
                layout = Descriptors::of(pid).unwrap_or_default();
                c.holders()[0].len() == VIFS
                    && !layout.packet.is_empty()
                    && !layout.unix_clients.is_empty()
            },
        );
        if run == 0 {
            println!(
                "descriptors of the daemon: Spread session {:?}, packet sockets {:?}, all {:?}",
                layout.unix_clients, layout.packet, layout.all
            );
        }
        let killed = Instant::now();
        cluster.signal(0, libc::SIGKILL);
        let deadline = killed + Duration::from_secs(10);
        let ended = loop {
            match cluster.spread().ended("node0") {
                Some(at) if at > killed => break at,
                _ if Instant::now() > deadline => {
                    cluster.fail(&format!("run {run}: Spread never saw the session end"))
                }
                _ => thread::sleep(POLL),
            }
        };
        let status = cluster.wait_exit(0, Duration::from_secs(10));
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        samples.push(ended - killed);
    }
    samples.sort();
    println!(
        "death to Spread (SIGKILL of a daemon holding {VIFS} VIFs until the Spread daemon reads \
         the end of its session, {runs} runs): min {:.3} ms, median {:.3} ms, max {:.3} ms",
        ms(samples[0]),
        ms(samples[runs / 2]),
        ms(samples[runs - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
