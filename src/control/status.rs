//! What the daemon reports about itself: [`Status`], filled from the
//! engine's snapshot, rendered as the original state reply or as our JSON
//! document ([`JsonStatus`], request byte 3).
//!
//! JSON fields (one object):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `state` | string | node state: `BOOT`, `GATHER`, `RUN`, `BALANCE`, or the daemon's own (e.g. disconnected) |
//! | `mature` | bool | whether this node (and so its group) has matured |
//! | `identity` | string or null | this node's real address |
//! | `view_id` | [3 numbers] or null | the installed view's group id, as Spread delivers it |
//! | `member_count` | number | members in the view |
//! | `vif_count` | number | configured VIFs |
//! | `acquired_count` | number | VIFs with an owner |
//! | `held_count` | number | VIFs this node holds |
//! | `members` | array | per member, in view order: `index`, `name` (Spread private group), `address` (real address or null), `held` (VIFs it holds) |
//! | `vifs` | array | per VIF, in configuration order: `index`, `owner` (real address or null), `priority` (0..5), `priority_name` (`UNCLAIMED` .. `PREFER_CLAIMED`), `addresses` |
//! | `vifs[].addresses` | array | primary first: `interface`, `address`, `prefix_len`, `network_len`, `netmask`, `broadcast` |
//! | `service` | object | the group service: `name` (`spread`), `endpoint` (where it is reached), `state` (its own words, e.g. `connected`); absent from older daemons |

use std::net::Ipv4Addr;

use nanoserde::SerJson;

use super::json::{JsonAddress, JsonMember, JsonService, JsonStatus, JsonVif};
use super::wire::{AddressRecord, StateReply, VifRecord};
use crate::config::VifAddress;
use crate::engine::ClaimPriority;

/// The daemon's state as reported on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// Name of the node's state (`RUN`, ...).
    pub state: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Spread private group name.
    pub name: String,
    /// Real address, once its STATE has arrived.
    pub address: Option<Ipv4Addr>,
    /// How many VIFs it holds.
    pub held: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifStatus {
    /// Claim priority (0 UNCLAIMED .. 5 PREFER_CLAIMED).
    pub priority: i32,
    pub owner: Option<Ipv4Addr>,
    /// Primary first.
    pub addresses: Vec<VifAddress>,
}

/// The group service, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceStatus {
    /// Which service: `spread`.
    pub name: String,
    /// Where the service is reached, as the service writes it (for Spread,
    /// the daemon's socket).
    pub endpoint: String,
    /// The service's own state (for Spread: `connected`, `connecting`,
    /// `waiting` to connect again, or `left`).
    pub state: String,
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
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nanoserde::DeJson;

    pub(crate) fn sample_status() -> Status {
        let me = Ipv4Addr::new(192, 168, 1, 10);
        let address = |interface: &str, addr: [u8; 4], prefix_len| VifAddress {
            interface: interface.to_string(),
            addr: Ipv4Addr::from(addr),
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
            },
        }
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
            r#"{"interface":"eth0","address":"10.0.0.5","prefix_len":24,"network_len":24,"#,
            r#""netmask":"255.255.255.0","broadcast":"10.0.0.255"},"#,
            r#"{"interface":"eth1","address":"192.0.2.5","prefix_len":32,"network_len":24,"#,
            r#""netmask":"255.255.255.255","broadcast":"192.0.2.5"}]},"#,
            r#"{"index":1,"owner":null,"priority":0,"priority_name":"UNCLAIMED","addresses":["#,
            r#"{"interface":"eth0","address":"10.0.0.6","prefix_len":24,"network_len":24,"#,
            r#""netmask":"255.255.255.0","broadcast":"10.0.0.255"}]}],"#,
            r#""service":{"name":"spread","endpoint":"unix:/var/run/4803","state":"connected"}}"#,
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn json_document_round_trips() {
        let status = sample_status();
        let parsed = JsonStatus::deserialize_json(&status.to_json()).unwrap();
        assert_eq!(parsed, status.json());
    }

    #[test]
    fn a_document_without_the_service_still_parses() {
        let json = sample_status().to_json();
        let cut = json.find(r#","service":"#).expect("the service field");
        let older = format!("{}}}", &json[..cut]);
        let parsed = JsonStatus::deserialize_json(&older).unwrap();
        assert_eq!(parsed.service, None);
        assert_eq!(parsed.vifs, sample_status().json().vifs);
    }

    #[test]
    fn state_reply_carries_priority_owner_and_addresses() {
        let reply = sample_status().state_reply();
        assert_eq!(reply.vifs.len(), 2);
        assert_eq!(reply.vifs[0].priority, 5);
        assert_eq!(reply.vifs[0].owner, Some(Ipv4Addr::new(192, 168, 1, 10)));
        assert_eq!(reply.vifs[0].addresses[1].netmask, Ipv4Addr::BROADCAST);
        assert_eq!(reply.vifs[1].owner, None);
    }
}
