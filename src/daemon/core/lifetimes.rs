//! Address lifetimes and `TakeoverWait`: renewing what is in the
//! kernel, and holding back the VIFs of a member that left until its
//! kernel must have dropped them.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::{Core, Deadline, KERNEL_SLACK};
use crate::base::{Level, VifAddress};
use crate::control::MoveReason;
use crate::daemon::group::GroupService;
use crate::daemon::host::{Host, Renewed};
use crate::engine::VifIndex;
use std::collections::BTreeSet;

impl<S: GroupService, H: Host> Core<S, H> {
    /// Before a new view reaches the engine: with `TakeoverWait`, the
    /// VIFs of members that are not in it become orphans until their
    /// kernels must have dropped them. Returns why addresses move in it:
    /// a member left, or only a new view.
    pub(super) fn note_departures(&mut self, members: &[String], now: Instant) -> MoveReason {
        self.orphans.retain(|_, &mut at| at > now);
        let left = self
            .engine
            .snapshot()
            .view
            .is_some_and(|view| view.members.iter().any(|m| !members.contains(&m.name)));
        let cause = if left {
            MoveReason::MemberLeft
        } else {
            MoveReason::View
        };
        let (true, Some(lifetime)) = (
            self.config.addresses.takeover_wait,
            self.config.addresses.lifetime,
        ) else {
            return cause;
        };
        let snapshot = self.engine.snapshot();
        let Some(view) = snapshot.view else {
            // Out of any view until now: nothing tells us who left.
            self.note_joining(now);
            return cause;
        };
        // Members that arrive come from views of their own, whose
        // departures (a stalled holder among them) we never saw: as for a
        // node that joins, every VIF is an orphan to us for a lifetime.
        if members
            .iter()
            .any(|name| !view.members.iter().any(|m| &m.name == name))
        {
            self.note_joining(now);
            return cause;
        }
        let departed: Vec<Ipv4Addr> = view
            .members
            .iter()
            .filter(|m| !members.contains(&m.name))
            .filter_map(|m| m.identity)
            .collect();
        let safe = now + lifetime + KERNEL_SLACK;
        for (index, vif) in snapshot.vifs.iter().enumerate() {
            if vif
                .owner_identity
                .is_some_and(|owner| departed.contains(&owner))
            {
                self.orphans.insert(VifIndex(index), safe);
            }
        }
        cause
    }

    /// With `TakeoverWait`, a node that joins cannot know which members
    /// left before it came (a stalled holder among them): every VIF is an
    /// orphan to it until a lifetime has passed.
    pub(super) fn note_joining(&mut self, now: Instant) {
        if let (true, Some(lifetime)) = (
            self.config.addresses.takeover_wait,
            self.config.addresses.lifetime,
        ) {
            let safe = now + lifetime + KERNEL_SLACK;
            for vif in 0..self.config.vifs.len() {
                self.orphans.insert(VifIndex(vif), safe);
            }
        }
    }

    pub(super) fn arm_orphans(&mut self) {
        let next = self
            .deferred
            .iter()
            .filter_map(|vif| self.orphans.get(vif))
            .min()
            .copied();
        match next {
            Some(at) => self.timers.arm(Deadline::Orphans, at),
            None => self.timers.disarm(Deadline::Orphans),
        }
    }

    /// The deferred VIFs whose moment has come, if still ours: moved for
    /// the reason the engine took them.
    pub(super) fn place_orphans(&mut self, now: Instant) {
        let due: Vec<VifIndex> = self
            .deferred
            .iter()
            .copied()
            .filter(|vif| self.orphans.get(vif).map_or(true, |&at| at <= now))
            .collect();
        for vif in due {
            self.deferred.remove(&vif);
            self.orphans.remove(&vif);
            if let Some(cause) = self.acquired.get(&vif).filter(|_| !self.lapsed) {
                let cause = cause.clone();
                self.place(vif, Some(&cause), now);
            }
        }
        self.arm_orphans();
    }

    pub(super) fn arm_renewal(&mut self, now: Instant) {
        if let Some(lifetime) = self.config.addresses.lifetime {
            self.timers.arm(Deadline::Renew, now + lifetime / 3);
        }
    }

    /// Whether the group service still counts us in (a stalled process
    /// must not renew or put back what its peers may have taken over).
    pub(super) fn counted_in(&self, now: Instant) -> bool {
        self.service.lease().map_or(true, |lease| lease.valid(now))
    }

    /// Renews the lifetime of every address in the kernel; puts back one
    /// found gone while the service still counts us in (watched as taken
    /// again, for the reason the engine took it).
    pub(super) fn renew(&mut self, now: Instant) {
        let Some(lifetime) = self.config.addresses.lifetime else {
            return;
        };
        let placed: Vec<VifIndex> = self
            .held()
            .into_iter()
            .filter(|vif| !self.lapsed && !self.deferred.contains(vif))
            .collect();
        if placed.is_empty() {
            return;
        }
        self.arm_renewal(now);
        if !self.counted_in(now) {
            self.log(
                Level::Debug,
                format_args!("not renewing: the group service does not count us in now"),
            );
            return;
        }
        let addresses: Vec<(VifIndex, VifAddress)> = placed
            .iter()
            .flat_map(|&vif| self.addresses(vif).into_iter().map(move |a| (vif, a)))
            .collect();
        let list: Vec<VifAddress> = addresses.iter().map(|(_, a)| a.clone()).collect();
        let answers = self.host.renew(&list, lifetime);
        let mut missing = BTreeSet::new();
        for ((vif, address), answer) in addresses.iter().zip(answers) {
            match answer {
                Ok(Renewed::Renewed | Renewed::Permanent) => {}
                Ok(Renewed::Missing) => {
                    self.log(
                        Level::Warning,
                        format_args!(
                            "{address} was gone from its interface while held (expired after \
                             a stall, or removed by hand): putting it back"
                        ),
                    );
                    missing.insert(*vif);
                }
                Err(err) => self.log(
                    Level::Warning,
                    format_args!("cannot renew the lifetime of {address}: {err}"),
                ),
            }
        }
        for vif in missing {
            let cause = self.acquired.get(&vif).cloned().unwrap_or(MoveReason::View);
            self.place(vif, Some(&cause), now);
        }
    }
}
