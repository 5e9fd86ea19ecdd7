//! The daemon: wiring only.
//!
//! One engine loop owns the [`Engine`], the group service's loop side
//! and the configuration, and waits on one channel with a time-out (the
//! next timer). Everything else is a thread that only sends events into
//! that channel: the group service's threads, the control acceptor and the
//! signal thread. The announcer and the hook runner take work from the
//! loop and never block it. Only the loop sends to the group.
//!
//! The loop drives the group service through [`group::GroupService`] and
//! does not know which one it has: that is chosen once, in [`run`]. What
//! the service says reaches the engine through the [`quorum`] gate.

pub mod bridge;
mod builtin_service;
pub mod group;
mod identity;
pub mod quorum;
pub mod reload;
mod spread_service;
mod status;
mod timers;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::config::{Config, Overrides, VifAddress};
use crate::control::{ControlHandle, ControlServer, Request};
use crate::engine::{Engine, Input, Output, Settings, Timer, VifIndex};
use crate::hooks::{HookDetails, HookRunner};
use crate::log::{self, Level, Target};
use crate::net::announce::{AnnounceSettings, Announcer, Report};
use crate::net::arptable;
use crate::net::iface::{self, Outcome};
use crate::process::{self, PidFile, Signal, StartupReport};
use crate::{log_debug, log_error, log_notice, log_warning};

pub use builtin_service::BuiltinError;
use builtin_service::BuiltinService;
use group::{GroupEvent, GroupService, Reports};
pub use identity::IdentityError;
use quorum::{QuorumGate, Step};
pub use spread_service::group_event;
use spread_service::SpreadService;
use timers::Timers;

/// How often an address the kernel refused is tried again while its VIF
/// is ours (an interface that is down or not there yet): often enough that
/// it serves soon after the interface comes up, cheap (one ioctl or netlink
/// request per address).
pub const ADDRESS_RETRY: Duration = Duration::from_secs(1);

/// Longest the loop sleeps when no timer is armed.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// How the daemon was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file the configuration came from (re-read on SIGHUP).
    pub config_path: PathBuf,
    /// Stay in the foreground and log to stderr.
    pub foreground: bool,
    /// Spread private name (default `wack<pid>`).
    pub private_name: Option<String>,
    /// Pid file: the default one when detached, none in the foreground
    /// unless given.
    pub pid_file: Option<PathBuf>,
    /// Command-line settings, applied again to a re-read file.
    pub overrides: Overrides,
}

/// Why the daemon could not start or had to stop.
#[derive(Debug)]
pub enum DaemonError {
    /// Detaching, the pid file or the signal thread failed.
    Process(process::ProcessError),
    /// This node's real address cannot be found.
    Identity(IdentityError),
    /// The built-in membership cannot start.
    Membership(BuiltinError),
    /// The control socket cannot be set up.
    Control(crate::control::ControlError),
    /// A thread cannot be started.
    Thread(std::io::Error),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Process(e) => e.fmt(f),
            DaemonError::Identity(e) => e.fmt(f),
            DaemonError::Membership(e) => e.fmt(f),
            DaemonError::Control(e) => write!(f, "control socket: {e}"),
            DaemonError::Thread(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Everything that reaches the engine loop; `R` is what the group
/// service's threads report.
enum Event<R> {
    Group(R),
    Signal(Signal),
    Control(Request),
}

/// The loop's own deadlines beside the engine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Engine(Timer),
    /// The group service's deadline (for Spread: connect again).
    Service,
    /// Try again to bring up addresses the kernel refused.
    PlaceAddresses,
}

/// Starts the daemon and runs it until a terminating signal. Detached,
/// the command that started it exits only once start-up has succeeded
/// (status 0) or failed (status 1, with the error on its stderr).
pub fn run(config: Config, options: Options) -> Result<(), DaemonError> {
    // Before any thread exists: signals stay pending for the signal thread,
    // and fork() leaves no thread behind.
    process::block_signals().map_err(DaemonError::Process)?;
    let report = if options.foreground {
        log::init(Target::Stderr, Level::Debug);
        None
    } else {
        if let Err(err) = log::syslog_reachable() {
            log_warning!("{err}; log records are dropped until syslog can be reached");
        }
        let report = process::daemonize().map_err(DaemonError::Process)?;
        log::init(Target::Syslog(config.log_facility), Level::Info);
        Some(report)
    };
    match config.membership.clone() {
        Some(membership) => launch(config, options, report, |config, reports| {
            BuiltinService::start(config, &membership, reports).map_err(DaemonError::Membership)
        }),
        None => {
            let private_name = options.private_name.clone();
            launch(config, options, report, |config, reports| {
                Ok(SpreadService::new(config, private_name, reports))
            })
        }
    }
}

/// Starts the daemon on the group service `service` builds, and runs it.
fn launch<S: GroupService>(
    config: Config,
    options: Options,
    report: Option<StartupReport>,
    service: impl FnOnce(&Config, Reports<S::Report>) -> Result<S, DaemonError>,
) -> Result<(), DaemonError> {
    match start(config, options, service) {
        Ok((daemon, inbox, pid_file)) => {
            if let Some(report) = report {
                report.ready();
            }
            daemon.serve(&inbox);
            drop(pid_file);
            log_notice!("wackamole stopped");
            Ok(())
        }
        Err(err) => {
            log_error!("{err}");
            if let Some(report) = report {
                report.failed(&err.to_string());
            }
            Err(err)
        }
    }
}

/// The daemon and its inbox, with the pid file to remove at the end.
type Started<S> = (
    Daemon<S>,
    Receiver<Event<<S as GroupService>::Report>>,
    Option<PidFile>,
);

/// Everything that can fail at start: the pid file, the identity, the
/// control socket and the threads.
fn start<S: GroupService>(
    config: Config,
    options: Options,
    service: impl FnOnce(&Config, Reports<S::Report>) -> Result<S, DaemonError>,
) -> Result<Started<S>, DaemonError> {
    let pid_path = options
        .pid_file
        .clone()
        .or_else(|| (!options.foreground).then(|| PathBuf::from(process::DEFAULT_PID_FILE)));
    let pid_file = match &pid_path {
        Some(path) => Some(PidFile::create(path).map_err(DaemonError::Process)?),
        None => None,
    };
    let (events, inbox) = mpsc::channel();
    let service = service(&config, Reports::new(events.clone()))?;
    let (identity, source) = match service.identity() {
        Some(addr) => (addr, identity::Source::Membership),
        None => identity::choose(&config).map_err(DaemonError::Identity)?,
    };
    log_notice!(
        "wackamole {} starting: identity {identity} ({source}), group {}, {} VIFs",
        env!("CARGO_PKG_VERSION"),
        config.group,
        config.vifs.len()
    );
    remove_leftovers(&config);

    process::spawn_signal_thread(events.clone(), Event::Signal).map_err(DaemonError::Process)?;
    let control = match &config.control {
        Some(path) => Some(
            ControlServer::bind(path)
                .and_then(|server| server.spawn(events.clone(), Event::Control))
                .map_err(DaemonError::Control)?,
        ),
        None => None,
    };
    let announcer = Announcer::spawn_leased(
        AnnounceSettings {
            refresh: config.announce.refresh,
            ..AnnounceSettings::default()
        },
        service.lease(),
        log_announcement,
    )
    .map_err(DaemonError::Thread)?;
    let hooks = HookRunner::spawn(crate::hooks::DEFAULT_TIMEOUT).map_err(DaemonError::Thread)?;

    let daemon = Daemon {
        engine: Engine::new(Settings::from_config(&config, identity)),
        service,
        quorum: QuorumGate::new(config.quorum, configured_nodes(&config)),
        away: false,
        config,
        config_path: options.config_path,
        overrides: options.overrides,
        identity,
        timers: Timers::new(),
        announcer,
        hooks,
        unplaced: BTreeSet::new(),
        _control: control,
    };
    Ok((daemon, inbox, pid_file))
}

/// Addresses of configured VIFs left on our interfaces by an instance
/// that died: we do not own them until the group says so.
fn remove_leftovers(config: &Config) {
    let all: Vec<VifAddress> = config
        .vifs
        .iter()
        .flat_map(|vif| vif.addresses.iter().cloned())
        .collect();
    match iface::remove_leftovers(&all) {
        Ok(removed) => {
            for address in removed {
                log_notice!("removed {} left behind by an earlier instance", address);
            }
        }
        Err(err) => log_error!("cannot check for addresses left behind: {err}"),
    }
}

fn log_announcement(report: Report) {
    match report {
        Report::Done { vif_index } => {
            log_debug!("announcement of VIF {vif_index} complete")
        }
        Report::Failed { vif_index, error } => {
            log_error!("announcement of VIF {vif_index} stopped: {error}")
        }
        Report::RefreshFailed { vif_index, error } => {
            log_warning!("refresh of VIF {vif_index} failed: {error}")
        }
    }
}

/// How many nodes the configuration lists (none with Spread).
fn configured_nodes(config: &Config) -> Option<usize> {
    config.membership.as_ref().map(|m| m.nodes.len())
}

struct Daemon<S> {
    engine: Engine,
    service: S,
    /// What of the service's events the engine is told (`Quorum`).
    quorum: QuorumGate,
    /// `wackatrl -f`: out of the group until `-s`.
    away: bool,
    config: Config,
    config_path: PathBuf,
    overrides: Overrides,
    identity: Ipv4Addr,
    timers: Timers<Deadline>,
    announcer: Announcer,
    hooks: HookRunner,
    /// VIFs we hold whose addresses the kernel did not all take (an
    /// interface down or missing): tried again every
    /// `SpreadRetryInterval` while we hold them.
    unplaced: BTreeSet<usize>,
    _control: Option<ControlHandle>,
}

impl<S: GroupService> Daemon<S> {
    /// Joins the group, runs until a terminating signal, then shuts down.
    fn serve(mut self, inbox: &Receiver<Event<S::Report>>) {
        self.service.join();
        self.run(inbox);
        self.shut_down();
    }

    /// Runs until a terminating signal.
    fn run(&mut self, inbox: &Receiver<Event<S::Report>>) {
        loop {
            match self.service.deadline() {
                Some(at) => self.timers.arm(Deadline::Service, at),
                None => self.timers.disarm(Deadline::Service),
            }
            let wait = self.timers.wait(Instant::now(), IDLE_WAKE);
            match inbox.recv_timeout(wait) {
                Ok(Event::Signal(Signal::Terminate)) => return,
                Ok(event) => self.on_event(event),
                Err(RecvTimeoutError::Timeout) => {}
                // We hold a sender ourselves, so this cannot happen; if it
                // did, nothing could ever wake us again.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            for deadline in self.timers.take_due(Instant::now()) {
                match deadline {
                    Deadline::Engine(timer) => self.feed(Input::TimerFired(timer)),
                    Deadline::Service => self.service.on_deadline(),
                    Deadline::PlaceAddresses => self.place_again(),
                }
            }
        }
    }

    fn on_event(&mut self, event: Event<S::Report>) {
        match event {
            Event::Group(report) => {
                if let Some(event) = self.service.handle(report) {
                    self.on_group(event);
                }
            }
            Event::Signal(Signal::Reload) => self.reload(),
            Event::Signal(Signal::Terminate) => {}
            Event::Control(request) => self.on_control(request),
        }
    }

    fn on_group(&mut self, event: GroupEvent) {
        let steps = self.quorum.on_event(event);
        self.take_steps(steps);
    }

    /// Carries out what the quorum gate decided, in its order.
    fn take_steps(&mut self, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Feed(input) => self.feed(input),
                Step::Lost(reason) => log_error!("{reason}"),
                Step::Notice(line) => log_notice!("{line}"),
                Step::ViewTaken(taken) => self.service.view_taken(taken),
                Step::Rejoin => {
                    self.leave_group();
                    if !self.away {
                        self.service.join();
                    }
                }
            }
        }
    }

    /// Hands one input to the engine and carries out what it asks, and
    /// what that leads to, before returning.
    fn feed(&mut self, input: Input) {
        let mut pending = VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            for output in self.engine.handle(input) {
                if let Some(next) = self.apply(output) {
                    pending.push_back(next);
                }
            }
        }
    }

    fn apply(&mut self, output: Output) -> Option<Input> {
        match output {
            Output::Multicast {
                delivery,
                mess_type,
                body,
            } => self.service.multicast(delivery, mess_type, &body),
            Output::Acquire(VifIndex(vif)) => self.acquire(vif),
            Output::Release(VifIndex(vif)) => self.release(vif),
            Output::Hooks(event, VifIndex(vif)) => {
                let details = HookDetails {
                    vif_index: Some(vif),
                    addresses: self.addresses(vif),
                };
                self.hooks.run(event, &self.config.hooks, &details);
            }
            Output::PostHooks(event, moved) => {
                let details = HookDetails {
                    vif_index: None,
                    addresses: moved.iter().flat_map(|vif| self.addresses(vif.0)).collect(),
                };
                self.hooks.run(event, &self.config.hooks, &details);
            }
            Output::ArmTimer(timer, after) => {
                self.timers
                    .arm(Deadline::Engine(timer), Instant::now() + after);
            }
            Output::DisarmTimer(timer) => self.timers.disarm(Deadline::Engine(timer)),
            Output::ReadArpTable => match arptable::read() {
                Ok(entries) => return Some(Input::LocalArpTable(entries)),
                Err(err) => log_warning!("cannot read the ARP table: {err}"),
            },
            Output::Log(level, message) => log::emit(level, format_args!("{message}")),
        }
        None
    }

    fn addresses(&self, vif: usize) -> Vec<VifAddress> {
        self.config
            .vifs
            .get(vif)
            .map(|v| v.addresses.clone())
            .unwrap_or_default()
    }

    fn acquire(&mut self, vif: usize) {
        self.place(vif, true);
    }

    /// Brings up every address of VIF `vif` and announces them (on a later
    /// try, only if one came up). Where the kernel refuses an address, the
    /// VIF is remembered and tried again every [`ADDRESS_RETRY`]: the
    /// group has given it to us, so nobody else will serve it. The first
    /// refusal is an error in the log; the tries after it log at debug
    /// level, so an interface that stays down does not flood the log.
    fn place(&mut self, vif: usize, first_try: bool) {
        let addresses = self.addresses(vif);
        let mut complete = true;
        let mut added = false;
        for address in &addresses {
            match iface::bring_up(address) {
                Ok(Outcome::Added { .. }) => {
                    added = true;
                    log_notice!("UP: {address}");
                }
                Ok(_) => log_debug!("{address} was already up"),
                Err(err) if first_try => {
                    complete = false;
                    log_error!(
                        "cannot bring up {address}: {err}; trying again every {ADDRESS_RETRY:?}"
                    );
                }
                Err(err) => {
                    complete = false;
                    log_debug!("{address} refused again: {err}");
                }
            }
        }
        if complete {
            self.unplaced.remove(&vif);
        } else {
            if self.unplaced.is_empty() {
                self.timers
                    .arm(Deadline::PlaceAddresses, Instant::now() + ADDRESS_RETRY);
            }
            self.unplaced.insert(vif);
        }
        if first_try || added {
            let cache = self
                .engine
                .arp_cache()
                .iter()
                .map(|(&addr, &mac)| (addr, mac))
                .collect();
            self.announcer
                .announce(vif, addresses, self.config.notify.clone(), cache);
        }
    }

    /// Another try for the VIFs whose addresses did not all come up.
    fn place_again(&mut self) {
        for vif in std::mem::take(&mut self.unplaced) {
            if self.engine.holds(VifIndex(vif)) {
                self.place(vif, false);
            }
        }
    }

    fn release(&mut self, vif: usize) {
        self.unplaced.remove(&vif);
        self.announcer.cancel(vif);
        for address in &self.addresses(vif) {
            match iface::take_down(address) {
                Ok(_) => log_notice!("DOWN: {address}"),
                Err(err) => log_error!("cannot take down {}: {err}", address),
            }
        }
    }

    /// Releases every VIF, then has the service leave the group.
    /// Releasing first means peers that take over on our leave never find
    /// the addresses still up here.
    fn leave_group(&mut self) {
        self.feed(Input::Disconnected);
        self.quorum.left();
        self.service.leave();
    }

    fn on_control(&mut self, request: Request) {
        match request {
            Request::GetState(responder) => responder.respond(status::status(
                &self.engine.snapshot(),
                &self.config,
                self.identity,
                self.service.status(),
                &self.quorum.state(),
            )),
            Request::SimulateFailure(responder) => {
                log_notice!(
                    "simulated failure: leaving the group ({}) until told to return",
                    self.service.status().name
                );
                self.away = true;
                self.leave_group();
                responder.respond(());
            }
            Request::EndFailure(responder) => {
                if std::mem::take(&mut self.away) {
                    log_notice!("simulated failure over: reconnecting");
                    self.service.join();
                }
                responder.respond(());
            }
        }
    }

    /// Releases every VIF, leaves the group and disconnects, so peers learn
    /// at once; queued hooks still run.
    fn shut_down(self) {
        let mut daemon = self;
        log_notice!("terminating: releasing every VIF");
        daemon.leave_group();
        let Daemon { hooks, .. } = daemon;
        hooks.finish();
    }
}
