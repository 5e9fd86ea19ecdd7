//! The account behind a handoff (see `handoff`): per member, what its
//! HOLDING said it had up; per VIF, who still owes a RELEASED and how
//! long we wait for it. The messages that change it are handled in
//! `handoff`.

use super::index::{MemberIndex, VifIndex};

/// This view's account of who may still have what up.
pub(super) struct Handoff {
    /// Per member: the VIFs its HOLDING for this view listed, if one came
    /// before its STATE.
    pub(super) holding: Vec<Option<Vec<VifIndex>>>,
    /// Per VIF: the members that owe a RELEASED for it, once per debt.
    pub(super) due: Vec<Vec<MemberIndex>>,
    /// Per VIF the table gives us and we have not brought up because a
    /// RELEASED is owed: the round of the release timer after which we
    /// stop waiting.
    pub(super) waiting: Vec<Option<u32>>,
    /// The round of the release timer (armed or next).
    pub(super) round: u32,
    pub(super) timer_armed: bool,
}

impl Handoff {
    pub(super) fn new(members: usize, vifs: usize) -> Handoff {
        Handoff {
            holding: vec![None; members],
            due: vec![Vec::new(); vifs],
            waiting: vec![None; vifs],
            round: 0,
            timer_armed: false,
        }
    }

    /// Whether `member` is one of ours: it sent HOLDING in this view
    /// before its STATE, so it sends RELEASED for what it gives up.
    pub(super) fn is_ours(&self, member: MemberIndex) -> bool {
        self.holding.get(member.0).is_some_and(Option::is_some)
    }

    /// Whether we are waiting for a RELEASED before bringing `vif` up.
    pub(super) fn awaits(&self, vif: VifIndex) -> bool {
        self.waiting[vif.0].is_some()
    }

    /// The members other than `owner` that owe a RELEASED for `vif`.
    pub(super) fn owed_by_others(&self, vif: VifIndex, owner: MemberIndex) -> Vec<MemberIndex> {
        self.due[vif.0]
            .iter()
            .copied()
            .filter(|&m| m != owner)
            .collect()
    }
}
