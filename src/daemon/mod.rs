//! The daemon: wiring only.
//!
//! One engine loop owns the [`Engine`], the Spread writer and the
//! configuration, and waits on one channel with a time-out (the next
//! timer). Everything else is a thread that only sends events into that
//! channel: the Spread reader, the control acceptor and the signal thread.
//! The announcer and the hook runner take work from the loop and never
//! block it. Only the loop writes to Spread.

mod identity;
pub mod reload;
mod status;
mod timers;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{self, Config, HookEvent, Overrides, VifAddress};
use crate::control::{ControlHandle, ControlServer, Request};
use crate::engine::{self, ArpEntry, Delivery, Engine, Input, Output, Settings, Timer};
use crate::hooks::{HookDetails, HookRunner};
use crate::log::{self, Level, Target};
use crate::net::announce::{AnnounceSettings, Announcer, Report};
use crate::net::arptable;
use crate::net::iface::{self, Outcome};
use crate::process::{self, PidFile, Signal};
use crate::spread::{self, ConnectOptions, Service, Session, SessionWriter};
use crate::{log_debug, log_error, log_info, log_notice, log_warning};

pub use identity::IdentityError;
use timers::Timers;

/// Longest the loop sleeps when no timer is armed.
const IDLE_WAKE: Duration = Duration::from_secs(3600);
/// Limit for connecting to the Spread daemon and its handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A Spread daemon that takes longer than this to accept one of our
/// messages is treated as gone: the loop must not hang behind it.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

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
    Process(process::ProcessError),
    Identity(IdentityError),
    Control(crate::control::ControlError),
    Thread(std::io::Error),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Process(e) => e.fmt(f),
            DaemonError::Identity(e) => e.fmt(f),
            DaemonError::Control(e) => write!(f, "control socket: {e}"),
            DaemonError::Thread(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Everything that reaches the engine loop.
enum Event {
    /// Something the Spread daemon sent on connection `link`.
    Spread {
        link: u64,
        event: spread::Event,
    },
    /// Connection `link` failed or closed.
    SpreadLost {
        link: u64,
        error: spread::Error,
    },
    /// Connection attempt `link` ended: connected and joined, or not.
    Connected {
        link: u64,
        result: Result<Session, ConnectFailure>,
    },
    Signal(Signal),
    Control(Request),
}

/// Why a connection attempt failed.
enum ConnectFailure {
    Connect(spread::Error),
    Join(spread::Error),
}

/// The loop's own deadlines beside the engine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Engine(Timer),
    Reconnect,
    /// Try again to bring up addresses the kernel refused.
    PlaceAddresses,
}

/// Our connection to Spread.
enum Link {
    Up {
        id: u64,
        writer: SessionWriter,
    },
    /// Attempt `id` is connecting on a thread of its own: a Spread host
    /// that does not answer must not hold up the loop for the connect
    /// time-out (signals, control requests and timers wait meanwhile).
    Connecting {
        id: u64,
    },
    /// Waiting for the reconnect timer.
    Down,
    /// `wackatrl -f`: stay away until `-s`.
    Suspended,
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
    match start(config, options) {
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

/// Everything that can fail at start: the pid file, the identity, the
/// control socket and the threads.
fn start(
    config: Config,
    options: Options,
) -> Result<(Daemon, Receiver<Event>, Option<PidFile>), DaemonError> {
    let pid_path = options
        .pid_file
        .clone()
        .or_else(|| (!options.foreground).then(|| PathBuf::from(process::DEFAULT_PID_FILE)));
    let pid_file = match &pid_path {
        Some(path) => Some(PidFile::create(path).map_err(DaemonError::Process)?),
        None => None,
    };
    let (identity, source) = identity::choose(&config).map_err(DaemonError::Identity)?;
    log_notice!(
        "wackamole {} starting: identity {identity} ({source}), group {}, {} VIFs",
        env!("CARGO_PKG_VERSION"),
        config.group,
        config.vifs.len()
    );
    remove_leftovers(&config);

    let (events, inbox) = mpsc::channel();
    process::spawn_signal_thread(events.clone(), Event::Signal).map_err(DaemonError::Process)?;
    let control = match &config.control {
        Some(path) => Some(
            ControlServer::bind(path)
                .and_then(|server| server.spawn(events.clone(), Event::Control))
                .map_err(DaemonError::Control)?,
        ),
        None => None,
    };
    let announcer = Announcer::spawn(AnnounceSettings::default(), log_announcement)
        .map_err(DaemonError::Thread)?;
    let hooks = HookRunner::spawn(crate::hooks::DEFAULT_TIMEOUT).map_err(DaemonError::Thread)?;

    let private_name = options
        .private_name
        .clone()
        .unwrap_or_else(|| default_private_name(std::process::id()));
    let daemon = Daemon {
        engine: Engine::new(Settings::from_config(&config, identity)),
        config,
        config_path: options.config_path,
        overrides: options.overrides,
        identity,
        private_name,
        link: Link::Down,
        next_link: 0,
        timers: Timers::new(),
        events,
        announcer,
        hooks,
        unplaced: BTreeSet::new(),
        _control: control,
    };
    Ok((daemon, inbox, pid_file))
}

/// Connects to the Spread daemon and joins `group`, within the connect
/// time-out (the join is a single write).
fn connect_and_join(
    address: &config::SpreadAddress,
    private_name: &str,
    group: &str,
) -> Result<Session, ConnectFailure> {
    let options = ConnectOptions {
        timeout: CONNECT_TIMEOUT,
        send_timeout: Some(SEND_TIMEOUT),
        ..ConnectOptions::default()
    };
    let session =
        Session::connect(address, private_name, options).map_err(ConnectFailure::Connect)?;
    match session.join(group) {
        Ok(()) => Ok(session),
        Err(err) => {
            session.shutdown();
            Err(ConnectFailure::Join(err))
        }
    }
}

/// `wack<pid>`, cut to the 10 characters Spread allows (as the Spread
/// library would cut it).
fn default_private_name(pid: u32) -> String {
    let mut name = format!("wack{pid}");
    name.truncate(spread::wire::MAX_PRIVATE_NAME);
    name
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
    }
}

struct Daemon {
    engine: Engine,
    config: Config,
    config_path: PathBuf,
    overrides: Overrides,
    identity: Ipv4Addr,
    private_name: String,
    link: Link,
    next_link: u64,
    timers: Timers<Deadline>,
    events: Sender<Event>,
    announcer: Announcer,
    hooks: HookRunner,
    /// VIFs we hold whose addresses the kernel did not all take (an
    /// interface down or missing): tried again every
    /// `SpreadRetryInterval` while we hold them.
    unplaced: BTreeSet<usize>,
    _control: Option<ControlHandle>,
}

impl Daemon {
    /// Connects, runs until a terminating signal, then shuts down.
    fn serve(mut self, inbox: &Receiver<Event>) {
        self.connect();
        self.run(inbox);
        self.shut_down();
    }

    /// Runs until a terminating signal.
    fn run(&mut self, inbox: &Receiver<Event>) {
        loop {
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
                    Deadline::Reconnect => self.connect(),
                    Deadline::PlaceAddresses => self.place_again(),
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Spread { link, event } if self.is_current(link) => self.on_spread(event),
            Event::SpreadLost { link, error } if self.is_current(link) => {
                log_error!("lost the Spread daemon: {error}");
                self.drop_link(Link::Down);
                self.schedule_reconnect();
            }
            // From a connection we already left behind.
            Event::Spread { .. } | Event::SpreadLost { .. } => {}
            Event::Connected { link, result } => self.on_connected(link, result),
            Event::Signal(Signal::Reload) => self.reload(),
            Event::Signal(Signal::Terminate) => {}
            Event::Control(request) => self.on_control(request),
        }
    }

    fn is_current(&self, link: u64) -> bool {
        matches!(self.link, Link::Up { id, .. } if id == link)
    }

    fn on_spread(&mut self, event: spread::Event) {
        match event {
            spread::Event::Membership(membership) => {
                if membership.group != self.config.group {
                    return;
                }
                // Transitional views are ignored, as the original does: the
                // regular view that follows carries all we need.
                if let (spread::MembershipKind::Regular(_), Some(my_index)) =
                    (membership.kind, membership.my_index)
                {
                    self.feed(Input::View(engine::View {
                        group_id: membership.group_id.raw(),
                        members: membership.members,
                        my_index,
                    }));
                }
            }
            spread::Event::Message(message) => {
                if message.groups.contains(&self.config.group) {
                    self.feed(Input::Message(engine::Message {
                        sender: message.sender,
                        mess_type: message.mess_type,
                        endian_mismatch: message.endian_mismatch,
                        body: message.body,
                    }));
                }
            }
            spread::Event::SelfLeave { group } => {
                log_info!("left group {group}");
            }
            spread::Event::Rejected(rejected) => {
                log_error!(
                    "the Spread daemon refused our {:?} to {}",
                    rejected.request,
                    rejected.groups.join(", ")
                );
            }
        }
    }

    /// Hands one input to the engine and carries out what it asks, and
    /// what that leads to, before returning.
    fn feed(&mut self, input: Input) {
        let mut pending = VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            let outputs = self.engine.handle(input);
            let mut round = Round::default();
            for output in outputs {
                if let Some(next) = self.apply(output, &mut round) {
                    pending.push_back(next);
                }
            }
        }
    }

    fn apply(&mut self, output: Output, round: &mut Round) -> Option<Input> {
        match output {
            Output::Multicast {
                delivery,
                mess_type,
                body,
            } => self.multicast(delivery, mess_type, &body),
            Output::Acquire(vif) => {
                self.acquire(vif);
                round.acquired.push(vif);
            }
            Output::Release(vif) => {
                self.release(vif);
                round.released.push(vif);
            }
            Output::Hooks(event, vif) => {
                let details = HookDetails {
                    vif_index: Some(vif),
                    addresses: self.addresses(vif),
                };
                self.hooks.run(event, &self.config.hooks, &details);
            }
            Output::PostHooks(event) => {
                let moved = match event {
                    HookEvent::PostDown | HookEvent::OnDown => &round.released,
                    HookEvent::PostUp | HookEvent::OnUp => &round.acquired,
                };
                let details = HookDetails {
                    vif_index: None,
                    addresses: moved.iter().flat_map(|&vif| self.addresses(vif)).collect(),
                };
                self.hooks.run(event, &self.config.hooks, &details);
            }
            Output::ArmTimer(timer, after) => {
                self.timers
                    .arm(Deadline::Engine(timer), Instant::now() + after);
            }
            Output::DisarmTimer(timer) => self.timers.disarm(Deadline::Engine(timer)),
            Output::ReadArpTable => match arptable::read() {
                Ok(entries) => {
                    return Some(Input::LocalArpTable(
                        entries
                            .into_iter()
                            .map(|e| ArpEntry {
                                addr: e.ip,
                                mac: e.mac,
                            })
                            .collect(),
                    ))
                }
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
    /// VIF is remembered and tried again every `SpreadRetryInterval`: the
    /// group has given it to us, so nobody else will serve it.
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
                Err(err) => {
                    complete = false;
                    log_error!(
                        "cannot bring up {}: {err}; trying again every {:?}",
                        address,
                        self.config.spread_retry_interval
                    );
                }
            }
        }
        if complete {
            self.unplaced.remove(&vif);
        } else {
            if self.unplaced.is_empty() {
                self.timers.arm(
                    Deadline::PlaceAddresses,
                    Instant::now() + self.config.spread_retry_interval,
                );
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
            if self.engine.holds(vif) {
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

    fn multicast(&mut self, delivery: Delivery, mess_type: i16, body: &[u8]) {
        let Link::Up { writer, .. } = &self.link else {
            return;
        };
        let service = match delivery {
            Delivery::Agreed => Service::Agreed,
            Delivery::Reliable => Service::Reliable,
        };
        if let Err(err) = writer.multicast(service, &[&self.config.group], mess_type, body) {
            // Closing the socket wakes the reader, whose SpreadLost event
            // then releases everything in its turn. Dropping the link here,
            // in the middle of carrying out the engine's outputs, would let
            // the rest of them act on a table the engine has already
            // cleared.
            log_error!("cannot send to group {}: {err}", self.config.group);
            writer.shutdown();
        }
    }

    /// Starts connecting to Spread and joining the group; the outcome
    /// arrives as [`Event::Connected`].
    fn connect(&mut self) {
        if !matches!(self.link, Link::Down) {
            return;
        }
        self.timers.disarm(Deadline::Reconnect);
        self.next_link += 1;
        let id = self.next_link;
        let spread_address = self.config.spread.clone();
        let private_name = self.private_name.clone();
        let group = self.config.group.clone();
        let events = self.events.clone();
        let spawned = thread::Builder::new()
            .name("spread-connect".into())
            .spawn(move || {
                let result = connect_and_join(&spread_address, &private_name, &group);
                // The loop has ended: the session closes as it drops.
                let _ = events.send(Event::Connected { link: id, result });
            });
        match spawned {
            Ok(_) => self.link = Link::Connecting { id },
            Err(err) => {
                log_error!(
                    "cannot start connecting to Spread: {err}; retrying in {:?}",
                    self.config.spread_retry_interval
                );
                self.schedule_reconnect();
            }
        }
    }

    fn on_connected(&mut self, link: u64, result: Result<Session, ConnectFailure>) {
        if !matches!(self.link, Link::Connecting { id } if id == link) {
            // A simulated failure or a shutdown came first: leave again.
            if let Ok(session) = result {
                let _ = session.disconnect();
            }
            return;
        }
        let session = match result {
            Ok(session) => session,
            Err(failure) => {
                let retry = self.config.spread_retry_interval;
                match failure {
                    ConnectFailure::Connect(err) => {
                        log_warning!("cannot connect to Spread: {err}; retrying in {retry:?}")
                    }
                    ConnectFailure::Join(err) => log_warning!(
                        "cannot join group {}: {err}; retrying in {retry:?}",
                        self.config.group
                    ),
                }
                self.link = Link::Down;
                self.schedule_reconnect();
                return;
            }
        };
        log_notice!(
            "connected to Spread as {}, joined group {}",
            session.private_group(),
            self.config.group
        );
        let (reader, writer) = session.split();
        let events = self.events.clone();
        let spawned = thread::Builder::new()
            .name("spread-reader".into())
            .spawn(move || loop {
                match reader.receive() {
                    Ok(event) => {
                        if events.send(Event::Spread { link, event }).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = events.send(Event::SpreadLost { link, error });
                        return;
                    }
                }
            });
        if let Err(err) = spawned {
            log_error!("cannot start the Spread reader: {err}");
            let _ = writer.disconnect();
            self.link = Link::Down;
            self.schedule_reconnect();
            return;
        }
        self.link = Link::Up { id: link, writer };
        self.feed(Input::Connected);
    }

    fn schedule_reconnect(&mut self) {
        if matches!(self.link, Link::Down) {
            self.timers.arm(
                Deadline::Reconnect,
                Instant::now() + self.config.spread_retry_interval,
            );
        }
    }

    /// Releases every VIF, then leaves Spread (closing the session
    /// properly when we still can). Releasing first means peers that take
    /// over on our leave never find the addresses still up here.
    fn drop_link(&mut self, next: Link) {
        let previous = std::mem::replace(&mut self.link, next);
        self.feed(Input::Disconnected);
        if let Link::Up { writer, .. } = previous {
            let _ = writer.leave(&self.config.group);
            let _ = writer.disconnect();
        }
    }

    fn on_control(&mut self, request: Request) {
        match request {
            Request::GetState(responder) => responder.respond(status::status(
                &self.engine.snapshot(),
                &self.config,
                self.identity,
            )),
            Request::SimulateFailure(responder) => {
                log_notice!("simulated failure: leaving Spread until told to return");
                self.timers.disarm(Deadline::Reconnect);
                self.drop_link(Link::Suspended);
                responder.respond(());
            }
            Request::EndFailure(responder) => {
                if matches!(self.link, Link::Suspended) {
                    log_notice!("simulated failure over: reconnecting");
                    self.link = Link::Down;
                    self.connect();
                }
                responder.respond(());
            }
        }
    }

    fn reload(&mut self) {
        log_notice!("re-reading {}", self.config_path.display());
        let new = match config::load(&self.config_path) {
            Ok((new, warnings)) => {
                for warning in warnings {
                    log_warning!("{warning}");
                }
                self.overrides.apply(new)
            }
            Err(err) => {
                log_error!("configuration not reloaded: {err}; the running configuration stays");
                return;
            }
        };
        let changed = match reload::check(&self.config, &new) {
            Ok(changed) => changed,
            Err(refused) => {
                log_error!("{refused}");
                return;
            }
        };
        if new.log_facility != self.config.log_facility {
            log::set_facility(new.log_facility);
        }
        self.engine.retune(new.mature, new.balance, new.arp_cache);
        self.config = new;
        if changed.is_empty() {
            log_notice!("configuration re-read: nothing changed");
        } else {
            log_notice!(
                "configuration re-read: {} now in effect",
                changed.join(", ")
            );
        }
    }

    /// Releases every VIF, leaves the group and disconnects, so peers learn
    /// at once; queued hooks still run.
    fn shut_down(self) {
        let mut daemon = self;
        log_notice!("terminating: releasing every VIF");
        daemon.drop_link(Link::Suspended);
        let Daemon { hooks, .. } = daemon;
        hooks.finish();
    }
}

/// What one engine step acquired and released, for the `post` hooks.
#[derive(Default)]
struct Round {
    acquired: Vec<usize>,
    released: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_names_fit_spread() {
        assert_eq!(default_private_name(1511), "wack1511");
        assert_eq!(default_private_name(4194303), "wack419430");
    }
}
