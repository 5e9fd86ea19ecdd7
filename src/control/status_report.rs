//! What the daemon reports about itself: [`StatusReport`], filled from the
//! engine's snapshot, rendered as the original state reply or as our JSON
//! document ([`JsonStatus`], request byte 3).
//!
//! The fields of the JSON document and what each means are listed once,
//! in the README (section "wackatrl"); the document is built here from the
//! engine's snapshot and, for the built-in membership, from the node's own
//! status as the daemon renders it ([`JsonMembership`]).

use std::net::Ipv4Addr;

use nanoserde::SerJson;

use super::json::{
    JsonAddress, JsonMember, JsonMembership, JsonQuorum, JsonService, JsonStatus, JsonTracker,
    JsonVif,
};
use super::wire::{AddressRecord, StateReply, VifRecord};
use crate::base::VifAddress;
use crate::engine::ClaimPriority;

/// The daemon's state as reported on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusReport {
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
    /// This node's trackers (`Track` block, then the VIFs' interfaces).
    pub trackers: Vec<TrackerStatus>,
}

/// One tracker of this node, for the status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerStatus {
    /// `interface`, `vif-interface`, `command` or `file`.
    pub kind: String,
    /// The interface name, the command line or the file's path.
    pub target: String,
    /// `pending`, `passing` or `failing`.
    pub state: String,
    /// Milliseconds it has been in that state.
    pub since_ms: u64,
    /// The last thing observed, one bounded line.
    pub last_result: String,
}

/// One member of the view, for the status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its name in the group service: a Spread private group name, or
    /// `ADDRESS/INCARNATION` for the built-in membership.
    pub name: String,
    /// Real address, once its STATE has arrived.
    pub address: Option<Ipv4Addr>,
    /// How many VIFs it holds.
    pub held: u32,
    /// Its health as agreed in the view: `healthy`, `partial` (some VIFs'
    /// interfaces down there), `unhealthy` (it serves nothing while
    /// another member can) or `unknown` (an original node, which carries
    /// none).
    pub health: String,
    /// How many VIFs it can serve; none when unknown.
    pub servable: Option<u32>,
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
    pub membership: Option<JsonMembership>,
    /// A failure that needs someone to act (for Spread: the daemon's
    /// permanent refusal), while it lasts.
    pub error: Option<String>,
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

impl StatusReport {
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
                    health: Some(m.health.clone()),
                    servable: m.servable,
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
                membership: self.service.membership.clone(),
                error: self.service.error.clone(),
            }),
            quorum: self.quorum.as_ref().map(|q| JsonQuorum {
                rule: q.rule.clone(),
                needed: q.needed,
                members: q.members,
                met: q.met,
            }),
            trackers: Some(
                self.trackers
                    .iter()
                    .map(|t| JsonTracker {
                        kind: t.kind.clone(),
                        target: t.target.clone(),
                        state: t.state.clone(),
                        since_ms: t.since_ms,
                        last_result: t.last_result.clone(),
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::control::json::{JsonLink, JsonMembershipView, JsonNode, JsonRefused};

    pub(crate) fn sample_status() -> StatusReport {
        let me = Ipv4Addr::new(192, 168, 1, 10);
        let address = |interface: &str, addr: [u8; 4], prefix_len| VifAddress {
            interface: interface.to_string(),
            addr: Ipv4Addr::from(addr).into(),
            prefix_len,
            network_len: 24,
        };
        StatusReport {
            state: "RUN".to_string(),
            mature: true,
            identity: Some(me),
            view_id: Some([3232235786, 1714566896, 7]),
            members: vec![
                MemberStatus {
                    name: "#wack123#node1".to_string(),
                    address: Some(me),
                    held: 1,
                    health: "healthy".to_string(),
                    servable: Some(2),
                },
                MemberStatus {
                    name: "#wack456#node2".to_string(),
                    address: None,
                    held: 0,
                    health: "unknown".to_string(),
                    servable: None,
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
            trackers: vec![TrackerStatus {
                kind: "interface".to_string(),
                target: "eth1".to_string(),
                state: "failing".to_string(),
                since_ms: 1500,
                last_result: "lost carrier".to_string(),
            }],
        }
    }

    /// The sample as the built-in membership would report it.
    pub(crate) fn membership_status() -> StatusReport {
        let refused = |bad_mac, replayed| JsonRefused {
            malformed: 0,
            bad_mac,
            wrong_cluster: 0,
            misdirected: 0,
            old_incarnation: 0,
            replayed,
        };
        let node = |index: usize, state: &str, incarnation, heard, replayed| JsonNode {
            index,
            address: format!("192.168.1.{}", 10 + index),
            state: state.to_string(),
            incarnation,
            last_heard_ms: heard,
            refused: refused(0, replayed),
            key: heard.map(|_| "5d41402a".to_string()),
            links: Vec::new(),
            duplicates: 0,
        };
        let mut status = sample_status();
        status.service = ServiceStatus {
            name: "membership".to_string(),
            endpoint: "udp:192.168.1.10:4810".to_string(),
            state: "in view".to_string(),
            membership: Some(JsonMembership {
                node: 0,
                incarnation: 1714566896000001,
                view: Some(JsonMembershipView {
                    ltime: 1714566896000002,
                    coordinator: 0,
                    incarnation: 1714566896000001,
                    members: vec![
                        "192.168.1.10/1714566896000001".to_string(),
                        "192.168.1.11/1714566800000000".to_string(),
                    ],
                }),
                coordinator: Some("192.168.1.10".to_string()),
                changing_view: false,
                views_installed: 2,
                dropped_multicasts: 0,
                refused: refused(3, 0),
                nodes: vec![
                    node(0, "self", Some(1714566896000001), None, 0),
                    JsonNode {
                        links: vec![
                            JsonLink {
                                address: "192.168.1.11".to_string(),
                                state: "up".to_string(),
                                last_heard_ms: Some(12),
                            },
                            JsonLink {
                                address: "10.0.0.11".to_string(),
                                state: "down".to_string(),
                                last_heard_ms: None,
                            },
                        ],
                        duplicates: 4,
                        ..node(1, "in view", Some(1714566800000000), Some(12), 0)
                    },
                    node(2, "unreachable", None, None, 1),
                ],
                lease: Some("held".to_string()),
                lease_remaining_ms: Some(73),
                key: Some("5d41402a".to_string()),
                accepted_key: None,
                unreachable_suspicions: Some(1),
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
            r##"{"index":0,"name":"#wack123#node1","address":"192.168.1.10","held":1,"##,
            r##""health":"healthy","servable":2},"##,
            r##"{"index":1,"name":"#wack456#node2","address":null,"held":0,"##,
            r##""health":"unknown","servable":null}],"##,
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
            r#""quorum":{"rule":"none","needed":0,"members":2,"met":true},"#,
            r#""trackers":[{"kind":"interface","target":"eth1","state":"failing","since_ms":1500,"#,
            r#""last_result":"lost carrier"}]}"#,
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
            r#","key":null,"links":[],"duplicates":0"#,
            r#"},{"index":1,"address":"192.168.1.11","state":"in view","#,
            r#""incarnation":1714566800000000,"last_heard_ms":12,"refused":"#,
            &refused(0, 0),
            r#","key":"5d41402a","#,
            r#""links":[{"address":"192.168.1.11","state":"up","last_heard_ms":12},"#,
            r#"{"address":"10.0.0.11","state":"down","last_heard_ms":null}],"duplicates":4"#,
            r#"},{"index":2,"address":"192.168.1.12","state":"unreachable","#,
            r#""incarnation":null,"last_heard_ms":null,"refused":"#,
            &refused(0, 1),
            r#","key":null,"links":[],"duplicates":0"#,
            r#"}],"lease":"held","lease_remaining_ms":73,"key":"5d41402a","#,
            r#""accepted_key":null,"unreachable_suspicions":1}},"#,
            r#""quorum":{"rule":"majority","needed":2,"members":2,"met":true},"#,
            r#""trackers":[{"kind":"interface","target":"eth1","state":"failing","since_ms":1500,"#,
            r#""last_result":"lost carrier"}]}"#,
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
        pub struct StatusReport {
            pub state: String,
            pub member_count: usize,
            pub service: Option<Service>,
        }
    }

    #[test]
    fn older_clients_skip_the_fields_they_do_not_know() {
        let json = membership_status().to_json();
        let parsed = <older::StatusReport as nanoserde::DeJson>::deserialize_json(&json).unwrap();
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
