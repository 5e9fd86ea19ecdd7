//! One tracker: what it watches, its state, and the rules that move it.

use std::time::{Duration, Instant};

use super::outcome::{CheckOutcome, LinkState};
use crate::config::CheckCommand;

/// What a tracker watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An interface of the `Track` block (node-wide).
    Interface,
    /// An interface a VIF's address sits on (that VIF only), not listed
    /// in the `Track` block.
    VifInterface,
    /// A check command.
    Command,
    /// A drain file.
    File,
}

impl Kind {
    /// The word of the status and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Interface => "interface",
            Kind::VifInterface => "vif-interface",
            Kind::Command => "command",
            Kind::File => "file",
        }
    }
}

/// Where a tracker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing observed yet: counts as passing.
    Pending,
    /// It passes.
    Passing,
    /// It fails: the node (or the VIFs on the interface) cannot serve.
    Failing,
}

impl State {
    /// The word of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Passing => "passing",
            State::Failing => "failing",
        }
    }
}

/// One tracker as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerStatus {
    /// What it watches.
    pub kind: Kind,
    /// The interface name, the command line or the file's path.
    pub target: String,
    /// Where it stands.
    pub state: State,
    /// How long it has stood there.
    pub since: Duration,
    /// The last thing observed, one bounded line.
    pub last_result: String,
}

/// A check command's own counters and schedule.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub settings: CheckCommand,
    pub fails: u32,
    pub passes: u32,
    /// When the next run is due (from the start of the last one).
    pub next_run: Instant,
    /// The run under way, if any.
    pub running: Option<u64>,
}

/// One tracker.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    pub kind: Kind,
    pub target: String,
    pub state: State,
    pub since: Instant,
    pub last_result: String,
    /// For interfaces and files: whether the last observation passes, and
    /// since when it has continuously.
    pub observed_ok: bool,
    pub observed_since: Instant,
    pub check: Option<Check>,
}

/// A change of state, for the log.
pub(super) struct Change {
    pub failing: bool,
    pub message: String,
}

impl Tracker {
    pub(super) fn new(kind: Kind, target: String, now: Instant) -> Tracker {
        Tracker {
            kind,
            target,
            state: State::Pending,
            since: now,
            last_result: String::new(),
            observed_ok: true,
            observed_since: now,
            check: None,
        }
    }

    pub(super) fn command(settings: CheckCommand, now: Instant) -> Tracker {
        let mut tracker = Tracker::new(Kind::Command, settings.command.clone(), now);
        tracker.check = Some(Check {
            settings,
            fails: 0,
            passes: 0,
            next_run: now,
            running: None,
        });
        tracker
    }

    pub(super) fn is_failing(&self) -> bool {
        self.state == State::Failing
    }

    /// The name a notice gives it.
    pub(super) fn name(&self) -> String {
        match self.kind {
            Kind::Interface => format!("tracked interface {}", self.target),
            Kind::VifInterface => format!("interface {} (of a VIF)", self.target),
            Kind::Command => format!("check command \"{}\"", self.target),
            Kind::File => format!("drain file {}", self.target),
        }
    }

    fn set(&mut self, state: State, now: Instant) {
        self.state = state;
        self.since = now;
    }

    /// A condition observed (link state, file existence): fails at once,
    /// passes once it has held for `hold_down` (see [`Tracker::settle`]).
    pub(super) fn observe(&mut self, ok: bool, result: String, now: Instant) -> Option<Change> {
        self.last_result = result;
        if ok != self.observed_ok {
            self.observed_ok = ok;
            self.observed_since = now;
        }
        if !ok && self.state != State::Failing {
            self.set(State::Failing, now);
            return Some(Change {
                failing: true,
                message: format!("{} {}", self.name(), self.last_result),
            });
        }
        if ok && self.state == State::Pending {
            self.set(State::Passing, now);
        }
        None
    }

    /// When a failing interface or file that passes again may pass.
    pub(super) fn recovery_due(&self, hold_down: Duration) -> Option<Instant> {
        (self.check.is_none() && self.state == State::Failing && self.observed_ok)
            .then(|| self.observed_since + hold_down)
    }

    /// Passes a failing interface or file whose condition has held for
    /// `hold_down`.
    pub(super) fn settle(&mut self, hold_down: Duration, now: Instant) -> Option<Change> {
        let due = self.recovery_due(hold_down)?;
        if now < due {
            return None;
        }
        self.set(State::Passing, now);
        Some(Change {
            failing: false,
            message: format!(
                "{} {} (for {:?}): passing again",
                self.name(),
                self.last_result,
                now.saturating_duration_since(self.observed_since)
            ),
        })
    }

    /// A check command's run ended: `Fall` failures in a row fail it,
    /// `Rise` successes in a row pass it; the first result decides alone.
    pub(super) fn checked(&mut self, outcome: &CheckOutcome, now: Instant) -> Option<Change> {
        let check = self.check.as_mut()?;
        check.running = None;
        self.last_result = outcome.summary();
        let passed = outcome.passed();
        if passed {
            check.passes = check.passes.saturating_add(1);
            check.fails = 0;
        } else {
            check.fails = check.fails.saturating_add(1);
            check.passes = 0;
        }
        let (count, needed) = if passed {
            (check.passes, check.settings.rise)
        } else {
            (check.fails, check.settings.fall)
        };
        let target = if passed {
            State::Passing
        } else {
            State::Failing
        };
        if self.state == target || (self.state != State::Pending && count < needed) {
            return None;
        }
        let first = self.state == State::Pending;
        self.set(target, now);
        if first && passed {
            // Pending counted as passing already: nothing changes.
            return None;
        }
        let verb = if passed { "passed" } else { "failed" };
        let how = if first {
            format!("{verb} its first run")
        } else {
            match count {
                1 => format!("{verb} once"),
                _ => format!("{verb} {count} times in a row"),
            }
        };
        Some(Change {
            failing: !passed,
            message: format!("{} {how}: {}", self.name(), self.last_result),
        })
    }

    pub(super) fn status(&self, now: Instant) -> TrackerStatus {
        TrackerStatus {
            kind: self.kind,
            target: self.target.clone(),
            state: self.state,
            since: now.saturating_duration_since(self.since),
            last_result: self.last_result.clone(),
        }
    }
}

/// The status word of a link (for the last result).
pub(super) fn link_result(state: LinkState) -> String {
    state.reason().to_string()
}
