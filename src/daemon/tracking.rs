//! The trackers beside the core: the interface watcher's thread, the
//! check commands' threads and the drain files feed the pure
//! [`Trackers`]; every change of this node's health it decides goes to
//! [`Core::set_health`].

use std::sync::Arc;
use std::time::Instant;

use crate::check;
use crate::config::Config;
use crate::control::TrackerStatus;
use crate::log;
use crate::net::linkwatch::{self, LinkEvent};
use crate::track::{CheckOutcome, LinkState, Output, RunId, Trackers};
use crate::{log_error, log_warning};

use super::core::Core;
use super::group::GroupService;
use super::host::Host;

/// What the trackers' threads send to the loop.
#[derive(Debug)]
pub(super) enum TrackReport {
    /// The interface watcher saw a link change.
    Link(LinkEvent),
    /// A check command's run ended.
    Check(RunId, CheckOutcome),
}

/// The trackers and the way their threads reach the loop.
pub(super) struct Tracking {
    trackers: Trackers,
    /// Sends a report into the loop's channel (false once it is gone).
    send: Arc<dyn Fn(TrackReport) -> bool + Send + Sync>,
}

impl Tracking {
    /// The trackers of `config`, with the interface watcher started (in
    /// the daemon's network namespace).
    pub(super) fn start(
        config: &Config,
        send: impl Fn(TrackReport) -> bool + Clone + Send + Sync + 'static,
        now: Instant,
    ) -> std::io::Result<Tracking> {
        let watcher = send.clone();
        linkwatch::spawn(move |event| watcher(TrackReport::Link(event)))?;
        Ok(Tracking {
            trackers: Trackers::new(&config.track, &config.vifs, now),
            send: Arc::new(send),
        })
    }

    /// The next time [`Tracking::handle_timeout`] has work.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.trackers.poll_timeout()
    }

    /// A report of a tracker's thread.
    pub(super) fn handle<S: GroupService, H: Host>(
        &mut self,
        report: TrackReport,
        core: &mut Core<S, H>,
        now: Instant,
    ) {
        match report {
            TrackReport::Link(LinkEvent::Link { name, up, carrier }) => {
                let state = match (up, carrier) {
                    (false, _) => LinkState::Down,
                    (true, false) => LinkState::NoCarrier,
                    (true, true) => LinkState::Up,
                };
                self.trackers.link(&name, state, now);
            }
            TrackReport::Link(LinkEvent::Gone { name }) => {
                self.trackers.link(&name, LinkState::Missing, now)
            }
            TrackReport::Link(LinkEvent::Synced) => self.trackers.links_synced(now),
            TrackReport::Link(LinkEvent::Failed(error)) => log_error!(
                "the interface watcher stopped: {error}; tracked interfaces keep their last state"
            ),
            TrackReport::Check(id, outcome) => self.trackers.command_result(id, &outcome, now),
        }
        self.drive(core, now);
    }

    /// Does what is due.
    pub(super) fn handle_timeout<S: GroupService, H: Host>(
        &mut self,
        core: &mut Core<S, H>,
        now: Instant,
    ) {
        self.trackers.handle_timeout(now);
        self.drive(core, now);
    }

    /// A re-read configuration the core took.
    pub(super) fn reconfigure<S: GroupService, H: Host>(
        &mut self,
        config: &Config,
        core: &mut Core<S, H>,
        now: Instant,
    ) {
        self.trackers.reconfigure(&config.track, now);
        self.drive(core, now);
    }

    /// The trackers as the control socket shows them.
    pub(super) fn status(&self, now: Instant) -> Vec<TrackerStatus> {
        self.trackers
            .status(now)
            .into_iter()
            .map(|t| TrackerStatus {
                kind: t.kind.as_str().to_string(),
                target: t.target,
                state: t.state.as_str().to_string(),
                since_ms: u64::try_from(t.since.as_millis()).unwrap_or(u64::MAX),
                last_result: t.last_result,
            })
            .collect()
    }

    /// Carries out what the trackers ask, until they ask nothing more.
    fn drive<S: GroupService, H: Host>(&mut self, core: &mut Core<S, H>, now: Instant) {
        while let Some(output) = self.trackers.poll_output() {
            match output {
                Output::Health(health) => core.set_health(health, now),
                Output::Notice(level, text) => log::emit(level, format_args!("{text}")),
                Output::Run {
                    id,
                    command,
                    timeout,
                } => self.run(id, command, timeout, now),
                Output::CheckFiles => {
                    for path in self.trackers.files() {
                        // A file we may not look at does not drain us.
                        let exists = path.symlink_metadata().is_ok();
                        self.trackers.file(&path.display().to_string(), exists, now);
                    }
                }
            }
        }
    }

    fn run(&mut self, id: RunId, command: String, timeout: std::time::Duration, now: Instant) {
        let send = Arc::clone(&self.send);
        if let Err(err) = check::spawn(command, timeout, move |outcome| {
            send(TrackReport::Check(id, outcome));
        }) {
            log_warning!("cannot start a thread for a check command: {err}");
            let outcome = CheckOutcome::CannotRun {
                error: format!("no thread to run it: {err}"),
            };
            self.trackers.command_result(id, &outcome, now);
        }
    }
}
