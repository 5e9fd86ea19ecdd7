//! A read-only picture of the engine for the control socket and status.

use std::net::Ipv4Addr;

use super::codec::ClaimPriority;
use super::health_map::MemberHealth;
use super::index::{MemberIndex, VifIndex};
use super::machine::{Engine, Phase};
use super::members::StateReport;
use crate::base::GroupId;

/// One member of the current view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    /// Its name in the group service (a Spread private group, or
    /// `ADDRESS/INCARNATION` for the built-in membership).
    pub name: String,
    /// Its real address, once its STATE arrived.
    pub identity: Option<Ipv4Addr>,
    /// Where it stands in the state exchange.
    pub status: StateReport,
    /// VIFs it owns in the table.
    pub owned: usize,
    /// What it can serve, as agreed in this view.
    pub health: MemberHealth,
}

/// The current view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSnapshot {
    /// Its group id.
    pub group_id: GroupId,
    /// This node's position in it.
    pub my_index: MemberIndex,
    /// Its members, in the group service's order.
    pub members: Vec<MemberSnapshot>,
    /// Every member that reported a STATE is one of ours, so health is
    /// agreed and moves VIFs (an original node carries none).
    pub health_agreed: bool,
}

/// One configured VIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifSnapshot {
    /// Its primary address.
    pub primary: Ipv4Addr,
    /// Index of the owning member in the view.
    pub owner: Option<MemberIndex>,
    /// The owner's real address.
    pub owner_identity: Option<Ipv4Addr>,
    /// How strongly its owner holds it.
    pub priority: ClaimPriority,
    /// This node has it up.
    pub held_here: bool,
    /// The table gives it to this node, which brings it up once a member
    /// that had it up has said it took it down (RELEASED).
    pub awaiting_release: bool,
    /// It has an owner, and that owner can serve it as agreed (false
    /// while no member can and it stays with its owner).
    pub servable_by_owner: bool,
}

/// The engine's state, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Where the engine is in its cycle.
    pub phase: Phase,
    /// Whether this node has matured.
    pub mature: bool,
    /// The installed view, if any.
    pub view: Option<ViewSnapshot>,
    /// Every VIF, in configuration order.
    pub vifs: Vec<VifSnapshot>,
}

impl Engine {
    /// A picture of the engine's state now.
    pub fn snapshot(&self) -> Snapshot {
        let counts = self
            .view
            .as_ref()
            .map(|v| self.table.counts(v.members.len()))
            .unwrap_or_default();
        let view = self.view.as_ref().map(|v| ViewSnapshot {
            group_id: v.group_id,
            my_index: v.my_index,
            members: v
                .members
                .iter()
                .zip(&counts)
                .enumerate()
                .map(|(i, (m, &owned))| MemberSnapshot {
                    name: m.name.clone(),
                    identity: m.identity,
                    status: m.status,
                    owned: owned as usize,
                    health: self.member_health(MemberIndex(i)),
                })
                .collect(),
            health_agreed: self.view_is_all_ours(),
        });
        let vifs = self
            .settings
            .vifs
            .iter()
            .zip(self.table.slots())
            .zip(&self.held)
            .enumerate()
            .map(|(i, ((&primary, slot), &held))| VifSnapshot {
                primary,
                owner: slot.owner,
                owner_identity: slot
                    .owner
                    .and_then(|o| self.view.as_ref()?.members.get(o.0)?.identity),
                priority: slot.priority,
                held_here: held,
                awaiting_release: self.handoff.awaits(VifIndex(i)),
                servable_by_owner: slot
                    .owner
                    .is_some_and(|o| self.health.can_serve(o, VifIndex(i))),
            })
            .collect();
        Snapshot {
            phase: self.phase,
            mature: self.mature,
            view,
            vifs,
        }
    }
}
