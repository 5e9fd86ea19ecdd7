//! Handing a VIF from one of our members to another without a moment in
//! which both have it up: the old owner takes it down, then multicasts
//! RELEASED; the new owner brings it up only when every member of ours
//! that may still have it up has said so.
//!
//! Every member keeps the same account, since it is built from agreed
//! messages only: per member of the view, the VIFs its HOLDING said it
//! had up (no HOLDING: an original node, never waited for), and per VIF,
//! the members that still owe a RELEASED for it, once for each time they
//! gave it up. A member owes one when the settled table gives a VIF it
//! had up to another member, and when a BALANCE moves a VIF away from
//! it. Only the owner acts on the account: it brings a VIF up once no
//! other member owes a RELEASED for it (its own debts are about its own
//! kernel, which it knows). The account starts afresh with every view
//! (HOLDING tells what is up then).

use std::net::Ipv4Addr;

use super::codec::{self, mess_type, VifList};
use super::event::{Delivery, Level, Timer};
use super::index::{MemberIndex, VifIndex};
use super::machine::{Engine, Phase};
use super::members::StateReport;
use super::settings::RELEASE_WAIT;
use crate::base::GroupId;

impl Engine {
    /// Our HOLDING for a new view: what we have up now. Sent before our
    /// STATE, so every member has it once our STATE is delivered.
    pub(super) fn send_holding(&mut self, group_id: GroupId) {
        let vifs: Vec<Ipv4Addr> = (0..self.held.len())
            .filter(|&i| self.held[i])
            .map(|i| self.settings.vifs[i])
            .collect();
        self.multicast(
            Delivery::Agreed,
            mess_type::HOLDING,
            codec::encode_holding(group_id, &vifs),
        );
    }

    pub(super) fn on_holding(&mut self, sender: &str, list: &VifList) {
        let Some(slot) = self.sender_in_view(sender, list.group_id, Phase::Gather, "HOLDING")
        else {
            return;
        };
        let Some(view) = self.view.as_ref() else {
            return;
        };
        if view.member(slot).status != StateReport::Awaited {
            let text = format!("HOLDING from {sender} after its STATE; ignored");
            self.log(Level::Warning, text);
            return;
        }
        if self.handoff.is_ours(slot) {
            let text = format!("second HOLDING from {sender} in one view; ignored");
            self.log(Level::Warning, text);
            return;
        }
        let vifs = self.known_vifs(sender, "HOLDING", &list.vifs);
        self.handoff.holding[slot.0] = Some(vifs);
    }

    /// The member that sent a HOLDING or RELEASED for the current view in
    /// `phase`; None (logged if it is no member) when it is not to be
    /// applied. One of another view is normal around a view change.
    fn sender_in_view(
        &mut self,
        sender: &str,
        group_id: GroupId,
        phase: Phase,
        what: &str,
    ) -> Option<MemberIndex> {
        let view = self.view.as_ref()?;
        if self.phase != phase || view.group_id != group_id {
            return None;
        }
        let slot = view.members.iter().position(|m| m.name == sender);
        if slot.is_none() {
            let text = format!("{what} from {sender}, who is not in the current view; ignored");
            self.log(Level::Warning, text);
        }
        slot.map(MemberIndex)
    }

    /// The VIFs of `primaries` we know, logging the others.
    fn known_vifs(&mut self, sender: &str, what: &str, primaries: &[Ipv4Addr]) -> Vec<VifIndex> {
        let mut known = Vec::with_capacity(primaries.len());
        let mut unknown = Vec::new();
        for primary in primaries {
            match self.vif_by_primary.get(primary) {
                Some(&vif) => known.push(vif),
                None => unknown.push(primary.to_string()),
            }
        }
        if !unknown.is_empty() {
            let text = format!(
                "{what} from {sender} names {}, which are not among our VirtualInterfaces \
                 (configurations differ); skipped",
                unknown.join(", ")
            );
            self.log(Level::Warning, text);
        }
        known
    }

    /// The state exchange has settled: every member of ours that had a
    /// VIF up the table gives to another now owes a RELEASED for it. We
    /// take down what is not ours, say so, and then bring up what is ours
    /// as soon as nobody else may have it up.
    pub(super) fn settle_holdings(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let me = view.my_index;
        let slots = self.table.slots();
        for (m, listed) in self.handoff.holding.iter().enumerate() {
            for &vif in listed.iter().flatten() {
                if slots[vif.0].owner != Some(MemberIndex(m)) {
                    self.handoff.due[vif.0].push(MemberIndex(m));
                }
            }
        }
        let owed: Vec<VifIndex> = self.handoff.holding[me.0]
            .iter()
            .flatten()
            .copied()
            .filter(|vif| slots[vif.0].owner != Some(me))
            .collect();
        let (mine, others): (Vec<VifIndex>, Vec<VifIndex>) = (0..self.held.len())
            .map(VifIndex)
            .partition(|vif| slots[vif.0].owner == Some(me));
        let gone: Vec<VifIndex> = others.into_iter().filter(|&v| self.take_down(v)).collect();
        self.send_released(&owed);
        self.down_hooks(&gone);
        for vif in mine {
            self.bring_up_when_released(vif, me);
        }
    }

    /// A BALANCE moved `vif` from `previous` (the table's owner until
    /// now): the previous owner, if one of ours, owes a RELEASED for it,
    /// and if that is us we take it down (or stop waiting for it).
    /// Whether we took it down.
    pub(super) fn hand_over(
        &mut self,
        vif: VifIndex,
        previous: Option<MemberIndex>,
        me: MemberIndex,
    ) -> bool {
        if let Some(previous) = previous.filter(|&p| self.handoff.is_ours(p)) {
            self.handoff.due[vif.0].push(previous);
        }
        if previous != Some(me) {
            return false;
        }
        self.stop_waiting(vif);
        self.take_down(vif)
    }

    /// After a BALANCE's moves: we say what it took from us (after the
    /// releases), run the `on down` hooks, then bring up what it gave us
    /// as soon as nobody else may have it up.
    pub(super) fn finish_hand_over(
        &mut self,
        moved_away: &[VifIndex],
        released: &[VifIndex],
        given: &[VifIndex],
    ) {
        let Some(me) = self.my_index() else {
            return;
        };
        if self.handoff.is_ours(me) {
            self.send_released(moved_away);
        }
        self.down_hooks(released);
        for &vif in given {
            if self.table.slots()[vif.0].owner == Some(me) {
                self.bring_up_when_released(vif, me);
            }
        }
    }

    fn send_released(&mut self, vifs: &[VifIndex]) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        if vifs.is_empty() {
            return;
        }
        let primaries: Vec<Ipv4Addr> = vifs.iter().map(|v| self.settings.vifs[v.0]).collect();
        let body = codec::encode_released(view.group_id, &primaries);
        self.multicast(Delivery::Agreed, mess_type::RELEASED, body);
    }

    /// Brings `vif` (ours in the table) up now if no other member owes a
    /// RELEASED for it, or once the last one comes.
    fn bring_up_when_released(&mut self, vif: VifIndex, me: MemberIndex) {
        if self.held[vif.0] {
            return;
        }
        if self.handoff.owed_by_others(vif, me).is_empty() {
            self.stop_waiting(vif);
            self.acquire(vif);
            return;
        }
        if self.handoff.waiting[vif.0].is_some() {
            return;
        }
        let h = &mut self.handoff;
        h.waiting[vif.0] = Some(if h.timer_armed { h.round + 1 } else { h.round });
        if !h.timer_armed {
            h.timer_armed = true;
            self.arm(Timer::ReleaseWait, RELEASE_WAIT);
        }
    }

    fn stop_waiting(&mut self, vif: VifIndex) {
        let h = &mut self.handoff;
        h.waiting[vif.0] = None;
        if h.timer_armed && h.waiting.iter().all(Option::is_none) {
            h.timer_armed = false;
            self.disarm(Timer::ReleaseWait);
        }
    }

    pub(super) fn on_released(&mut self, sender: &str, list: &VifList) {
        let Some(slot) = self.sender_in_view(sender, list.group_id, Phase::Run, "RELEASED") else {
            return;
        };
        let vifs = self.known_vifs(sender, "RELEASED", &list.vifs);
        let mut unowed = Vec::new();
        for &vif in &vifs {
            let due = &mut self.handoff.due[vif.0];
            match due.iter().position(|&m| m == slot) {
                Some(i) => {
                    due.swap_remove(i);
                }
                None => unowed.push(self.settings.vifs[vif.0].to_string()),
            }
        }
        if !unowed.is_empty() {
            let text = format!(
                "RELEASED from {sender} names {}, which it did not owe; ignored for those",
                unowed.join(", ")
            );
            self.log(Level::Warning, text);
        }
        let Some(me) = self.my_index() else {
            return;
        };
        for vif in vifs {
            if self.handoff.awaits(vif) && self.table.slots()[vif.0].owner == Some(me) {
                self.bring_up_when_released(vif, me);
            }
        }
    }

    /// The release timer fired: what has waited a whole round for a
    /// RELEASED comes up anyway. A member of ours sends its RELEASED
    /// within milliseconds; one that has not after [`RELEASE_WAIT`] is
    /// stuck, and leaving the address down longer would be the worse
    /// outage.
    pub(super) fn on_release_wait(&mut self) {
        let h = &mut self.handoff;
        if !h.timer_armed {
            return;
        }
        h.timer_armed = false;
        let round = h.round;
        h.round += 1;
        let (Some(view), Phase::Run) = (self.view.as_ref(), self.phase) else {
            return;
        };
        let me = view.my_index;
        let overdue: Vec<(VifIndex, String)> = (0..self.held.len())
            .map(VifIndex)
            .filter(|v| self.handoff.waiting[v.0].is_some_and(|r| r <= round))
            .map(|vif| {
                let silent: Vec<&str> = self
                    .handoff
                    .owed_by_others(vif, me)
                    .into_iter()
                    .map(|m| view.member(m).name.as_str())
                    .collect();
                (vif, silent.join(", "))
            })
            .collect();
        for (vif, silent) in overdue {
            let text = format!(
                "no RELEASED for {} from {silent} within {RELEASE_WAIT:?}; bringing it up anyway",
                self.settings.vifs[vif.0]
            );
            self.log(Level::Warning, text);
            self.handoff.waiting[vif.0] = None;
            self.acquire(vif);
        }
        if self.handoff.waiting.iter().any(Option::is_some) {
            self.handoff.timer_armed = true;
            self.arm(Timer::ReleaseWait, RELEASE_WAIT);
        }
    }
}
