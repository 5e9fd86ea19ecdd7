//! The current view's members and where each stands in the state
//! exchange (the exchange itself is in `view`).

use std::net::Ipv4Addr;

use super::index::MemberIndex;
use crate::base::GroupId;

/// Where a member of the view stands in the state exchange: whether its
/// STATE came, and what became of it. (Not the control socket's
/// `control::MemberStatus`, which describes a member for the status
/// output.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateReport {
    /// Its STATE has not arrived yet.
    Awaited,
    /// Its STATE arrived; it takes part in the table.
    Reported,
    /// Its STATE carried an identity another member had already reported:
    /// it is left out of this view's table.
    DuplicateIdentity,
    /// The view went on without its STATE: left out of this view's table.
    Silent,
}

/// A member of the current view, as the state exchange knows it.
pub(super) struct ViewMember {
    pub(super) name: String,
    pub(super) identity: Option<Ipv4Addr>,
    pub(super) status: StateReport,
}

/// The view we are in: its id, its members in the group service's
/// order, and our place among them.
pub(super) struct CurrentView {
    pub(super) group_id: GroupId,
    pub(super) members: Vec<ViewMember>,
    pub(super) my_index: MemberIndex,
}

impl CurrentView {
    pub(super) fn names(&self, status: StateReport) -> Vec<&str> {
        self.members
            .iter()
            .filter(|m| m.status == status)
            .map(|m| m.name.as_str())
            .collect()
    }

    pub(super) fn member(&self, index: MemberIndex) -> &ViewMember {
        &self.members[index.0]
    }

    pub(super) fn member_mut(&mut self, index: MemberIndex) -> &mut ViewMember {
        &mut self.members[index.0]
    }

    pub(super) fn participants(&self) -> Vec<MemberIndex> {
        (0..self.members.len())
            .map(MemberIndex)
            .filter(|&i| self.member(i).status == StateReport::Reported)
            .collect()
    }

    pub(super) fn participant_with(&self, identity: Ipv4Addr) -> Option<MemberIndex> {
        self.members
            .iter()
            .position(|m| m.status == StateReport::Reported && m.identity == Some(identity))
            .map(MemberIndex)
    }
}
