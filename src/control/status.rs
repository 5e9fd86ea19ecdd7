//! What the daemon reports about itself: [`Status`], filled from the
//! engine's snapshot, rendered as the original state reply or as our JSON
//! document ([`JsonStatus`], request byte 3).
//!
//! JSON fields (one object):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `state` | string | the engine's phase: `BOOT`, `GATHER`, `RUN` or `DISCONNECTED` (balancing happens within `RUN`) |
//! | `mature` | bool | whether this node (and so its group) has matured |
//! | `identity` | string or null | this node's real address |
//! | `view_id` | [3 numbers] or null | the installed view's group id, as Spread delivers it |
//! | `member_count` | number | members in the view |
//! | `vif_count` | number | configured VIFs |
//! | `acquired_count` | number | VIFs with an owner |
//! | `held_count` | number | VIFs this node holds |
//! | `members` | array | per member, in view order: `index`, `name` (Spread private group), `address` (real address or null), `held` (VIFs it holds) |
//! | `vifs` | array | per VIF, in configuration order: `index`, `owner` (real address or null), `priority` (0..5), `priority_name` (`UNCLAIMED` .. `PREFER_CLAIMED`), `addresses` |
//! | `vifs[].addresses` | array | primary first: `interface`, `family` (`ipv4` or `ipv6`), `address` (usual text form), `prefix_len`, `network_len` (the prefix for IPv6), `netmask` and `broadcast` (null for IPv6) |
//! | `service` | object | the group service: `name` (`spread`), `endpoint` (where it is reached), `state` (its own words, e.g. `connected`, or `refused` after a permanent refusal), `error` (only while a failure needs someone to act: what and why); absent from older daemons |

use std::net::Ipv4Addr;

use nanoserde::SerJson;

use super::json::{
    JsonAddress, JsonMember, JsonMembership, JsonMembershipView, JsonNode, JsonQuorum, JsonRefused,
    JsonService, JsonStatus, JsonVif,
};
use super::wire::{AddressRecord, StateReply, VifRecord};
use crate::base::VifAddress;
use crate::engine::ClaimPriority;

/// The daemon's state as reported on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// Name of the node's state (`RUN`, ...).
    pub state: String,
    /// Whether this node has matured.
    pub mature: bool,
    /// This node's real address.
    pub identity: Option<Ipv4Addr>,
    /// Group id of the installed view.
    pub view_id: Option<[u32; 3]>,
    /// In view order.
    pub members: Vec<MemberStatus>,
    /// In configuration order.
    pub vifs: Vec<VifStatus>,
    /// The group service the daemon drives.
    pub service: ServiceStatus,
    /// The quorum rule and whether the view meets it.
    pub quorum: Option<QuorumStatus>,
}

/// One member of the view, for the status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Spread private group name.
    pub name: String,
    /// Real address, once its STATE has arrived.
    pub address: Option<Ipv4Addr>,
    /// How many VIFs it holds.
    pub held: u32,
}

/// One configured VIF, for the status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifStatus {
    /// Claim priority (0 UNCLAIMED .. 5 PREFER_CLAIMED).
    pub priority: i32,
    /// The owner's real address, if it has one.
    pub owner: Option<Ipv4Addr>,
    /// Primary first.
    pub addresses: Vec<VifAddress>,
}

/// The group service, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceStatus {
    /// Which service: `spread` or `membership`.
    pub name: String,
    /// Where the service is reached, as the service writes it (for Spread,
    /// the daemon's socket; for the membership, our own UDP address).
    pub endpoint: String,
    /// The service's own state (for Spread: `connected`, `connecting`,
    /// `waiting` to connect again, or `left`; for the membership:
    /// `joining`, `in view`, `changing view`, `left` or `not answering`).
    pub state: String,
    /// What the built-in membership's node sees (none for Spread, and
    /// while the membership has left).
    pub membership: Option<MembershipStatus>,
    /// A failure that needs someone to act (for Spread: the daemon's
    /// permanent refusal), while it lasts.
    pub error: Option<String>,
}

/// The built-in membership as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipStatus {
    /// This node's index in `Nodes`.
    pub node: usize,
    /// This node's incarnation.
    pub incarnation: u64,
    /// The installed view, if any.
    pub view: Option<MembershipView>,
    /// The node whose proposals this one follows (itself when it
    /// coordinates), if it has chosen one.
    pub coordinator: Option<Ipv4Addr>,
    /// A view change is under way here.
    pub changing_view: bool,
    /// Views installed since the start.
    pub views_installed: u64,
    /// Multicasts dropped (asked between views, or left unsequenced when
    /// a view ended).
    pub dropped_multicasts: u64,
    /// Refused datagrams no listed node can be blamed for (failed
    /// authentication, malformed, another cluster, misdirected).
    pub refused: RefusalCounts,
    /// Every listed node, in `Nodes` order (this one included).
    pub nodes: Vec<PeerStatus>,
}

/// An installed view of the built-in membership.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipView {
    /// The view id: logical time, coordinator index and incarnation.
    pub ltime: u64,
    /// Index of the coordinator in `Nodes`.
    pub coordinator: usize,
    /// The coordinator's incarnation.
    pub incarnation: u64,
    /// `ADDRESS/INCARNATION`, in `Nodes` order.
    pub members: Vec<String>,
}

/// Refused datagrams, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RefusalCounts {
    /// Datagrams that do not parse.
    pub malformed: u64,
    /// Datagrams that fail authentication.
    pub bad_mac: u64,
    /// Datagrams of another cluster.
    pub wrong_cluster: u64,
    /// Datagrams for another node, or from the wrong address.
    pub misdirected: u64,
    /// Datagrams from an incarnation older than the newest heard.
    pub old_incarnation: u64,
    /// Datagrams seen before.
    pub replayed: u64,
}

/// One listed node, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its configured address.
    pub address: Ipv4Addr,
    /// `self`, `in view`, `reachable`, `suspected` or `unreachable`.
    pub state: String,
    /// Its newest incarnation heard (ours for `self`).
    pub incarnation: Option<u64>,
    /// Milliseconds since its last accepted datagram; none if never.
    pub last_heard_ms: Option<u64>,
    /// Its datagrams that authenticated but were refused.
    pub refused: RefusalCounts,
}

/// The `Quorum` rule and the current view's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStatus {
    /// As written: `none`, `majority` or a number.
    pub rule: String,
    /// Members a view needs (0 for `none`).
    pub needed: usize,
    /// Members of the current view; none outside any view.
    pub members: Option<usize>,
    /// Whether the current view has them (outside any view: only with
    /// `none`).
    pub met: bool,
}

/// Name of a claim priority as ALGORITHM.md spells it.
pub fn priority_name(priority: i32) -> &'static str {
    ClaimPriority::from_wire(priority).map_or("UNKNOWN", ClaimPriority::as_str)
}

impl Status {
    /// The reply to request 0.
    pub fn state_reply(&self) -> StateReply {
        StateReply {
            vifs: self
                .vifs
                .iter()
                .map(|vif| VifRecord {
                    priority: vif.priority,
                    owner: vif.owner,
                    addresses: vif.addresses.iter().map(AddressRecord::from).collect(),
                })
                .collect(),
        }
    }

    /// The JSON document of request 3.
    pub fn to_json(&self) -> String {
        self.json().serialize_json()
    }

    /// The JSON document of request 3, before serialization.
    pub fn json(&self) -> JsonStatus {
        let held = |vif: &&VifStatus| vif.owner.is_some() && vif.owner == self.identity;
        JsonStatus {
            state: self.state.clone(),
            mature: self.mature,
            identity: self.identity.map(|a| a.to_string()),
            view_id: self.view_id.map(|id| id.to_vec()),
            member_count: self.members.len(),
            vif_count: self.vifs.len(),
            acquired_count: self.vifs.iter().filter(|v| v.owner.is_some()).count(),
            held_count: self.vifs.iter().filter(held).count(),
            members: self
                .members
                .iter()
                .enumerate()
                .map(|(index, m)| JsonMember {
                    index,
                    name: m.name.clone(),
                    address: m.address.map(|a| a.to_string()),
                    held: m.held,
                })
                .collect(),
            vifs: self
                .vifs
                .iter()
                .enumerate()
                .map(|(index, v)| JsonVif {
                    index,
                    owner: v.owner.map(|a| a.to_string()),
                    priority: v.priority,
                    priority_name: priority_name(v.priority).to_string(),
                    addresses: v.addresses.iter().map(JsonAddress::from).collect(),
                })
                .collect(),
            service: Some(JsonService {
                name: self.service.name.clone(),
                endpoint: self.service.endpoint.clone(),
                state: self.service.state.clone(),
                membership: self.service.membership.as_ref().map(MembershipStatus::json),
                error: self.service.error.clone(),
            }),
            quorum: self.quorum.as_ref().map(|q| JsonQuorum {
                rule: q.rule.clone(),
                needed: q.needed,
                members: q.members,
                met: q.met,
            }),
        }
    }
}

impl MembershipStatus {
    fn json(&self) -> JsonMembership {
        JsonMembership {
            node: self.node,
            incarnation: self.incarnation,
            view: self.view.as_ref().map(|v| JsonMembershipView {
                ltime: v.ltime,
                coordinator: v.coordinator,
                incarnation: v.incarnation,
                members: v.members.clone(),
            }),
            coordinator: self.coordinator.map(|a| a.to_string()),
            changing_view: self.changing_view,
            views_installed: self.views_installed,
            dropped_multicasts: self.dropped_multicasts,
            refused: self.refused.json(),
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(index, n)| JsonNode {
                    index,
                    address: n.address.to_string(),
                    state: n.state.clone(),
                    incarnation: n.incarnation,
                    last_heard_ms: n.last_heard_ms,
                    refused: n.refused.json(),
                })
                .collect(),
        }
    }
}

impl RefusalCounts {
    fn json(&self) -> JsonRefused {
        JsonRefused {
            malformed: self.malformed,
            bad_mac: self.bad_mac,
            wrong_cluster: self.wrong_cluster,
            misdirected: self.misdirected,
            old_incarnation: self.old_incarnation,
            replayed: self.replayed,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_status() -> Status {
        let me = Ipv4Addr::new(192, 168, 1, 10);
        let address = |interface: &str, addr: [u8; 4], prefix_len| VifAddress {
            interface: interface.to_string(),
            addr: Ipv4Addr::from(addr).into(),
            prefix_len,
            network_len: 24,
        };
        Status {
            state: "RUN".to_string(),
            mature: true,
            identity: Some(me),
            view_id: Some([3232235786, 1714566896, 7]),
            members: vec![
                MemberStatus {
                    name: "#wack123#node1".to_string(),
                    address: Some(me),
                    held: 1,
                },
                MemberStatus {
                    name: "#wack456#node2".to_string(),
                    address: None,
                    held: 0,
                },
            ],
            vifs: vec![
                VifStatus {
                    priority: 5,
                    owner: Some(me),
                    addresses: vec![
                        address("eth0", [10, 0, 0, 5], 24),
                        address("eth1", [192, 0, 2, 5], 32),
                    ],
                },
                VifStatus {
                    priority: 0,
                    owner: None,
                    addresses: vec![address("eth0", [10, 0, 0, 6], 24)],
                },
            ],
            service: ServiceStatus {
                name: "spread".to_string(),
                endpoint: "unix:/var/run/4803".to_string(),
                state: "connected".to_string(),
                membership: None,
                error: None,
            },
            quorum: Some(QuorumStatus {
                rule: "none".to_string(),
                needed: 0,
                members: Some(2),
                met: true,
            }),
        }
    }

    /// The sample as the built-in membership would report it.
    pub(crate) fn membership_status() -> Status {
        let node = |last: u8, state: &str, incarnation, heard| PeerStatus {
            address: Ipv4Addr::new(192, 168, 1, last),
            state: state.to_string(),
            incarnation,
            last_heard_ms: heard,
            refused: RefusalCounts::default(),
        };
        let mut status = sample_status();
        status.service = ServiceStatus {
            name: "membership".to_string(),
            endpoint: "udp:192.168.1.10:4810".to_string(),
            state: "in view".to_string(),
            membership: Some(MembershipStatus {
                node: 0,
                incarnation: 1714566896000001,
                view: Some(MembershipView {
                    ltime: 1714566896000002,
                    coordinator: 0,
                    incarnation: 1714566896000001,
                    members: vec![
                        "192.168.1.10/1714566896000001".to_string(),
                        "192.168.1.11/1714566800000000".to_string(),
                    ],
                }),
                coordinator: Some(Ipv4Addr::new(192, 168, 1, 10)),
                changing_view: false,
                views_installed: 2,
                dropped_multicasts: 0,
                refused: RefusalCounts {
                    bad_mac: 3,
                    ..RefusalCounts::default()
                },
                nodes: vec![
                    node(10, "self", Some(1714566896000001), None),
                    node(11, "in view", Some(1714566800000000), Some(12)),
                    PeerStatus {
                        refused: RefusalCounts {
                            replayed: 1,
                            ..RefusalCounts::default()
                        },
                        ..node(12, "unreachable", None, None)
                    },
                ],
            }),
            error: None,
        };
        status.quorum = Some(QuorumStatus {
            rule: "majority".to_string(),
            needed: 2,
            members: Some(2),
            met: true,
        });
        status
    }

    #[test]
    fn json_document_has_every_field() {
        let json = sample_status().to_json();
        let expected = concat!(
            r#"{"state":"RUN","mature":true,"identity":"192.168.1.10","#,
            r#""view_id":[3232235786,1714566896,7],"member_count":2,"vif_count":2,"#,
            r#""acquired_count":1,"held_count":1,"members":["#,
            r##"{"index":0,"name":"#wack123#node1","address":"192.168.1.10","held":1},"##,
            r##"{"index":1,"name":"#wack456#node2","address":null,"held":0}],"##,
            r#""vifs":[{"index":0,"owner":"192.168.1.10","priority":5,"#,
            r#""priority_name":"PREFER_CLAIMED","addresses":["#,
            r#"{"interface":"eth0","family":"ipv4","address":"10.0.0.5","prefix_len":24,"network_len":24,"#,
            r#""netmask":"255.255.255.0","broadcast":"10.0.0.255"},"#,
            r#"{"interface":"eth1","family":"ipv4","address":"192.0.2.5","prefix_len":32,"network_len":24,"#,
            r#""netmask":"255.255.255.255","broadcast":"192.0.2.5"}]},"#,
            r#"{"index":1,"owner":null,"priority":0,"priority_name":"UNCLAIMED","addresses":["#,
            r#"{"interface":"eth0","family":"ipv4","address":"10.0.0.6","prefix_len":24,"network_len":24,"#,
            r#""netmask":"255.255.255.0","broadcast":"10.0.0.255"}]}],"#,
            r#""service":{"name":"spread","endpoint":"unix:/var/run/4803","state":"connected"},"#,
            r#""quorum":{"rule":"none","needed":0,"members":2,"met":true}}"#,
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn the_membership_s_part_of_the_document() {
        let json = membership_status().to_json();
        let cut = json.find(r#""service":"#).expect("the service field");
        let refused = |bad_mac, replayed| {
            format!(
                r#"{{"malformed":0,"bad_mac":{bad_mac},"wrong_cluster":0,"misdirected":0,"old_incarnation":0,"replayed":{replayed}}}"#
            )
        };
        let expected = [
            r#""service":{"name":"membership","endpoint":"udp:192.168.1.10:4810","state":"in view","#,
            r#""membership":{"node":0,"incarnation":1714566896000001,"#,
            r#""view":{"ltime":1714566896000002,"coordinator":0,"incarnation":1714566896000001,"#,
            r#""members":["192.168.1.10/1714566896000001","192.168.1.11/1714566800000000"]},"#,
            r#""coordinator":"192.168.1.10","changing_view":false,"views_installed":2,"#,
            r#""dropped_multicasts":0,"refused":"#,
            &refused(3, 0),
            r#","nodes":[{"index":0,"address":"192.168.1.10","state":"self","#,
            r#""incarnation":1714566896000001,"last_heard_ms":null,"refused":"#,
            &refused(0, 0),
            r#"},{"index":1,"address":"192.168.1.11","state":"in view","#,
            r#""incarnation":1714566800000000,"last_heard_ms":12,"refused":"#,
            &refused(0, 0),
            r#"},{"index":2,"address":"192.168.1.12","state":"unreachable","#,
            r#""incarnation":null,"last_heard_ms":null,"refused":"#,
            &refused(0, 1),
            r#"}]}},"quorum":{"rule":"majority","needed":2,"members":2,"met":true}}"#,
        ]
        .concat();
        assert_eq!(&json[cut..], expected);
        let parsed = JsonStatus::decode(&json).unwrap();
        assert_eq!(parsed, membership_status().json());
    }

    #[test]
    fn ipv6_addresses_carry_their_family_and_no_mask() {
        let mut status = sample_status();
        status.vifs[1].addresses.push(VifAddress {
            interface: "eth0".into(),
            addr: "2001:db8::6".parse().unwrap(),
            prefix_len: 64,
            network_len: 64,
        });
        let json = status.to_json();
        assert!(
            json.contains(
                r#"{"interface":"eth0","family":"ipv6","address":"2001:db8::6","prefix_len":64,"network_len":64,"netmask":null,"broadcast":null}"#
            ),
            "{json}"
        );
        let parsed = JsonStatus::decode(&json).unwrap();
        assert_eq!(parsed, status.json());
    }

    #[test]
    fn a_document_without_families_reads_as_ipv4() {
        let json = sample_status().to_json().replace(r#""family":"ipv4","#, "");
        let parsed = JsonStatus::decode(&json).unwrap();
        assert_eq!(parsed.vifs[0].addresses[0].family, "ipv4");
    }

    #[test]
    fn json_document_round_trips() {
        let status = sample_status();
        let parsed = JsonStatus::decode(&status.to_json()).unwrap();
        assert_eq!(parsed, status.json());
    }

    #[test]
    fn a_refusal_is_in_the_document_only_while_it_lasts() {
        let mut status = sample_status();
        assert!(!status.to_json().contains(r#""error""#));
        status.service.state = "refused".to_string();
        status.service.error = Some("cannot connect to Spread: refused".to_string());
        let parsed = JsonStatus::decode(&status.to_json()).unwrap();
        let service = parsed.service.expect("the service");
        assert_eq!(service.state, "refused");
        assert_eq!(
            service.error.as_deref(),
            Some("cannot connect to Spread: refused")
        );
    }

    #[test]
    fn a_document_without_the_service_still_parses() {
        let json = sample_status().to_json();
        let cut = json.find(r#","service":"#).expect("the service field");
        let older = format!("{}}}", &json[..cut]);
        let parsed = JsonStatus::decode(&older).unwrap();
        assert_eq!(parsed.service, None);
        assert_eq!(parsed.quorum, None);
        assert_eq!(parsed.vifs, sample_status().json().vifs);
    }

    /// The document as a client built before the membership fields
    /// reads it.
    mod older {
        // The code nanoserde's DeJson derive generates trips the first
        // lint; the derive cannot parse restricted visibility such as
        // `pub(super)`, which the second would ask for.
        #![allow(clippy::question_mark, unreachable_pub)]

        use nanoserde::DeJson;

        #[derive(DeJson)]
        pub struct Service {
            pub name: String,
            pub state: String,
        }

        #[derive(DeJson)]
        pub struct Status {
            pub state: String,
            pub member_count: usize,
            pub service: Option<Service>,
        }
    }

    #[test]
    fn older_clients_skip_the_fields_they_do_not_know() {
        let json = membership_status().to_json();
        let parsed = <older::Status as nanoserde::DeJson>::deserialize_json(&json).unwrap();
        assert_eq!((parsed.state.as_str(), parsed.member_count), ("RUN", 2));
        let service = parsed.service.expect("the service");
        assert_eq!(
            (service.name.as_str(), service.state.as_str()),
            ("membership", "in view")
        );
    }

    #[test]
    fn state_reply_carries_priority_owner_and_addresses() {
        let reply = sample_status().state_reply();
        assert_eq!(reply.vifs.len(), 2);
        assert_eq!(reply.vifs[0].priority, 5);
        assert_eq!(reply.vifs[0].owner, Some(Ipv4Addr::new(192, 168, 1, 10)));
        assert_eq!(reply.vifs[0].addresses[1].prefix_len, 32);
        assert_eq!(reply.vifs[1].owner, None);
    }
}
