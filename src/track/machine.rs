//! The trackers together: inputs in, [`LocalHealth`] and notices out,
//! with the hold-down between two changes.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::outcome::{CheckOutcome, LinkState};
use super::tracker::{link_result, Change, Kind, Tracker, TrackerStatus};
use crate::base::Level;
use crate::config::{TrackConfig, Vif};
use crate::engine::LocalHealth;

/// How often the drain files are looked at.
pub const FILE_CHECK: Duration = Duration::from_secs(1);

/// Names one run of a check command, so a result that comes back after
/// its tracker was removed or replaced is recognised and dropped.
pub type RunId = u64;

/// What the trackers ask of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// This node's health changed: hand it to the core.
    Health(LocalHealth),
    /// A log record (one per change of a tracker's state).
    Notice(Level, String),
    /// Run a check command through `/bin/sh -c`, kill its process group
    /// after `timeout`, and report with [`Trackers::command_result`].
    Run {
        /// Give it back with the result.
        id: RunId,
        /// The command line.
        command: String,
        /// When to kill it.
        timeout: Duration,
    },
    /// Look whether each of [`Trackers::files`] exists and report with
    /// [`Trackers::file`].
    CheckFiles,
}

/// Every tracker of this node, and the health they give.
#[derive(Debug)]
pub struct Trackers {
    hold_down: Duration,
    /// Per VIF, the interfaces its addresses sit on (each once).
    vif_interfaces: Vec<Vec<String>>,
    trackers: Vec<Tracker>,
    /// Every link the watcher reported, by name.
    links: BTreeMap<String, LinkState>,
    /// The watcher's first dump is complete: a name not in `links` is
    /// missing.
    links_synced: bool,
    applied: LocalHealth,
    last_applied: Option<Instant>,
    next_file_check: Option<Instant>,
    next_run: RunId,
    outputs: VecDeque<Output>,
}

impl Trackers {
    /// The trackers of `track` and of the interfaces of `vifs`, all
    /// pending (healthy) until observed.
    pub fn new(track: &TrackConfig, vifs: &[Vif], now: Instant) -> Trackers {
        let vif_interfaces = vifs
            .iter()
            .map(|vif| {
                let mut names: Vec<String> =
                    vif.addresses.iter().map(|a| a.interface.clone()).collect();
                names.sort();
                names.dedup();
                names
            })
            .collect::<Vec<_>>();
        let mut trackers = Trackers {
            hold_down: track.hold_down,
            applied: LocalHealth {
                healthy: true,
                vifs: vec![true; vif_interfaces.len()],
            },
            vif_interfaces,
            trackers: Vec::new(),
            links: BTreeMap::new(),
            links_synced: false,
            last_applied: None,
            next_file_check: None,
            next_run: 0,
            outputs: VecDeque::new(),
        };
        trackers.reconfigure(track, now);
        trackers
    }

    /// A re-read `Track` block: trackers added, removed or changed. One
    /// that stays keeps its state and counters.
    pub fn reconfigure(&mut self, track: &TrackConfig, now: Instant) {
        self.hold_down = track.hold_down;
        let mut old = std::mem::take(&mut self.trackers);
        let mut take = |kind: Kind, target: &str| {
            old.iter()
                .position(|t| t.kind == kind && t.target == target)
                .map(|at| old.remove(at))
        };
        let mut wanted = Vec::new();
        let mut vif_names: Vec<&String> = self.vif_interfaces.iter().flatten().collect();
        vif_names.sort();
        vif_names.dedup();
        for name in &track.interfaces {
            let tracker = take(Kind::Interface, name)
                .or_else(|| take(Kind::VifInterface, name))
                .map(|mut t| {
                    t.kind = Kind::Interface;
                    t
                });
            wanted
                .push(tracker.unwrap_or_else(|| Tracker::new(Kind::Interface, name.clone(), now)));
        }
        for name in vif_names {
            if track.interfaces.contains(name) {
                continue;
            }
            let tracker = take(Kind::VifInterface, name)
                .or_else(|| take(Kind::Interface, name))
                .map(|mut t| {
                    t.kind = Kind::VifInterface;
                    t
                });
            wanted.push(
                tracker.unwrap_or_else(|| Tracker::new(Kind::VifInterface, name.clone(), now)),
            );
        }
        for settings in &track.commands {
            let tracker = match take(Kind::Command, &settings.command) {
                Some(mut tracker) => {
                    if let Some(check) = tracker.check.as_mut() {
                        check.next_run = check.next_run.min(now + settings.interval);
                        check.settings = settings.clone();
                    }
                    tracker
                }
                None => Tracker::command(settings.clone(), now),
            };
            wanted.push(tracker);
        }
        for path in &track.files {
            let target = path.display().to_string();
            match take(Kind::File, &target) {
                Some(tracker) => wanted.push(tracker),
                None => {
                    wanted.push(Tracker::new(Kind::File, target, now));
                    self.next_file_check = Some(now);
                }
            }
        }
        for gone in old {
            self.notice(Level::Notice, format!("{} no longer tracked", gone.name()));
        }
        self.trackers = wanted;
        if track.files.is_empty() {
            self.next_file_check = None;
        }
        for index in 0..self.trackers.len() {
            self.observe_link(index, now);
        }
        self.step(now);
    }

    /// The interface watcher reports `interface` in `state` (a deleted
    /// or renamed-away interface is [`LinkState::Missing`]).
    pub fn link(&mut self, interface: &str, state: LinkState, now: Instant) {
        if state == LinkState::Missing {
            self.links.remove(interface);
        } else {
            self.links.insert(interface.to_string(), state);
        }
        if let Some(index) = self.trackers.iter().position(|t| {
            matches!(t.kind, Kind::Interface | Kind::VifInterface) && t.target == interface
        }) {
            self.observe_link(index, now);
        }
        self.step(now);
    }

    /// The watcher's first dump is complete: every tracked interface it
    /// did not name is missing.
    pub fn links_synced(&mut self, now: Instant) {
        self.links_synced = true;
        for index in 0..self.trackers.len() {
            self.observe_link(index, now);
        }
        self.step(now);
    }

    /// The run `id` of a check command ended with `outcome`. A run whose
    /// tracker is gone is ignored.
    pub fn command_result(&mut self, id: RunId, outcome: &CheckOutcome, now: Instant) {
        let Some(tracker) = self
            .trackers
            .iter_mut()
            .find(|t| t.check.as_ref().is_some_and(|c| c.running == Some(id)))
        else {
            return;
        };
        if let Some(change) = tracker.checked(outcome, now) {
            self.change(change);
        }
        self.step(now);
    }

    /// Whether the drain file `path` exists.
    pub fn file(&mut self, path: &str, exists: bool, now: Instant) {
        let result = if exists { "exists" } else { "is absent" }.to_string();
        if let Some(tracker) = self
            .trackers
            .iter_mut()
            .find(|t| t.kind == Kind::File && t.target == path)
        {
            if let Some(change) = tracker.observe(!exists, result, now) {
                self.change(change);
            }
        }
        self.step(now);
    }

    /// The drain files to look at on [`Output::CheckFiles`].
    pub fn files(&self) -> Vec<PathBuf> {
        self.trackers
            .iter()
            .filter(|t| t.kind == Kind::File)
            .map(|t| PathBuf::from(&t.target))
            .collect()
    }

    /// The earliest time [`Trackers::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let recoveries = self
            .trackers
            .iter()
            .filter_map(|t| t.recovery_due(self.hold_down));
        let runs = self
            .trackers
            .iter()
            .filter_map(|t| t.check.as_ref())
            .filter(|c| c.running.is_none())
            .map(|c| c.next_run);
        let held = (self.wanted() != self.applied)
            .then(|| self.last_applied.map(|at| at + self.hold_down))
            .flatten();
        recoveries
            .chain(runs)
            .chain(self.next_file_check)
            .chain(held)
            .min()
    }

    /// Does what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.step(now);
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The health last handed out (healthy before any change).
    pub fn health(&self) -> &LocalHealth {
        &self.applied
    }

    /// Every tracker, for the status: the `Track` block's in its order,
    /// then the VIFs' interfaces.
    pub fn status(&self, now: Instant) -> Vec<TrackerStatus> {
        self.trackers.iter().map(|t| t.status(now)).collect()
    }

    fn notice(&mut self, level: Level, message: String) {
        self.outputs.push_back(Output::Notice(level, message));
    }

    fn change(&mut self, change: Change) {
        let level = if change.failing {
            Level::Warning
        } else {
            Level::Notice
        };
        self.notice(level, change.message);
    }

    /// Feeds an interface tracker the state of its link, once the
    /// watcher has said what exists.
    fn observe_link(&mut self, index: usize, now: Instant) {
        let tracker = &mut self.trackers[index];
        if !matches!(tracker.kind, Kind::Interface | Kind::VifInterface) {
            return;
        }
        let state = match self.links.get(&tracker.target) {
            Some(&state) => state,
            None if self.links_synced => LinkState::Missing,
            None => return,
        };
        if let Some(change) = tracker.observe(state.serves(), link_result(state), now) {
            self.change(change);
        }
    }

    /// Recoveries due, runs and file checks due, then the health.
    fn step(&mut self, now: Instant) {
        let hold_down = self.hold_down;
        let mut changes = Vec::new();
        let mut runs = Vec::new();
        for tracker in &mut self.trackers {
            if let Some(change) = tracker.settle(hold_down, now) {
                changes.push(change);
            }
            if let Some(check) = tracker.check.as_mut() {
                if check.running.is_none() && check.next_run <= now {
                    self.next_run += 1;
                    check.running = Some(self.next_run);
                    check.next_run = now + check.settings.interval;
                    runs.push(Output::Run {
                        id: self.next_run,
                        command: check.settings.command.clone(),
                        timeout: check.settings.timeout,
                    });
                }
            }
        }
        for change in changes {
            self.change(change);
        }
        self.outputs.extend(runs);
        if self.next_file_check.is_some_and(|at| at <= now) {
            self.next_file_check = Some(now + FILE_CHECK);
            self.outputs.push_back(Output::CheckFiles);
        }
        self.apply(now);
    }

    /// The health the trackers give now, before the hold-down.
    fn wanted(&self) -> LocalHealth {
        let failing = |name: &String| {
            self.trackers.iter().any(|t| {
                matches!(t.kind, Kind::Interface | Kind::VifInterface)
                    && &t.target == name
                    && t.is_failing()
            })
        };
        LocalHealth {
            healthy: !self
                .trackers
                .iter()
                .any(|t| t.kind != Kind::VifInterface && t.is_failing()),
            vifs: self
                .vif_interfaces
                .iter()
                .map(|names| !names.iter().any(failing))
                .collect(),
        }
    }

    /// Hands out the wanted health unless the last change is less than
    /// `HoldDown` ago.
    fn apply(&mut self, now: Instant) {
        let wanted = self.wanted();
        if wanted == self.applied {
            return;
        }
        if self
            .last_applied
            .is_some_and(|at| now < at + self.hold_down)
        {
            return;
        }
        self.last_applied = Some(now);
        self.applied = wanted.clone();
        self.outputs.push_back(Output::Health(wanted));
    }
}
