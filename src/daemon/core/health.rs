//! This node's health in the core: the trackers' verdict goes to the
//! engine (which tells the group and moves VIFs as agreed), every change
//! is logged, and in a group with original nodes, which cannot carry
//! health, an unhealthy node leaves (releasing everything, as `wackatrl
//! -f` does) until it is healthy again, unless an operator's `-f` keeps
//! it out anyway.

use std::time::Instant;

use super::{Core, THIS_NODE};
use crate::base::Level;
use crate::control::MoveReason;
use crate::daemon::group::GroupService;
use crate::daemon::host::Host;
use crate::engine::codec::mess_type;
use crate::engine::{Input, LocalHealth, Phase, VifIndex};

impl<S: GroupService, H: Host> Core<S, H> {
    /// The trackers' verdict on what this node can serve now. Until the
    /// first call a node can serve everything.
    pub fn set_health(&mut self, health: LocalHealth, now: Instant) {
        if health == self.health {
            return;
        }
        let text = self.describe_health(&health);
        self.log(Level::Notice, format_args!("{text}"));
        self.health = health.clone();
        let cause = MoveReason::Tracker(THIS_NODE.into());
        self.feed(Input::Health(health), &cause, now);
        self.follow_health(now);
        self.sync_service(now);
    }

    /// What the log says of a change of health.
    fn describe_health(&self, health: &LocalHealth) -> String {
        let unservable: Vec<String> = health
            .vifs
            .iter()
            .enumerate()
            .filter(|(_, &up)| !up)
            .map(|(i, _)| self.vif_name(VifIndex(i)))
            .collect();
        let mut text = if health.healthy {
            "health: this node is healthy".to_string()
        } else {
            "health: this node is unhealthy: it serves nothing while another member can".to_string()
        };
        if !unservable.is_empty() {
            text.push_str(&format!(
                "; its interfaces cannot serve VIF {}",
                unservable.join(", ")
            ));
        }
        text
    }

    fn vif_name(&self, vif: VifIndex) -> String {
        self.config
            .vifs
            .get(vif.0)
            .and_then(|v| v.addresses.first())
            .map_or_else(|| vif.0.to_string(), |a| a.to_string())
    }

    /// After what the group or the trackers said: notes whether the last
    /// settled view had a member that is not ours, and leaves or joins
    /// the group as health in such a group demands.
    pub(super) fn follow_health(&mut self, now: Instant) {
        if self.engine.phase() == Phase::Run {
            self.mixed = !self.engine.view_is_all_ours();
        }
        if !self.health.healthy && self.mixed && !self.health_away && !self.away {
            self.log(
                Level::Notice,
                format_args!(
                    "unhealthy in a group with original nodes, which cannot carry health: \
                     leaving the group ({}), releasing every VIF, until healthy again (as \
                     wackatrl -f does)",
                    self.service.name()
                ),
            );
            self.health_away = true;
            self.leave_group(&MoveReason::Tracker(THIS_NODE.into()), now);
        } else if self.health_away && self.health.healthy {
            self.health_away = false;
            if self.away {
                self.log(
                    Level::Notice,
                    format_args!(
                        "healthy again; staying out of the group: wackatrl -f is in force"
                    ),
                );
            } else {
                self.log(
                    Level::Notice,
                    format_args!("healthy again: joining the group ({})", self.service.name()),
                );
                self.service.join();
            }
        }
    }

    /// Whether the node stays out of the group: an operator's `-f`, or
    /// unhealthy in a group with original nodes.
    pub(super) fn stays_out(&self) -> bool {
        self.away || self.health_away
    }
}

impl<S: GroupService, H: Host> Core<S, H> {
    /// Feeds a group input; when it is a HEALTH, remembers the VIFs it
    /// gave us, so that they come up as moved by health (`cause`) even if
    /// that waits for their old owner's RELEASED.
    pub(super) fn feed_noting_health(&mut self, input: Input, cause: &MoveReason, now: Instant) {
        match &input {
            Input::Message(m) if m.mess_type == mess_type::HEALTH => {}
            Input::View(_) | Input::Disconnected => {
                self.moved_by_health.clear();
                return self.feed(input, cause, now);
            }
            _ => return self.feed(input, cause, now),
        }
        let owners = |core: &Self| -> Vec<_> {
            core.engine
                .snapshot()
                .vifs
                .iter()
                .map(|v| v.owner)
                .collect()
        };
        let before = owners(self);
        self.feed(input, cause, now);
        let me = self.engine.snapshot().view.map(|v| v.my_index);
        for (i, (was, is)) in before.into_iter().zip(owners(self)).enumerate() {
            let vif = VifIndex(i);
            if was != is && is.is_some() && is == me && !self.acquired.contains_key(&vif) {
                self.moved_by_health.insert(vif, cause.clone());
            }
        }
    }
}
