//! A key rotation of a running cluster of tests/it/support/builtin.rs, as the
//! README's "Rotating the key" tells an operator to do it: each step
//! rewrites one node's `Key`/`AcceptKey` lines, sends it SIGHUP and waits
//! until its JSON status shows the new key ids; between the steps, what
//! every node reports of the others is checked as the procedure says.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::builtin::{keygen, BuiltinCluster};
use crate::support::builtin_status::ViewWatch;
use crate::support::cluster::{Sampler, Waits};
use crate::support::status::Status;
use wackamole::membership::wire::Key;

/// Starts following the views of `nodes` (every 100 ms) and who holds
/// each VIP (every 5 ms).
pub fn watch(cluster: &BuiltinCluster, nodes: &[usize]) -> (ViewWatch, Sampler) {
    let controls = nodes
        .iter()
        .map(|&i| (i, cluster.node(i).control.clone()))
        .collect();
    let watch = ViewWatch::start(controls, Duration::from_millis(100));
    (watch, cluster.observer().sample(Duration::from_millis(5)))
}

/// The id the status shows for the key in `path`.
pub fn key_id(path: &Path) -> String {
    let secret = std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    Key::new(&secret).expect("a key file").id().to_string()
}

/// Node `i`'s configuration with `Key = current` and, if given,
/// `AcceptKey = accepted` in its Membership block (replacing what it had).
pub fn with_keys(text: &str, current: &Path, accepted: Option<&Path>) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let word = line.trim_start();
        if word.starts_with("AcceptKey ") {
            continue;
        }
        if word.starts_with("Key ") {
            out.push_str(&format!("\tKey = {}\n", current.display()));
            if let Some(accepted) = accepted {
                out.push_str(&format!("\tAcceptKey = {}\n", accepted.display()));
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// This node's own key ids in its status: (current, accepted).
pub fn own_keys(status: &Status) -> Option<(Option<String>, Option<String>)> {
    let m = status.membership()?;
    Some((m.key.clone(), m.accepted_key.clone()))
}

/// The key id of the last datagram node `i` accepted from each node, in
/// `Nodes` order (its own: the key it sends under).
pub fn heard_keys(status: &Status) -> Vec<Option<String>> {
    status.nodes().iter().map(|n| n.key.clone()).collect()
}

/// One running rotation: the old key (the cluster's) and the new one.
pub struct Rotation {
    pub old: PathBuf,
    pub new: PathBuf,
    pub old_id: String,
    pub new_id: String,
    /// The nodes rotated (all running).
    pub nodes: Vec<usize>,
    /// What each node held before: checked after every step.
    pub holders: Vec<Vec<Ipv4Addr>>,
    within: Duration,
}

impl Rotation {
    /// From the key at `old`, which `nodes` use, to a fresh one written
    /// to `new`; `nodes` must be running and settled.
    pub fn prepare(
        cluster: &mut BuiltinCluster,
        nodes: &[usize],
        old: &Path,
        new: PathBuf,
        within: Duration,
    ) -> Rotation {
        let old = old.to_path_buf();
        keygen(&new);
        let (old_id, new_id) = (key_id(&old), key_id(&new));
        assert_ne!(old_id, new_id, "two fresh keys with one id");
        Rotation {
            old,
            new,
            old_id,
            new_id,
            nodes: nodes.to_vec(),
            holders: cluster.holders(),
            within,
        }
    }

    /// Gives node `i` these keys by SIGHUP and waits for its status to
    /// show them.
    fn set(&self, cluster: &mut BuiltinCluster, i: usize, current: &Path, accepted: Option<&Path>) {
        let text = with_keys(&cluster.config_text(i), current, accepted);
        cluster.write_config(i, &text);
        cluster.signal(i, libc::SIGHUP);
        let expected = (Some(key_id(current)), accepted.map(key_id));
        cluster.wait_for(
            &format!("node {i} to take keys {expected:?}"),
            self.within,
            |c| {
                c.try_status(i)
                    .is_ok_and(|s| own_keys(&s) == Some(expected.clone()))
            },
        );
        self.check_holders(cluster);
    }

    /// Fails if an address moved since the start.
    fn check_holders(&self, cluster: &mut BuiltinCluster) {
        let now = cluster.holders();
        if now != self.holders {
            cluster.fail(&format!(
                "addresses moved during the rotation: {:?} then {now:?}",
                self.holders
            ));
        }
    }

    /// Waits until every rotated node heard every other under the key
    /// `expected(node)` names.
    fn wait_heard(
        &self,
        cluster: &mut BuiltinCluster,
        what: &str,
        expected: impl Fn(usize) -> String,
    ) {
        let nodes = self.nodes.clone();
        cluster.wait_for(what, self.within, |c| {
            nodes.iter().all(|&i| {
                c.try_status(i).is_ok_and(|s| {
                    let heard = heard_keys(&s);
                    nodes
                        .iter()
                        .all(|&n| heard.get(n).cloned().flatten() == Some(expected(n)))
                })
            })
        });
    }

    /// Step 1: every node accepts the new key beside the old one, which
    /// it still sends under.
    pub fn accept_new(&self, cluster: &mut BuiltinCluster) {
        for &i in &self.nodes {
            self.set(cluster, i, &self.old, Some(&self.new));
        }
        self.wait_heard(cluster, "every node heard under the old key", |_| {
            self.old_id.clone()
        });
    }

    /// Step 2: node by node, the new key becomes current and the old one
    /// accepted; after each node, the others hear it under the new key.
    pub fn switch(&self, cluster: &mut BuiltinCluster) {
        for (done, &i) in self.nodes.iter().enumerate() {
            self.set(cluster, i, &self.new, Some(&self.old));
            let switched = &self.nodes[..=done];
            self.wait_heard(
                cluster,
                &format!("nodes {switched:?} heard under the new key, the rest under the old"),
                |n| {
                    if switched.contains(&n) {
                        self.new_id.clone()
                    } else {
                        self.old_id.clone()
                    }
                },
            );
        }
    }

    /// Step 3: the old key goes everywhere.
    pub fn drop_old(&self, cluster: &mut BuiltinCluster) {
        for &i in &self.nodes {
            self.set(cluster, i, &self.new, None);
        }
        self.wait_heard(cluster, "every node heard under the new key alone", |_| {
            self.new_id.clone()
        });
    }
}
