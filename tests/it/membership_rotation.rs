//! Key rotation on a running cluster of the real binary (root only; see
//! tests/it/support/builtin.rs and tests/it/support/rotation.rs): three nodes
//! go through the README's three steps node by node with SIGHUP, and no
//! view changes and no address moves throughout; then a fourth listed
//! node that has only the old key is refused by every node and holds
//! nothing, and the three keep their view. Bad keys on SIGHUP are
//! refused and the running keys stay.

use crate::support::{builtin, builtin_checks, cluster, rotation};

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use builtin::{BuiltinCluster, Spec};
use builtin_checks::{assert_no_view_change, view_ids, MIN_POLLS};
use cluster::{Waits, MIN_SWEEPS};
use rotation::{heard_keys, own_keys, with_keys, Rotation};

/// Bound for a cluster to settle, or a node to take a reload: maturity
/// and a few balance rounds, with room for a loaded machine.
const SETTLE: Duration = Duration::from_secs(30);
const RUNNING: [usize; 3] = [0, 1, 2];
const OUTSIDER: usize = 3;

/// Four listed nodes under a majority (three): the three first run, the
/// fourth is only started later. Heartbeat 50 ms, time-out 1 s: nothing
/// here is about speed, and a loaded machine must not make a node look
/// dead (the bench rotates at the defaults).
fn three_of_four(tag: &str) -> BuiltinCluster {
    let mut spec = Spec::new(4, 6).timing("50ms", "1s");
    spec.service.quorum = "majority".into();
    let mut cluster = BuiltinCluster::new(tag, spec);
    for i in RUNNING {
        cluster.start(i);
    }
    cluster.wait_spread_as(&[2, 2, 2, 0], SETTLE);
    cluster.wait_view_of(&RUNNING, SETTLE);
    cluster
}

#[test]
fn a_running_cluster_rotates_its_key_without_a_view_change_and_then_refuses_the_old_one() {
    let mut cluster = three_of_four("kr");
    let before = view_ids(&mut cluster, &RUNNING);
    let (watch, sampler) = rotation::watch(&cluster, &RUNNING);
    let (old, new) = (cluster.key().to_path_buf(), cluster.dir().join("new.key"));
    let rotation = Rotation::prepare(&mut cluster, &RUNNING, &old, new, SETTLE);
    for i in RUNNING {
        let status = cluster.status(i);
        assert_eq!(
            own_keys(&status),
            Some((Some(rotation.old_id.clone()), None)),
            "{}",
            status.text
        );
    }

    rotation.accept_new(&mut cluster);
    rotation.switch(&mut cluster);
    rotation.drop_old(&mut cluster);

    let seen = watch.finish_after(MIN_POLLS, SETTLE);
    let report = sampler.finish_after(MIN_SWEEPS, SETTLE);
    println!("key rotation, 3 steps on 3 nodes: views seen {seen:?}");
    assert_no_view_change(&mut cluster, &before, &seen);
    if report.sweeps < MIN_SWEEPS
        || !report.doubles.is_empty()
        || cluster.holders() != rotation.holders
    {
        cluster.fail(&format!(
            "addresses moved during the rotation: before {:?}, {report:?}",
            rotation.holders
        ));
    }
    for i in RUNNING {
        let log = cluster.log(i);
        assert!(
            log.contains(&format!(
                "membership: keys changed: sending under key {}, also accepting key {}",
                rotation.old_id, rotation.new_id
            )) && log.contains(&format!(
                "membership: keys changed: sending under key {}, also accepting key {}",
                rotation.new_id, rotation.old_id
            )) && log.contains(&format!(
                "membership: keys changed: sending under key {}\n",
                rotation.new_id
            )),
            "node {i}: {log}"
        );
    }

    // The old key is gone: a fourth node that has only it is refused by
    // every node (its datagrams counted as bad MACs), holds nothing (no
    // quorum alone), and the three keep their view.
    let refused_before: Vec<u64> = RUNNING
        .iter()
        .map(|&i| cluster.status(i).refused_for("bad_mac"))
        .collect();
    let (watch, sampler) = rotation::watch(&cluster, &RUNNING);
    cluster.start(OUTSIDER);
    cluster.wait_for(
        "the old key's datagrams refused by every node",
        SETTLE,
        |c| {
            RUNNING.iter().all(|&i| {
                c.try_status(i)
                    .is_ok_and(|s| s.refused_for("bad_mac") >= refused_before[i] + 20)
            })
        },
    );
    cluster.wait_for("the old-key node refusing the others", SETTLE, |c| {
        c.try_status(OUTSIDER)
            .is_ok_and(|s| s.refused_for("bad_mac") >= 20)
    });
    std::thread::sleep(Duration::from_secs(2));
    let seen = watch.finish_after(MIN_POLLS, SETTLE);
    assert_no_view_change(&mut cluster, &before, &seen);
    let report = sampler.finish_after(MIN_SWEEPS, SETTLE);
    let holders = cluster.holders();
    if report.sweeps < MIN_SWEEPS || !report.doubles.is_empty() || holders != rotation.holders {
        cluster.fail(&format!(
            "the old-key node disturbed the VIFs: {holders:?}, {report:?}"
        ));
    }
    for i in RUNNING {
        let status = cluster.status(i);
        let states = status.node_states();
        if states[OUTSIDER] == "in view" || states[OUTSIDER] == "reachable" {
            cluster.fail(&format!(
                "node {i} counts the old-key node in: {}",
                status.text
            ));
        }
        // Never heard under any key: nothing it sent was accepted.
        assert_eq!(heard_keys(&status)[OUTSIDER], None, "{}", status.text);
    }
}

#[test]
fn bad_keys_on_sighup_are_refused_and_the_running_keys_stay() {
    let mut cluster = three_of_four("kb");
    let before = view_ids(&mut cluster, &RUNNING);
    let key = cluster.key().to_path_buf();
    let dir = cluster.dir().to_path_buf();
    let write = |name: &str, bytes: &[u8], mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write a key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    };
    let same = write("same.key", &std::fs::read(&key).expect("the key"), 0o600);
    let short = write("short.key", &[7; 15], 0o600);
    let exposed = write("exposed.key", &[7; 32], 0o640);
    let missing = dir.join("missing.key");
    let running = own_keys(&cluster.status(0));
    let original = cluster.config_text(0);
    for (accept, gist) in [
        (
            &same,
            format!("AcceptKey {} holds the same key as Key", same.display()),
        ),
        (
            &short,
            format!(
                "AcceptKey: the membership key {} holds 15 bytes",
                short.display()
            ),
        ),
        (
            &exposed,
            format!(
                "AcceptKey: the membership key {} may be read",
                exposed.display()
            ),
        ),
        (
            &missing,
            format!(
                "AcceptKey: cannot read the membership key {}",
                missing.display()
            ),
        ),
    ] {
        let logged = cluster.log(0).len();
        cluster.write_config(0, &with_keys(&original, &key, Some(accept)));
        cluster.signal(0, libc::SIGHUP);
        cluster.wait_for(
            &format!("the refusal of {}", accept.display()),
            SETTLE,
            |c| c.log(0)[logged..].contains(&format!("configuration not reloaded: {gist}")),
        );
        assert!(cluster.log(0)[logged..].contains("the running configuration and keys stay"));
        assert_eq!(own_keys(&cluster.status(0)), running);
    }
    // A bad new Key is refused the same way.
    let logged = cluster.log(0).len();
    cluster.write_config(0, &with_keys(&original, &short, None));
    cluster.signal(0, libc::SIGHUP);
    cluster.wait_for("the refusal of a short Key", SETTLE, |c| {
        c.log(0)[logged..].contains(&format!(
            "configuration not reloaded: the membership key {} holds 15 bytes",
            short.display()
        ))
    });
    assert_eq!(own_keys(&cluster.status(0)), running);
    assert!(cluster.running(0));
    cluster.write_config(0, &original);
    assert_eq!(view_ids(&mut cluster, &RUNNING), before);
}
