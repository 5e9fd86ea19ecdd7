//! What the engine simulation (`tests/it/engine_sim/`) checks of the
//! handoff of a VIF between two live nodes: original nodes among ours,
//! and no VIF up at two of our nodes of one connected group at once.
//!
//! An original node is modelled by our engine behind a filter that drops
//! the messages only our nodes speak (HOLDING, RELEASED, HEALTH) both ways:
//! without them our engine is exactly the original rules (the C twins
//! check that), so it acquires at once on BALANCE and at the settling of
//! a state exchange, releases without a word, and is never waited for.
//!
//! The order check runs on every Acquire output, in the simulation's
//! global order of events: when one of our nodes brings a VIF up, no
//! other node of ours in its component may have it up. For a VIF moved
//! between two of our live nodes in one view, that is "the old owner's
//! Release comes before the new owner's Acquire". Original nodes are
//! left out on both sides: an original new owner acquires on the
//! BALANCE itself, and an original old owner releases when it delivers
//! the BALANCE, and we cannot order either (README, mixing with original
//! nodes).

use wackamole::engine::codec::mess_type;

/// Whether an original node neither sends nor reads messages of this type.
pub fn ours_only(kind: i16) -> bool {
    matches!(
        kind,
        mess_type::HOLDING | mess_type::RELEASED | mess_type::HEALTH
    )
}

/// Whether an engine's warning tells of a handoff gone wrong. In the
/// simulation every node of ours sends what it owes and every RELEASED
/// comes before quiet, so none may appear.
pub fn handoff_failure(text: &str) -> bool {
    text.contains("RELEASED") || text.contains("HOLDING")
}

/// Panics if `node`, one of ours, brought `vif` up while another of our
/// nodes among `component` still has it up; `up(m, vif)` and `ours(m)`
/// describe the nodes.
pub fn check_exclusive(
    node: usize,
    vif: usize,
    component: &[usize],
    up: impl Fn(usize, usize) -> bool,
    ours: impl Fn(usize) -> bool,
) {
    for &other in component {
        assert!(
            other == node || !ours(other) || !up(other, vif),
            "n{node} acquired VIF {vif} while n{other}, of the same group, still had it up"
        );
    }
}

/// Fisher-Yates order of `members` for one delivery: a group service
/// hands a message to its members at different moments.
pub fn delivery_order(members: &[usize], mut below: impl FnMut(usize) -> usize) -> Vec<usize> {
    let mut order = members.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, below(i + 1));
    }
    order
}
