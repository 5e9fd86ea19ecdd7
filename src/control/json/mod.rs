//! The JSON status document (request byte 3); what each field means is
//! listed once, in the README (section "wackatrl").
//!
//! This module holds the document's types, which the daemon serializes.
//! `wackatrl --json` prints replies as received once [`check`] has found
//! them well-formed (the grammar, depth and size limits); `wackatrl -l`
//! and the tests read them back with
//! [`JsonStatus::decode`](decode), which parses them into a [`value`]
//! tree and decodes that, and which no reply can make panic or loop.

pub mod check;
pub mod decode;
pub mod value;

use nanoserde::SerJson;

use crate::base::VifAddress;

/// The JSON document; field meanings in the README (section "wackatrl").
#[derive(Debug, Clone, PartialEq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonStatus {
    /// The engine's phase: `BOOT`, `GATHER`, `RUN` or `DISCONNECTED`.
    pub state: String,
    /// Whether this node has matured.
    pub mature: bool,
    /// This node's real address.
    pub identity: Option<String>,
    /// The installed view's group id, as Spread delivers it.
    pub view_id: Option<Vec<u32>>,
    /// Members in the view.
    pub member_count: usize,
    /// Configured VIFs.
    pub vif_count: usize,
    /// VIFs with an owner.
    pub acquired_count: usize,
    /// VIFs this node holds.
    pub held_count: usize,
    /// Per member, in view order.
    pub members: Vec<JsonMember>,
    /// Per VIF, in configuration order.
    pub vifs: Vec<JsonVif>,
    /// Absent from the documents of daemons that predate it.
    pub service: Option<JsonService>,
    /// Absent from the documents of daemons that predate it.
    pub quorum: Option<JsonQuorum>,
    /// This node's trackers; absent from the documents of daemons that
    /// predate them.
    pub trackers: Option<Vec<JsonTracker>>,
}

/// One tracker of this node.
#[derive(Debug, Clone, PartialEq, SerJson)]
pub struct JsonTracker {
    /// `interface`, `vif-interface`, `command` or `file`.
    pub kind: String,
    /// The interface name, the command line or the file's path.
    pub target: String,
    /// `pending`, `passing` or `failing`.
    pub state: String,
    /// Milliseconds in that state.
    pub since_ms: u64,
    /// The last thing observed (the first line of a command's output,
    /// at most 200 characters).
    pub last_result: String,
}

/// The group service, as it describes itself.
#[derive(Debug, Clone, PartialEq, SerJson)]
pub struct JsonService {
    /// `spread` or `membership`.
    pub name: String,
    /// Where the service is reached.
    pub endpoint: String,
    /// The service's own state, in its own words.
    pub state: String,
    /// Only for the built-in membership (left out otherwise).
    pub membership: Option<JsonMembership>,
    /// Only while a failure needs someone to act (left out otherwise).
    pub error: Option<String>,
}

/// The built-in membership as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonMembership {
    /// This node's index in `Nodes`.
    pub node: usize,
    /// This node's incarnation.
    pub incarnation: u64,
    /// The installed view, if any.
    pub view: Option<JsonMembershipView>,
    /// The node this one follows, if it has chosen one.
    pub coordinator: Option<String>,
    /// Whether a view change is under way here.
    pub changing_view: bool,
    /// Views installed since the start.
    pub views_installed: u64,
    /// Multicasts dropped between views.
    pub dropped_multicasts: u64,
    /// Refused datagrams no listed node can be blamed for.
    pub refused: JsonRefused,
    /// Every listed node, in `Nodes` order.
    pub nodes: Vec<JsonNode>,
    /// The quorum lease: `not required`, `held` or `lapsed` (absent from
    /// older daemons).
    pub lease: Option<String>,
    /// While held: milliseconds until it lapses unless renewed.
    pub lease_remaining_ms: Option<u64>,
    /// The id of the key this node sends under (8 hex digits; absent
    /// from older daemons).
    pub key: Option<String>,
    /// The id of the other key it accepts, if any.
    pub accepted_key: Option<String>,
    /// Peers suspected at once on an ICMP port unreachable (absent from
    /// older daemons).
    pub unreachable_suspicions: Option<u64>,
}

/// An installed view of the built-in membership.
#[derive(Debug, Clone, PartialEq, Eq, SerJson)]
pub struct JsonMembershipView {
    /// Logical time of the view id.
    pub ltime: u64,
    /// Index of the coordinator in `Nodes`.
    pub coordinator: usize,
    /// The coordinator's incarnation.
    pub incarnation: u64,
    /// `ADDRESS/INCARNATION`, in `Nodes` order.
    pub members: Vec<String>,
}

/// Refused datagrams, by reason.
#[derive(Debug, Clone, PartialEq, Eq, SerJson)]
pub struct JsonRefused {
    /// Datagrams that do not parse.
    pub malformed: u64,
    /// Datagrams that fail authentication.
    pub bad_mac: u64,
    /// Datagrams of another cluster.
    pub wrong_cluster: u64,
    /// Datagrams for another node.
    pub misdirected: u64,
    /// Datagrams from an incarnation older than the newest heard.
    pub old_incarnation: u64,
    /// Datagrams seen before.
    pub replayed: u64,
}

/// One listed node, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonNode {
    /// Its index in `Nodes`.
    pub index: usize,
    /// Its configured address.
    pub address: String,
    /// `self`, `in view`, `reachable`, `suspected` or `unreachable`.
    pub state: String,
    /// Its newest incarnation heard.
    pub incarnation: Option<u64>,
    /// Milliseconds since its last accepted datagram.
    pub last_heard_ms: Option<u64>,
    /// Its datagrams that authenticated but were refused.
    pub refused: JsonRefused,
    /// The id of the key its last accepted datagram was signed under
    /// (for this node: the key it sends under).
    pub key: Option<String>,
    /// Each of its links, in the order of its addresses in `Nodes` (empty
    /// for this node).
    pub links: Vec<JsonLink>,
    /// Copies of its datagrams that came again over a second link and were
    /// dropped (not refusals).
    pub duplicates: u64,
}

/// One link to a listed node.
#[derive(Debug, Clone, PartialEq, Eq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonLink {
    /// The node's address on this link.
    pub address: String,
    /// `up` (heard over it within `Timeout`) or `down`.
    pub state: String,
    /// Milliseconds since its last datagram over this link.
    pub last_heard_ms: Option<u64>,
}

/// The quorum rule and the current view's count.
#[derive(Debug, Clone, PartialEq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonQuorum {
    /// The rule as configured.
    pub rule: String,
    /// Members a view needs.
    pub needed: usize,
    /// Members in the current view, if there is one.
    pub members: Option<usize>,
    /// Whether the view meets the rule.
    pub met: bool,
}

/// One member of the view.
#[derive(Debug, Clone, PartialEq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonMember {
    /// Its position in the view.
    pub index: usize,
    /// Its name in the group service: a Spread private group name, or
    /// `ADDRESS/INCARNATION` for the built-in membership.
    pub name: String,
    /// Its real address, once its STATE has arrived.
    pub address: Option<String>,
    /// VIFs it holds.
    pub held: u32,
    /// Its agreed health: `healthy`, `partial`, `unhealthy` or `unknown`
    /// (absent from older daemons).
    pub health: Option<String>,
    /// VIFs it can serve (null when its health is unknown).
    pub servable: Option<u32>,
}

/// One configured VIF.
#[derive(Debug, Clone, PartialEq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonVif {
    /// Its position in the configuration.
    pub index: usize,
    /// The owner's real address.
    pub owner: Option<String>,
    /// Claim priority, 0..=5.
    pub priority: i32,
    /// The priority's name, `UNCLAIMED` .. `PREFER_CLAIMED`.
    pub priority_name: String,
    /// Primary first.
    pub addresses: Vec<JsonAddress>,
}

/// One address of a VIF.
#[derive(Debug, Clone, PartialEq, SerJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonAddress {
    /// The interface it goes on.
    pub interface: String,
    /// `ipv4` or `ipv6`; older daemons sent IPv4 only and no family.
    pub family: String,
    /// In its usual text form.
    pub address: String,
    /// The address's prefix length.
    pub prefix_len: u8,
    /// The network's prefix length (the same as `prefix_len` for IPv6).
    pub network_len: u8,
    /// IPv4 only (null for IPv6).
    pub netmask: Option<String>,
    /// IPv4 only (null for IPv6).
    pub broadcast: Option<String>,
}

impl From<&VifAddress> for JsonAddress {
    fn from(a: &VifAddress) -> JsonAddress {
        JsonAddress {
            interface: a.interface.clone(),
            family: a.family().to_string(),
            address: a.addr.to_string(),
            prefix_len: a.prefix_len,
            network_len: a.network_len,
            netmask: a.netmask().map(|m| m.to_string()),
            broadcast: a.broadcast().map(|b| b.to_string()),
        }
    }
}
