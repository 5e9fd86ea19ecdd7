//! The daemon: wiring only.
//!
//! Every decision is in the sans-IO [`core::Core`] (the engine, the quorum
//! gate, the group service's loop side, the addresses still to place, the
//! deadlines); this module starts the threads, reads files and feeds the
//! core. One loop owns the core and waits on one channel with a time-out
//! (the core's next deadline). Everything else is a thread that only sends
//! events into that channel: the group service's threads, the control
//! acceptor and the signal thread. The announcer and the hook runner take
//! work from the core through its [`host::Host`] and never block it. Only
//! the loop sends to the group.
//!
//! The core drives the group service through [`group::GroupService`] and
//! does not know which one it has: that is chosen once, in [`run`].

pub mod bridge;
pub mod builtin_service;
pub mod core;
pub mod group;
pub mod host;
mod identity;
mod linux_host;
pub mod quorum;
pub mod reload;
mod report;
mod spread_service;
#[cfg(test)]
mod test_host;
mod timers;
mod tracking;

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::config::{Config, Overrides, ServiceConfig, VifAddress};
use crate::control::{ControlHandle, ControlServer, Request, Responder, StatusReport, Watchers};
use crate::hooks::HookRunner;
use crate::log::{self, Level, Target};
use crate::net::announce::{AnnounceReport, AnnounceSettings, Announcer};
use crate::net::iface;
use crate::process::{self, PidFile, Signal, StartupReport};
use crate::{log_debug, log_error, log_notice, log_warning};

use self::core::Core;
pub use self::core::ADDRESS_RETRY;
pub use builtin_service::BuiltinError;
use builtin_service::BuiltinService;
use group::{GroupService, Reports};
pub use identity::IdentityError;
use linux_host::LinuxHost;
pub use spread_service::group_event;
use spread_service::SpreadService;
use tracking::{TrackReport, Tracking};

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
    /// The interface watcher's netlink socket cannot be opened.
    LinkWatch(std::io::Error),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Process(e) => e.fmt(f),
            DaemonError::Identity(e) => e.fmt(f),
            DaemonError::Membership(e) => e.fmt(f),
            DaemonError::Control(e) => write!(f, "control socket: {e}"),
            DaemonError::Thread(e) => write!(f, "cannot start a thread: {e}"),
            DaemonError::LinkWatch(e) => write!(f, "cannot watch the interfaces: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Everything that reaches the engine loop; `R` is what the group
/// service's threads report.
enum LoopEvent<R> {
    Group(R),
    Signal(Signal),
    Control(Request),
    Track(TrackReport),
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
    match config.service.clone() {
        ServiceConfig::Membership(membership) => {
            launch(config, options, report, |config, reports| {
                BuiltinService::start(config, &membership, reports).map_err(DaemonError::Membership)
            })
        }
        ServiceConfig::Spread(spread) => {
            let private_name = options.private_name.clone();
            launch(config, options, report, |_, reports| {
                Ok(SpreadService::new(&spread, private_name, reports))
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
    Receiver<LoopEvent<<S as GroupService>::Report>>,
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
        "wackamole {} starting: identity {identity} ({source}), {}, {} VIFs",
        env!("CARGO_PKG_VERSION"),
        service_line(&config),
        config.vifs.len()
    );
    remove_leftovers(&config);

    process::spawn_signal_thread(events.clone(), LoopEvent::Signal)
        .map_err(DaemonError::Process)?;
    let control = match &config.control {
        Some(path) => Some(
            ControlServer::bind(path)
                .and_then(|server| server.spawn(events.clone(), LoopEvent::Control))
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
    let watchers = control
        .as_ref()
        .map_or_else(Watchers::default, ControlHandle::watchers);
    let tracker_events = events.clone();
    let tracking = Tracking::start(
        &config,
        move |report| tracker_events.send(LoopEvent::Track(report)).is_ok(),
        Instant::now(),
    )
    .map_err(DaemonError::LinkWatch)?;

    let daemon = Daemon {
        core: Core::new(
            config,
            identity,
            service,
            LinuxHost::new(announcer, hooks, watchers),
        ),
        tracking,
        config_path: options.config_path,
        overrides: options.overrides,
        _control: control,
    };
    Ok((daemon, inbox, pid_file))
}

/// The group service at start, for the log.
fn service_line(config: &Config) -> String {
    match &config.service {
        ServiceConfig::Membership(membership) => {
            format!("built-in membership of {} nodes", membership.nodes.len())
        }
        ServiceConfig::Spread(spread) => format!(
            "Spread at {}, group {}",
            crate::spread::address::describe(&spread.address),
            spread.group
        ),
    }
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

fn log_announcement(report: AnnounceReport) {
    match report {
        AnnounceReport::Done { vif_index } => {
            log_debug!("announcement of VIF {vif_index} complete")
        }
        AnnounceReport::Failed { vif_index, error } => {
            log_error!("announcement of VIF {vif_index} stopped: {error}")
        }
        AnnounceReport::RefreshFailed { vif_index, error } => {
            log_warning!("refresh of VIF {vif_index} failed: {error}")
        }
    }
}

struct Daemon<S: GroupService> {
    core: Core<S, LinuxHost>,
    tracking: Tracking,
    config_path: PathBuf,
    overrides: Overrides,
    _control: Option<ControlHandle>,
}

impl<S: GroupService> Daemon<S> {
    /// Joins the group, runs until a terminating signal, then shuts down:
    /// every VIF released, the group left (peers learn at once), queued
    /// hooks run.
    fn serve(mut self, inbox: &Receiver<LoopEvent<S::Report>>) {
        self.core.start(Instant::now());
        self.run(inbox);
        self.core.shut_down(Instant::now());
        let Daemon { core, .. } = self;
        // The service goes first: a built-in node sends its LEAVE as its
        // thread stops.
        core.into_host().finish();
    }

    /// Runs until a terminating signal.
    fn run(&mut self, inbox: &Receiver<LoopEvent<S::Report>>) {
        loop {
            let now = Instant::now();
            let due = match (self.core.poll_timeout(), self.tracking.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = due.map_or(IDLE_WAKE, |at| {
                at.saturating_duration_since(now).min(IDLE_WAKE)
            });
            match inbox.recv_timeout(wait) {
                Ok(LoopEvent::Signal(Signal::Terminate)) => return,
                Ok(LoopEvent::Signal(Signal::Reload)) => self.reload(),
                Ok(LoopEvent::Group(report)) => self.core.handle_report(report, Instant::now()),
                Ok(LoopEvent::Control(Request::GetState(responder))) => {
                    self.status(responder, Instant::now())
                }
                Ok(LoopEvent::Control(request)) => {
                    self.core.handle_control(request, Instant::now())
                }
                Ok(LoopEvent::Track(report)) => {
                    self.tracking.handle(report, &mut self.core, Instant::now())
                }
                Err(RecvTimeoutError::Timeout) => {}
                // We hold a sender ourselves, so this cannot happen; if it
                // did, nothing could ever wake us again.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.tracking.handle_timeout(&mut self.core, Instant::now());
            self.core.handle_timeout(Instant::now());
        }
    }

    /// `wackatrl -l`: the core's status with the trackers added.
    fn status(&mut self, responder: Responder<StatusReport>, now: Instant) {
        let (inner, answer) = crate::control::server::responder();
        self.core.handle_control(Request::GetState(inner), now);
        if let Ok(mut status) = answer.try_recv() {
            status.trackers = self.tracking.status(now);
            responder.respond(status);
        }
    }

    /// SIGHUP: re-reads the file and hands it to the core.
    fn reload(&mut self) {
        log_notice!("re-reading {}", self.config_path.display());
        let new = match crate::config::load(&self.config_path) {
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
        let facility = new.log_facility;
        if self.core.reload(new, Instant::now()) {
            log::set_facility(facility);
            let config = self.core.config().clone();
            self.tracking
                .reconfigure(&config, &mut self.core, Instant::now());
        }
    }
}
