//! The view and its state exchange: a new view starts a gather, every
//! member's STATE is recorded (or refused: a duplicate identity, a second
//! STATE), and silent members are named and, on an agreed PROCEED, left
//! out. When the exchange settles, claiming (`claim`) takes over.

use super::codec::{self, mess_type, StateBody};
use super::event::{Delivery, Level, Output, Timer, View};
use super::handoff_account::Handoff;
use super::index::MemberIndex;
use super::machine::{Engine, Phase};
use super::members::{CurrentView, StateReport, ViewMember};
use super::settings::SILENT_WARNING_REPEAT;
use crate::base::GroupId;

impl Engine {
    pub(super) fn on_view(&mut self, view: View) {
        if let Some((level, text)) = self.unusable(&view) {
            self.log(level, text);
            return;
        }
        if self.phase == Phase::Run {
            // The settled table becomes our previous table; our STATE
            // reports its entries that name us (a VIF still waiting for
            // its old owner's RELEASED among them, as on a C node).
            let me = self.my_index();
            for (reported, slot) in self.reported.iter_mut().zip(self.table.slots()) {
                *reported = (slot.owner.is_some() && slot.owner == me).then_some(slot.priority);
            }
        }
        let group_id = view.group_id;
        let my_index = MemberIndex(view.my_index);
        let members = view
            .members
            .into_iter()
            .map(|name| ViewMember {
                name,
                identity: None,
                status: StateReport::Awaited,
            })
            .collect::<Vec<_>>();
        self.handoff = Handoff::new(members.len(), self.held.len());
        self.health.new_view(members.len());
        self.view = Some(CurrentView {
            group_id,
            members,
            my_index,
        });
        self.table.clear();
        self.phase = Phase::Gather;
        self.balance_in_flight = false;
        self.disarm(Timer::Balance);
        self.disarm(Timer::ReleaseWait);
        self.send_health_on_view(group_id);
        self.send_holding(group_id);
        self.send_state(group_id, my_index);
        self.arm(Timer::StateWait, self.settings.state_wait);
        self.out.push(Output::ReadArpTable);
    }

    /// Why a view cannot be taken (and how loudly to say so), if it
    /// cannot.
    fn unusable(&self, view: &View) -> Option<(Level, String)> {
        if self.phase == Phase::Disconnected {
            let text = "membership received while not connected; ignored";
            return Some((Level::Warning, text.into()));
        }
        if view.my_index >= view.members.len() {
            let text = format!(
                "membership lists {} members but places us at index {}; ignored",
                view.members.len(),
                view.my_index
            );
            return Some((Level::Error, text));
        }
        let mut names: Vec<&String> = view.members.iter().collect();
        names.sort();
        let twice = names.windows(2).find(|w| w[0] == w[1])?;
        let text = format!("membership lists member {:?} twice; ignored", twice[0]);
        Some((Level::Error, text))
    }

    /// Our STATE for the view: what our previous table gives us, and
    /// what we prefer.
    fn send_state(&mut self, group_id: GroupId, my_index: MemberIndex) {
        let state = StateBody {
            group_id,
            identity: self.settings.identity,
            index: i32::try_from(my_index.0).unwrap_or(i32::MAX),
            mature: self.mature,
            held: self
                .reported
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.map(|p| (self.settings.vifs[i], p)))
                .collect(),
            preferred: self.settings.preferred.clone(),
        };
        self.multicast(Delivery::Agreed, mess_type::STATE, state.encode());
    }

    pub(super) fn on_state(&mut self, sender: &str, state: StateBody) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_mut() else {
            return;
        };
        if state.group_id != view.group_id {
            return;
        }
        let Some(slot) = view.members.iter().position(|m| m.name == sender) else {
            let text = format!("STATE from {sender}, who is not in the current view; ignored");
            self.log(Level::Warning, text);
            return;
        };
        let slot = MemberIndex(slot);
        if view.member(slot).status != StateReport::Awaited {
            let text = format!("second STATE from {sender} in one view; ignored");
            self.log(Level::Warning, text);
            return;
        }
        let me = view.my_index;
        if let Some(first) = view.participant_with(state.identity) {
            let member = view.member_mut(slot);
            member.status = StateReport::DuplicateIdentity;
            member.identity = Some(state.identity);
            let first_name = view.member(first).name.clone();
            let mut text = format!(
                "members {first_name} and {sender} both use identity {}: {sender} is left out \
                 of the allocation until the next membership; give every node its own Identity",
                state.identity
            );
            if slot == me {
                text.push_str("; this node refuses to claim");
            }
            self.log(Level::Error, text);
        } else {
            let member = view.member_mut(slot);
            member.status = StateReport::Reported;
            member.identity = Some(state.identity);
            self.apply_claims(sender, slot, &state);
        }
        if !self.mature && state.mature {
            self.mature = true;
            self.disarm(Timer::Maturity);
        }
        let done = self
            .view
            .as_ref()
            .is_some_and(|v| v.members.iter().all(|m| m.status != StateReport::Awaited));
        if done {
            self.finish_gather();
        }
    }

    pub(super) fn on_proceed(&mut self, group_id: GroupId) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_mut() else {
            return;
        };
        if view.group_id != group_id {
            return;
        }
        let silent = view.names(StateReport::Awaited).join(", ");
        let me_silent = view.member(view.my_index).status == StateReport::Awaited;
        for m in &mut view.members {
            if m.status == StateReport::Awaited {
                m.status = StateReport::Silent;
            }
        }
        let mut text = format!(
            "the group proceeds without the STATE of {silent}; they hold nothing until the next \
             membership"
        );
        if me_silent {
            text.push_str(" (this node is one of them)");
        }
        self.log(Level::Warning, text);
        self.finish_gather();
    }

    pub(super) fn finish_gather(&mut self) {
        self.disarm(Timer::StateWait);
        if self.mature {
            self.claim_and_run();
        } else {
            self.phase = Phase::Boot;
        }
    }

    pub(super) fn on_state_wait(&mut self) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let group_id = view.group_id;
        let text = format!(
            "no STATE from {} in view {:?}; the allocation cannot settle without it (a member \
             that is not a wackamole?); asking the group to proceed without them",
            view.names(StateReport::Awaited).join(", "),
            group_id.raw()
        );
        self.log(Level::Warning, text);
        self.multicast(
            Delivery::Agreed,
            mess_type::PROCEED,
            codec::encode_proceed(group_id),
        );
        self.arm(Timer::StateWait, SILENT_WARNING_REPEAT);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn a_duplicate_identity_is_reported_and_refuses_to_claim() {
        let mut e = gathering(1, 2, 4);
        e.handle(state(0, ip(0), &[]));
        // Member 1 (us) reports the same identity as member 0.
        let out = e.handle(state(1, ip(0), &[]));
        let errors = logs(&out, Level::Error);
        assert_eq!(errors.len(), 1, "{out:?}");
        assert!(errors[0].contains("both use identity 192.168.0.1"));
        assert!(errors[0].contains("refuses to claim"));
        assert!(!out.iter().any(|o| matches!(o, Output::Acquire(_))));
        let snap = e.snapshot();
        assert_eq!(snap.phase, Phase::Run);
        assert!(snap.vifs.iter().all(|vif| vif.owner == Some(m(0))));
        let members = snap.view.expect("view").members;
        assert_eq!(members[1].status, StateReport::DuplicateIdentity);
    }

    #[test]
    fn silent_members_are_named_and_left_out_on_an_agreed_proceed() {
        let mut e = gathering(0, 3, 3);
        e.handle(state(0, ip(0), &[]));
        let out = e.handle(Input::TimerFired(Timer::StateWait));
        let warnings = logs(&out, Level::Warning);
        assert!(warnings[0].contains("#m1#d, #m2#d"), "{warnings:?}");
        assert!(out.contains(&Output::ArmTimer(Timer::StateWait, SILENT_WARNING_REPEAT)));
        let proceed = out
            .iter()
            .find_map(|o| match o {
                Output::Multicast {
                    mess_type: mess_type::PROCEED,
                    body,
                    ..
                } => Some(body.clone()),
                _ => None,
            })
            .expect("asks the group to proceed");
        // A STATE arriving before the PROCEED still counts.
        e.handle(state(1, ip(1), &[]));
        let out = e.handle(msg(0, mess_type::PROCEED, proceed));
        assert!(out.contains(&Output::DisarmTimer(Timer::StateWait)));
        let snap = e.snapshot();
        assert_eq!(snap.phase, Phase::Run);
        let members = snap.view.expect("view").members;
        assert_eq!(members[2].status, StateReport::Silent);
        assert_eq!(
            snap.vifs.iter().map(|v| v.owner).collect::<Vec<_>>(),
            vec![Some(m(0)), Some(m(1)), Some(m(0))]
        );
        // A late STATE from the silent member changes nothing.
        e.handle(state(2, ip(2), &[(1, ClaimPriority::PreferClaimed)]));
        assert_eq!(e.snapshot().vifs[1].owner, Some(m(1)));
    }

    #[test]
    fn proceed_for_another_view_is_ignored() {
        let mut e = gathering(0, 2, 1);
        e.handle(state(0, ip(0), &[]));
        e.handle(msg(
            1,
            mess_type::PROCEED,
            codec::encode_proceed(GroupId::from_raw([9, 9, 9])),
        ));
        assert_eq!(e.phase(), Phase::Gather);
    }
}
