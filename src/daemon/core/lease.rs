//! The quorum lease: what a lapse takes out of the kernel, and what
//! comes back when it holds again.

use std::time::Instant;

use super::Core;
use crate::base::Level;
use crate::control::MoveReason;
use crate::daemon::group::GroupService;
use crate::daemon::host::Host;
use crate::engine::VifIndex;

impl<S: GroupService, H: Host> Core<S, H> {
    /// The quorum lease lapsed (`held` false) or holds again.
    pub(super) fn on_lease(&mut self, held: bool, now: Instant) {
        // Nothing changes unless it lapses while held or holds while lapsed.
        if held != self.lapsed {
            return;
        }
        self.lapsed = !held;
        // VIFs that wait for a departed owner's lifetime (TakeoverWait) are
        // not in the kernel either way; their own deadline brings them up.
        let vifs: Vec<VifIndex> = self
            .held()
            .into_iter()
            .filter(|vif| !self.deferred.contains(vif))
            .collect();
        if held {
            let view = self.engine.snapshot().view.map(|v| v.group_id);
            if view == self.lapsed_in {
                self.restore(vifs, now);
            }
        } else {
            self.lapsed_in = self.engine.snapshot().view.map(|v| v.group_id);
            self.log(
                Level::Warning,
                format_args!(
                    "quorum lease lapsed: no quorum of the view confirmed us in time; taking \
                     down {} VIFs until it holds again",
                    vifs.len()
                ),
            );
            self.unplaced.clear();
            for vif in vifs {
                self.host.cancel_announcement(vif.0);
                self.take_down(vif, &MoveReason::Quorum);
            }
        }
    }

    /// Puts back into the kernel, announced, what the engine held while
    /// the lease was lapsed: moved for the quorum, as they went.
    pub(super) fn restore(&mut self, vifs: Vec<VifIndex>, now: Instant) {
        if !vifs.is_empty() {
            self.log(
                Level::Notice,
                format_args!(
                    "quorum lease holds again: bringing back {} VIFs",
                    vifs.len()
                ),
            );
        }
        for vif in vifs {
            self.place(vif, Some(&MoveReason::Quorum), now);
        }
    }
}
