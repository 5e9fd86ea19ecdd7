//! The daemon's core: everything the daemon decides, without I/O.
//!
//! It holds the allocation [`Engine`], the [`QuorumGate`] between the
//! group service and the engine, the loop side of the group service
//! ([`GroupService`]), the VIFs whose addresses the kernel has not all
//! taken yet, and one table of deadlines. It reads no clock (every call
//! takes `now`) and touches the machine only through its [`Host`]: the
//! daemon's loop drives it with what arrives (a group service's report, a
//! control request, a re-read configuration) and with the time
//! ([`Core::handle_timeout`] when [`Core::poll_timeout`] is due), and the
//! simulations drive the very same code with a recording host in
//! simulated time.
//!
//! The order of effects is the contract the rest of the cluster relies
//! on, and it is kept here in one place:
//!
//! - The engine's outputs are carried out in the order it gives them, each
//!   to its end before the next: an address released is out of the
//!   kernel before the multicast that follows its release is handed to the
//!   group service.
//! - Leaving the group (a stop, `wackatrl -f`, a rejoin after a quorum
//!   change) releases every address first, then leaves, so peers that
//!   take over on our leave never find an address still here.
//! - While the group service says its quorum lease has lapsed
//!   ([`GroupEvent::Lease`]), the VIFs the engine holds stay in its
//!   table but their addresses are out of the kernel and nothing is
//!   announced; they come back, announced, when the lease holds again in
//!   the same view. A new view that comes while the lease has lapsed
//!   (others may have taken them meanwhile) finds the engine starting
//!   afresh in it, holding nothing, as a node that has just joined.
//! - With an address lifetime (`Addresses { Lifetime }`), every address
//!   goes into the kernel with that lifetime and is renewed every third
//!   of it while held, and only while the group service still counts us
//!   in (its lease, [`GroupService::lease`]): a process that is stopped
//!   or starved stops renewing, and its kernel drops the addresses by
//!   itself. An address found gone at a renewal is put back only while
//!   the service still counts us in.
//! - With `TakeoverWait`, a VIF whose owner left the view is brought up
//!   here only once that owner's kernel must have dropped it (its
//!   lifetime plus [`KERNEL_SLACK`] after the view change); a node that
//!   joins waits that long for every VIF, as it cannot know who left
//!   before it came.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::group::{GroupEvent, GroupService};
use super::host::Host;
use super::quorum::{QuorumGate, QuorumState, Step};
use super::reload;
use super::report;
use super::timers::Timers;
use crate::base::Level;
use crate::config::Config;
use crate::control::{MoveReason, Request, WatchEvent};
use crate::engine::codec::mess_type;
use crate::engine::{Engine, Input, LocalHealth, Output, Settings, Snapshot, Timer, VifIndex};
use crate::hooks::HookDetails;

/// How often an address the kernel refused is tried again while its VIF
/// is ours (an interface that is down or not there yet): often enough that
/// it serves soon after the interface comes up, cheap (one request per
/// address).
pub const ADDRESS_RETRY: Duration = Duration::from_secs(1);

/// How much later than its lifetime a kernel may drop an address: IPv4
/// lifetimes are checked by a kernel work item that runs about once a
/// second at worst.
pub const KERNEL_SLACK: Duration = Duration::from_secs(1);

/// The tracker named in the watchers' reason when this node's own
/// health moves addresses.
const THIS_NODE: &str = "health of this node";

/// The core's deadlines beside the engine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Engine(Timer),
    /// The group service's deadline (for Spread: connect again).
    Service,
    /// Try again to bring up addresses the kernel refused.
    PlaceAddresses,
    /// Renew the lifetimes of the addresses in the kernel.
    Renew,
    /// Bring up the VIFs whose departed owner's lifetime has run out.
    Orphans,
}

/// The daemon's decisions over a group service `S`, carried out on a
/// host `H`.
pub struct Core<S, H> {
    engine: Engine,
    service: S,
    host: H,
    /// What of the service's events the engine is told (`Quorum`).
    quorum: QuorumGate,
    config: Config,
    identity: Ipv4Addr,
    timers: Timers<Deadline>,
    /// VIFs we hold whose addresses the kernel did not all take: tried
    /// again every [`ADDRESS_RETRY`] while we hold them.
    unplaced: BTreeSet<VifIndex>,
    /// `wackatrl -f`: out of the group until `-s`.
    away: bool,
    /// The service's quorum lease has lapsed: what the engine holds is
    /// out of the kernel until it holds again.
    lapsed: bool,
    /// VIFs whose owner left the view, and when its kernel must have
    /// dropped their addresses (`TakeoverWait`).
    orphans: BTreeMap<VifIndex, Instant>,
    /// VIFs the engine holds that wait for that moment.
    deferred: BTreeSet<VifIndex>,
    /// The VIFs the engine brought up (`Acquire`) and has not taken down
    /// (`Release`): what it wants in the kernel, and why it took each
    /// (what the watchers see when one goes into the kernel later: at the
    /// end of a `TakeoverWait`, or put back at a renewal). Its table may
    /// name us before that (a handoff waits for the old owner's RELEASED).
    acquired: BTreeMap<VifIndex, MoveReason>,
    /// The view the quorum lease lapsed in.
    lapsed_in: Option<crate::base::GroupId>,
    /// What this node can serve, as the trackers last said (`health`).
    health: LocalHealth,
    /// Out of the group while unhealthy in a group with original nodes.
    health_away: bool,
    /// The last settled view had a member that is not ours (an original
    /// node, which cannot carry health). Remembered, not asked of the
    /// engine each time: the engine can say it only while settled
    /// (`Phase::Run`). While it gathers, a member whose STATE has not come
    /// yet looks like one of ours, and out of the group there is no view
    /// at all; a health change at such a moment must still see the group
    /// as it last was, so that an unhealthy node leaves a mixed group at
    /// once instead of settling in it first (where the mixed settle, blind
    /// to health, may hand it VIFs it then releases again on leaving).
    /// [`follow_health`](Core::follow_health) renews it whenever the
    /// engine is settled.
    mixed: bool,
    /// VIFs a HEALTH gave us that wait for their old owner's RELEASED:
    /// why they move, for the watchers, when they come up.
    moved_by_health: BTreeMap<VifIndex, MoveReason>,
}

impl<S: GroupService, H: Host> Core<S, H> {
    /// A core for `config`, known to the group as `identity`, that has
    /// not joined yet ([`start`](Core::start)).
    pub fn new(config: Config, identity: Ipv4Addr, service: S, host: H) -> Core<S, H> {
        let mut service = service;
        let vifs = config.vifs.len();
        let quorum = QuorumGate::new(
            config.quorum,
            config.service.membership().map(|m| m.nodes.len()),
        );
        service.set_quorum(quorum.needed());
        Core {
            engine: Engine::new(Settings::from_config(&config, identity)),
            service,
            host,
            quorum,
            config,
            identity,
            timers: Timers::new(),
            unplaced: BTreeSet::new(),
            away: false,
            lapsed: false,
            orphans: BTreeMap::new(),
            deferred: BTreeSet::new(),
            acquired: BTreeMap::new(),
            lapsed_in: None,
            health: LocalHealth::full(vifs),
            health_away: false,
            mixed: false,
            moved_by_health: BTreeMap::new(),
        }
    }

    /// Joins the group.
    pub fn start(&mut self, now: Instant) {
        self.service.join();
        self.sync_service(now);
    }

    /// The next moment [`handle_timeout`](Core::handle_timeout) must be
    /// called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Carries out every deadline due at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) {
        for deadline in self.timers.take_due(now) {
            match deadline {
                Deadline::Engine(timer) => {
                    self.feed(Input::TimerFired(timer), &MoveReason::View, now)
                }
                Deadline::Service => self.service.on_deadline(),
                Deadline::PlaceAddresses => self.place_again(now),
                Deadline::Renew => self.renew(now),
                Deadline::Orphans => self.place_orphans(now),
            }
        }
        self.sync_service(now);
    }

    /// One report of the group service's threads.
    pub fn handle_report(&mut self, report: S::Report, now: Instant) {
        if let Some(event) = self.service.handle(report) {
            self.on_group(event, now);
            self.follow_health(now);
        }
        self.sync_service(now);
    }

    /// A request of the control socket.
    pub fn handle_control(&mut self, request: Request, now: Instant) {
        match request {
            Request::GetState(responder) => responder.respond(report::status(
                &self.engine.snapshot(),
                &self.config,
                self.identity,
                self.service.status(),
                &self.quorum.state(),
            )),
            Request::SimulateFailure(responder) => {
                self.log(
                    Level::Notice,
                    format_args!(
                        "simulated failure: leaving the group ({}) until told to return",
                        self.service.name()
                    ),
                );
                self.away = true;
                self.leave_group(&MoveReason::SimulatedFailure, now);
                responder.respond(());
            }
            Request::EndFailure(responder) => {
                if std::mem::take(&mut self.away) && !self.stays_out() {
                    self.log(
                        Level::Notice,
                        format_args!("simulated failure over: joining again"),
                    );
                    self.service.join();
                }
                responder.respond(());
            }
        }
        self.sync_service(now);
    }

    /// A re-read configuration: applies what may change live, or refuses
    /// the whole file (logged) and keeps the running one. True if taken.
    pub fn reload(&mut self, new: Config, now: Instant) -> bool {
        let changed = match reload::check(&self.config, &new) {
            Ok(changed) => changed,
            Err(refused) => {
                self.log(Level::Error, format_args!("{refused}"));
                return false;
            }
        };
        if let Err(refusal) = self.service.check_reload(&new) {
            let refused = reload::ServiceRefused(refusal);
            self.log(Level::Error, format_args!("{refused}"));
            return false;
        }
        self.engine
            .retune(new.mature, new.balance, new.arp_cache_interval);
        let release = new.track.unservable == crate::config::Unservable::Release;
        // What this node's trackers say it cannot serve is now released
        // (or kept): a move for its health.
        let cause = MoveReason::Tracker(THIS_NODE.into());
        for output in self.engine.set_release_unservable(release) {
            if let Some(next) = self.apply(output, &cause, now) {
                self.feed(next, &cause, now);
            }
        }
        self.service.reconfigure(&new);
        let quorum = self
            .quorum
            .set_rule(new.quorum, new.service.membership().map(|m| m.nodes.len()));
        self.service.set_quorum(self.quorum.needed());
        self.config = new;
        if changed.is_empty() {
            self.log(
                Level::Notice,
                format_args!("configuration re-read: nothing changed"),
            );
        } else {
            self.log(
                Level::Notice,
                format_args!(
                    "configuration re-read: {} now in effect",
                    changed.join(", ")
                ),
            );
        }
        // Last: a new quorum may have us leave and join again.
        self.take_steps(quorum, now);
        self.sync_service(now);
        true
    }

    /// Releases every VIF, then leaves the group, so peers learn at once.
    pub fn shut_down(&mut self, now: Instant) {
        self.log(
            Level::Notice,
            format_args!("terminating: releasing every VIF"),
        );
        self.leave_group(&MoveReason::Signal, now);
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The engine's state.
    pub fn snapshot(&self) -> Snapshot {
        self.engine.snapshot()
    }

    /// Whether the engine holds VIF `vif`.
    pub fn holds(&self, vif: VifIndex) -> bool {
        self.engine.holds(vif)
    }

    /// The quorum as the status shows it.
    pub fn quorum(&self) -> QuorumState {
        self.quorum.state()
    }

    /// The group service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The group service, to hand it what only its driver knows.
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The host, for what the caller does beside the core.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// Gives the host back (at the end).
    pub fn into_host(self) -> H {
        self.host
    }

    fn log(&mut self, level: Level, message: std::fmt::Arguments<'_>) {
        self.host.log(level, message);
    }

    /// Keeps the service's own deadline in the table.
    fn sync_service(&mut self, _now: Instant) {
        match self.service.deadline() {
            Some(at) => self.timers.arm(Deadline::Service, at),
            None => self.timers.disarm(Deadline::Service),
        }
    }

    fn on_group(&mut self, event: GroupEvent, now: Instant) {
        match event {
            GroupEvent::Lease(held) => return self.on_lease(held, now),
            // A new member of the group holds nothing; with a quorum lease
            // it may put nothing in the kernel until a quorum confirms it.
            GroupEvent::Connected => {
                self.lapsed = self.service.leases();
                self.note_joining(now);
            }
            _ => {}
        }
        let before = self.quorum.state();
        let steps = self.quorum.on_event(event);
        let after = self.quorum.state();
        if before.met != after.met && after.needed >= 2 {
            let (members, needed) = (after.members.unwrap_or(0), after.needed);
            self.host.watch(if after.met {
                WatchEvent::QuorumMet { members, needed }
            } else {
                WatchEvent::QuorumLost { members, needed }
            });
        }
        self.take_steps(steps, now);
    }

    /// Carries out what the quorum gate decided, in its order. Each input
    /// fed carries its own cause to the watchers; a `Disconnected` carries
    /// the loss of the service when a `Lost` came before it in these
    /// steps, and the quorum otherwise.
    fn take_steps(&mut self, steps: Vec<Step>, now: Instant) {
        let mut service_lost = false;
        for step in steps {
            match step {
                Step::Feed(input) => {
                    match &input {
                        Input::View(_) if self.lapsed && !self.acquired.is_empty() => {
                            // A new view while our addresses are out of the
                            // kernel: others may have taken them. The engine
                            // starts afresh in it, holding nothing, as a
                            // node that has just joined.
                            self.log(
                                Level::Notice,
                                format_args!(
                                    "a new view while the quorum lease has lapsed: starting \
                                     afresh in it, holding nothing"
                                ),
                            );
                            self.feed(Input::Disconnected, &MoveReason::Quorum, now);
                            self.feed(Input::Connected, &MoveReason::Quorum, now);
                        }
                        _ => {}
                    }
                    let cause = match &input {
                        Input::View(view) => {
                            if self.lapsed {
                                // What the engine takes in this view, it
                                // takes afresh: it may go back into the
                                // kernel once the lease holds in it.
                                self.lapsed_in = Some(view.group_id);
                            }
                            let cause = self.note_departures(&view.members, now);
                            self.host.watch(WatchEvent::View {
                                members: view.members.clone(),
                            });
                            cause
                        }
                        Input::Message(message) => match message.mess_type {
                            mess_type::BALANCE | mess_type::RELEASED => MoveReason::Balance,
                            mess_type::HEALTH => {
                                MoveReason::Tracker(format!("health of {}", message.sender))
                            }
                            _ => MoveReason::View,
                        },
                        Input::Disconnected => {
                            self.host.watch(WatchEvent::View {
                                members: Vec::new(),
                            });
                            if service_lost {
                                MoveReason::ServiceLost
                            } else {
                                MoveReason::Quorum
                            }
                        }
                        _ => MoveReason::View,
                    };
                    self.feed_noting_health(input, &cause, now)
                }
                Step::Lost(reason) => {
                    service_lost = true;
                    self.log(Level::Error, format_args!("{reason}"))
                }
                Step::Notice(line) => self.log(Level::Notice, format_args!("{line}")),
                Step::ViewTaken(taken) => self.service.view_taken(taken),
                Step::Rejoin => {
                    self.leave_group(&MoveReason::Quorum, now);
                    if !self.stays_out() {
                        self.service.join();
                    }
                }
            }
        }
    }

    /// Hands one input to the engine and carries out what it asks, and
    /// what that leads to, before returning; `cause` is why the addresses
    /// that move meanwhile move, for the watchers.
    fn feed(&mut self, input: Input, cause: &MoveReason, now: Instant) {
        let mut pending = std::collections::VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            for output in self.engine.handle(input) {
                if let Some(next) = self.apply(output, cause, now) {
                    pending.push_back(next);
                }
            }
        }
    }

    fn apply(&mut self, output: Output, cause: &MoveReason, now: Instant) -> Option<Input> {
        match output {
            Output::Multicast {
                delivery,
                mess_type,
                body,
            } => self.service.multicast(delivery, mess_type, &body),
            Output::Acquire(vif) => {
                let cause = self.moved_by_health.remove(&vif).unwrap_or(cause.clone());
                self.acquired.insert(vif, cause.clone());
                if let Some(&safe) = self.orphans.get(&vif).filter(|&&at| at > now) {
                    self.log(
                        Level::Notice,
                        format_args!(
                            "VIF {} of a member that left: up in {:?}, once its kernel has \
                             dropped it (TakeoverWait)",
                            vif.0,
                            safe - now
                        ),
                    );
                    self.deferred.insert(vif);
                    self.arm_orphans();
                } else if !self.lapsed {
                    self.place(vif, Some(&cause), now);
                }
            }
            Output::Release(vif) => {
                self.acquired.remove(&vif);
                self.release(vif, cause)
            }
            Output::Hooks(event, vif) => {
                let details = HookDetails {
                    vif_index: Some(vif.0),
                    addresses: self.addresses(vif),
                };
                self.host.run_hooks(event, &self.config.hooks, details);
            }
            Output::PostHooks(event, moved) => {
                let details = HookDetails {
                    vif_index: None,
                    addresses: moved.iter().flat_map(|&vif| self.addresses(vif)).collect(),
                };
                self.host.run_hooks(event, &self.config.hooks, details);
            }
            Output::ArmTimer(timer, after) => self.timers.arm(Deadline::Engine(timer), now + after),
            Output::DisarmTimer(timer) => self.timers.disarm(Deadline::Engine(timer)),
            Output::ReadArpTable => match self.host.read_arp_table() {
                Ok(entries) => return Some(Input::LocalArpTable(entries)),
                Err(err) => self.log(
                    Level::Warning,
                    format_args!("cannot read the ARP table: {err}"),
                ),
            },
            Output::Log(level, message) => self.log(level, format_args!("{message}")),
        }
        None
    }

    /// The VIFs the engine wants in the kernel, in order.
    fn held(&self) -> Vec<VifIndex> {
        self.acquired.keys().copied().collect()
    }

    /// Releases every VIF, then has the service leave the group.
    /// Releasing first means peers that take over on our leave never find
    /// the addresses still up here.
    fn leave_group(&mut self, cause: &MoveReason, now: Instant) {
        self.feed(Input::Disconnected, cause, now);
        self.host.watch(WatchEvent::View {
            members: Vec::new(),
        });
        self.quorum.left();
        self.lapsed = false;
        self.deferred.clear();
        self.timers.disarm(Deadline::Orphans);
        self.service.leave();
    }
}

mod health;
#[cfg(test)]
mod health_tests;
mod lease;
mod lifetimes;
mod placement;
#[cfg(test)]
mod testbus;
#[cfg(test)]
mod tests;
