//! The seam between the engine loop and the group service it drives.
//!
//! The loop knows a group service only through [`GroupService`]: it asks
//! it to join and leave, hands it the engine's multicasts, passes back what
//! the service's own threads reported, wakes it at the deadline it names,
//! and asks it to describe itself for the status. What comes out is a
//! [`GroupEvent`], already in the engine's terms. Which service runs is
//! decided once, when the daemon is built.
//!
//! A service's threads (a connection in progress, a socket reader) never
//! touch the engine: they send reports of their own type
//! ([`GroupService::Report`]) through [`Reports`], the loop's one channel,
//! and the loop gives each back to the service that owns it
//! ([`GroupService::handle`]). The report type stays the service's own so
//! that it can carry what only that service understands (a session that
//! has just connected, a connection number that tells stale reports
//! apart) without the loop knowing what it is.

use std::net::Ipv4Addr;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use super::LoopEvent;
use crate::config::{Config, KeyFileError};
use crate::control::ServiceStatus;
use crate::engine::{Delivery, Message, View};
use crate::net::lease::Lease;

/// What a group service tells the engine loop, in the engine's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// We are in the group; a view follows.
    Connected,
    /// A new view of the group.
    View(View),
    /// A message delivered to the group.
    Message(Message),
    /// We are out of the group, not by our own choice. The service has
    /// arranged to come back by itself if it can (through
    /// [`GroupService::deadline`] or its own thread); the loop logs
    /// `reason` and releases everything.
    Disconnected {
        /// Why, for the log.
        reason: String,
    },
    /// The service's quorum lease lapsed (`false`: no quorum of the view
    /// has confirmed us recently enough, so a majority may soon take our
    /// addresses over) or holds again (`true`). Only a service asked for a
    /// quorum of two or more ([`GroupService::set_quorum`]) says it.
    Lease(bool),
}

/// A group service: views and totally ordered messages among the nodes of
/// one group.
///
/// Every method is called on the engine loop and must not wait for the
/// network or for another thread: anything that may take long
/// (connecting, reading a socket) runs on a thread of the service, which
/// reports through [`Reports`], and what the loop asks of that thread it
/// sends without waiting for an answer. The one wait allowed is a send
/// to a peer process that has stopped reading, and it is bounded: a
/// Spread daemon that does not take a message within 5 s is treated as
/// gone (its session closed, reported as lost). The built-in
/// membership's methods only queue commands for its thread and read what
/// that thread last published; `check_reload` reads the key files.
pub trait GroupService {
    /// What the service's threads send to the loop.
    type Report: Send + 'static;

    /// Starts joining the group: at start, and after [`leave`] when the
    /// operator ends a simulated failure. Success arrives later as
    /// [`GroupEvent::Connected`] (from [`handle`]).
    ///
    /// [`leave`]: GroupService::leave
    /// [`handle`]: GroupService::handle
    fn join(&mut self);

    /// Leaves the group now, so peers learn at once, and stays out until
    /// [`join`](GroupService::join). The loop has already released every
    /// address. Reports from before the leave must be ignored afterwards.
    fn leave(&mut self);

    /// Sends to the group. Called while the loop carries out the engine's
    /// outputs: a failure must not come back from here but as a later
    /// [`GroupEvent::Disconnected`], or the rest of those outputs would
    /// act on a table the engine has already cleared. Out of the group,
    /// messages are dropped.
    fn multicast(&mut self, delivery: Delivery, mess_type: i16, body: &[u8]);

    /// Takes one report of the service's threads and says what it means
    /// for the engine, if anything.
    fn handle(&mut self, report: Self::Report) -> Option<GroupEvent>;

    /// The last [`GroupEvent::View`] from [`handle`](GroupService::handle)
    /// was handed to the engine (`true`), or withheld because it is below
    /// the quorum (`false`). A service that sends again what a view change
    /// left undelivered does it now, after the engine's own messages for
    /// the view, or forgets it.
    fn view_taken(&mut self, taken: bool) {
        let _ = taken;
    }

    /// Members a view needs before this node may hold anything (the
    /// quorum gate's count; 0 or 1: any view). A service that can tell
    /// when a quorum of its view stops confirming us says so with
    /// [`GroupEvent::Lease`].
    fn set_quorum(&mut self, needed: usize) {
        let _ = needed;
    }

    /// Whether the service reports a quorum lease for the quorum it was
    /// given: then, after each [`GroupEvent::Connected`], the lease counts
    /// as lapsed until the first `Lease(true)`.
    fn leases(&self) -> bool {
        false
    }

    /// The service's name, for the log and the status (`spread`,
    /// `membership`).
    fn name(&self) -> &'static str;

    /// When the loop must call [`on_deadline`](GroupService::on_deadline)
    /// (for example to connect again), if ever. Asked after every call.
    fn deadline(&self) -> Option<Instant>;

    /// The deadline has come.
    fn on_deadline(&mut self);

    /// Whether a re-read configuration may be taken, beyond the settings
    /// the daemon compares itself (the membership's key file content).
    fn check_reload(&mut self, new: &Config) -> Result<(), ServiceRefusal> {
        let _ = new;
        Ok(())
    }

    /// A re-read configuration is in effect; take the live settings that
    /// concern the service (those it cannot change were refused before).
    fn reconfigure(&mut self, config: &Config);

    /// The address the engine must know this node by, when the service
    /// decides it (the built-in membership: our listed address); `None`
    /// lets the daemon choose (`Identity`, the host name, an interface).
    fn identity(&self) -> Option<Ipv4Addr> {
        None
    }

    /// What the announcer must hold to send: a service that can tell
    /// when the process was stopped or starved past its peers' patience
    /// renews it only while its view still stands; `None`: no lease.
    fn lease(&self) -> Option<Arc<Lease>> {
        None
    }

    /// What `wackatrl -l --json` shows about the service.
    fn status(&self) -> ServiceStatus;
}

/// Why a group service cannot take a re-read configuration.
#[derive(Debug)]
pub enum ServiceRefusal {
    /// A membership key file (`Key`, `AcceptKey`) cannot be used (read,
    /// permissions, length), or `AcceptKey` holds `Key`'s key.
    Key(KeyFileError),
}

impl std::fmt::Display for ServiceRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceRefusal::Key(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for ServiceRefusal {}

/// Where a service's threads send their reports: the engine loop's
/// channel.
pub struct Reports<R> {
    events: Sender<LoopEvent<R>>,
}

impl<R> Reports<R> {
    pub(super) fn new(events: Sender<LoopEvent<R>>) -> Self {
        Reports { events }
    }

    /// Hands `report` to the loop; false once the loop has ended (a thread
    /// should then stop).
    pub fn send(&self, report: R) -> bool {
        self.events.send(LoopEvent::Group(report)).is_ok()
    }
}

impl<R> Clone for Reports<R> {
    fn clone(&self) -> Self {
        Reports {
            events: self.events.clone(),
        }
    }
}
