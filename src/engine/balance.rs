//! Balancing: the leader's rounds (planned on the settled table, one
//! BALANCE in flight at a time) and every member's application of a
//! BALANCE delivered to the group.

use super::codec::{self, mess_type, BalanceBody, ClaimPriority, Move};
use super::event::{Delivery, Level, Timer};
use super::index::{MemberIndex, VifIndex};
use super::machine::{Engine, Phase};
use super::members::StateReport;
use crate::config::AcquisitionsPerRound;

impl Engine {
    /// One balancing round of our leader.
    pub(super) fn balance_round(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let participants = view.participants();
        if self.phase != Phase::Run
            || participants.first() != Some(&view.my_index)
            || view.members.iter().any(|m| m.status == StateReport::Silent)
        {
            return;
        }
        let limited = match self.settings.balance.acquisitions_per_round {
            AcquisitionsPerRound::All => None,
            AcquisitionsPerRound::Limited(n) => Some(n as usize),
        };
        if self.balance_in_flight {
            // Planning on a table our last moves have not reached yet
            // would repeat them.
            self.arm(Timer::Balance, self.settings.balance.interval);
            return;
        }
        let counts = self.table.counts(view.members.len());
        let all_ours = self.view_is_all_ours();
        let health = &self.health;
        let plan = self
            .table
            .plan_balance(&participants, &counts, limited, |m, vif| {
                !all_ours || health.can_serve(m, vif)
            });
        if plan.is_empty() {
            return;
        }
        let moves: Vec<Move> = plan
            .iter()
            .filter_map(|&(vif, owner)| {
                Some(Move {
                    owner: view.member(owner).identity?,
                    vif: self.settings.vifs[vif.0],
                })
            })
            .collect();
        self.multicast(
            Delivery::Agreed,
            mess_type::BALANCE,
            codec::encode_balance(&moves),
        );
        self.balance_in_flight = true;
        if limited.is_some() {
            self.arm(Timer::Balance, self.settings.balance.interval);
        }
    }

    pub(super) fn on_balance(&mut self, sender: &str, balance: &BalanceBody) {
        if self.phase != Phase::Run {
            return;
        }
        let moves = &balance.moves;
        if balance.announced > moves.len() {
            let text = format!(
                "BALANCE from {sender} announces {} moves but carries {}; applying the {} it \
                 carries, as the C nodes do",
                balance.announced,
                moves.len(),
                moves.len()
            );
            self.log(Level::Notice, text);
        }
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let me = view.my_index;
        if view.member(me).name == sender {
            self.balance_in_flight = false;
        }
        let mut resolved = Vec::with_capacity(moves.len());
        let mut unknown = Vec::new();
        for m in moves {
            match (
                self.vif_by_primary.get(&m.vif),
                view.participant_with(m.owner),
            ) {
                (Some(&vif), Some(owner)) => resolved.push((vif, owner)),
                _ => unknown.push(format!("{}->{}", m.vif, m.owner)),
            }
        }
        if !unknown.is_empty() {
            let text = format!(
                "BALANCE from {sender} names VIFs or members we do not know: {}; those moves \
                 are skipped",
                unknown.join(", ")
            );
            self.log(Level::Warning, text);
        }
        let (moves, refused): (Vec<_>, Vec<_>) = resolved
            .into_iter()
            .map(|(vif, owner)| (vif, Some(owner)))
            .partition(|&(vif, owner)| owner.is_some_and(|o| self.serves(o, vif)));
        if !refused.is_empty() {
            let text = format!(
                "BALANCE from {sender} gives {} VIFs to members that cannot serve them (health \
                 changed since it was planned); those moves are skipped",
                refused.len()
            );
            self.log(Level::Notice, text);
        }
        self.apply_moves(&moves, false);
    }

    /// Moves each VIF to its new owner (None: nobody), the old owner
    /// taking it down and saying so before the new one brings it up
    /// (`handoff`). `reset` holds a moved VIF as CLAIMED (a health move:
    /// the new owner does not prefer it); otherwise it keeps its priority.
    pub(super) fn apply_moves(&mut self, moves: &[(VifIndex, Option<MemberIndex>)], reset: bool) {
        let Some(me) = self.my_index() else {
            return;
        };
        let mut moved_away = Vec::new();
        let mut released = Vec::new();
        let mut given = Vec::new();
        for &(vif, owner) in moves {
            let previous = self.table.slots()[vif.0].owner;
            if previous == owner {
                continue;
            }
            match (owner, reset) {
                (Some(owner), false) => self.table.reassign(vif, owner),
                (Some(_), true) => self.table.assign(vif, owner, ClaimPriority::Claimed),
                (None, _) => self.table.assign(vif, None, ClaimPriority::Unclaimed),
            }
            if previous == Some(me) {
                moved_away.push(vif);
            }
            if self.hand_over(vif, previous, me) {
                released.push(vif);
            }
            if owner == Some(me) {
                given.push(vif);
            }
        }
        self.finish_hand_over(&moved_away, &released, &given);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn a_view_settled_without_silent_members_is_not_balanced() {
        // We lead; member 1 holds everything; member 2 never speaks. A C
        // member 1 would still be gathering and ignore any BALANCE.
        let mut e = gathering(0, 3, 4);
        e.handle(state(0, ip(0), &[]));
        let all: Vec<_> = (0..4).map(|v| (v, ClaimPriority::Claimed)).collect();
        e.handle(state(1, ip(1), &all));
        let out = e.handle(msg(0, mess_type::PROCEED, codec::encode_proceed(GID)));
        assert_eq!(e.phase(), Phase::Run);
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::ArmTimer(Timer::Balance, _))),
            "{out:?}"
        );
        assert!(logs(&out, Level::Notice)[0].contains("not balancing this view"));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert!(multicast_body(&out).is_none(), "{out:?}");
        // The next complete view balances again.
        e.handle(Input::View(View {
            group_id: GroupId::from_raw([4, 5, 6]),
            members: (0..2).map(name).collect(),
            my_index: 0,
        }));
        e.handle(state_in(GroupId::from_raw([4, 5, 6]), 0, ip(0), &[]));
        e.handle(state_in(GroupId::from_raw([4, 5, 6]), 1, ip(1), &all));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert!(multicast_body(&out).is_some(), "{out:?}");
    }

    /// Two members settled: member 0 (us) holds VIFs 0 and 1.
    fn running_pair(my_index: usize) -> Engine {
        let mut e = gathering(my_index, 2, 2);
        e.handle(state(
            0,
            ip(0),
            &[(0, ClaimPriority::Claimed), (1, ClaimPriority::Claimed)],
        ));
        e.handle(state(1, ip(1), &[]));
        assert_eq!(e.phase(), Phase::Run);
        e
    }

    #[test]
    fn a_move_to_the_current_owner_does_nothing() {
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(v(0), m(0))])));
        assert!(out.is_empty(), "{out:?}");
        assert!(e.holds(v(0)));
    }

    #[test]
    fn a_move_away_releases_and_a_move_here_acquires() {
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(v(1), m(1))])));
        assert_eq!(
            out,
            vec![
                Output::Release(v(1)),
                Output::Hooks(HookEvent::OnDown, v(1)),
                Output::PostHooks(HookEvent::PostDown, vec![v(1)])
            ]
        );
        let mut peer = running_pair(1);
        let out = peer.handle(msg(0, mess_type::BALANCE, balance(&[(v(1), m(1))])));
        assert_eq!(out[0], Output::Acquire(v(1)));
        assert_eq!(peer.snapshot().view.expect("view").members[1].owned, 1);
    }

    #[test]
    fn a_c_leaders_balance_announcing_more_moves_than_it_carries_is_applied() {
        // A C leader with AcquisitionsPerRound 3 whose round moved one VIF
        // and then met a fullest member holding only preferred VIFs: count
        // 3, one pair. The C members apply that pair; so must we.
        let mut short = balance(&[(v(1), m(1))]);
        short[0..4].copy_from_slice(&3i32.to_ne_bytes());
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, short.clone()));
        assert!(out.contains(&Output::Release(v(1))), "{out:?}");
        assert_eq!(logs(&out, Level::Notice).len(), 1, "{out:?}");
        let mut peer = running_pair(1);
        let out = peer.handle(msg(0, mess_type::BALANCE, short));
        assert!(out.contains(&Output::Acquire(v(1))), "{out:?}");
        for engine in [&e, &peer] {
            let owners: Vec<_> = engine.snapshot().vifs.iter().map(|v| v.owner).collect();
            assert_eq!(owners, vec![Some(m(0)), Some(m(1))]);
        }
    }

    #[test]
    fn balance_outside_run_is_ignored() {
        let mut e = gathering(0, 2, 2);
        e.handle(state(0, ip(0), &[(0, ClaimPriority::Claimed)]));
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(v(1), m(0))])));
        assert!(out.is_empty());
        assert_eq!(e.snapshot().vifs[1].owner, None);
    }

    #[test]
    fn the_leader_announces_exactly_the_moves_it_writes() {
        let mut e = gathering(0, 2, 4);
        let all: Vec<_> = (0..4).map(|v| (v, ClaimPriority::Claimed)).collect();
        e.handle(state(0, ip(0), &all));
        e.handle(state(1, ip(1), &[]));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        let body = multicast_body(&out).expect("4 vs 0 needs a move");
        let balance = codec::decode_balance(&body, false).expect("our own BALANCE decodes");
        assert_eq!(balance.moves.len(), 1, "AcquisitionsPerRound 1");
        assert_eq!(balance.announced, 1);
        // No second round planned before the first comes back.
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert_eq!(
            out,
            vec![Output::ArmTimer(Timer::Balance, Duration::from_secs(4))]
        );
        // Once balanced, the leader stops planning rounds.
        e.handle(msg(0, mess_type::BALANCE, body));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        let body = multicast_body(&out).expect("3 vs 1 needs a move");
        e.handle(msg(0, mess_type::BALANCE, body));
        assert!(e.handle(Input::TimerFired(Timer::Balance)).is_empty());
        assert_eq!(e.snapshot().view.expect("view").members[1].owned, 2);
    }
}
