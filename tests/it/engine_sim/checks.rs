//! The invariants checked at every quiet point: one table per component,
//! each VIF held by exactly its owner, balance, preference and health, and
//! the same table as the C twins wherever they agree.

use super::c_rules;
use super::sim::{Component, Sim};
use wackamole::engine::{
    ClaimPriority, Engine, MemberHealth, MemberIndex, Phase, StateReport, VifIndex,
};

impl Sim {
    pub(super) fn check(&mut self) {
        for comp in &self.comps {
            let snapshot = comp
                .members
                .iter()
                .find_map(|&m| self.nodes[m].engine.as_ref())
                .map(|e| e.snapshot());
            let health_in_play = snapshot.is_some_and(|s| {
                s.view.is_some_and(|v| {
                    v.health_agreed && v.members.iter().any(|m| m.health != MemberHealth::Healthy)
                })
            });
            if health_in_play {
                self.stats.health_checks += 1;
            }
            match self.check_component(comp) {
                Some(true) => self.stats.mature_checks += 1,
                Some(false) => self.stats.immature_checks += 1,
                None => {}
            }
            match self.check_against_c_rules(comp) {
                Some(true) => self.stats.c_agreements += 1,
                Some(false) => self.stats.c_splits += 1,
                None => {}
            }
        }
    }

    /// Where the C twins of a component's members agree on one table, our
    /// engines must hold exactly that table. Some(false): the twins
    /// disagree among themselves (C nodes from different histories can);
    /// None: no twin to compare with.
    fn check_against_c_rules(&self, comp: &Component) -> Option<bool> {
        let pairs: Vec<(usize, &Engine, &c_rules::Twin)> = comp
            .members
            .iter()
            .filter_map(|&m| {
                let n = &self.nodes[m];
                Some((m, n.engine.as_ref()?, n.twin.as_ref()?))
            })
            .collect();
        let &(_, _, first) = pairs.first()?;
        if pairs.iter().any(|(_, _, t)| t.alloc != first.alloc) {
            return Some(false);
        }
        for &(m, engine, twin) in &pairs {
            let snapshot = engine.snapshot();
            let ours = table_of(&snapshot);
            let phase = match twin.state {
                c_rules::State::Boot => Phase::Boot,
                c_rules::State::Gather => Phase::Gather,
                c_rules::State::Run => Phase::Run,
            };
            assert_eq!(snapshot.phase, phase, "n{m} and its C twin");
            assert_eq!(ours, twin.alloc, "n{m} computes another table than C nodes");
        }
        Some(true)
    }

    /// Whether the component was mature; None if it has no engine.
    fn check_component(&self, comp: &Component) -> Option<bool> {
        let engines: Vec<(usize, &Engine)> = comp
            .members
            .iter()
            .filter_map(|&m| self.nodes[m].engine.as_ref().map(|e| (m, e)))
            .collect();
        let &(first, first_engine) = engines.first()?;
        let reference = first_engine.snapshot();
        let table = |s: &wackamole::engine::Snapshot| {
            let view = s.view.as_ref().expect("in a view");
            (
                s.phase,
                s.mature,
                view.group_id,
                view.members
                    .iter()
                    .map(|m| (m.name.clone(), m.status, m.owned))
                    .collect::<Vec<_>>(),
                s.vifs
                    .iter()
                    .map(|v| (v.owner, v.priority))
                    .collect::<Vec<_>>(),
            )
        };
        let expected = table(&reference);
        for &(m, e) in &engines[1..] {
            assert_eq!(
                table(&e.snapshot()),
                expected,
                "n{m} and n{first} disagree on the table"
            );
        }
        let view = reference.view.as_ref().expect("in a view");
        assert_ne!(reference.phase, Phase::Gather, "quiet, yet still gathering");
        let holders = |v: usize| -> Vec<usize> {
            comp.members
                .iter()
                .copied()
                .filter(|&m| self.nodes[m].up[v])
                .collect()
        };
        if !reference.mature {
            for v in 0..self.vifs.len() {
                assert!(holders(v).is_empty(), "immature component holds VIF {v}");
            }
            return Some(false);
        }
        assert_eq!(reference.phase, Phase::Run);
        let participants: Vec<usize> = (0..view.members.len())
            .filter(|&i| view.members[i].status == StateReport::Reported)
            .collect();
        let agreed = view.health_agreed && self.health_seen;
        let health = |p: usize| &self.nodes[comp.members[p]].health;
        for (v, slot) in reference.vifs.iter().enumerate() {
            let servers = participants
                .iter()
                .any(|&p| health(p).can_serve(VifIndex(v)));
            let Some(MemberIndex(owner)) = slot.owner else {
                assert!(
                    agreed && self.release_unservable && !servers,
                    "VIF {v} has no owner though it is mature"
                );
                assert!(holders(v).is_empty(), "VIF {v} released yet held");
                continue;
            };
            let h = holders(v);
            assert_eq!(
                h,
                vec![comp.members[owner]],
                "VIF {v} must be held by exactly its owner"
            );
            if agreed {
                assert!(
                    health(owner).can_serve(VifIndex(v)) || !servers,
                    "VIF {v} is held by member {owner}, who cannot serve it, while another can"
                );
            }
        }
        if agreed {
            let partial = participants
                .iter()
                .any(|&p| health(p).healthy && !health(p).is_full());
            let full: Vec<usize> = participants
                .iter()
                .copied()
                .filter(|&p| health(p).is_full())
                .collect();
            if !partial && !full.is_empty() {
                let min = full.iter().map(|&p| view.members[p].owned).min();
                let min = min.expect("someone can serve");
                let silent = view.members.iter().any(|m| m.status == StateReport::Silent);
                for &p in full.iter().filter(|_| !silent) {
                    let movable = reference.vifs.iter().any(|v| {
                        v.owner == Some(MemberIndex(p)) && v.priority < ClaimPriority::Prefer
                    });
                    assert!(
                        !movable || view.members[p].owned <= min + 1,
                        "member {p} holds {} while another that can serve holds {min}",
                        view.members[p].owned
                    );
                }
            }
            return Some(true);
        }
        let min = participants
            .iter()
            .map(|&p| view.members[p].owned)
            .min()
            .expect("someone took part");
        // A view that settled without some members' STATE is not balanced
        // (a C member would still be gathering and not follow the moves).
        let settled_without_some = view.members.iter().any(|m| m.status == StateReport::Silent);
        for &p in participants.iter().filter(|_| !settled_without_some) {
            let movable = reference
                .vifs
                .iter()
                .any(|v| v.owner == Some(MemberIndex(p)) && v.priority < ClaimPriority::Prefer);
            if movable {
                assert!(
                    view.members[p].owned <= min + 1,
                    "member {p} holds {} with movable VIFs while another holds {min}",
                    view.members[p].owned
                );
            }
        }
        for (v, &primary) in self.vifs.iter().enumerate() {
            let preferring: Vec<usize> = participants
                .iter()
                .copied()
                .filter(|&p| {
                    self.nodes[comp.members[p]]
                        .settings
                        .preferred
                        .contains(&primary)
                })
                .collect();
            if let (false, [only]) = (self.health_seen, &preferring[..]) {
                assert_eq!(
                    reference.vifs[v].owner,
                    Some(MemberIndex(*only)),
                    "VIF {v} is preferred only by member {only}"
                );
            }
        }
        Some(true)
    }
}

/// An engine's table as a C node keeps it: owners by identity.
pub(super) fn table_of(snapshot: &wackamole::engine::Snapshot) -> Vec<c_rules::Entry> {
    snapshot
        .vifs
        .iter()
        .map(|v| (v.owner_identity, v.priority))
        .collect()
}
