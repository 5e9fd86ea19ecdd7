//! What a node hands to its driver: the datagrams to send, the events
//! of the group, and the errors of the requests it refuses.

use std::fmt;
use std::net::SocketAddrV4;

use super::wire::{self, Member, ViewId, MAX_NODES};

/// Own multicasts waiting to be sequenced, at most.
pub(super) const MAX_OUTGOING: usize = 256;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The destination's index in the configured list.
    pub to: u8,
    /// The link to send it over (0 for the first address of each node):
    /// the driver's socket bound to our address on that link.
    pub link: u8,
    /// The destination's address on that link.
    pub addr: SocketAddrV4,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Why a node is no longer in any view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftReason {
    /// [`Node::leave`](super::Node::leave) was called.
    Requested,
    /// We were silent longer than the others allow (paused or starved):
    /// they have surely moved on without us.
    Stalled,
    /// A node we hear does not hear us: we step back (one-way link).
    Deferred,
    /// The coordinator of our view (or of the proposal we answered)
    /// installed a view without us: what we hold may be someone else's.
    Excluded,
}

impl LeftReason {
    /// The reason in words, for the log.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftReason::Requested => "left on request",
            LeftReason::Stalled => "silent longer than the time-out (paused or starved)",
            LeftReason::Deferred => "a node we hear does not hear us (one-way link)",
            LeftReason::Excluded => "our coordinator formed a view without us",
        }
    }
}

/// What the node tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// We are about to install our first view (since start or since `Left`).
    Joined,
    /// A new view: its members in configured order, and our position.
    View {
        /// The view's id.
        id: ViewId,
        /// Its members.
        members: Vec<Member>,
        /// Our position in `members`.
        my_index: usize,
    },
    /// A message of the current view (or the end of the previous one,
    /// just before a `View`), in agreed order.
    Deliver {
        /// The member that multicast it.
        origin: Member,
        /// What it multicast.
        payload: Vec<u8>,
    },
    /// One of our multicasts that its view ended without delivering (to
    /// us or anyone): the user may send it again in the next view. Given
    /// before the `View` or `Left` that ends that view.
    Undelivered {
        /// What we multicast.
        payload: Vec<u8>,
    },
    /// We are in no view any more.
    Left(LeftReason),
    /// The quorum lease (module documentation, "Quorum lease"): `false`
    /// the moment it lapses while we are in a view, `true` when it holds
    /// again while a view is installed here. After `Joined` it counts as
    /// lapsed until the first `Lease(true)`; `Left` ends it without a
    /// `Lease(false)`. Without a quorum ([`Node::set_quorum`] 0 or 1)
    /// `Lease(true)` follows the first `View` and no lapse comes.
    ///
    /// [`Node::set_quorum`]: super::Node::set_quorum
    Lease(bool),
}

/// Why a multicast was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MulticastError {
    /// No view is installed.
    NoView,
    /// The view it was meant for has ended (the payload comes back as
    /// [`NodeEvent::Undelivered`]).
    ViewEnded,
    /// The payload is longer than [`wire::MAX_PAYLOAD`].
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// Too many of our messages wait for the sequencer.
    Backlog,
    /// [`Node::leave`](super::Node::leave) was called.
    Gone,
}

impl fmt::Display for MulticastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MulticastError::NoView => write!(f, "no view is installed"),
            MulticastError::ViewEnded => write!(f, "its view has ended"),
            MulticastError::TooLarge { len } => write!(
                f,
                "a message of {len} bytes is longer than the {} allowed",
                wire::MAX_PAYLOAD
            ),
            MulticastError::Backlog => {
                write!(f, "{MAX_OUTGOING} messages already wait for the sequencer")
            }
            MulticastError::Gone => write!(f, "this node has left"),
        }
    }
}

impl std::error::Error for MulticastError {}

/// Why a node cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeError {
    /// No node, or more than [`MAX_NODES`].
    NodeCount(usize),
    /// Our index is not in the list.
    NotListed {
        /// Our index.
        me: usize,
        /// Nodes listed.
        count: usize,
    },
    /// More links than [`MAX_LINKS`](super::links::MAX_LINKS).
    LinkCount(usize),
    /// A further link that lists another number of nodes than the first.
    LinkNodes {
        /// The link, counted from 1.
        link: usize,
        /// Addresses it lists.
        count: usize,
        /// Nodes listed on the first link.
        nodes: usize,
    },
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::NodeCount(n) => {
                write!(f, "{n} nodes listed; between 1 and {MAX_NODES} are allowed")
            }
            NodeError::NotListed { me, count } => {
                write!(f, "node index {me} is not among the {count} listed")
            }
            NodeError::LinkCount(n) => write!(
                f,
                "{n} links; between 1 and {} are allowed",
                super::links::MAX_LINKS
            ),
            NodeError::LinkNodes { link, count, nodes } => write!(
                f,
                "link {link} lists {count} addresses for {nodes} nodes; every node needs one on \
                 each link"
            ),
        }
    }
}

impl std::error::Error for NodeError {}
