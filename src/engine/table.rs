//! The allocation table every member of a view computes identically: per
//! VIF its owner (a member's index in the view) and claim priority, with
//! the claim rules, the priority claim, claim unclaimed and the leader's
//! balancing plan. Pure bookkeeping: who must release or acquire is the
//! caller's business.

use super::codec::ClaimPriority;
use super::index::{MemberIndex, VifIndex};

/// One VIF's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    /// Index of the owning member in the view.
    pub owner: Option<MemberIndex>,
    pub priority: ClaimPriority,
}

const EMPTY: Slot = Slot {
    owner: None,
    priority: ClaimPriority::Unclaimed,
};

/// What a claim from a STATE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClaimResult {
    /// The VIF had no owner; the sender owns it now.
    Recorded,
    /// The existing owner keeps it; the sender must give it up.
    Lost,
    /// The sender takes it from this member, who must give it up.
    Displaced(MemberIndex),
    /// Nothing changed (the existing entry outranks the claim without
    /// refusing it, or the sender already owns it).
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    slots: Vec<Slot>,
}

impl Table {
    pub(super) fn new(vifs: usize) -> Table {
        Table {
            slots: vec![EMPTY; vifs],
        }
    }

    pub(super) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub(super) fn clear(&mut self) {
        self.slots.fill(EMPTY);
    }

    /// A STATE's claim of `vif` by `sender` with `priority`.
    pub(super) fn claim(
        &mut self,
        vif: VifIndex,
        sender: MemberIndex,
        priority: ClaimPriority,
    ) -> ClaimResult {
        let slot = &mut self.slots[vif.0];
        match slot.owner {
            None => {
                *slot = Slot {
                    owner: Some(sender),
                    priority,
                };
                ClaimResult::Recorded
            }
            // A member listing a VIF twice must not lose it to itself.
            Some(owner) if owner == sender => ClaimResult::Ignored,
            Some(_)
                if slot.priority == ClaimPriority::PreferClaimed || slot.priority == priority =>
            {
                ClaimResult::Lost
            }
            Some(owner)
                if slot.priority == ClaimPriority::Claimed
                    && priority == ClaimPriority::PreferClaimed =>
            {
                *slot = Slot {
                    owner: Some(sender),
                    priority,
                };
                ClaimResult::Displaced(owner)
            }
            Some(_) => ClaimResult::Ignored,
        }
    }

    /// A STATE's preference for `vif`: it wins over anything below PREFER.
    pub(super) fn prefer(&mut self, vif: VifIndex, sender: MemberIndex) {
        let slot = &mut self.slots[vif.0];
        if slot.priority < ClaimPriority::Prefer {
            *slot = Slot {
                owner: Some(sender),
                priority: ClaimPriority::Prefer,
            };
        }
    }

    /// Every preferred VIF is now taken by the member that prefers it.
    pub(super) fn priority_claim(&mut self) {
        for slot in &mut self.slots {
            if slot.priority == ClaimPriority::Prefer {
                slot.priority = ClaimPriority::PreferClaimed;
            }
        }
    }

    /// How many VIFs each of `members` members owns, by member index.
    pub(super) fn counts(&self, members: usize) -> Vec<u32> {
        let mut counts = vec![0; members];
        for owner in self.slots.iter().filter_map(|s| s.owner) {
            counts[owner.0] += 1;
        }
        counts
    }

    /// Every unowned VIF, in configuration order, goes to the participant
    /// with the fewest (lowest index on ties) among those that `can_serve`
    /// it, or among all of them when none can. `participants` is in index
    /// order.
    pub(super) fn claim_unclaimed(
        &mut self,
        participants: &[MemberIndex],
        counts: &mut [u32],
        can_serve: impl Fn(MemberIndex, VifIndex) -> bool,
    ) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.owner.is_some() {
                continue;
            }
            let fewest = |serving: bool| {
                participants
                    .iter()
                    .copied()
                    .filter(|&m| !serving || can_serve(m, VifIndex(i)))
                    .min_by_key(|&m| (counts[m.0], m))
            };
            let Some(taker) = fewest(true).or_else(|| fewest(false)) else {
                return;
            };
            *slot = Slot {
                owner: Some(taker),
                priority: ClaimPriority::Claimed,
            };
            counts[taker.0] += 1;
        }
    }

    /// Gives `vif` to `owner` (or nobody) with `priority`.
    pub(super) fn assign(
        &mut self,
        vif: VifIndex,
        owner: Option<MemberIndex>,
        priority: ClaimPriority,
    ) {
        self.slots[vif.0] = Slot { owner, priority };
    }

    /// Moves `vif` to `owner`, keeping its priority.
    pub(super) fn reassign(&mut self, vif: VifIndex, owner: MemberIndex) {
        self.slots[vif.0].owner = Some(owner);
    }

    /// The leader's balancing moves, at most `limit` of them (None: until
    /// balanced): repeatedly the fullest participant that holds a movable
    /// (below PREFER) VIF the emptiest one `can_serve` gives its first such
    /// VIF to it, while they differ by more than one. Unlike the original,
    /// a fullest member holding only preferred VIFs does not stop the
    /// round: the next fullest gives instead. Receivers are tried emptiest
    /// first, and only among those that can serve a VIF at all; when
    /// every member can serve everything this is exactly the rule above.
    pub(super) fn plan_balance(
        &self,
        participants: &[MemberIndex],
        counts: &[u32],
        limit: Option<usize>,
        can_serve: impl Fn(MemberIndex, VifIndex) -> bool,
    ) -> Vec<(VifIndex, MemberIndex)> {
        let mut owner: Vec<Option<MemberIndex>> = self.slots.iter().map(|s| s.owner).collect();
        let mut counts = counts.to_vec();
        let receivers: Vec<MemberIndex> = participants
            .iter()
            .copied()
            .filter(|&m| (0..owner.len()).any(|i| can_serve(m, VifIndex(i))))
            .collect();
        let mut moves = Vec::new();
        while limit.map_or(true, |l| moves.len() < l) {
            let mut by_fewest = receivers.clone();
            by_fewest.sort_by_key(|&m| (counts[m.0], m));
            let mut by_most = participants.to_vec();
            by_most.sort_by_key(|&m| (std::cmp::Reverse(counts[m.0]), m));
            let step = by_fewest.iter().find_map(|&to| {
                by_most
                    .iter()
                    .take_while(|&&from| counts[from.0] > counts[to.0] + 1)
                    .find_map(|&from| {
                        (0..owner.len())
                            .find(|&i| {
                                owner[i] == Some(from)
                                    && self.slots[i].priority < ClaimPriority::Prefer
                                    && can_serve(to, VifIndex(i))
                            })
                            .map(|vif| (vif, from, to))
                    })
            });
            let Some((vif, from, to)) = step else { break };
            owner[vif] = Some(to);
            counts[from.0] -= 1;
            counts[to.0] += 1;
            moves.push((VifIndex(vif), to));
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::ClaimPriority::*;
    use super::*;

    const V0: VifIndex = VifIndex(0);

    fn m(i: usize) -> MemberIndex {
        MemberIndex(i)
    }

    fn table_with(owner: usize, priority: ClaimPriority) -> Table {
        let mut t = Table::new(1);
        assert_eq!(t.claim(V0, m(owner), priority), ClaimResult::Recorded);
        t
    }

    #[test]
    fn first_claim_of_an_unowned_vif_is_recorded() {
        let t = table_with(3, Claimed);
        assert_eq!(
            t.slots()[0],
            Slot {
                owner: Some(m(3)),
                priority: Claimed
            }
        );
    }

    #[test]
    fn equal_priorities_keep_the_existing_owner() {
        for p in [Claimed, PreferClaimed] {
            let mut t = table_with(0, p);
            assert_eq!(t.claim(V0, m(1), p), ClaimResult::Lost);
            assert_eq!(t.slots()[0].owner, Some(m(0)));
        }
    }

    #[test]
    fn prefer_claimed_owner_keeps_against_anything() {
        let mut t = table_with(0, PreferClaimed);
        assert_eq!(t.claim(V0, m(1), Claimed), ClaimResult::Lost);
        assert_eq!(t.slots()[0].owner, Some(m(0)));
    }

    #[test]
    fn prefer_claimed_claim_displaces_a_claimed_owner() {
        let mut t = table_with(0, Claimed);
        assert_eq!(
            t.claim(V0, m(1), PreferClaimed),
            ClaimResult::Displaced(m(0))
        );
        assert_eq!(
            t.slots()[0],
            Slot {
                owner: Some(m(1)),
                priority: PreferClaimed
            }
        );
    }

    #[test]
    fn claims_against_a_pending_preference_change_nothing() {
        let mut t = Table::new(1);
        t.prefer(V0, m(2));
        assert_eq!(t.claim(V0, m(1), Claimed), ClaimResult::Ignored);
        assert_eq!(t.claim(V0, m(1), PreferClaimed), ClaimResult::Ignored);
        assert_eq!(
            t.slots()[0],
            Slot {
                owner: Some(m(2)),
                priority: Prefer
            }
        );
    }

    #[test]
    fn a_member_never_loses_a_vif_to_itself() {
        let mut t = table_with(1, Claimed);
        assert_eq!(t.claim(V0, m(1), Claimed), ClaimResult::Ignored);
        assert_eq!(t.slots()[0].owner, Some(m(1)));
    }

    #[test]
    fn preference_overrides_only_below_prefer() {
        let mut t = table_with(0, Claimed);
        t.prefer(V0, m(1));
        assert_eq!(t.slots()[0].owner, Some(m(1)));
        t.prefer(V0, m(2));
        assert_eq!(t.slots()[0].owner, Some(m(1)), "first preference stays");
        let mut t = table_with(0, PreferClaimed);
        t.prefer(V0, m(1));
        assert_eq!(t.slots()[0].owner, Some(m(0)));
    }

    #[test]
    fn priority_claim_turns_preferences_into_holdings() {
        let mut t = Table::new(2);
        t.prefer(V0, m(1));
        t.priority_claim();
        assert_eq!(t.slots()[0].priority, PreferClaimed);
        assert_eq!(t.slots()[1].priority, Unclaimed);
    }

    #[test]
    fn unclaimed_vifs_go_to_the_emptiest_lowest_index_first() {
        let mut t = Table::new(5);
        t.claim(V0, m(1), Claimed);
        let mut counts = t.counts(3);
        t.claim_unclaimed(&[m(0), m(1), m(2)], &mut counts, |_, _| true);
        let owners: Vec<_> = t.slots().iter().map(|s| s.owner.unwrap().0).collect();
        assert_eq!(owners, vec![1, 0, 2, 0, 1]);
        assert_eq!(counts, vec![2, 2, 1]);
    }

    #[test]
    fn balance_moves_first_movable_vif_of_fullest_to_emptiest() {
        let mut t = Table::new(4);
        for v in 0..4 {
            t.claim(VifIndex(v), m(0), Claimed);
        }
        let counts = t.counts(2);
        let both = [m(0), m(1)];
        assert_eq!(
            t.plan_balance(&both, &counts, None, |_, _| true),
            vec![(VifIndex(0), m(1)), (VifIndex(1), m(1))]
        );
        assert_eq!(
            t.plan_balance(&both, &counts, Some(1), |_, _| true),
            vec![(VifIndex(0), m(1))]
        );
    }

    #[test]
    fn balance_skips_a_fullest_member_holding_only_preferred_vifs() {
        let mut t = Table::new(7);
        for v in 0..4 {
            t.prefer(VifIndex(v), m(0));
        }
        t.priority_claim();
        for v in 4..7 {
            t.claim(VifIndex(v), m(1), Claimed);
        }
        let counts = t.counts(3);
        assert_eq!(counts, vec![4, 3, 0]);
        let moves = t.plan_balance(&[m(0), m(1), m(2)], &counts, None, |_, _| true);
        assert_eq!(moves, vec![(VifIndex(4), m(2))]);
    }
}
