//! The trackers in the real binary (root only): a node of the built-in
//! membership in namespaces the test creates, with a drain file, a check
//! command and, through SIGHUP, a tracked interface added and removed;
//! its JSON status and its log show each tracker's state and every change.

use crate::support::{builtin, cluster, scratch};

use std::time::{Duration, Instant};

use builtin::{BuiltinCluster, Spec};
use cluster::Waits;
use wackamole::control::json::JsonTracker;

const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until node 0's tracker of `kind` and `target` is in `state`.
fn wait_tracker(
    cluster: &mut BuiltinCluster,
    kind: &str,
    target: &str,
    state: &str,
) -> JsonTracker {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = cluster.status(0);
        let found = status
            .doc
            .trackers
            .iter()
            .flatten()
            .find(|t| t.kind == kind && t.target == target)
            .cloned();
        if let Some(tracker) = found.filter(|t| t.state == state) {
            return tracker;
        }
        if Instant::now() > deadline {
            let message = format!(
                "{kind} {target} not {state} within {PATIENCE:?}: {:?}",
                status.doc.trackers
            );
            cluster.fail(&message);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_log(cluster: &mut BuiltinCluster, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !cluster.log(0).contains(text) {
        if Instant::now() > deadline {
            cluster.fail(&format!("no {text:?} in the log within {PATIENCE:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn trackers_follow_the_drain_file_the_check_command_and_a_reload() {
    let mut spec = Spec::new(1, 2);
    let dir = scratch::Scratch::new("track");
    let drain = dir.path("drain");
    let fail = dir.path("fail");
    let command = format!(
        "if test -e {f}; then echo backend down; exit 1; fi; echo ok",
        f = fail.display()
    );
    let track = format!(
        "Track {{\n\tFile = {drain}\n\tCommand = \"{command}\" {{ Interval = 200ms  Fall = 2  Rise = 1 }}\n\tHoldDown = 300ms\n}}\n",
        drain = drain.display(),
    );
    spec.extra[0] = track.clone();
    let mut cluster = BuiltinCluster::new("trk", spec);
    cluster.start(0);

    let file = drain.display().to_string();
    wait_tracker(&mut cluster, "file", &file, "passing");
    let check = wait_tracker(&mut cluster, "command", &command, "passing");
    assert!(
        check.last_result.starts_with("exit status 0: ok"),
        "{check:?}"
    );
    wait_tracker(&mut cluster, "vif-interface", cluster::INTERFACE, "passing");

    std::fs::write(&drain, "").expect("create the drain file");
    let failing = wait_tracker(&mut cluster, "file", &file, "failing");
    assert_eq!(failing.last_result, "exists");
    wait_log(&mut cluster, &format!("drain file {file} exists"));
    std::fs::remove_file(&drain).expect("remove the drain file");
    wait_tracker(&mut cluster, "file", &file, "passing");

    std::fs::write(&fail, "").expect("make the check fail");
    let failing = wait_tracker(&mut cluster, "command", &command, "failing");
    assert_eq!(failing.last_result, "exit status 1: backend down");
    wait_log(
        &mut cluster,
        "failed 2 times in a row: exit status 1: backend down",
    );
    std::fs::remove_file(&fail).expect("make the check pass");
    wait_tracker(&mut cluster, "command", &command, "passing");

    // SIGHUP adds a tracked interface that does not exist, then takes it
    // away again.
    let base = cluster.config_text(0);
    let with_missing = base.replace("Track {\n", "Track {\n\tInterface = wk-none0\n");
    assert_ne!(with_missing, base);
    cluster.write_config(0, &with_missing);
    cluster.signal(0, libc::SIGHUP);
    let missing = wait_tracker(&mut cluster, "interface", "wk-none0", "failing");
    assert_eq!(missing.last_result, "does not exist");
    wait_log(&mut cluster, "tracked interface wk-none0 does not exist");
    cluster.write_config(0, &base);
    cluster.signal(0, libc::SIGHUP);
    wait_log(&mut cluster, "tracked interface wk-none0 no longer tracked");
    let status = cluster.status(0);
    assert!(
        !status
            .doc
            .trackers
            .iter()
            .flatten()
            .any(|t| t.target == "wk-none0"),
        "{:?}",
        status.doc.trackers
    );
}
