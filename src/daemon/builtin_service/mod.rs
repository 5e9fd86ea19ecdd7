//! The built-in membership as the daemon's group service: a membership
//! [`Node`](crate::membership::Node) for this node of the configured
//! `Nodes`, on a UDP socket bound to this node's own listed address and
//! `Port`, so that what we send leaves from the address the others know
//! us by (they refuse datagrams from any other source).
//!
//! The service itself ([`BuiltinService`]) is the pure part, on the
//! engine loop: it sends [`NodeCommand`]s to whoever drives the node, through
//! a [`NodeLink`], and turns the node's events, which come back as
//! [`NodeReport`]s, into group events through the [`Bridge`]: the epoch
//! filter, the translation, and the MATURING that a view change left
//! undelivered, multicast again once the next view is in the engine. The
//! daemon's link ([`ThreadLink`]) hands the commands to a thread of their
//! own that owns the node and the socket (see `worker.rs`) and wakes it
//! with one byte sent to its socket from a waker socket on our own
//! address, so that a multicast or a leave goes out within microseconds
//! rather than at the next heartbeat; the simulations' link applies them
//! to a simulated node instead. No call waits for the thread: the status
//! is the one the thread last published.
//!
//! Every join starts a new node, a new member with a new incarnation;
//! each join has an epoch, and events of an earlier one are dropped.
//! Every message is sent in agreed order, which is also reliable.

mod batch;
mod bounces;
mod describe;
mod limit;
mod worker;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

use super::bridge::{self, Bridge};
use super::group::{GroupEvent, GroupService, Reports, ServiceRefusal};
use crate::config::{
    self, Config, KeyFileError, MembershipConfig, MembershipKeys, OwnIndexError, ServiceConfig,
};
use crate::control::ServiceStatus;
use crate::descriptor;
use crate::engine::Delivery;
use crate::membership::{self, wire, Timing, ViewId};
use crate::net::iface;
use crate::net::lease::Lease;
use crate::{log_error, log_notice, log_warning};

use worker::{NodeSetup, NodeWorker};

/// What the service asks of whoever drives the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeCommand {
    /// Start a new node (a new member) with this incarnation; its events
    /// carry `epoch`.
    Join {
        /// The join's number.
        epoch: u64,
        /// The new member's incarnation.
        incarnation: u64,
    },
    /// Leave: the node sends its LEAVE datagrams and stops.
    Leave,
    /// One payload, in agreed order, for the view the engine was last
    /// told of (if that view has ended, it comes back undelivered).
    Multicast {
        /// The view it is meant for.
        view: ViewId,
        /// The bridge payload.
        payload: Vec<u8>,
    },
    /// New timing settings.
    Timing(Timing),
    /// New keys (a step of a key rotation): the node keeps its view.
    /// (Boxed: two keyed MAC states are large beside the other commands.)
    Keys(Box<wire::Keys>),
    /// Members a view needs (the node's quorum lease).
    Quorum(usize),
    /// End the driver.
    Stop,
}

/// Where the service's commands go.
pub trait NodeLink {
    /// Hands `command` to the node's driver; false if the driver is gone.
    fn command(&mut self, command: NodeCommand) -> bool;

    /// The node's status as its driver last published it, and when.
    fn status(&self) -> Option<(membership::Status, Instant)>;

    /// The announcer's lease, renewed by the driver while the node is in
    /// a view.
    fn lease(&self) -> Option<Arc<Lease>>;
}
/// Receive buffer asked of the kernel: a paused node finds what its peers
/// sent meanwhile (a 32-node cluster at short heartbeats sends thousands
/// of datagrams a second).
const RECEIVE_BUFFER: usize = 1 << 20;

/// An event of the node of join `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    /// The join it belongs to.
    pub epoch: u64,
    /// What the node said.
    pub event: membership::NodeEvent,
    /// An `Undelivered` that came back at once from a multicast meant for
    /// a view that had already ended (the events ending it came first).
    pub bounced: bool,
}

/// Why the built-in membership cannot start.
#[derive(Debug)]
pub enum BuiltinError {
    /// Without `Identity`, the host's addresses decide which node we are.
    LocalAddresses(crate::net::Error),
    /// This host is not one of the listed nodes, or is several.
    OwnIndex(OwnIndexError),
    /// The key file cannot be used.
    Key(KeyFileError),
    /// The membership refuses the key.
    KeyRejected(wire::KeyError),
    /// The UDP socket cannot be bound.
    Bind {
        /// The address it was bound to.
        addr: SocketAddrV4,
        /// Why it failed.
        error: io::Error,
    },
    /// The worker's wake-up channel cannot be made.
    Waker(io::Error),
    /// The worker thread cannot be started.
    Thread(io::Error),
}

impl fmt::Display for BuiltinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuiltinError::LocalAddresses(err) => write!(
                f,
                "cannot find this node among Membership Nodes: {err}; set Identity to this \
                 node's address"
            ),
            BuiltinError::OwnIndex(err) => err.fmt(f),
            BuiltinError::Key(err) => err.fmt(f),
            BuiltinError::KeyRejected(err) => write!(f, "the membership key: {err}"),
            BuiltinError::Bind { addr, error } => write!(
                f,
                "cannot bind the membership socket to {addr} (this node's address in Membership \
                 Nodes, and Port): {error}"
            ),
            BuiltinError::Waker(err) => {
                write!(f, "cannot open the membership's wake-up socket: {err}")
            }
            BuiltinError::Thread(err) => write!(f, "cannot start the membership thread: {err}"),
        }
    }
}

impl std::error::Error for BuiltinError {}

/// The built-in membership as a group service, over a link `L` to the
/// node's driver.
pub struct BuiltinService<L> {
    /// Our own listed address and port, and our index in `Nodes`.
    own: SocketAddrV4,
    me: usize,
    nodes: Vec<Ipv4Addr>,
    /// The keys in use (`Key`, `AcceptKey`), to tell whether a reload
    /// changes them.
    keys: MembershipKeys,
    /// The keys a reload read and checked, taken at `reconfigure`.
    reloaded_keys: Option<MembershipKeys>,
    bridge: Bridge,
    link: L,
    epoch: u64,
    /// A node runs (between join and leave).
    joined: bool,
    /// Members a view needs: from 2 on, the node keeps a quorum lease.
    quorum: usize,
    /// Whether the engine has the current view: yes, no (withheld below
    /// the quorum, or out of any view), or not known yet (a view was
    /// given to the loop, which has not said). Decides what becomes of a
    /// MATURING that bounced off a view that had ended.
    engine_view: Option<bool>,
    last_incarnation: u64,
}

/// The daemon's link: the membership thread, woken through its socket.
pub struct ThreadLink {
    commands: Sender<NodeCommand>,
    /// Connected to the node's socket: one byte wakes the thread.
    waker: UdpSocket,
    thread: Option<JoinHandle<()>>,
    /// The announcer's, renewed by the thread while the node is in a view.
    lease: Arc<Lease>,
    /// What the thread last published of the node.
    published: Arc<Mutex<Option<(membership::Status, Instant)>>>,
}

impl NodeLink for ThreadLink {
    fn command(&mut self, command: NodeCommand) -> bool {
        if self.commands.send(command).is_err() {
            return false;
        }
        // A lost wake-up only delays the command to the node's next
        // deadline (a heartbeat at most).
        let _ = self.waker.send(&[0]);
        true
    }

    fn status(&self) -> Option<(membership::Status, Instant)> {
        self.published
            .lock()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |s| s.clone())
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        Some(self.lease.clone())
    }
}

impl Drop for ThreadLink {
    /// Stops the thread (a node still running sends its LEAVE first) and
    /// waits for it.
    fn drop(&mut self) {
        self.command(NodeCommand::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// This node's index in `membership.nodes`: the one `Identity` names, or
/// the only listed address this host has.
pub(super) fn own_index(
    config: &Config,
    membership: &MembershipConfig,
) -> Result<usize, BuiltinError> {
    let local = match config.identity {
        Some(_) => Vec::new(),
        None => iface::local_addresses().map_err(BuiltinError::LocalAddresses)?,
    };
    config::own_index(
        &membership.nodes,
        &membership.more_links,
        config.identity,
        &local,
    )
    .map_err(BuiltinError::OwnIndex)
}

impl BuiltinService<ThreadLink> {
    /// Finds this node among the listed ones, reads the key, binds the
    /// socket and starts the thread; the node itself starts at
    /// [`join`](GroupService::join).
    pub(super) fn start(
        config: &Config,
        membership: &MembershipConfig,
        reports: Reports<NodeReport>,
    ) -> Result<BuiltinService<ThreadLink>, BuiltinError> {
        let me = own_index(config, membership)?;
        let keys = config::load_keys(&membership.key, membership.accept_key.as_deref())
            .map_err(BuiltinError::Key)?;
        let wire_keys = wire_keys(&keys).map_err(BuiltinError::KeyRejected)?;
        let nodes: Vec<SocketAddrV4> = membership
            .nodes
            .iter()
            .map(|&addr| SocketAddrV4::new(addr, membership.port))
            .collect();
        let more_links: Vec<Vec<SocketAddrV4>> = membership
            .more_links
            .iter()
            .map(|link| {
                link.iter()
                    .map(|&addr| SocketAddrV4::new(addr, membership.port))
                    .collect()
            })
            .collect();
        let own = nodes[me];
        // One socket per link, bound to our address there: what we send
        // over a link leaves from that address, and a datagram's source
        // tells its link.
        let sockets = std::iter::once(own)
            .chain(more_links.iter().map(|link| link[me]))
            .map(|addr| bind(addr).map_err(|error| BuiltinError::Bind { addr, error }))
            .collect::<Result<Vec<UdpSocket>, BuiltinError>>()?;
        let waker = waker(own).map_err(BuiltinError::Waker)?;
        let waker_addr = waker.local_addr().map_err(BuiltinError::Waker)?;
        let (commands, inbox) = mpsc::channel();
        let lease = Arc::new(Lease::new(worker::lease_age(&membership.timing)));
        let published = Arc::new(Mutex::new(None));
        let worker = NodeWorker {
            sockets,
            waker: waker_addr,
            setup: NodeSetup {
                nodes,
                more_links,
                me,
                keys: wire_keys,
                timing: membership.timing,
                quorum: 0,
            },
            commands: inbox,
            reports,
            lease: lease.clone(),
            published: published.clone(),
        };
        let thread = thread::Builder::new()
            .name("membership".into())
            .spawn(move || worker.run())
            .map_err(BuiltinError::Thread)?;
        let link = ThreadLink {
            commands,
            waker,
            thread: Some(thread),
            lease,
            published,
        };
        Ok(BuiltinService::new(own, me, membership, keys, link))
    }
}

impl<L: NodeLink> BuiltinService<L> {
    /// The service of node `me` (listening on `own`) of `membership`,
    /// whose key files held `keys`, over `link`; it joins at
    /// [`join`](GroupService::join).
    pub fn new(
        own: SocketAddrV4,
        me: usize,
        membership: &MembershipConfig,
        keys: MembershipKeys,
        link: L,
    ) -> BuiltinService<L> {
        BuiltinService {
            own,
            me,
            nodes: membership.nodes.clone(),
            keys,
            reloaded_keys: None,
            bridge: Bridge::new(membership.nodes.clone()),
            link,
            epoch: 0,
            joined: false,
            quorum: 0,
            engine_view: Some(false),
            last_incarnation: 0,
        }
    }

    /// The link to the node's driver.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The link to the node's driver, for a simulation to drive it.
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// The current join's number: its node's events carry it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Multicasts `payload` to the view the engine knows of, if any.
    fn send(&mut self, payload: Vec<u8>) {
        if let (true, Some(view)) = (self.joined, self.bridge.view()) {
            self.link.command(NodeCommand::Multicast { view, payload });
        }
    }

    /// The incarnation of a new node. The wall clock in microseconds since
    /// the epoch: a restarted daemon must come back as a member with a
    /// larger incarnation than any earlier run of this node (the others
    /// refuse the datagrams of an incarnation older than the newest they
    /// heard, and count it as a new member), and nothing else survives a
    /// restart. Within one run, each join also takes more than the last
    /// in case the clock stood still or went back.
    fn next_incarnation(&mut self) -> u64 {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.last_incarnation = clock.max(self.last_incarnation.saturating_add(1));
        self.last_incarnation
    }
}

impl<L: NodeLink> GroupService for BuiltinService<L> {
    type Report = NodeReport;

    fn join(&mut self) {
        if self.joined {
            return;
        }
        self.epoch += 1;
        let incarnation = self.next_incarnation();
        self.joined = self.link.command(NodeCommand::Join {
            epoch: self.epoch,
            incarnation,
        });
        if self.joined {
            log_notice!(
                "membership: node {} of {} ({}), incarnation {incarnation}, joining",
                self.me + 1,
                self.nodes.len(),
                self.own
            );
        } else {
            log_error!("membership: the membership thread has stopped; cannot join");
        }
    }

    fn leave(&mut self) {
        if !std::mem::take(&mut self.joined) {
            return;
        }
        // What the ended view left to send again belongs to no one now,
        // and the engine has no view to send to.
        self.bridge = Bridge::new(self.nodes.clone());
        self.engine_view = Some(false);
        // Its LEAVE datagrams go out on the thread's next turn, within
        // microseconds; at the end, the thread is stopped only after it.
        self.link.command(NodeCommand::Leave);
    }

    fn multicast(&mut self, _delivery: Delivery, mess_type: i16, body: &[u8]) {
        self.send(bridge::encode(mess_type, body));
    }

    fn handle(&mut self, report: NodeReport) -> Option<GroupEvent> {
        if !self.joined || report.epoch != self.epoch {
            return None;
        }
        match &report.event {
            membership::NodeEvent::View { .. } => self.engine_view = None,
            membership::NodeEvent::Left(_) => self.engine_view = Some(false),
            _ => {}
        }
        let event = match self.bridge.translate(report.event) {
            // The node joins again by itself (a stall or a one-way link).
            Some(GroupEvent::Disconnected { reason }) => Some(GroupEvent::Disconnected {
                reason: format!("membership: out of the view: {reason}; joining again"),
            }),
            event => event,
        };
        if report.bounced && self.engine_view.is_some() {
            // A multicast the engine made for a view that had already
            // ended (the loop had not heard yet): it comes back after the
            // next view reached the engine, so it is sent again now; or
            // the engine has no view, and it is forgotten. (Before the
            // loop has said, `view_taken` decides.)
            self.view_taken(self.engine_view == Some(true));
        }
        event
    }

    fn view_taken(&mut self, taken: bool) {
        self.engine_view = Some(taken);
        let resends = self.bridge.take_resends();
        if taken {
            for payload in resends {
                self.send(payload);
            }
        }
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }

    fn on_deadline(&mut self) {}

    fn reconfigure(&mut self, config: &Config) {
        if let ServiceConfig::Membership(membership) = &config.service {
            self.link.command(NodeCommand::Timing(membership.timing));
        }
        if let Some(keys) = self.reloaded_keys.take() {
            self.change_keys(keys);
        }
    }

    fn set_quorum(&mut self, needed: usize) {
        self.quorum = needed;
        self.link.command(NodeCommand::Quorum(needed));
    }

    fn leases(&self) -> bool {
        self.quorum >= 2
    }

    fn name(&self) -> &'static str {
        "membership"
    }

    fn check_reload(&mut self, new: &Config) -> Result<(), ServiceRefusal> {
        // Key and AcceptKey may change, by path or content: read and
        // check them now, so that a bad key refuses the whole file.
        self.reloaded_keys = None;
        let ServiceConfig::Membership(membership) = &new.service else {
            return Ok(());
        };
        let keys = config::load_keys(&membership.key, membership.accept_key.as_deref())
            .map_err(ServiceRefusal::Key)?;
        self.reloaded_keys = Some(keys);
        Ok(())
    }

    fn identity(&self) -> Option<Ipv4Addr> {
        Some(*self.own.ip())
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        self.link.lease()
    }

    fn status(&self) -> ServiceStatus {
        let endpoint = format!("udp:{}", self.own);
        let node = if self.joined {
            self.link.status()
        } else {
            None
        };
        let state = match &node {
            _ if !self.joined => "left",
            None => "joining",
            Some((status, _)) if status.flushing => "changing view",
            Some((status, _)) if status.view.is_some() => "in view",
            Some(_) => "joining",
        };
        ServiceStatus {
            name: "membership".to_string(),
            endpoint,
            state: state.to_string(),
            membership: node
                .map(|(status, at)| describe::describe(&status, at, &self.nodes, &self.bridge)),
            error: None,
        }
    }
}

impl<L: NodeLink> BuiltinService<L> {
    /// Hands the node new keys when they differ from those in use (a
    /// step of a key rotation), and says so.
    fn change_keys(&mut self, keys: MembershipKeys) {
        if keys == self.keys {
            return;
        }
        match wire_keys(&keys) {
            Ok(wire) => {
                let also = wire.accepted().map_or(String::new(), |k| {
                    format!(", also accepting key {}", k.id())
                });
                log_notice!(
                    "membership: keys changed: sending under key {}{also}",
                    wire.current().id()
                );
                self.link.command(NodeCommand::Keys(Box::new(wire)));
                self.keys = keys;
            }
            // Not reached: load_keys checked the same rules.
            Err(err) => log_error!("membership: the new keys are refused: {err}"),
        }
    }
}

/// The membership's keys of the key files' contents.
fn wire_keys(keys: &MembershipKeys) -> Result<wire::Keys, wire::KeyError> {
    let accepted = keys.accepted.as_deref().map(wire::Key::new).transpose()?;
    wire::Keys::new(wire::Key::new(&keys.current)?, accepted)
}

/// The node's socket: bound to our own listed address, so that what we
/// send leaves from it; non-blocking (the thread waits with `ppoll`).
fn bind(own: SocketAddrV4) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    socket.bind(&SocketAddr::V4(own).into())?;
    socket.set_nonblocking(true)?;
    let socket: UdpSocket = descriptor::lift(socket).into();
    // The port unreachable of a peer whose daemon is gone (PortUnreachable):
    // without it, such a peer is noticed only by time-out.
    if let Err(err) = bounces::enable(&socket) {
        log_warning!("membership: cannot ask for ICMP errors (IP_RECVERR): {err}");
    }
    // Released before the announcer's packet sockets when we are killed,
    // like the Spread session: our host then answers the peers' next
    // heartbeats with port unreachable.
    Ok(socket)
}

/// A socket on our own address whose datagrams the thread recognises by
/// their source and only wake it.
fn waker(own: SocketAddrV4) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddrV4::new(*own.ip(), 0))?;
    socket.connect(own)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
