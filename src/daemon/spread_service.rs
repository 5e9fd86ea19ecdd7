//! Spread as the daemon's group service: a session with a Spread daemon,
//! joined to the configured group, over [`crate::spread`].
//!
//! Connecting and joining run on a thread of their own, so that a Spread
//! host that does not answer never holds up the loop for the connect
//! time-out; once connected, a reader thread blocks in `receive` and
//! reports what arrives. Only the loop writes to the session. Each
//! connection attempt has a number (its link), and reports of any link but
//! the current one are dropped: they come from a connection already left
//! behind. A lost connection is tried again every `SpreadRetryInterval`.
//! A refusal that will not lift by itself (the daemon's access control,
//! a version it never accepts: [`spread::Error::is_permanent`]) is logged
//! as an error, shown in the status, and tried again only every
//! [`PERMANENT_RETRY`] (or `SpreadRetryInterval` if that is longer), so a
//! misconfigured node neither spins nor gives up once it is fixed.

use std::thread;
use std::time::{Duration, Instant};

use super::group::{GroupEvent, GroupService, Reports};
use crate::config::{Config, ServiceConfig, SpreadAddress, SpreadConfig};
use crate::control::ServiceStatus;
use crate::engine::{self, Delivery};
use crate::spread::{self, address, ConnectOptions, Service, Session, SessionWriter};
use crate::{log_error, log_info, log_notice, log_warning};

/// Limit for connecting to the Spread daemon and its handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A Spread daemon that takes longer than this to accept one of our
/// messages is treated as gone: the loop must not hang behind it.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The pace of attempts after a permanent refusal.
pub(super) const PERMANENT_RETRY: Duration = Duration::from_secs(60);

/// What the connecting and reading threads report.
pub(super) enum SessionReport {
    /// Connection attempt `link` ended: connected and joined, or not.
    Connected {
        link: u64,
        result: Result<Session, ConnectFailure>,
    },
    /// Something the Spread daemon sent on connection `link`.
    Received {
        link: u64,
        event: spread::SessionEvent,
    },
    /// Connection `link` failed or closed.
    Lost { link: u64, error: spread::Error },
}

/// Why a connection attempt failed.
pub(super) enum ConnectFailure {
    Connect(spread::Error),
    Join(spread::Error),
}

/// Our connection to Spread.
enum Link {
    Up {
        id: u64,
        writer: SessionWriter,
    },
    /// Attempt `id` is connecting on its own thread.
    Connecting {
        id: u64,
    },
    /// Waiting to connect again.
    Waiting {
        until: Instant,
    },
    /// Not started, or left on purpose: stay away until told to join.
    Left,
}

pub(super) struct SpreadService {
    address: SpreadAddress,
    private_name: String,
    group: String,
    retry: Duration,
    link: Link,
    next_link: u64,
    reports: Reports<SessionReport>,
    /// The last permanent refusal, until a connection succeeds.
    refusal: Option<String>,
}

impl SpreadService {
    /// A service for `config`'s Spread daemon and group, connecting as
    /// `private_name` (default `wack<pid>`). It stays away until
    /// [`join`](GroupService::join).
    pub(super) fn new(
        config: &SpreadConfig,
        private_name: Option<String>,
        reports: Reports<SessionReport>,
    ) -> Self {
        SpreadService {
            address: config.address.clone(),
            private_name: private_name.unwrap_or_else(|| default_private_name(std::process::id())),
            group: config.group.clone(),
            retry: config.retry_interval,
            link: Link::Left,
            next_link: 0,
            reports,
            refusal: None,
        }
    }

    /// Starts connecting to Spread and joining the group; the outcome
    /// arrives as [`SessionReport::Connected`].
    fn connect(&mut self) {
        self.next_link += 1;
        let id = self.next_link;
        let address = self.address.clone();
        let private_name = self.private_name.clone();
        let group = self.group.clone();
        let reports = self.reports.clone();
        let spawned = thread::Builder::new()
            .name("spread-connect".into())
            .spawn(move || {
                let result = connect_and_join(&address, &private_name, &group);
                // The loop has ended: the session closes as it drops.
                reports.send(SessionReport::Connected { link: id, result });
            });
        match spawned {
            Ok(_) => self.link = Link::Connecting { id },
            Err(err) => {
                log_error!(
                    "cannot start connecting to Spread: {err}; retrying in {:?}",
                    self.retry
                );
                self.wait();
            }
        }
    }

    fn wait(&mut self) {
        self.wait_for(self.retry);
    }

    fn wait_for(&mut self, pause: Duration) {
        self.link = Link::Waiting {
            until: Instant::now() + pause,
        };
    }

    /// Logs a failed attempt and waits for the next one: the retry
    /// interval for a transient failure, the slow pace for a permanent one.
    fn failed(&mut self, what: String, err: &spread::Error) {
        if err.is_permanent() {
            let pause = self.retry.max(PERMANENT_RETRY);
            log_error!("{what}: {err}; this will not change by itself, trying again in {pause:?}");
            self.refusal = Some(format!("{what}: {err}"));
            self.wait_for(pause);
        } else {
            log_warning!("{what}: {err}; retrying in {:?}", self.retry);
            self.refusal = None;
            self.wait();
        }
    }

    fn is_current(&self, link: u64) -> bool {
        matches!(self.link, Link::Up { id, .. } if id == link)
    }

    fn on_connected(
        &mut self,
        link: u64,
        result: Result<Session, ConnectFailure>,
    ) -> Option<GroupEvent> {
        if !matches!(self.link, Link::Connecting { id } if id == link) {
            // A simulated failure or a shutdown came first: leave again.
            if let Ok(session) = result {
                let _ = session.disconnect();
            }
            return None;
        }
        let session = match result {
            Ok(session) => session,
            Err(failure) => {
                match failure {
                    ConnectFailure::Connect(err) => {
                        self.failed("cannot connect to Spread".to_string(), &err)
                    }
                    ConnectFailure::Join(err) => {
                        self.failed(format!("cannot join group {}", self.group), &err)
                    }
                }
                return None;
            }
        };
        self.refusal = None;
        log_notice!(
            "connected to Spread as {}, joined group {}",
            session.private_group(),
            self.group
        );
        let (reader, writer) = session.split();
        let reports = self.reports.clone();
        let spawned = thread::Builder::new()
            .name("spread-reader".into())
            .spawn(move || loop {
                match reader.receive() {
                    Ok(event) => {
                        if !reports.send(SessionReport::Received { link, event }) {
                            return;
                        }
                    }
                    Err(error) => {
                        reports.send(SessionReport::Lost { link, error });
                        return;
                    }
                }
            });
        if let Err(err) = spawned {
            log_error!("cannot start the Spread reader: {err}");
            let _ = writer.disconnect();
            self.wait();
            return None;
        }
        self.link = Link::Up { id: link, writer };
        Some(GroupEvent::Connected)
    }

    /// What a message of the Spread daemon means for the engine; the
    /// rest is only logged.
    fn on_received(&self, event: spread::SessionEvent) -> Option<GroupEvent> {
        match event {
            spread::SessionEvent::SelfLeave { group } => {
                log_info!("left group {group}");
                None
            }
            spread::SessionEvent::Rejected(rejected) => {
                log_error!(
                    "the Spread daemon refused our {:?} to {}",
                    rejected.request,
                    rejected.groups.join(", ")
                );
                None
            }
            event => group_event(&self.group, event),
        }
    }

    /// Leaves the group and closes the session, properly when we still
    /// can; `next` is what to do afterwards.
    fn close(&mut self, next: Link) {
        if let Link::Up { writer, .. } = std::mem::replace(&mut self.link, next) {
            let _ = writer.leave(&self.group);
            let _ = writer.disconnect();
        }
    }
}

impl GroupService for SpreadService {
    type Report = SessionReport;

    fn join(&mut self) {
        if matches!(self.link, Link::Left | Link::Waiting { .. }) {
            self.connect();
        }
    }

    fn leave(&mut self) {
        self.close(Link::Left);
    }

    fn multicast(&mut self, delivery: Delivery, mess_type: i16, body: &[u8]) {
        let Link::Up { writer, .. } = &self.link else {
            return;
        };
        let service = match delivery {
            Delivery::Agreed => Service::Agreed,
            Delivery::Reliable => Service::Reliable,
        };
        if let Err(err) = writer.multicast(service, &[&self.group], mess_type, body) {
            // Closing the socket wakes the reader, whose Lost report then
            // has everything released in its turn.
            log_error!("cannot send to group {}: {err}", self.group);
            writer.shutdown();
        }
    }

    fn handle(&mut self, report: SessionReport) -> Option<GroupEvent> {
        match report {
            SessionReport::Connected { link, result } => self.on_connected(link, result),
            SessionReport::Received { link, event } if self.is_current(link) => {
                self.on_received(event)
            }
            SessionReport::Lost { link, error } if self.is_current(link) => {
                // The session is closed already: nothing of the leave
                // reaches the peers, who learn from the Spread daemon.
                self.close(Link::Waiting {
                    until: Instant::now() + self.retry,
                });
                Some(GroupEvent::Disconnected {
                    reason: format!("lost the Spread daemon: {error}"),
                })
            }
            // From a connection we already left behind.
            SessionReport::Received { .. } | SessionReport::Lost { .. } => None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.link {
            Link::Waiting { until } => Some(until),
            _ => None,
        }
    }

    fn on_deadline(&mut self) {
        if matches!(self.link, Link::Waiting { until } if until <= Instant::now()) {
            self.connect();
        }
    }

    fn reconfigure(&mut self, config: &Config) {
        if let ServiceConfig::Spread(spread) = &config.service {
            self.retry = spread.retry_interval;
        }
    }

    fn name(&self) -> &'static str {
        "spread"
    }

    fn status(&self) -> ServiceStatus {
        let state = match self.link {
            Link::Up { .. } => "connected",
            Link::Connecting { .. } => "connecting",
            Link::Waiting { .. } if self.refusal.is_some() => "refused",
            Link::Waiting { .. } => "waiting",
            Link::Left => "left",
        };
        ServiceStatus {
            name: "spread".to_string(),
            endpoint: address::describe(&self.address),
            state: state.to_string(),
            membership: None,
            error: self.refusal.clone(),
        }
    }
}

/// What an event of the Spread daemon means for the engine of a node in
/// `group`: the regular views of that group (with us in them) and the
/// messages sent to it. Transitional views are ignored, as the original
/// does: the regular view that follows carries all the engine needs.
pub fn group_event(group: &str, event: spread::SessionEvent) -> Option<GroupEvent> {
    match event {
        spread::SessionEvent::Membership(membership) if membership.group == group => {
            match (membership.kind, membership.my_index) {
                (spread::MembershipKind::Regular(_), Some(my_index)) => {
                    Some(GroupEvent::View(engine::View {
                        group_id: membership.group_id,
                        members: membership.members,
                        my_index,
                    }))
                }
                _ => None,
            }
        }
        spread::SessionEvent::Message(message) if message.groups.iter().any(|g| g == group) => {
            Some(GroupEvent::Message(engine::Message {
                sender: message.sender,
                mess_type: message.mess_type,
                endian_mismatch: message.endian_mismatch,
                body: message.body,
            }))
        }
        _ => None,
    }
}

/// Connects to the Spread daemon and joins `group`, within the connect
/// time-out (the join is a single write).
fn connect_and_join(
    address: &SpreadAddress,
    private_name: &str,
    group: &str,
) -> Result<Session, ConnectFailure> {
    let options = ConnectOptions {
        timeout: CONNECT_TIMEOUT,
        send_timeout: Some(SEND_TIMEOUT),
        // Our death must reach Spread before the announcer's packet
        // sockets are released, each after an RCU grace period.
        lift_descriptors: true,
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

#[cfg(test)]
mod tests {
    use super::super::LoopEvent;
    use super::*;
    use crate::spread::{Cause, GroupId, Membership, MembershipKind};
    use std::sync::mpsc::{self, Receiver};

    const GROUP: &str = "wack1";

    fn service(spread: SpreadAddress) -> (SpreadService, Receiver<LoopEvent<SessionReport>>) {
        let config = SpreadConfig {
            address: spread,
            group: GROUP.to_string(),
            retry_interval: Duration::from_secs(7),
        };
        let (events, inbox) = mpsc::channel();
        let service = SpreadService::new(&config, Some("t".into()), Reports::new(events));
        (service, inbox)
    }

    fn nowhere() -> SpreadAddress {
        SpreadAddress::Unix("/nonexistent/wackamole-test/spread".into())
    }

    fn membership(group: &str, kind: MembershipKind) -> spread::SessionEvent {
        spread::SessionEvent::Membership(Membership {
            kind,
            group: group.to_string(),
            group_id: GroupId::from_raw([1, 2, 3]),
            members: vec!["#a#n1".into(), "#t#n2".into()],
            my_index: Some(1),
            vs_sets: Vec::new(),
            my_vs_set: None,
        })
    }

    fn message(groups: &[&str]) -> spread::SessionEvent {
        spread::SessionEvent::Message(spread::Message {
            service: Service::Agreed,
            sender: "#a#n1".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            mess_type: 4,
            endian_mismatch: true,
            body: vec![9],
        })
    }

    #[test]
    fn private_names_fit_spread() {
        assert_eq!(default_private_name(1511), "wack1511");
        assert_eq!(default_private_name(4194303), "wack419430");
    }

    #[test]
    fn regular_views_and_messages_of_our_group_reach_the_engine() {
        let (service, _inbox) = service(nowhere());
        assert_eq!(
            service.on_received(membership(GROUP, MembershipKind::Regular(Cause::Join))),
            Some(GroupEvent::View(engine::View {
                group_id: GroupId::from_raw([1, 2, 3]),
                members: vec!["#a#n1".into(), "#t#n2".into()],
                my_index: 1,
            }))
        );
        assert_eq!(
            service.on_received(message(&["other", GROUP])),
            Some(GroupEvent::Message(engine::Message {
                sender: "#a#n1".into(),
                mess_type: 4,
                endian_mismatch: true,
                body: vec![9],
            }))
        );
    }

    #[test]
    fn transitional_views_and_other_groups_are_not_the_engines() {
        let (service, _inbox) = service(nowhere());
        let regular = MembershipKind::Regular(Cause::Network);
        assert_eq!(service.on_received(membership("other", regular)), None);
        assert_eq!(
            service.on_received(membership(GROUP, MembershipKind::Transitional)),
            None
        );
        assert_eq!(service.on_received(message(&["other"])), None);
        let left = spread::SessionEvent::SelfLeave {
            group: GROUP.into(),
        };
        assert_eq!(service.on_received(left), None);
    }

    #[test]
    fn a_failed_connection_is_tried_again_after_the_retry_interval() {
        let (mut service, inbox) = service(nowhere());
        assert_eq!(service.status().state, "left");
        assert_eq!(service.deadline(), None);
        service.join();
        assert_eq!(service.status().state, "connecting");
        let Ok(LoopEvent::Group(report)) = inbox.recv_timeout(Duration::from_secs(10)) else {
            panic!("no report of the connection attempt");
        };
        let before = Instant::now();
        assert_eq!(service.handle(report), None);
        assert_eq!(service.status().state, "waiting");
        let at = service.deadline().expect("a reconnect deadline");
        assert!(
            at >= before + Duration::from_secs(7) && at <= Instant::now() + Duration::from_secs(7)
        );
        // Too early: nothing happens.
        service.on_deadline();
        assert_eq!(service.status().state, "waiting");
        // A simulated failure: stay away, and forget the deadline.
        service.leave();
        assert_eq!(service.status().state, "left");
        assert_eq!(service.deadline(), None);
    }

    #[test]
    fn a_permanent_refusal_is_shown_and_tried_again_only_at_the_slow_pace() {
        let (mut service, inbox) = service(nowhere());
        service.join();
        let before = Instant::now();
        let refused = SessionReport::Connected {
            link: 1,
            result: Err(ConnectFailure::Connect(spread::Error::Rejected {
                address: "4803".into(),
                code: spread::wire::RejectCode::Auth,
            })),
        };
        assert_eq!(service.handle(refused), None);
        let status = service.status();
        assert_eq!(status.state, "refused");
        let error = status.error.expect("the refusal in the status");
        assert!(error.contains("access control"), "{error}");
        let at = service.deadline().expect("a reconnect deadline");
        assert!(
            at >= before + PERMANENT_RETRY,
            "retried after {:?}",
            at - before
        );
        // The attempt's own report comes from a link already left behind.
        let Ok(LoopEvent::Group(late)) = inbox.recv_timeout(Duration::from_secs(10)) else {
            panic!("no report of the connection attempt");
        };
        assert_eq!(service.handle(late), None);
        assert_eq!(service.status().state, "refused");
        // A transient failure later clears it: the daemon is merely away.
        service.link = Link::Connecting { id: 9 };
        let away = SessionReport::Connected {
            link: 9,
            result: Err(ConnectFailure::Connect(spread::Error::ConnectionClosed)),
        };
        assert_eq!(service.handle(away), None);
        assert_eq!(service.status().state, "waiting");
        assert_eq!(service.status().error, None);
    }

    #[test]
    fn reports_of_a_connection_left_behind_are_dropped() {
        let (mut service, _inbox) = service(nowhere());
        let lost = SessionReport::Lost {
            link: 3,
            error: spread::Error::ConnectionClosed,
        };
        assert_eq!(service.handle(lost), None);
        let late = SessionReport::Connected {
            link: 3,
            result: Err(ConnectFailure::Connect(spread::Error::ConnectionClosed)),
        };
        assert_eq!(service.handle(late), None);
        assert_eq!(service.status().state, "left");
        assert_eq!(service.deadline(), None);
    }

    #[test]
    fn the_status_names_spread_and_its_socket() {
        let (service, _inbox) = service(SpreadAddress::Tcp {
            port: 4803,
            host: "10.0.0.1".into(),
        });
        let status = service.status();
        assert_eq!(status.name, "spread");
        assert_eq!(status.endpoint, "tcp:10.0.0.1:4803");
    }
}
