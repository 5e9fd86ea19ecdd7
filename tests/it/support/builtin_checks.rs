//! Checks shared by the cluster tests of the built-in membership: views
//! that must not change, and each node's picture of the others. (The
//! checks of moved VIFs, for either backend, are in cluster/takeover.rs.)

use std::collections::BTreeMap;

use crate::support::builtin::BuiltinCluster;
use crate::support::builtin_status::ViewHistory;
use crate::support::cluster::Waits;

/// How many times a [`crate::support::builtin_status::ViewWatch`] must have asked
/// each node for [`assert_no_view_change`] to mean anything (see
/// `ViewWatch::finish_after`).
pub const MIN_POLLS: usize = 3;

/// Every node's view id, by node.
pub fn view_ids(cluster: &mut BuiltinCluster, nodes: &[usize]) -> BTreeMap<usize, Option<String>> {
    nodes
        .iter()
        .map(|&i| (i, cluster.status(i).view_id()))
        .collect()
}

/// Fails unless every watched node kept the one view it started with.
pub fn assert_no_view_change(
    cluster: &mut BuiltinCluster,
    before: &BTreeMap<usize, Option<String>>,
    seen: &BTreeMap<usize, ViewHistory>,
) {
    for (i, history) in seen {
        let expected = vec![before[i].clone()];
        if history.views != expected || history.changes() != 0 || history.polls < MIN_POLLS {
            cluster.fail(&format!(
                "node {i} changed views: had {:?}, saw {:?} ({} polls, {} unanswered)",
                before[i], history.views, history.polls, history.silent
            ));
        }
    }
    let after = view_ids(cluster, &before.keys().copied().collect::<Vec<_>>());
    if &after != before {
        cluster.fail(&format!(
            "views changed: before {before:?}, after {after:?}"
        ));
    }
}

/// Each node's own status lists every configured node: itself as
/// `self`, and `in view` for each of `members`.
pub fn assert_node_states(cluster: &mut BuiltinCluster, i: usize, members: &[usize]) {
    let report = cluster.status(i);
    let states = report.node_states();
    let expected: Vec<&str> = (0..cluster.len())
        .map(|n| match n {
            n if n == i => "self",
            n if members.contains(&n) => "in view",
            _ => "?",
        })
        .collect();
    let matches = states.len() == expected.len()
        && states
            .iter()
            .zip(&expected)
            .all(|(s, e)| *e == "?" || s == e);
    if !matches {
        cluster.fail(&format!(
            "node {i} reports node states {states:?}, expected {expected:?}: {}",
            report.text
        ));
    }
}
