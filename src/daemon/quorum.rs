//! `Quorum`: a node holds addresses only while its view has enough
//! members. The engine knows nothing of it; this gate sits between the
//! group service and the engine and decides what the engine is told.
//!
//! The rule, in the order the engine sees it:
//!
//! - While the current view is below the quorum, the engine is *out of
//!   the group*: the view that falls below is never handed over; in its
//!   place the engine gets `Disconnected`, which releases every address
//!   at once, before anything of that view (the gate drops its messages,
//!   so no state exchange can start in it). Later views below the quorum
//!   are withheld too, and so are their messages.
//! - The first view that meets the quorum again is handed over as a fresh
//!   join: `Connected` first (the engine forgets everything and starts
//!   its maturity), then the view, then its messages. The engine has held
//!   nothing since the `Disconnected`, so it never holds an address in a
//!   view below the quorum, and it takes part in a quorate view from its
//!   beginning, as every other member of it does.
//! - Every member of a view counts it alike (the same members, the same
//!   configured rule), so a view below the quorum is withheld by all of
//!   them: nobody in it sends a STATE, nobody holds anything.
//! - A re-read `Quorum` that changes the verdict on the current view
//!   cannot take effect inside it: the others have already exchanged their
//!   states in it (or not), and joining that exchange late would leave
//!   the engines with different tables. The daemon then leaves the group
//!   (releasing everything first) and joins again, so that a new view is
//!   formed and every member counts it afresh. Before any view, a new
//!   rule only decides whether the engine is told `Connected` yet.
//!
//! With `Quorum = none` every view qualifies and the events pass through
//! unchanged: `Connected` goes to the engine as soon as the service says
//! it, as it always did. With Spread the members counted are those of the
//! group (the Wackamole daemons the engine sees), not Spread's daemons.

use crate::config::Quorum;
use crate::engine::{Input, View};

use super::group::GroupEvent;

/// What the daemon does for one group event, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Hand this to the engine.
    Feed(Input),
    /// The group service lost us (its reason, to log as an error).
    Lost(String),
    /// The quorum verdict changed (a line for the log).
    Notice(String),
    /// The view the service just gave was handed to the engine (true) or
    /// withheld (false): the service may multicast again what the last
    /// view left undelivered, or must forget it.
    ViewTaken(bool),
    /// Leave the group (releasing everything) and join it again.
    Rejoin,
}

/// The quorum rule and what the group service and the engine were told.
#[derive(Debug, Clone)]
pub struct QuorumGate {
    rule: Quorum,
    /// Nodes the configuration lists (the built-in membership); none with
    /// Spread, where only a number of members can be asked for.
    configured: Option<usize>,
    /// The service said `Connected`, and nothing has ended that since.
    connected: bool,
    /// The service's current view, handed over or not.
    view: Option<View>,
    /// The engine was told `Connected` and not `Disconnected` since.
    engine_in: bool,
}

/// The quorum as `wackatrl` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumState {
    /// The configured rule.
    pub rule: Quorum,
    /// Members a view needs.
    pub needed: usize,
    /// Members of the current view, if there is one.
    pub members: Option<usize>,
    /// Whether the current view has them.
    pub met: bool,
}

impl QuorumGate {
    /// A gate for `rule`, with `configured` nodes listed (none with Spread).
    pub fn new(rule: Quorum, configured: Option<usize>) -> QuorumGate {
        QuorumGate {
            rule,
            configured,
            connected: false,
            view: None,
            engine_in: false,
        }
    }

    /// Members a view needs. `majority` without a node list (which the
    /// configuration refuses) needs 1, which every view has.
    pub fn needed(&self) -> usize {
        self.rule.needed(self.configured.unwrap_or(0))
    }

    fn is_met(&self, members: usize) -> bool {
        members >= self.needed()
    }

    /// The quorum as `wackatrl` shows it.
    pub fn state(&self) -> QuorumState {
        let members = self.view.as_ref().map(|v| v.members.len());
        QuorumState {
            rule: self.rule,
            needed: self.needed(),
            members,
            met: members.map_or(self.needed() == 0, |m| self.is_met(m)),
        }
    }

    /// What to do with one event of the group service.
    pub fn on_event(&mut self, event: GroupEvent) -> Vec<Step> {
        match event {
            GroupEvent::Connected => {
                self.connected = true;
                self.view = None;
                if self.needed() == 0 {
                    self.engine_in = true;
                    vec![Step::Feed(Input::Connected)]
                } else {
                    Vec::new()
                }
            }
            GroupEvent::View(view) => self.on_view(view),
            GroupEvent::Message(message) if self.engine_in => {
                vec![Step::Feed(Input::Message(message))]
            }
            GroupEvent::Message(_) => Vec::new(),
            GroupEvent::Disconnected { reason } => {
                self.out_of_group();
                vec![Step::Lost(reason), Step::Feed(Input::Disconnected)]
            }
            // What the addresses do while the lease lapses is the core's
            // business: the engine's table stays as it is.
            GroupEvent::Lease(_) => Vec::new(),
        }
    }

    fn on_view(&mut self, view: View) -> Vec<Step> {
        let members = view.members.len();
        let was_met = self.view.as_ref().map(|v| self.is_met(v.members.len()));
        self.view = Some(view.clone());
        let mut steps = Vec::new();
        if self.is_met(members) {
            if !self.engine_in {
                if self.rule != Quorum::None {
                    steps.push(Step::Notice(format!(
                        "quorum met: the view has {members} members, {} needed; taking part",
                        self.needed()
                    )));
                }
                self.engine_in = true;
                steps.push(Step::Feed(Input::Connected));
            }
            steps.push(Step::Feed(Input::View(view)));
            steps.push(Step::ViewTaken(true));
        } else {
            if self.engine_in || was_met != Some(false) {
                steps.push(Step::Notice(format!(
                    "below quorum: the view has {members} of the {} members needed; holding no \
                     address until a view meets it",
                    self.needed()
                )));
            }
            if self.engine_in {
                self.engine_in = false;
                steps.push(Step::Feed(Input::Disconnected));
            }
            steps.push(Step::ViewTaken(false));
        }
        steps
    }

    /// The daemon left the group on purpose (a simulated failure, a
    /// rejoin, the end); it has told the engine itself.
    pub fn left(&mut self) {
        self.out_of_group();
    }

    fn out_of_group(&mut self) {
        self.connected = false;
        self.view = None;
        self.engine_in = false;
    }

    /// A re-read `Quorum` (and node count): what it changes now.
    pub fn set_rule(&mut self, rule: Quorum, configured: Option<usize>) -> Vec<Step> {
        let before = self.state();
        self.rule = rule;
        self.configured = configured;
        if !self.connected || self.state().met == before.met {
            return Vec::new();
        }
        let needed = self.needed();
        match &self.view {
            // Nothing was exchanged yet: only `Connected` is at stake.
            None if needed == 0 => {
                self.engine_in = true;
                vec![Step::Feed(Input::Connected)]
            }
            None => {
                self.engine_in = false;
                vec![Step::Feed(Input::Disconnected)]
            }
            Some(view) => {
                let members = view.members.len();
                let verdict = if self.is_met(members) {
                    "now meets it"
                } else {
                    "is now below it"
                };
                vec![
                    Step::Notice(format!(
                        "Quorum {rule} needs {needed} members; the current view of {members} \
                         {verdict}: leaving and joining the group again so that every member \
                         counts a new view"
                    )),
                    Step::Rejoin,
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{GroupId, Message};

    fn view(members: usize) -> GroupEvent {
        GroupEvent::View(View {
            group_id: GroupId::from_raw([1, 2, u32::try_from(members).unwrap_or(0)]),
            members: (0..members).map(|i| format!("m{i}")).collect(),
            my_index: 0,
        })
    }

    fn message() -> GroupEvent {
        GroupEvent::Message(Message {
            sender: "m0".into(),
            mess_type: 1,
            endian_mismatch: false,
            body: vec![],
        })
    }

    fn inputs(steps: &[Step]) -> Vec<&Input> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Feed(input) => Some(input),
                _ => None,
            })
            .collect()
    }

    fn notices(steps: &[Step]) -> usize {
        steps
            .iter()
            .filter(|s| matches!(s, Step::Notice(_)))
            .count()
    }

    #[test]
    fn without_a_quorum_events_pass_through_unchanged() {
        let mut gate = QuorumGate::new(Quorum::None, Some(3));
        assert_eq!(
            gate.on_event(GroupEvent::Connected),
            vec![Step::Feed(Input::Connected)]
        );
        let steps = gate.on_event(view(1));
        assert!(matches!(
            steps.as_slice(),
            [Step::Feed(Input::View(_)), Step::ViewTaken(true)]
        ));
        assert_eq!(inputs(&gate.on_event(message())).len(), 1);
        let lost = gate.on_event(GroupEvent::Disconnected {
            reason: "gone".into(),
        });
        assert_eq!(
            lost,
            vec![Step::Lost("gone".into()), Step::Feed(Input::Disconnected)]
        );
        assert!(gate.state().met);
    }

    #[test]
    fn a_view_below_the_quorum_is_withheld_and_the_engine_released() {
        let mut gate = QuorumGate::new(Quorum::Majority, Some(3));
        // Connected waits for a view that meets the quorum.
        assert_eq!(gate.on_event(GroupEvent::Connected), vec![]);
        let alone = gate.on_event(view(1));
        assert_eq!(inputs(&alone), Vec::<&Input>::new());
        assert_eq!(notices(&alone), 1);
        assert_eq!(alone.last(), Some(&Step::ViewTaken(false)));
        assert!(gate.on_event(message()).is_empty());
        // Still below: no second log line.
        assert_eq!(notices(&gate.on_event(view(1))), 0);

        let two = gate.on_event(view(2));
        let fed = inputs(&two);
        assert!(
            matches!(fed.as_slice(), [Input::Connected, Input::View(_)]),
            "{two:?}"
        );
        assert_eq!(notices(&two), 1);
        assert_eq!(two.last(), Some(&Step::ViewTaken(true)));
        assert_eq!(inputs(&gate.on_event(message())).len(), 1);
        // A view that still meets it goes straight through.
        let three = gate.on_event(view(3));
        assert!(matches!(inputs(&three).as_slice(), [Input::View(_)]));
        assert_eq!(notices(&three), 0);

        // Falling below: Disconnected instead of the view, before any of
        // its messages.
        let lost = gate.on_event(view(1));
        assert!(matches!(inputs(&lost).as_slice(), [Input::Disconnected]));
        assert_eq!(notices(&lost), 1);
        assert!(gate.on_event(message()).is_empty());
        assert_eq!(
            gate.state(),
            QuorumState {
                rule: Quorum::Majority,
                needed: 2,
                members: Some(1),
                met: false
            }
        );
    }

    #[test]
    fn a_count_quorum_is_counted_the_same_way() {
        let mut gate = QuorumGate::new(Quorum::Count(2), None);
        gate.on_event(GroupEvent::Connected);
        assert!(inputs(&gate.on_event(view(1))).is_empty());
        assert_eq!(inputs(&gate.on_event(view(2))).len(), 2);
    }

    #[test]
    fn a_new_rule_that_changes_the_verdict_rejoins() {
        let mut gate = QuorumGate::new(Quorum::Majority, Some(2));
        gate.on_event(GroupEvent::Connected);
        gate.on_event(view(1));
        assert!(!gate.state().met);
        // The lone survivor of two is told it may serve alone.
        let steps = gate.set_rule(Quorum::None, Some(2));
        assert_eq!(steps.last(), Some(&Step::Rejoin));
        assert_eq!(notices(&steps), 1);
        // The same verdict: nothing to do.
        let mut gate = QuorumGate::new(Quorum::None, Some(3));
        gate.on_event(GroupEvent::Connected);
        gate.on_event(view(3));
        assert!(gate.set_rule(Quorum::Majority, Some(3)).is_empty());
        assert_eq!(gate.set_rule(Quorum::Count(3), Some(3)), vec![]);
        assert_eq!(
            gate.set_rule(Quorum::Majority, Some(6)).last(),
            Some(&Step::Rejoin)
        );
    }

    #[test]
    fn before_any_view_a_new_rule_only_moves_connected() {
        let mut gate = QuorumGate::new(Quorum::None, Some(3));
        gate.on_event(GroupEvent::Connected);
        assert_eq!(
            gate.set_rule(Quorum::Majority, Some(3)),
            vec![Step::Feed(Input::Disconnected)]
        );
        assert_eq!(
            gate.set_rule(Quorum::None, Some(3)),
            vec![Step::Feed(Input::Connected)]
        );
        // Out of the group, a new rule changes nothing now.
        gate.left();
        assert!(gate.set_rule(Quorum::Majority, Some(3)).is_empty());
    }
}
