//! Packet-level simulation of the built-in membership, with the real
//! engine on every node.
//!
//! Each seed builds a cluster of 2 to 16 nodes on a network that loses (up
//! to 20%), duplicates, delays and reorders datagrams, and runs a schedule
//! of several faults: crashes (of the coordinator in the middle of a view
//! change too), pauses longer than the time-out, restarts within one
//! heartbeat, every node restarting at once, clean leaves, partitions
//! (symmetric, one-way, partial) and their healing, replays of recorded
//! datagrams, and multicasts just before a crash. Properties 1 to 3 of
//! shared/MEMBERSHIP.md are checked on every event (`support/vsync.rs`),
//! and so is, in every window where nothing happens but nodes starting
//! or a split healing, that joins take nothing away: no node that holds a
//! view installs a smaller one or leaves it (`support/joinwatch.rs`; a
//! window opens at such a join when every group is settled, nothing is
//! paused, the network splits into clean groups and has lost nothing,
//! replayed nothing and had no one-way link for two time-outs, and closes
//! at any other fault).
//! Then the faults stop (the network heals, or stays cut into clean
//! groups) and liveness is checked: within [`LIVENESS_BOUND`] every group
//! of running nodes that hear each other has installed one view holding
//! exactly them. Last, with the engine settled, no VIF is held twice in a
//! group and every VIF is held.
//!
//! `WACKAMOLE_MSIM_SEED=N` replays one seed with a trace (and
//! `WACKAMOLE_MSIM_ENGINE=1` adds every engine input and output to it);
//! `WACKAMOLE_MSIM_SEEDS=N` changes how many seeds the default run covers
//! (`make soak` runs a million) and `WACKAMOLE_MSIM_FIRST=N` where they
//! start.

#[path = "support/joinwatch.rs"]
mod joinwatch;
#[path = "support/rng.rs"]
mod rng;
#[path = "support/simengine.rs"]
mod simengine;
#[path = "support/simnet.rs"]
mod simnet;
#[path = "support/vsync.rs"]
mod vsync;

use std::time::Duration;

use joinwatch::JoinWindow;
use simengine::Engines;
use simnet::{Net, SlotState};
use vsync::{Checker, Tag};
use wackamole::membership::{Event, Member, Settings, ViewId};

use rng::Rng;

const DEFAULT_SEEDS: u64 = 50_000;
const MS: u64 = 1_000;
/// After the last fault, every group must have settled within this many
/// time-outs.
const LIVENESS_TIMEOUTS: u64 = 12;
/// The bound in simulated time.
const LIVENESS_BOUND: Duration = Duration::from_millis(200 * LIVENESS_TIMEOUTS);

/// Four heartbeats per time-out rather than the defaults' ten: the
/// failure detector errs far more often under loss, so schedules hold
/// more view changes to check (and cost fewer datagrams).
fn simulated_settings() -> Settings {
    Settings::new(Duration::from_millis(50), Duration::from_millis(200)).expect("valid settings")
}

#[derive(Debug, Clone)]
enum Fault {
    Crash(usize),
    /// Crash whichever node coordinates a view change under way (or the
    /// lowest running node if none is under way within a time-out).
    CrashCoordinatorMidChange,
    Restart(usize),
    Leave(usize),
    Pause(usize, u64),
    Partition(Vec<usize>),
    OneWay(usize, usize),
    CutPair(usize, usize),
    Heal,
    Loss(u64),
    Burst(usize, usize),
    Replay(usize),
    CrashAll,
    RestartAll,
}

struct Schedule {
    n: usize,
    faults: Vec<(u64, Fault)>,
    /// Time of the last fault; the network heals then (or keeps `final_groups`).
    quiet_at: u64,
    final_groups: Option<Vec<usize>>,
    /// (a, b, one_way): a link left cut at the end.
    lasting_flaw: Option<(usize, usize, bool)>,
}

fn pick_n(rng: &mut Rng) -> usize {
    if rng.chance(65) {
        rng.range(2, 5)
    } else if rng.chance(70) {
        rng.range(6, 9)
    } else {
        rng.range(10, 16)
    }
}

fn schedule(seed: u64, settings: &Settings) -> Schedule {
    let mut rng = Rng(seed);
    let n = pick_n(&mut rng);
    let t_us = settings.timeout.as_micros() as u64;
    let h_us = settings.heartbeat.as_micros() as u64;
    let mut t = 300 * MS + rng.range(0, 300) as u64 * MS;
    let mut faults = Vec::new();
    let count = rng.range(2, 7);
    for _ in 0..count {
        let a = rng.below(n);
        let mut b = rng.below(n);
        if b == a {
            b = (a + 1) % n;
        }
        let fault = match rng.below(16) {
            0 | 1 => Fault::Crash(a),
            2 => Fault::CrashCoordinatorMidChange,
            3 => Fault::Restart(a),
            4 => Fault::Leave(a),
            5 => Fault::Pause(a, rng.range(t_us as usize / 2, 5 * t_us as usize) as u64),
            6 => Fault::Partition((0..n).map(|_| rng.below(3)).collect()),
            7 => Fault::OneWay(a, b),
            8 => Fault::CutPair(a, b),
            9 => Fault::Heal,
            10 => Fault::Loss(rng.range(0, 200) as u64),
            11 => Fault::Burst(a, rng.range(1, 6)),
            12 => Fault::Replay(rng.range(1, 20)),
            13 => {
                // Messages multicast just before the coordinator crashes.
                faults.push((t, Fault::Burst(a, rng.range(1, 4))));
                faults.push((t, Fault::Burst(b, rng.range(1, 4))));
                Fault::CrashCoordinatorMidChange
            }
            14 => {
                // Restarted within one heartbeat.
                faults.push((t, Fault::Crash(a)));
                Fault::Restart(a)
            }
            _ => {
                faults.push((t, Fault::CrashAll));
                Fault::RestartAll
            }
        };
        let at = match fault {
            Fault::Restart(_) | Fault::RestartAll => t + rng.range(1, h_us as usize) as u64,
            Fault::CrashCoordinatorMidChange => t + rng.range(0, 2_000) as u64,
            _ => t,
        };
        faults.push((at, fault));
        // Faults close together overlap with the view changes they cause.
        t = at
            + if rng.chance(40) {
                rng.range(0, t_us as usize) as u64
            } else {
                rng.range(t_us as usize, 4 * t_us as usize) as u64
            };
    }
    faults.sort_by_key(|(at, _)| *at);
    let quiet_at = t;
    let final_groups = rng
        .chance(25)
        .then(|| (0..n).map(|_| rng.below(2)).collect());
    // Some schedules end with a flaw that stays: a one-way link or a
    // partial partition. Views must then stop changing (no flapping).
    let lasting_flaw = rng.chance(10).then(|| {
        let a = rng.below(n);
        let b = (a + 1 + rng.below(n - 1)) % n;
        (a, b, rng.chance(50))
    });
    Schedule {
        n,
        faults,
        quiet_at,
        final_groups,
        lasting_flaw,
    }
}

/// With a lasting one-way link or partial partition, the views must stop
/// changing: after `settle` µs, none may be installed for 3 s.
fn check_no_flapping(run: &mut Run, settle: u64) {
    let start = run.net.now + settle;
    run.run_to(start, false);
    let installs = run.checker.installs;
    let end = run.net.now + 3_000 * MS;
    run.run_to(end, false);
    if run.checker.installs != installs {
        let msg = format!(
            "views flap under a lasting flaw: {} installs in 3 s",
            run.checker.installs - installs
        );
        panic!("{}", run.failure(&msg));
    }
}

struct Run {
    net: Net,
    checker: Checker,
    engines: Engines,
    trace: Option<Vec<String>>,
    states: Vec<Option<(Option<u8>, bool)>>,
    /// A crash of a coordinator mid view change waits until then.
    mid_change_until: Option<u64>,
    seed: u64,
    /// Open while nothing has happened but joins since a settled moment.
    join_window: Option<JoinWindow>,
    /// Join windows opened so far.
    join_windows: u64,
    /// When the network last lost, duplicated or held back datagrams
    /// (replays included), or had a link cut one way only.
    flawed_at: Option<u64>,
}

impl Run {
    fn note(&mut self, text: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            t.push(format!(
                "[{:>9.3}ms] {}",
                self.net.now as f64 / 1000.0,
                text()
            ));
        }
    }

    fn start(&mut self, i: usize) {
        self.net.start(i);
        let member = self.net.slots[i]
            .node
            .as_ref()
            .map(|n| n.member())
            .expect("just started");
        self.checker.started(i, member);
        self.engines.started(i);
        self.note(|| format!("start node {i} as {member:?}"));
        self.settle_events();
    }

    fn crash(&mut self, i: usize) {
        if self.net.up(i) {
            self.close_join_window("a crash");
            self.net.crash(i);
            self.checker.crashed(i);
            self.engines.crashed(i);
            self.note(|| format!("crash node {i}"));
        }
    }

    /// When tracing: notes each node's choice and view change state as
    /// they change.
    fn note_states(&mut self) {
        if self.trace.is_none() {
            return;
        }
        for i in 0..self.net.slots.len() {
            let now = self.net.slots[i].node.as_ref().map(|n| {
                let s = n.status();
                (s.choice, s.flushing)
            });
            if self.states.get(i).copied().flatten() != now {
                self.states.resize(self.net.slots.len(), None);
                self.states[i] = now;
                self.note(|| format!("node {i}: choice, flushing = {now:?}"));
            }
        }
    }

    /// Passes what the nodes reported to the checker and the engines,
    /// until nothing more comes (an engine's multicast may produce more).
    fn settle_events(&mut self) {
        loop {
            let events = std::mem::take(&mut self.net.events);
            self.note_states();
            if events.is_empty() {
                return;
            }
            for (i, e) in events {
                if let Err(broken) = self.checker.event(i, &e) {
                    panic!("{}", self.failure(&broken));
                }
                if let Some(Err(broken)) = self.join_window.as_mut().map(|w| w.event(i, &e)) {
                    panic!("{}", self.failure(&broken));
                }
                self.note(|| format!("node {i}: {}", describe(&e)));
                self.engines.event(i, &e, &mut self.net);
            }
        }
    }

    fn failure(&self, broken: &str) -> String {
        let mut text = format!("seed {}: {broken}\n", self.seed);
        if let Some(t) = &self.trace {
            for line in t {
                text.push_str(line);
                text.push('\n');
            }
        } else {
            text.push_str(&format!(
                "replay with WACKAMOLE_MSIM_SEED={} cargo test --profile test-opt --test membership_sim -- --nocapture",
                self.seed
            ));
        }
        text
    }

    fn multicast(&mut self, i: usize) {
        let Some(view) = self.checker.current(i) else {
            return;
        };
        let Some(member) = self.net.slots[i].node.as_ref().map(|n| n.member()) else {
            return;
        };
        let tag = Tag {
            origin: member,
            counter: self.net.next_counter(i),
            view,
        };
        let len = self.net.rng.range(0, 200);
        let mut rest = vec![simengine::CHATTER];
        rest.resize(len + 1, 0x5A);
        let payload = tag.encode(&rest);
        self.net.multicast(i, view, payload);
        self.settle_events();
    }

    fn apply(&mut self, fault: &Fault) {
        let n = self.net.slots.len();
        self.note(|| format!("fault {fault:?}"));
        self.note_flaws();
        let quiet = self.quiet_before_join();
        let links = |f: &dyn Fn(usize, usize) -> bool| -> Vec<Vec<bool>> {
            (0..n).map(|a| (0..n).map(|b| f(a, b)).collect()).collect()
        };
        let mut up: Vec<bool> = (0..n).map(|i| self.net.up(i)).collect();
        let now = &self.net.blocked;
        let join = match fault {
            Fault::Restart(i) if !up[*i] => {
                up[*i] = true;
                joins_only(now, now, &up)
            }
            Fault::Heal => joins_only(now, &links(&|_, _| false), &up),
            Fault::Partition(g) => joins_only(now, &links(&|a, b| g[a] != g[b]), &up),
            // Multicasts leave a join window as it is.
            Fault::Burst(..) => {
                self.apply_fault(fault, n);
                return;
            }
            _ => false,
        };
        let what = format!("{fault:?}");
        if !join {
            // Closed first: what the fault causes is no join's doing.
            self.close_join_window(&what);
        }
        self.apply_fault(fault, n);
        self.after_network_change(join, quiet, &what);
    }

    /// A window of joins opens (or goes on) after a join that found the
    /// groups settled and the network clean; anything else closes it.
    fn after_network_change(&mut self, join: bool, quiet: bool, what: &str) {
        self.note_flaws();
        if !join {
            self.close_join_window(what);
        } else if self.join_window.is_none() && quiet {
            let sizes = (0..self.net.slots.len())
                .map(|i| {
                    self.checker
                        .current(i)
                        .and_then(|v| self.checker.members(&v).map(Vec::len))
                })
                .collect();
            self.join_window = Some(JoinWindow::new(self.net.now, sizes));
            self.join_windows += 1;
            self.note(|| format!("join window opens: {what}"));
        }
    }

    fn close_join_window(&mut self, why: &str) {
        if self.join_window.take().is_some() {
            self.note(|| format!("join window closes: {why}"));
        }
    }

    /// Notes whether the network loses, duplicates or holds back
    /// datagrams now, or has a link cut one way.
    fn note_flaws(&mut self) {
        let net = &self.net;
        let n = net.slots.len();
        let one_way = (0..n).any(|a| (0..n).any(|b| net.blocked[a][b] != net.blocked[b][a]));
        if one_way || net.loss_per_mille > 0 || net.dup_per_mille > 0 || net.late_per_mille > 0 {
            self.flawed_at = Some(net.now);
        }
    }

    /// A join may open a window now: every group holds one view of
    /// exactly its nodes, no node is paused, no crash is pending, and the
    /// network has lost nothing, replayed nothing and had no one-way link
    /// for two time-outs (a suspicion, a step back or a late datagram they
    /// caused has played out).
    fn quiet_before_join(&self) -> bool {
        let clean_for = 2 * self.net.settings.timeout.as_micros() as u64;
        let running_or_down = (0..self.net.slots.len())
            .all(|i| !matches!(self.net.slots[i].state, SlotState::Paused { .. }));
        running_or_down
            && self.mid_change_until.is_none()
            && self
                .flawed_at
                .map_or(true, |t| self.net.now >= t + clean_for)
            && self.settled().is_ok()
    }

    fn apply_fault(&mut self, fault: &Fault, n: usize) {
        match fault {
            Fault::Crash(i) => self.crash(*i),
            Fault::CrashCoordinatorMidChange => {
                // Waits (a time-out at most) for a view change to catch.
                self.mid_change_until =
                    Some(self.net.now + self.net.settings.timeout.as_micros() as u64);
                self.crash_mid_change();
            }
            Fault::Restart(i) => {
                self.crash(*i);
                self.start(*i);
            }
            Fault::Leave(i) => {
                if self.net.running(*i) {
                    self.net.leave(*i);
                    self.settle_events();
                    self.checker.crashed(*i);
                    self.engines.crashed(*i);
                }
            }
            Fault::Pause(i, d) => self.net.pause(*i, *d),
            Fault::Partition(groups) => self.net.partition(groups),
            Fault::OneWay(a, b) => self.net.blocked[*a][*b] = true,
            Fault::CutPair(a, b) => {
                self.net.blocked[*a][*b] = true;
                self.net.blocked[*b][*a] = true;
            }
            Fault::Heal => self.net.heal(),
            Fault::Loss(p) => {
                self.net.loss_per_mille = *p;
                self.net.dup_per_mille = *p / 4;
                self.net.late_per_mille = *p / 4;
                self.net.late_us = self.net.settings.timeout.as_micros() as u64;
            }
            Fault::Burst(i, k) => {
                for _ in 0..*k {
                    self.multicast(*i);
                }
            }
            Fault::Replay(k) => {
                for _ in 0..*k {
                    self.net.replay_old();
                }
                // An old datagram arriving now is a datagram held back.
                self.flawed_at = Some(self.net.now);
            }
            Fault::CrashAll => (0..n).for_each(|i| self.crash(i)),
            Fault::RestartAll => (0..n).for_each(|i| {
                self.crash(i);
                self.start(i);
            }),
        }
    }

    /// Crashes a coordinator in the middle of a view change, if one is
    /// under way; at the end of the wait, the lowest running node.
    fn crash_mid_change(&mut self) {
        let Some(until) = self.mid_change_until else {
            return;
        };
        let n = self.net.slots.len();
        let target = (0..n).find(|&i| {
            self.net.running(i)
                && self.net.slots[i].node.as_ref().is_some_and(|node| {
                    let s = node.status();
                    s.flushing && s.choice == Some(s.me)
                })
        });
        let target = target.or_else(|| {
            (self.net.now >= until)
                .then(|| (0..n).find(|&i| self.net.running(i)))
                .flatten()
        });
        if let Some(i) = target {
            self.mid_change_until = None;
            self.note(|| format!("crash node {i}, coordinator mid change"));
            self.crash(i);
        }
    }

    /// Runs the simulation up to `until`, with multicasts now and then.
    fn run_to(&mut self, until: u64, chatter: bool) {
        let mut next_chatter = self.net.now + 50 * MS;
        loop {
            let net_at = self.net.next_at().unwrap_or(u64::MAX);
            let engine_at = self.engines.next_at(&self.net).unwrap_or(u64::MAX);
            let chat_at = if chatter { next_chatter } else { u64::MAX };
            let at = net_at.min(engine_at).min(chat_at);
            if at > until {
                self.net.now = until;
                return;
            }
            if at == engine_at {
                self.net.now = self.net.now.max(at);
                self.engines.fire_due(&mut self.net);
            } else if at == chat_at {
                self.net.now = self.net.now.max(at);
                let i = self.net.rng.below(self.net.slots.len());
                self.multicast(i);
                next_chatter = at + self.net.rng.range(10, 300) as u64 * MS;
            } else {
                self.net.run_next();
            }
            self.settle_events();
            self.crash_mid_change();
        }
    }

    /// The groups of running nodes that hear each other both ways, if the
    /// network is cut into clean groups.
    fn groups(&self) -> Vec<Vec<usize>> {
        let n = self.net.slots.len();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for i in (0..n).filter(|&i| self.net.running(i)) {
            match groups
                .iter_mut()
                .find(|g| !self.net.blocked[g[0]][i] && !self.net.blocked[i][g[0]])
            {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        groups
    }

    /// Every group has one view holding exactly its nodes.
    fn settled(&self) -> Result<(), String> {
        for group in self.groups() {
            let views: Vec<Option<ViewId>> =
                group.iter().map(|&i| self.checker.current(i)).collect();
            let Some(Some(view)) = views.first().copied() else {
                return Err(format!("group {group:?}: node {} in no view", group[0]));
            };
            if views.iter().any(|v| *v != Some(view)) {
                return Err(format!("group {group:?} is in views {views:?}"));
            }
            let expected: Vec<Member> = group
                .iter()
                .filter_map(|&i| self.net.slots[i].node.as_ref().map(|n| n.member()))
                .collect();
            let members = self.checker.members(&view).cloned().unwrap_or_default();
            if members != expected {
                return Err(format!(
                    "group {group:?}: view {view:?} holds {members:?}, expected {expected:?}"
                ));
            }
            if group.iter().any(|&i| {
                self.net.slots[i]
                    .node
                    .as_ref()
                    .is_some_and(|n| n.status().flushing)
            }) {
                return Err(format!("group {group:?} is still changing views"));
            }
        }
        Ok(())
    }
}

/// The network went from `before` to `after` only by links coming up,
/// and both cut the nodes that are `up` into clean groups (no link cut
/// one way only, no partial partition): starting a node or healing a
/// split then only joins groups.
fn joins_only(before: &[Vec<bool>], after: &[Vec<bool>], up: &[bool]) -> bool {
    let n = before.len();
    let only_unblocked = (0..n).all(|a| (0..n).all(|b| before[a][b] || !after[a][b]));
    only_unblocked && clean_groups(before, up) && clean_groups(after, up)
}

/// Among the nodes that are `up`, "not blocked" is symmetric and
/// transitive.
fn clean_groups(blocked: &[Vec<bool>], up: &[bool]) -> bool {
    let nodes: Vec<usize> = (0..blocked.len()).filter(|&i| up[i]).collect();
    nodes.iter().all(|&a| {
        nodes.iter().all(|&b| {
            blocked[a][b] == blocked[b][a]
                && (blocked[a][b] || nodes.iter().all(|&c| blocked[b][c] || !blocked[a][c]))
        })
    })
}

fn describe(e: &Event) -> String {
    match e {
        Event::Deliver { origin, payload } => match Tag::decode(payload) {
            Some((tag, _)) => format!("deliver #{} of node {}", tag.counter, origin.node),
            None => format!("deliver untagged from {}", origin.node),
        },
        other => format!("{other:?}"),
    }
}

/// Result of one seed: how long the last group took to settle after the
/// faults stopped.
struct Outcome {
    settle_us: u64,
    datagrams: u64,
    /// Windows of joins only that were watched for views that shrink.
    join_windows: u64,
}

fn run_seed(seed: u64, tracing: bool) -> Outcome {
    let settings = simulated_settings();
    let plan = schedule(seed, &settings);
    let mut run = Run {
        net: Net::new(plan.n, settings, seed),
        checker: Checker::new(plan.n),
        engines: Engines::new(plan.n, seed),
        trace: tracing.then(Vec::new),
        states: Vec::new(),
        mid_change_until: None,
        seed,
        join_window: None,
        join_windows: 0,
        flawed_at: None,
    };
    run.note(|| format!("{} nodes, faults {:?}", plan.n, plan.faults));
    let mut starts: Vec<(u64, usize)> = (0..plan.n)
        .map(|i| (run.net.rng.range(0, 300) as u64 * MS, i))
        .collect();
    starts.sort();
    for (at, i) in starts {
        run.run_to(at, false);
        run.start(i);
    }
    for (at, fault) in &plan.faults {
        run.run_to(*at, true);
        run.apply(fault);
        run.settle_events();
    }
    run.run_to(plan.quiet_at, true);
    run.note_flaws();
    let was_blocked = run.net.blocked.clone();
    let quiet = run.quiet_before_join();
    run.net.heal();
    if let Some(groups) = &plan.final_groups {
        run.net.partition(groups);
    }
    let up: Vec<bool> = (0..plan.n).map(|i| run.net.up(i)).collect();
    let join = plan.lasting_flaw.is_none() && joins_only(&was_blocked, &run.net.blocked, &up);
    run.after_network_change(join, quiet, "the faults stop");
    if let Some((a, b, one_way)) = plan.lasting_flaw {
        run.net.blocked[a][b] = true;
        run.net.blocked[b][a] = !one_way;
        run.note(|| format!("lasting flaw {a} -> {b}, one way: {one_way}"));
        check_no_flapping(&mut run, 8 * settings.timeout.as_micros() as u64);
        return Outcome {
            settle_us: 0,
            datagrams: run.net.stats.datagrams,
            join_windows: run.join_windows,
        };
    }
    // Paused nodes wake, then liveness: poll until settled or the bound.
    let quiet = run.net.now;
    let bound = quiet + LIVENESS_BOUND.as_micros() as u64;
    let mut settled_at = None;
    while run.net.now < bound {
        let next = run.net.now + 10 * MS;
        run.run_to(next, false);
        if (0..plan.n).all(|i| !matches!(run.net.slots[i].state, SlotState::Paused { .. }))
            && run.settled().is_ok()
        {
            settled_at = Some(run.net.now);
            break;
        }
    }
    if settled_at.is_none() {
        let why = run.settled().err().unwrap_or_default();
        let msg = format!(
            "property 4: not settled {}ms after the faults stopped: {why}",
            LIVENESS_BOUND.as_millis()
        );
        panic!("{}", run.failure(&msg));
    }
    let settle_us = settled_at.unwrap_or(quiet) - quiet;
    // The engines settle on top (maturity and balancing): every group
    // must come to hold each VIF exactly once, with the views unmoved.
    let engine_end = run.net.now + run.engines.settle_time().as_micros() as u64;
    loop {
        let groups = run.groups();
        let verdict = groups
            .iter()
            .try_for_each(|g| run.engines.check_group(g))
            .and_then(|()| run.settled());
        match verdict {
            Ok(()) => break,
            Err(why) if run.net.now >= engine_end => {
                panic!("{}", run.failure(&format!("engines never settled: {why}")))
            }
            Err(_) => {
                let next = run.net.now + 20 * MS;
                run.run_to(next, false);
            }
        }
    }
    Outcome {
        settle_us,
        datagrams: run.net.stats.datagrams,
        join_windows: run.join_windows,
    }
}

fn seeds_from_env() -> u64 {
    std::env::var("WACKAMOLE_MSIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS)
}

#[test]
fn schedules_keep_views_agreed_ordered_synchronous_and_live() {
    if let Some(seed) = std::env::var("WACKAMOLE_MSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        let o = run_seed(seed, true);
        println!(
            "seed {seed}: settled {}ms after the faults, {} datagrams, {} windows of joins only",
            o.settle_us / 1000,
            o.datagrams,
            o.join_windows
        );
        return;
    }
    let seeds = seeds_from_env();
    let first: u64 = std::env::var("WACKAMOLE_MSIM_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let results: Vec<(u64, u64, u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut worst = 0;
                    let mut datagrams = 0;
                    let mut count = 0;
                    let mut windows = 0;
                    let mut seed = first + t;
                    while seed < first + seeds {
                        let o = run_seed(seed, false);
                        worst = worst.max(o.settle_us);
                        datagrams += o.datagrams;
                        windows += o.join_windows;
                        count += 1;
                        seed += threads;
                    }
                    (worst, datagrams, count, windows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread failed"))
            .collect()
    });
    let worst = results.iter().map(|r| r.0).max().unwrap_or(0);
    let datagrams: u64 = results.iter().map(|r| r.1).sum();
    let count: u64 = results.iter().map(|r| r.2).sum();
    let windows: u64 = results.iter().map(|r| r.3).sum();
    assert_eq!(count, seeds);
    println!(
        "{count} schedules, {datagrams} datagrams; slowest settling after the faults: {}ms (bound {}ms); {windows} windows of joins only, no view shrank in them",
        worst / 1000,
        LIVENESS_BOUND.as_millis()
    );
}
