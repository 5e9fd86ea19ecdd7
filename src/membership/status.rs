//! What a node reports about itself and the other listed nodes.

use std::time::Instant;

use super::links::LinkStatus;
use super::wire::{KeyId, Member, ViewId};

/// Datagrams refused, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Too short, too long, not ours, or a body that does not parse.
    pub malformed: u64,
    /// The authentication code does not match (wrong key or altered).
    pub bad_mac: u64,
    /// Authenticated, but from a node configured with another node list.
    pub wrong_cluster: u64,
    /// Authenticated, but not for us, or from an unlisted sender index,
    /// or from an address other than the sender's listed one.
    pub misdirected: u64,
    /// From an incarnation older than the newest we heard, or one that
    /// has left.
    pub old_incarnation: u64,
    /// A counter seen already, or older than the replay window.
    pub replayed: u64,
}

impl Refusals {
    /// Every refused datagram, whatever the reason.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.bad_mac
            + self.wrong_cluster
            + self.misdirected
            + self.old_incarnation
            + self.replayed
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Refusals) {
        self.malformed += other.malformed;
        self.bad_mac += other.bad_mac;
        self.wrong_cluster += other.wrong_cluster;
        self.misdirected += other.misdirected;
        self.old_incarnation += other.old_incarnation;
        self.replayed += other.replayed;
    }
}

/// How we see one listed node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// This node.
    Myself,
    /// A member of our current view.
    InView,
    /// Heard both ways, but not in our view (yet).
    Reachable,
    /// Heard once, not any more (or it left).
    Suspected,
    /// Never heard, or only one way.
    Unreachable,
}

impl NodeState {
    /// The state in words, as the status output spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Myself => "self",
            NodeState::InView => "in view",
            NodeState::Reachable => "reachable",
            NodeState::Suspected => "suspected",
            NodeState::Unreachable => "unreachable",
        }
    }
}

/// One listed node, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its index in the node list.
    pub node: u8,
    /// How we see it.
    pub state: NodeState,
    /// Its newest incarnation heard (ours for this node).
    pub incarnation: Option<u64>,
    /// When its last datagram was accepted; none if never.
    pub last_heard: Option<Instant>,
    /// Refused datagrams that authenticated as this node's.
    pub refusals: Refusals,
    /// The key its last accepted datagram was signed under (for this
    /// node: the key it sends under); none if never heard.
    pub key: Option<KeyId>,
    /// Each of its links, in the order of its addresses (empty for this
    /// node).
    pub links: Vec<LinkStatus>,
    /// Copies of its datagrams that came over a second link and were
    /// dropped (not refusals: redundant links send each datagram over
    /// every link).
    pub duplicates: u64,
}

/// What a node reports about itself and the other listed nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node's index in the list.
    pub me: u8,
    /// This node's incarnation.
    pub incarnation: u64,
    /// Our installed view, if any.
    pub view: Option<(ViewId, Vec<Member>)>,
    /// The coordinator we follow.
    pub choice: Option<u8>,
    /// Whether a view change is under way here.
    pub flushing: bool,
    /// Every listed node, in list order (this one included).
    pub nodes: Vec<NodeStatus>,
    /// Refused datagrams no node can be blamed for (failed authentication
    /// or malformed before it).
    pub refusals: Refusals,
    /// Multicasts dropped: asked while in no view, or left unsequenced
    /// when a view ended.
    pub dropped_multicasts: u64,
    /// Views installed since the start.
    pub views_installed: u64,
    /// Peers suspected at once because their host answered with ICMP
    /// port unreachable (see `unreachable.rs`).
    pub unreachable_suspicions: u64,
    /// The quorum lease.
    pub lease: QuorumLease,
    /// The key this node sends under.
    pub key: KeyId,
    /// The other key it accepts datagrams under, if any.
    pub accepted_key: Option<KeyId>,
}

/// The quorum lease as a node reports it (module documentation of
/// [`crate::membership`], "Quorum lease").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumLease {
    /// No quorum is set (0 or 1): the lease always holds.
    NotRequired,
    /// Held (the last `Lease` event said so) until this instant unless
    /// the echoes renew it.
    Held {
        /// When it lapses unless renewed.
        until: Instant,
    },
    /// Not held: in no view, or a quorum of echoes is missing, or it came
    /// back during a view change and waits for the view's install.
    Lapsed,
}

impl QuorumLease {
    /// The state in words, as the status output spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumLease::NotRequired => "not required",
            QuorumLease::Held { .. } => "held",
            QuorumLease::Lapsed => "lapsed",
        }
    }
}
