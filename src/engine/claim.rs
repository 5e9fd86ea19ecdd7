//! Claiming: a STATE's claims and preferences enter the table as they
//! arrive (a lost claim of ours is released at once); once the exchange
//! settles and the group is mature, the priority claim and claim
//! unclaimed complete the table, what we hold is made to match it, and
//! the leader starts balancing (`balance`).

use super::codec::StateBody;
use super::event::{Level, Timer};
use super::index::MemberIndex;
use super::machine::{Engine, Phase};
use super::members::StateReport;
use super::table::ClaimResult;

impl Engine {
    pub(super) fn apply_claims(&mut self, sender: &str, slot: MemberIndex, state: &StateBody) {
        let me = self.my_index();
        for &(primary, priority) in &state.held {
            let Some(&vif) = self.vif_by_primary.get(&primary) else {
                let text = format!(
                    "STATE from {sender} claims {primary}, which is not one of our \
                     VirtualInterfaces (configurations differ)"
                );
                self.log(Level::Warning, text);
                continue;
            };
            let result = self.table.claim(vif, slot, priority);
            if matches!(result, ClaimResult::Lost | ClaimResult::Displaced(_)) {
                // The conflict rewrites this entry of every member's
                // previous table to the winner (as on a C node), even if
                // the view is replaced before the exchange settles.
                let slot = self.table.slots()[vif.0];
                self.reported[vif.0] = (slot.owner == me).then_some(slot.priority);
            }
            match result {
                ClaimResult::Lost if Some(slot) == me => self.release(vif),
                ClaimResult::Displaced(previous) if Some(previous) == me => self.release(vif),
                _ => {}
            }
        }
        for addr in &state.preferred {
            if let Some(&vif) = self.vif_by_primary.get(addr) {
                self.table.prefer(vif, slot);
            }
        }
    }

    /// Priority claim, claim unclaimed, then make what we hold match the
    /// table, and start running.
    pub(super) fn claim_and_run(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let participants = view.participants();
        let me = view.my_index;
        let members = view.members.len();
        let silent = view.names(StateReport::Silent).join(", ");
        self.table.priority_claim();
        // Counts always come from the table: every member derives the same.
        let mut counts = self.table.counts(members);
        let all_ours = self.view_is_all_ours();
        let health = &self.health;
        self.table
            .claim_unclaimed(&participants, &mut counts, |m, vif| {
                !all_ours || health.can_serve(m, vif)
            });
        self.settle_health();
        self.phase = Phase::Run;
        self.settle_holdings();
        self.balance_in_flight = false;
        if participants.first() != Some(&me) {
            return;
        }
        if !silent.is_empty() {
            // A C member of this view is still waiting for the silent
            // members' STATE (it ignores PROCEED) and would not apply a
            // BALANCE: a move away from it would put its VIF up twice, a
            // move to it would leave the VIF down.
            let text = format!(
                "not balancing this view: it settled without the STATE of {silent}, and a C \
                 member of it would not follow the moves"
            );
            self.log(Level::Notice, text);
            return;
        }
        self.balance_soon();
    }

    pub(super) fn on_maturing(&mut self) {
        if self.mature {
            return;
        }
        self.mature = true;
        self.disarm(Timer::Maturity);
        if self.phase == Phase::Boot && self.view.is_some() {
            self.claim_and_run();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn a_lost_claim_releases_at_once() {
        let mut e = gathering(1, 2, 1);
        // Pretend we held VIF 0 from before.
        e.held[0] = true;
        e.handle(state(0, ip(0), &[(0, ClaimPriority::Claimed)]));
        let out = e.handle(state(1, ip(1), &[(0, ClaimPriority::Claimed)]));
        assert_eq!(out[0], Output::Release(v(0)));
    }
}
