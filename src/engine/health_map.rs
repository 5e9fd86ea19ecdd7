//! What each member can serve: this node's [`LocalHealth`] as its
//! trackers see it, and the view's agreed health map built from HEALTH
//! messages (the rules that act on it are in `health`).

use super::index::{MemberIndex, VifIndex};

/// What this node can serve, as its trackers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHealth {
    /// False while a node-wide tracker fails (an interface, a check command, the drain file):
    /// the node serves nothing while another member can.
    pub healthy: bool,
    /// One per VIF, in configuration order: false while an interface that one of the VIF's
    /// addresses sits on is down or has no carrier.
    pub vifs: Vec<bool>,
}

impl LocalHealth {
    /// Healthy, able to serve each of `vifs` VIFs.
    pub fn full(vifs: usize) -> LocalHealth {
        LocalHealth {
            healthy: true,
            vifs: vec![true; vifs],
        }
    }

    /// Whether this can serve VIF `vif`.
    pub fn can_serve(&self, vif: VifIndex) -> bool {
        self.healthy && self.vifs.get(vif.0).copied().unwrap_or(false)
    }

    /// Whether this can serve every VIF.
    pub fn is_full(&self) -> bool {
        self.healthy && self.vifs.iter().all(|&up| up)
    }
}

/// A member's health as the snapshot shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberHealth {
    /// Not one of ours (or not known to be yet): it carries no health.
    Unknown,
    /// It can serve every VIF.
    Healthy,
    /// Healthy as a node, but some VIFs' interfaces are down there.
    Partial {
        /// VIFs it can serve.
        servable: usize,
        /// VIFs configured.
        of: usize,
    },
    /// A node-wide tracker fails there: it serves nothing while another
    /// member can.
    Unhealthy,
}

/// This node's health and the view's agreed health map.
pub(super) struct Health {
    /// Ours, as last fed.
    pub(super) local: LocalHealth,
    /// Per member of the view: the health its last HEALTH in this view
    /// carried, with its word on what nobody can serve (None: none came,
    /// it can serve everything).
    pub(super) members: Vec<Option<(LocalHealth, bool)>>,
    /// Per VIF: the last notice said no member can serve it.
    pub(super) noted: Vec<bool>,
}

impl Health {
    pub(super) fn new(vifs: usize) -> Health {
        Health {
            local: LocalHealth::full(vifs),
            members: Vec::new(),
            noted: vec![false; vifs],
        }
    }

    /// A new view of `members`: nobody has said anything in it yet.
    pub(super) fn new_view(&mut self, members: usize) {
        self.members = vec![None; members];
    }

    /// Out of any view: nothing known, nothing noted.
    pub(super) fn forget(&mut self) {
        self.members.clear();
        self.noted.fill(false);
    }

    /// Whether member `m` can serve `vif` as agreed in this view.
    pub(super) fn can_serve(&self, m: MemberIndex, vif: VifIndex) -> bool {
        match self.members.get(m.0) {
            Some(Some((h, _))) => h.can_serve(vif),
            _ => true,
        }
    }

    /// Whether member `m` said it releases a VIF of its that nobody can
    /// serve (`Unservable = release`): the owner's word, so every member
    /// decides alike.
    pub(super) fn releases_unservable(&self, m: MemberIndex) -> bool {
        matches!(self.members.get(m.0), Some(Some((_, true))))
    }

    pub(super) fn of_member(&self, m: MemberIndex) -> Option<&LocalHealth> {
        self.members
            .get(m.0)
            .and_then(Option::as_ref)
            .map(|(h, _)| h)
    }
}
