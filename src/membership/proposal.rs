//! A coordinator's view change in progress: the proposal, the FLUSH
//! reports gathered, and the INSTALL each member gets.

use std::collections::BTreeMap;
use std::time::Instant;

use super::wire::{Body, Member, Sequenced, ViewId};

/// What one member reported for a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FlushReport {
    pub old_view: Option<ViewId>,
    pub delivered: u32,
    pub messages: Vec<Sequenced>,
}

#[derive(Debug)]
pub(super) struct Proposal {
    pub id: ViewId,
    pub members: Vec<Member>,
    pub reports: BTreeMap<u8, FlushReport>,
    pub started: Instant,
}

impl Proposal {
    pub(super) fn new(id: ViewId, members: Vec<Member>, started: Instant) -> Proposal {
        Proposal {
            id,
            members,
            reports: BTreeMap::new(),
            started,
        }
    }

    pub(super) fn missing(&self) -> impl Iterator<Item = Member> + '_ {
        self.members
            .iter()
            .copied()
            .filter(|m| !self.reports.contains_key(&m.node))
    }

    pub(super) fn complete(&self) -> bool {
        self.missing().next().is_none()
    }

    /// The INSTALL of every member, in member order. For each old view the
    /// cut is the highest delivered count reported for it; each member gets
    /// the messages between its own count and the cut, which the union of
    /// the reports holds (see "View synchrony" in the module
    /// documentation). Should a message be missing all the same, the cut
    /// of that old view stops below it, and the members above it are the
    /// reason (an invariant the simulation checks never to happen).
    pub(super) fn installs(&self) -> Vec<(u8, Body)> {
        let mut union: BTreeMap<Option<ViewId>, BTreeMap<u32, &Sequenced>> = BTreeMap::new();
        let mut highest: BTreeMap<Option<ViewId>, u32> = BTreeMap::new();
        for report in self.reports.values() {
            let known = union.entry(report.old_view).or_default();
            for m in &report.messages {
                known.entry(m.seq).or_insert(m);
            }
            let top = highest.entry(report.old_view).or_default();
            *top = (*top).max(report.delivered);
        }
        let mut cuts = BTreeMap::new();
        for (view, top) in &highest {
            let lowest = self
                .reports
                .values()
                .filter(|r| r.old_view == *view)
                .map(|r| r.delivered)
                .min()
                .unwrap_or(*top);
            let known = &union[view];
            let mut cut = lowest;
            while cut < *top && known.contains_key(&(cut + 1)) {
                cut += 1;
            }
            cuts.insert(*view, cut);
        }
        self.members
            .iter()
            .filter_map(|member| {
                let report = self.reports.get(&member.node)?;
                let cut = cuts[&report.old_view].max(report.delivered);
                let known = &union[&report.old_view];
                let messages = (report.delivered + 1..=cut)
                    .filter_map(|s| known.get(&s).map(|m| (*m).clone()))
                    .collect();
                Some((
                    member.node,
                    Body::Install {
                        view: self.id,
                        members: self.members.clone(),
                        old_view: report.old_view,
                        cut,
                        messages,
                    },
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vid(ltime: u64) -> ViewId {
        ViewId {
            ltime,
            coordinator: 0,
            incarnation: 1,
        }
    }

    fn msg(seq: u32) -> Sequenced {
        Sequenced {
            seq,
            origin: 0,
            local: seq,
            payload: vec![seq as u8],
        }
    }

    fn member(node: u8) -> Member {
        Member {
            node,
            incarnation: 7,
        }
    }

    #[test]
    fn every_member_of_an_old_view_ends_at_the_highest_count() {
        let now = Instant::now();
        let mut p = Proposal::new(vid(9), vec![member(0), member(1), member(2)], now);
        p.reports.insert(
            0,
            FlushReport {
                old_view: Some(vid(5)),
                delivered: 4,
                messages: vec![msg(3), msg(4)],
            },
        );
        p.reports.insert(
            1,
            FlushReport {
                old_view: Some(vid(5)),
                delivered: 2,
                messages: vec![],
            },
        );
        assert!(!p.complete());
        p.reports.insert(
            2,
            FlushReport {
                old_view: None,
                delivered: 0,
                messages: vec![],
            },
        );
        assert!(p.complete());
        let installs = p.installs();
        let get = |n: u8| match &installs.iter().find(|(m, _)| *m == n).unwrap().1 {
            Body::Install { cut, messages, .. } => (*cut, messages.clone()),
            other => panic!("not an install: {other:?}"),
        };
        assert_eq!(get(0), (4, vec![]));
        assert_eq!(get(1), (4, vec![msg(3), msg(4)]));
        assert_eq!(get(2), (0, vec![]));
    }
}
