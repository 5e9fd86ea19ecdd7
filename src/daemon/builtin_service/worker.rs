//! The thread that drives the membership [`Node`]: it owns the UDP sockets
//! (one per link, bound to our address on it) and the node, and is the
//! only one to touch either.
//!
//! Each turn of its loop:
//!
//! 1. waits until a socket has a datagram or the node's next deadline
//!    (`poll_timeout`) comes; the engine loop wakes it early for a
//!    command by sending one byte to the first socket from its waker
//!    socket. From ten nodes on, when the last turn read datagrams, it
//!    first naps for a twentieth of a heartbeat (`NAP_PER_HEARTBEAT`;
//!    1 ms at the defaults; never past the deadline);
//! 2. reads *every* datagram already queued (non-blocking, up to 32 in
//!    one `recvmmsg`, see `batch.rs`, until a read finds the socket
//!    emptied or empty),
//!    hands each to the node and lets the node settle once per read, then,
//!    for each socket that reported an error, the ICMP errors queued for
//!    our datagrams (a port unreachable goes to the node: see
//!    `bounces.rs`);
//! 3. carries out the commands of the engine loop (join, leave,
//!    multicast, settings, keys, status, stop);
//! 4. only then fires the node's timers (`handle_timeout`).
//!
//! **The nap.** From ten nodes on, a quiet node gets about eight
//! heartbeats a period, from peers whose periods line up only roughly,
//! so they arrive over a millisecond or two; woken by each, it would read
//! one or two at a time, and on a small machine a wake-up costs more than
//! reading a datagram. Napping after a read lets the next ones gather, so
//! a period's heartbeats are read in fewer wake-ups: at 32 nodes, on a
//! two-core VM, a node's wake-ups fell from about 300 a second to 215
//! and its idle CPU by a tenth to a fifth, and a view change, whose burst
//! of datagrams kept both cores busy, ended sooner. The price is up to a
//! nap's delay on a datagram that arrives during one, so on each step of
//! a view change; below ten nodes, where a period brings one or two
//! heartbeats and the failover figures matter most, there is no nap.
//!
//! The order of 2 before 4 is what a process that was stopped or starved
//! for a while needs: when it runs again, what its peers said while it
//! slept is read before its own timers act on what it knew before. (The
//! node also sees, on its first call after such a pause, that it was
//! silent longer than its peers allow, and gives up its view at once.)
//!
//! Datagrams to send and events are taken out of the node after each
//! step: datagrams go out at once (those of one link in one `sendmmsg`),
//! events go to the engine loop tagged with the epoch of the join they
//! belong to, and a link to a peer that goes silent or comes back is
//! logged (once per change).
//!
//! While the node is in a view, each turn renews the announcer's
//! [`Lease`] with the time of the node's last heartbeat, and the lease
//! lasts half a time-out. The node gives its view up when its heartbeats
//! are `3/4 × Timeout` old; so whenever the announcer finds the lease
//! valid, the node would not find itself stalled at that moment. After a
//! pause, the announcer holds its frames until the node has had its turn,
//! and the engine loop cancels them when the node has given up its view.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::batch::{self, Inbox};
use super::bounces::{self, Queued};
use super::limit::{RefusalLog, Slot};
use super::{NodeCommand, NodeReport};
use crate::daemon::group::Reports;
use crate::membership::{
    wire::Keys, LinkChange, MulticastError, Node, NodeEvent, Refusals, Status, Timing, Transmit,
    ViewId,
};
use crate::net::lease::Lease;
use crate::{log, log_debug, log_error, log_notice, log_warning};

/// Longest wait when no node runs (left): only a command wakes us.
const IDLE_WAIT: Duration = Duration::from_secs(3600);
/// Most datagrams read in one turn before the timers get their turn: far
/// more than the receive buffer can hold from the cluster itself, so only
/// a flood of datagrams ever reaches it, and it cannot starve our own
/// heartbeats.
const MAX_DRAIN: usize = 4096;
/// Longest datagram the protocol sends, plus room to see a longer one.
const BUFFER: usize = 65_536;
/// A nap (module documentation, "The nap") lasts the heartbeat period
/// divided by this.
const NAP_PER_HEARTBEAT: u32 = 20;
/// How stale the published status may grow while nothing changes.
const STATUS_PERIOD: Duration = Duration::from_millis(250);

/// What a node is built from, each time the service joins.
pub(super) struct NodeSetup {
    pub nodes: Vec<SocketAddrV4>,
    /// Each further link's addresses, as [`Node::with_links`] takes them.
    pub more_links: Vec<Vec<SocketAddrV4>>,
    pub me: usize,
    pub keys: Keys,
    pub timing: Timing,
    /// Members a view needs (the quorum lease).
    pub quorum: usize,
}

pub(super) struct NodeWorker {
    /// One per link, in link order.
    pub sockets: Vec<UdpSocket>,
    /// Where the engine loop's wake-up bytes come from.
    pub waker: SocketAddr,
    pub setup: NodeSetup,
    pub commands: Receiver<NodeCommand>,
    pub reports: Reports<NodeReport>,
    /// Renewed while the node is in a view (see the module documentation).
    pub lease: Arc<Lease>,
    /// Where the node's status is published for the engine loop.
    pub published: Arc<Mutex<Option<(Status, Instant)>>>,
}

/// How long the lease lasts after the node's last heartbeat: between the
/// longest gap between two heartbeats (a third of the time-out at most)
/// and the silence after which the node gives up its view (3/4).
pub(super) fn lease_age(settings: &Timing) -> std::time::Duration {
    settings.timeout / 2
}

/// The running thread's state beside what it was given.
struct Driver {
    w: NodeWorker,
    node: Option<Node>,
    epoch: u64,
    /// The node has a view (a `View` came, and no `Left` since).
    in_view: bool,
    /// The last multicast came back at once: its view had ended.
    bounced: bool,
    refusals: RefusalLog,
    /// The node's refusals as last logged.
    refusals_seen: Refusals,
    /// Failed sends, by destination index.
    send_errors: Vec<Slot>,
    receive_errors: Slot,
    /// Bit `k`: the socket of link `k` reported an error (its error queue
    /// holds something).
    errors_queued: u8,
    /// Where a read of the socket puts its datagrams.
    inbox: Inbox,
    /// Where an error queue's entry is read to.
    buffer: Vec<u8>,
    /// When the status was last published, and whether a view change
    /// since asks for it at once.
    published_at: Option<Instant>,
    publish_now: bool,
    /// The last turn read datagrams (see "The nap").
    read_any: bool,
}

impl NodeWorker {
    /// Runs the loop until told to stop or the engine loop is gone.
    pub(super) fn run(self) {
        let nodes = self.setup.nodes.len();
        let mut driver = Driver {
            w: self,
            node: None,
            epoch: 0,
            in_view: false,
            bounced: false,
            refusals: RefusalLog::default(),
            refusals_seen: Refusals::default(),
            send_errors: vec![Slot::default(); nodes],
            receive_errors: Slot::default(),
            errors_queued: 0,
            inbox: Inbox::new(),
            buffer: vec![0; BUFFER],
            published_at: None,
            publish_now: true,
            read_any: false,
        };
        driver.run();
    }
}

impl Driver {
    fn run(&mut self) {
        loop {
            self.wait();
            self.drain();
            self.drain_errors();
            // Events first: the engine loop should learn of a new view
            // before it asks us to send anything more.
            if !self.flush() || !self.commands() {
                break;
            }
            let now = Instant::now();
            if let Some(node) = &mut self.node {
                if node.poll_timeout().is_some_and(|at| at <= now) {
                    node.handle_timeout(now);
                }
            }
            if !self.flush() {
                break;
            }
            if let (true, Some(node)) = (self.in_view, &self.node) {
                self.w.lease.renew(node.last_heartbeat());
            }
            for (level, line) in self.refusals.due(now) {
                log::emit(level, format_args!("{line}"));
            }
            self.publish(now);
        }
        if let Some(node) = &mut self.node {
            node.leave(Instant::now());
            self.flush();
        }
    }

    /// Sleeps until a datagram (or a wake-up) arrives or the node's next
    /// deadline.
    fn wait(&mut self) {
        let now = Instant::now();
        let wait = match self.node.as_ref().and_then(Node::poll_timeout) {
            Some(at) => at.saturating_duration_since(now),
            None => IDLE_WAIT,
        };
        if wait.is_zero() {
            return;
        }
        let nap = self.nap().min(wait);
        if !nap.is_zero() {
            std::thread::sleep(nap);
        }
        match batch::wait_readable(&self.w.sockets, wait - nap) {
            Ok(errors) => self.errors_queued |= errors,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                log_error!("membership: cannot wait on the socket: {err}");
                // Do not spin on a failing poll.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// How long to nap before watching the sockets again (module
    /// documentation, "The nap"): only after a turn that read datagrams,
    /// in a cluster whose heartbeats go in turn.
    fn nap(&mut self) -> Duration {
        let in_turn = self.node.as_ref().is_some_and(Node::heartbeats_in_turn);
        if std::mem::take(&mut self.read_any) && in_turn {
            self.w.setup.timing.heartbeat / NAP_PER_HEARTBEAT
        } else {
            Duration::ZERO
        }
    }

    /// Reads what the sockets hold, until each is empty.
    fn drain(&mut self) {
        for link in 0..self.w.sockets.len() {
            self.drain_link(link);
        }
    }

    /// Reads what the socket of `link` holds, until it is empty: each
    /// read takes every datagram queued (up to [`batch::SLOTS`]), the node
    /// takes them one by one and settles once after each read.
    fn drain_link(&mut self, link: usize) {
        for _ in 0..MAX_DRAIN / batch::SLOTS {
            let count = match self.inbox.receive(&self.w.sockets[link]) {
                Ok(count) => {
                    self.read_any = true;
                    count
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error for one of our datagrams: its details wait
                // on the error queue.
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    self.errors_queued |= 1 << link;
                    continue;
                }
                Err(err) => {
                    self.errors_queued |= 1 << link;
                    // ICMP errors for earlier sends and the like: the
                    // datagram is gone, the socket still works.
                    let own = SocketAddr::V4(self.w.setup.nodes[self.w.setup.me]);
                    if let Some((count, _)) = self.receive_errors.note(own, Instant::now()) {
                        log_debug!("membership: {count} receive errors, the latest: {err}");
                    }
                    continue;
                }
            };
            let Some(node) = &mut self.node else {
                continue;
            };
            let now = Instant::now();
            for i in 0..count {
                let (from, bytes) = self.inbox.datagram(i);
                // Not IPv4 (never on these sockets), or a wake-up.
                let Some(from) = from.filter(|&f| f != self.w.waker) else {
                    continue;
                };
                node.take_datagram(from, bytes, now);
                if node.refused_count() != self.refusals_seen.total() {
                    let after = node.refusals();
                    for (level, line) in self.refusals.note(&self.refusals_seen, &after, from, now)
                    {
                        log::emit(level, format_args!("{line}"));
                    }
                    self.refusals_seen = after;
                }
            }
            node.settle(now);
            // The socket held fewer than a read takes: it is empty now
            // (what arrives from here on wakes the next wait), and asking
            // again would cost a call that finds nothing.
            if count < batch::SLOTS {
                return;
            }
        }
    }

    /// Reads the error queue of each socket that reported an error: each
    /// port unreachable goes to the node (whichever link's address it
    /// names), the rest is dropped.
    fn drain_errors(&mut self) {
        let queued = std::mem::take(&mut self.errors_queued);
        for link in 0..self.w.sockets.len() {
            if queued & (1 << link) != 0 {
                self.drain_link_errors(link);
            }
        }
    }

    /// Reads the error queue of the socket of `link`.
    fn drain_link_errors(&mut self, link: usize) {
        for _ in 0..MAX_DRAIN {
            let queued = match bounces::take(&self.w.sockets[link], &mut self.buffer) {
                Ok(Some(queued)) => queued,
                Ok(None) => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    log_debug!("membership: cannot read the socket's error queue: {err}");
                    return;
                }
            };
            if let (Queued::PortUnreachable { to, len }, Some(node)) = (queued, &mut self.node) {
                node.handle_unreachable(SocketAddr::V4(to), &self.buffer[..len], Instant::now());
            }
        }
        // More than a turn's worth: the rest next turn.
        self.errors_queued |= 1 << link;
    }

    /// Carries out the pending commands; false when told to stop.
    fn commands(&mut self) -> bool {
        loop {
            let command = match self.w.commands.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let now = Instant::now();
            match command {
                NodeCommand::Join { epoch, incarnation } => self.join(epoch, incarnation, now),
                NodeCommand::Leave => {
                    self.out_of_view();
                    if let Some(mut node) = self.node.take() {
                        node.leave(now);
                        self.send_all(&mut node);
                    }
                    self.publish_now = true;
                }
                NodeCommand::Multicast { view, payload } => self.multicast(view, payload, now),
                NodeCommand::Timing(timing) => {
                    self.w.setup.timing = timing;
                    self.w.lease.set_max_age(lease_age(&timing));
                    if let Some(node) = &mut self.node {
                        node.set_timing(timing);
                    }
                }
                NodeCommand::Keys(keys) => {
                    // Between two datagrams: the node keeps its view.
                    if let Some(node) = &mut self.node {
                        node.set_keys((*keys).clone());
                    }
                    self.w.setup.keys = *keys;
                    self.publish_now = true;
                }
                NodeCommand::Quorum(needed) => {
                    self.w.setup.quorum = needed;
                    if let Some(node) = &mut self.node {
                        node.set_quorum(needed);
                    }
                }
                NodeCommand::Stop => return false,
            }
            if !self.flush() {
                return false;
            }
        }
    }

    fn join(&mut self, epoch: u64, incarnation: u64, now: Instant) {
        let setup = &self.w.setup;
        match Node::with_links(
            setup.nodes.clone(),
            setup.more_links.clone(),
            setup.me,
            setup.keys.clone(),
            setup.timing,
            incarnation,
            now,
        ) {
            Ok(mut node) => {
                node.set_quorum(setup.quorum);
                self.node = Some(node);
                // A new node counts its refusals from zero.
                self.refusals_seen = Refusals::default();
                self.epoch = epoch;
                self.out_of_view();
            }
            Err(err) => log_error!("membership: cannot start this node: {err}"),
        }
    }

    fn multicast(&mut self, view: ViewId, payload: Vec<u8>, now: Instant) {
        let Some(node) = &mut self.node else {
            return;
        };
        match node.multicast(view, payload, now) {
            Ok(()) => {}
            // Its view ended before the engine loop heard: it comes back
            // as `Undelivered` (after the events that ended the view).
            Err(MulticastError::ViewEnded) => {
                self.bounced = true;
                log_debug!("membership: a message of a view that has ended comes back")
            }
            Err(MulticastError::NoView) => {
                log_debug!("membership: a message dropped outside any view")
            }
            Err(MulticastError::Gone) => {}
            Err(err @ (MulticastError::TooLarge { .. } | MulticastError::Backlog)) => {
                log_warning!("membership: a message dropped: {err}")
            }
        }
    }

    /// Sends what the node has to send and hands its events to the engine
    /// loop; false once the loop is gone.
    fn flush(&mut self) -> bool {
        let Some(mut node) = self.node.take() else {
            return true;
        };
        self.send_all(&mut node);
        while let Some(change) = node.poll_link_change() {
            self.log_link(change);
        }
        let mut alive = true;
        let bounced = std::mem::take(&mut self.bounced);
        while let Some(event) = node.poll_event() {
            match event {
                NodeEvent::View { .. } => {
                    self.in_view = true;
                    self.publish_now = true;
                }
                NodeEvent::Left(_) => {
                    self.out_of_view();
                    self.publish_now = true;
                }
                _ => {}
            }
            alive &= self.w.reports.send(NodeReport {
                epoch: self.epoch,
                bounced: bounced && matches!(event, NodeEvent::Undelivered { .. }),
                event,
            });
        }
        self.node = Some(node);
        alive
    }

    /// Publishes the node's status for the engine loop: after a view
    /// change, else every [`STATUS_PERIOD`].
    fn publish(&mut self, now: Instant) {
        let due = self.published_at.map_or(true, |at| {
            now.saturating_duration_since(at) >= STATUS_PERIOD
        });
        if !(self.publish_now || due) {
            return;
        }
        self.publish_now = false;
        self.published_at = Some(now);
        let status = self.node.as_ref().map(|n| (n.status(), now));
        match self.w.published.lock() {
            Ok(mut slot) => *slot = status,
            Err(poisoned) => *poisoned.into_inner() = status,
        }
    }

    /// The node has no view: the announcer holds everything back.
    fn out_of_view(&mut self) {
        self.in_view = false;
        self.w.lease.revoke();
    }

    /// A link to a peer went silent or came back: said once per change.
    fn log_link(&self, change: LinkChange) {
        let setup = &self.w.setup;
        let node = usize::from(change.node);
        let link = usize::from(change.link);
        let name = setup.nodes.get(node).map(|a| *a.ip());
        let addr = if link == 0 {
            setup.nodes.get(node)
        } else {
            setup.more_links.get(link - 1).and_then(|l| l.get(node))
        }
        .map(|a| *a.ip());
        let (Some(name), Some(addr)) = (name, addr) else {
            return;
        };
        if change.up {
            log_notice!(
                "membership: link {} to node {name} ({addr}) works again",
                link + 1
            );
        } else {
            log_warning!(
                "membership: link {} to node {name} ({addr}) is down: nothing heard over it for \
                 the time-out (the node is still heard while another link works)",
                link + 1
            );
        }
    }

    /// Sends what the node has to send: one call per link for all of it
    /// (a heartbeat tick's datagrams to every peer go together).
    fn send_all(&mut self, node: &mut Node) {
        let mut transmits = Vec::new();
        while let Some(transmit) = node.poll_transmit() {
            transmits.push(transmit);
        }
        for link in 0..self.w.sockets.len() {
            let ours: Vec<&Transmit> = transmits
                .iter()
                .filter(|t| usize::from(t.link) == link)
                .collect();
            if ours.is_empty() {
                continue;
            }
            let datagrams: Vec<(SocketAddrV4, &[u8])> =
                ours.iter().map(|t| (t.addr, t.bytes.as_slice())).collect();
            let mut failures = Vec::new();
            batch::send_all(&self.w.sockets[link], &datagrams, |i, err| {
                failures.push((i, err));
            });
            for (i, err) in failures {
                let transmit = ours[i];
                let mut sent = Err(err);
                if sent.as_ref().is_err_and(earlier_error) {
                    // The error of an earlier datagram over this link (its
                    // ICMP answer, or the host found unreachable on a cut
                    // link), handed to this send instead: its details wait
                    // on this socket's error queue, and this datagram was
                    // not sent yet.
                    self.errors_queued |= 1 << link;
                    sent = self.w.sockets[link]
                        .send_to(&transmit.bytes, transmit.addr)
                        .map(drop);
                }
                if let Err(err) = sent {
                    self.note_send_error(transmit, &err);
                }
            }
        }
    }

    fn note_send_error(&mut self, transmit: &Transmit, err: &io::Error) {
        let slot = &mut self.send_errors[usize::from(transmit.to)];
        if let Some((count, to)) = slot.note(SocketAddr::V4(transmit.addr), Instant::now()) {
            log_warning!(
                "membership: cannot send to {to}: {err} ({count} failed sends since the last such \
                 line)"
            );
        }
    }
}

/// An error that a send may be handed for an earlier datagram (with
/// `IP_RECVERR` the kernel reports every ICMP error, and the host
/// unreachable of a failed neighbour lookup, to the socket's next call):
/// the datagram at hand was not sent and is tried once more.
fn earlier_error(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH)
    )
}
