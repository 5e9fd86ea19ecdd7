//! Health: what each member can serve, agreed through HEALTH messages,
//! and the rules that keep every VIF with a member that can serve it.
//!
//! This node's [`LocalHealth`] comes from its trackers (the driver feeds
//! it as [`super::Input::Health`]). It travels to the group as HEALTH
//! (type 9, AGREED, layout in [`super::codec`]): on every view before our
//! STATE when we are not fully healthy, and whenever it changes while we
//! are in a view. Every member keeps, per view, the health each member
//! last sent in it; a member that sent none in this view can serve every
//! VIF. We apply our own HEALTH only when the group delivers it, like
//! everyone else, so every member decides from the same agreed data and
//! computes the same table.
//!
//! A member *can serve* VIF `i` when it is healthy and `vifs[i]` holds.
//! Health is *in play* only when every member that reported a STATE in
//! this view is one of ours (it sent HOLDING before its STATE): an
//! original node ignores HEALTH and would compute another table, so in a
//! view with one the table follows the original rules alone (the daemon
//! then keeps an unhealthy node out of the group instead).
//!
//! While health is in play:
//! - when a state exchange settles, after the priority claim, an
//!   unclaimed VIF goes to the member with the fewest VIFs among those
//!   that can serve it, then every VIF whose owner cannot serve it moves
//!   to the member that can with the fewest VIFs (lowest index on a tie),
//!   in configuration order (the *fix-up*);
//! - the fix-up runs again whenever a HEALTH is delivered in RUN; its
//!   moves go through the BALANCE path (the old owner takes the VIF down,
//!   then sends RELEASED; the new owner brings it up on that delivery),
//!   and a VIF moved by it is held as CLAIMED (a preference follows on
//!   the next view, never against servability);
//! - when no member can serve a VIF, it stays where it is (served as
//!   well as it can be) or, with `release_unservable`, nobody holds it;
//!   a notice names it once per change, and the fix-up gives it out again
//!   as soon as a member can serve it;
//! - the leader's balancing only gives a VIF to a member that can serve
//!   it, and a BALANCE move to a member that cannot is skipped by all.

use std::net::Ipv4Addr;

use super::codec::{self, mess_type, ClaimPriority, HealthBody};
use super::event::{Delivery, Level, Output, Timer};
use super::health_map::{LocalHealth, MemberHealth};
use super::index::{MemberIndex, VifIndex};
use super::machine::{Engine, Phase};
use super::members::StateReport;
use crate::base::GroupId;
use crate::config::AcquisitionsPerRound;

impl Engine {
    /// Our trackers' verdict: kept, and told to the group if it changed
    /// while we are in a view.
    pub(super) fn on_local_health(&mut self, health: LocalHealth) {
        if health.vifs.len() != self.settings.vifs.len() {
            let text = format!(
                "health for {} VIFs, but {} are configured; ignored",
                health.vifs.len(),
                self.settings.vifs.len()
            );
            self.log(Level::Error, text);
            return;
        }
        if health == self.health.local {
            return;
        }
        self.health.local = health;
        if let (Some(view), false) = (self.view.as_ref(), self.phase == Phase::Disconnected) {
            let group_id = view.group_id;
            self.send_health(group_id);
        }
    }

    /// Our `Unservable` setting, changed by a reload: the group hears it
    /// with our health, if we have told it any (a fully healthy member's
    /// word never matters: it can serve all it holds). Returns what the
    /// driver must do, as [`Engine::handle`] does.
    pub fn set_release_unservable(&mut self, release: bool) -> Vec<Output> {
        if self.settings.release_unservable != release {
            self.settings.release_unservable = release;
            let in_view = self.phase != Phase::Disconnected;
            if let (Some(view), true, false) =
                (self.view.as_ref(), in_view, self.health.local.is_full())
            {
                let group_id = view.group_id;
                self.send_health(group_id);
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Our HEALTH for a new view, if we are not fully healthy (a member
    /// that sends none can serve everything). Sent before our STATE.
    pub(super) fn send_health_on_view(&mut self, group_id: GroupId) {
        if !self.health.local.is_full() {
            self.send_health(group_id);
        }
    }

    fn send_health(&mut self, group_id: GroupId) {
        let body = codec::encode_health(
            group_id,
            self.health.local.healthy,
            &self.health.local.vifs,
            self.settings.release_unservable,
        );
        self.multicast(Delivery::Agreed, mess_type::HEALTH, body);
    }

    /// A member's HEALTH: recorded for this view; in RUN, VIFs move at
    /// once if their owner can no longer serve them (or can again).
    pub(super) fn on_health(&mut self, sender: &str, body: HealthBody) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        if view.group_id != body.group_id {
            return;
        }
        let Some(slot) = view.members.iter().position(|m| m.name == sender) else {
            let text = format!("HEALTH from {sender}, who is not in the current view; ignored");
            self.log(Level::Warning, text);
            return;
        };
        let health = LocalHealth {
            healthy: body.healthy,
            vifs: body.vifs,
        };
        self.health.members[slot] = Some((health, body.releases_unservable));
        if self.phase == Phase::Run {
            self.fix_up_health();
        }
    }

    /// Whether every member of the view that reported a STATE is one of
    /// ours, so that health can be agreed (an original node ignores it).
    /// True out of any view.
    pub fn view_is_all_ours(&self) -> bool {
        let Some(view) = self.view.as_ref() else {
            return true;
        };
        (0..view.members.len()).map(MemberIndex).all(|m| {
            matches!(
                view.member(m).status,
                StateReport::Awaited | StateReport::Silent
            ) || self.handoff.is_ours(m)
        })
    }

    /// Whether member `m` can serve `vif`, as far as the table is
    /// concerned: always, when health is not in play.
    pub(super) fn serves(&self, m: MemberIndex, vif: VifIndex) -> bool {
        !self.view_is_all_ours() || self.health.can_serve(m, vif)
    }

    /// The fix-up at settle: the table is changed directly, before what
    /// we hold is made to match it.
    pub(super) fn settle_health(&mut self) {
        if !self.view_is_all_ours() {
            return;
        }
        for (vif, owner) in self.plan_health() {
            let priority = match owner {
                Some(_) => ClaimPriority::Claimed,
                None => ClaimPriority::Unclaimed,
            };
            self.table.assign(vif, owner, priority);
        }
        self.note_unservable();
    }

    /// The fix-up in RUN: its moves go the way of a BALANCE's.
    fn fix_up_health(&mut self) {
        if !self.view_is_all_ours() {
            return;
        }
        let moves = self.plan_health();
        self.apply_moves(&moves, true);
        self.note_unservable();
        self.balance_soon();
    }

    /// Our leader balances again after a change of health (a member that
    /// can serve again gets its share; the rounds had stopped once
    /// balanced), as when a view settles.
    pub(super) fn balance_soon(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        if view.participants().first() != Some(&view.my_index)
            || view.members.iter().any(|m| m.status == StateReport::Silent)
        {
            return;
        }
        match self.settings.balance.acquisitions_per_round {
            AcquisitionsPerRound::All => self.balance_round(),
            AcquisitionsPerRound::Limited(_) => {
                self.arm(Timer::Balance, self.settings.balance.interval)
            }
        }
    }

    /// Every VIF whose owner cannot serve it, to the member that can
    /// with the fewest VIFs (lowest index on a tie), in configuration
    /// order; to nobody if none can and `release_unservable` says so.
    fn plan_health(&self) -> Vec<(VifIndex, Option<MemberIndex>)> {
        let Some(view) = self.view.as_ref() else {
            return Vec::new();
        };
        let participants = view.participants();
        let mut counts = self.table.counts(view.members.len());
        let mut moves = Vec::new();
        for (i, slot) in self.table.slots().iter().enumerate() {
            let vif = VifIndex(i);
            if slot.owner.is_some_and(|o| self.health.can_serve(o, vif)) {
                continue;
            }
            let taker = participants
                .iter()
                .copied()
                .filter(|&m| self.health.can_serve(m, vif))
                .min_by_key(|&m| (counts[m.0], m));
            let to = match (taker, slot.owner) {
                (Some(taker), _) => Some(taker),
                (None, Some(owner)) if self.health.releases_unservable(owner) => None,
                (None, _) => continue,
            };
            if let Some(owner) = slot.owner {
                counts[owner.0] -= 1;
            }
            if let Some(taker) = to {
                counts[taker.0] += 1;
            }
            moves.push((vif, to));
        }
        moves
    }

    /// One notice per VIF each time whether any member can serve it
    /// changes.
    fn note_unservable(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let participants = view.participants();
        let mut notices = Vec::new();
        for i in 0..self.settings.vifs.len() {
            let vif = VifIndex(i);
            let nobody = !participants.is_empty()
                && !participants.iter().any(|&m| self.health.can_serve(m, vif));
            if nobody == self.health.noted[i] {
                continue;
            }
            self.health.noted[i] = nobody;
            let primary: Ipv4Addr = self.settings.vifs[i];
            let text = match (nobody, self.table.slots()[i].owner) {
                (false, _) => format!("VIF {primary} can be served again"),
                (true, None) => format!(
                    "no member can serve VIF {primary}: released, nobody holds it \
                     (release_unservable)"
                ),
                (true, Some(owner)) => format!(
                    "no member can serve VIF {primary}: it stays with {} (served as well as it \
                     can be)",
                    view.member(owner).name
                ),
            };
            notices.push(text);
        }
        for text in notices {
            self.log(Level::Notice, text);
        }
    }

    /// Member `m`'s health as agreed in this view.
    pub(super) fn member_health(&self, m: MemberIndex) -> MemberHealth {
        if !self.handoff.is_ours(m) {
            return MemberHealth::Unknown;
        }
        let Some(h) = self.health.of_member(m) else {
            return MemberHealth::Healthy;
        };
        let of = h.vifs.len();
        let servable = h.vifs.iter().filter(|&&up| up).count();
        match (h.healthy, servable == of) {
            (false, _) => MemberHealth::Unhealthy,
            (true, true) => MemberHealth::Healthy,
            (true, false) => MemberHealth::Partial { servable, of },
        }
    }
}
