//! The JSON status document (request byte 3); its fields are described
//! in [`super::status`].
//!
//! The daemon serializes it. `wackatrl` does not decode replies (it checks
//! them with [`super::json_check`] and prints them as received); the
//! derived decoder is for reading documents of our own daemon, as the
//! tests do, never for bytes from an unknown peer.

// The code nanoserde's DeJson derive generates trips this lint.
#![allow(clippy::question_mark)]

use nanoserde::{DeJson, SerJson};

use crate::base::VifAddress;

/// The JSON document; field meanings in the module documentation.
#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonStatus {
    pub state: String,
    pub mature: bool,
    pub identity: Option<String>,
    pub view_id: Option<Vec<u32>>,
    pub member_count: usize,
    pub vif_count: usize,
    pub acquired_count: usize,
    pub held_count: usize,
    pub members: Vec<JsonMember>,
    pub vifs: Vec<JsonVif>,
    /// Absent from the documents of daemons that predate it.
    pub service: Option<JsonService>,
    /// Absent from the documents of daemons that predate it.
    pub quorum: Option<JsonQuorum>,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
pub struct JsonService {
    pub name: String,
    pub endpoint: String,
    pub state: String,
    /// Only for the built-in membership (left out otherwise).
    pub membership: Option<JsonMembership>,
    /// Only while a failure needs someone to act (left out otherwise).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonMembership {
    pub node: usize,
    pub incarnation: u64,
    pub view: Option<JsonMembershipView>,
    pub coordinator: Option<String>,
    pub changing_view: bool,
    pub views_installed: u64,
    pub dropped_multicasts: u64,
    pub refused: JsonRefused,
    pub nodes: Vec<JsonNode>,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
pub struct JsonMembershipView {
    pub ltime: u64,
    pub coordinator: usize,
    pub incarnation: u64,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
pub struct JsonRefused {
    pub malformed: u64,
    pub bad_mac: u64,
    pub wrong_cluster: u64,
    pub misdirected: u64,
    pub old_incarnation: u64,
    pub replayed: u64,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonNode {
    pub index: usize,
    pub address: String,
    pub state: String,
    pub incarnation: Option<u64>,
    pub last_heard_ms: Option<u64>,
    pub refused: JsonRefused,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonQuorum {
    pub rule: String,
    pub needed: usize,
    pub members: Option<usize>,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonMember {
    pub index: usize,
    pub name: String,
    pub address: Option<String>,
    pub held: u32,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonVif {
    pub index: usize,
    pub owner: Option<String>,
    pub priority: i32,
    pub priority_name: String,
    pub addresses: Vec<JsonAddress>,
}

#[derive(Debug, Clone, PartialEq, SerJson, DeJson)]
#[nserde(serialize_none_as_null)]
pub struct JsonAddress {
    pub interface: String,
    /// `ipv4` or `ipv6`; older daemons sent IPv4 only and no family.
    #[nserde(default = "ipv4")]
    pub family: String,
    pub address: String,
    pub prefix_len: u8,
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
