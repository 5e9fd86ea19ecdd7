//! The node's status as the JSON document shows it: rendered straight
//! from the membership's own [`Status`], members named as the engine
//! knows them.

use std::net::Ipv4Addr;
use std::time::Instant;

use crate::control::json::{JsonLink, JsonMembership, JsonMembershipView, JsonNode, JsonRefused};
use crate::daemon::bridge::Bridge;
use crate::membership::{QuorumLease, Refusals, Status};

/// `status`, taken at `at`, with the listed `nodes`' addresses.
pub(super) fn describe(
    status: &Status,
    at: Instant,
    nodes: &[Ipv4Addr],
    bridge: &Bridge,
) -> JsonMembership {
    let address = |node: u8| {
        nodes
            .get(usize::from(node))
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    };
    JsonMembership {
        node: usize::from(status.me),
        incarnation: status.incarnation,
        view: status
            .view
            .as_ref()
            .map(|(id, members)| JsonMembershipView {
                ltime: id.ltime,
                coordinator: usize::from(id.coordinator),
                incarnation: id.incarnation,
                members: members.iter().map(|m| bridge.name(m)).collect(),
            }),
        coordinator: status.choice.map(|node| address(node).to_string()),
        changing_view: status.flushing,
        views_installed: status.views_installed,
        dropped_multicasts: status.dropped_multicasts,
        refused: counts(&status.refusals),
        nodes: status
            .nodes
            .iter()
            .map(|n| JsonNode {
                index: usize::from(n.node),
                address: address(n.node).to_string(),
                state: n.state.as_str().to_string(),
                incarnation: n.incarnation,
                last_heard_ms: n.last_heard.map(|t| millis_since(at, t)),
                refused: counts(&n.refusals),
                key: n.key.map(|id| id.to_string()),
                links: n
                    .links
                    .iter()
                    .map(|link| JsonLink {
                        address: link.addr.ip().to_string(),
                        state: if link.up { "up" } else { "down" }.to_string(),
                        last_heard_ms: link.last_heard.map(|t| millis_since(at, t)),
                    })
                    .collect(),
                duplicates: n.duplicates,
            })
            .collect(),
        lease: Some(status.lease.as_str().to_string()),
        lease_remaining_ms: match status.lease {
            QuorumLease::Held { until } => Some(
                u64::try_from(until.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX),
            ),
            _ => None,
        },
        key: Some(status.key.to_string()),
        accepted_key: status.accepted_key.map(|id| id.to_string()),
        unreachable_suspicions: Some(status.unreachable_suspicions),
    }
}

fn millis_since(at: Instant, t: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX)
}

fn counts(r: &Refusals) -> JsonRefused {
    JsonRefused {
        malformed: r.malformed,
        bad_mac: r.bad_mac,
        wrong_cluster: r.wrong_cluster,
        misdirected: r.misdirected,
        old_incarnation: r.old_incarnation,
        replayed: r.replayed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::wire::KeyId;
    use crate::membership::{LinkStatus, Member, NodeState, NodeStatus, ViewId};
    use std::net::SocketAddrV4;
    use std::time::Duration;

    #[test]
    fn every_listed_node_is_described_by_address() {
        let t0 = Instant::now();
        let nodes = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
        let bridge = Bridge::new(nodes.to_vec());
        let me = Member {
            node: 1,
            incarnation: 9,
        };
        let peer = Member {
            node: 0,
            incarnation: 7,
        };
        let status = Status {
            me: 1,
            incarnation: 9,
            view: Some((
                ViewId {
                    ltime: 10,
                    coordinator: 0,
                    incarnation: 7,
                },
                vec![peer, me],
            )),
            choice: Some(0),
            flushing: false,
            nodes: vec![
                NodeStatus {
                    node: 0,
                    state: NodeState::InView,
                    incarnation: Some(7),
                    last_heard: Some(t0),
                    refusals: Refusals {
                        replayed: 2,
                        ..Refusals::default()
                    },
                    key: Some(KeyId([0xab, 0x01, 0x02, 0xff])),
                    links: vec![
                        LinkStatus {
                            addr: SocketAddrV4::new(nodes[0], 4810),
                            up: true,
                            last_heard: Some(t0),
                        },
                        LinkStatus {
                            addr: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 1), 4810),
                            up: false,
                            last_heard: None,
                        },
                    ],
                    duplicates: 5,
                },
                NodeStatus {
                    node: 1,
                    state: NodeState::Myself,
                    incarnation: Some(9),
                    last_heard: None,
                    refusals: Refusals::default(),
                    key: Some(KeyId([0, 0, 0, 7])),
                    links: Vec::new(),
                    duplicates: 0,
                },
            ],
            refusals: Refusals {
                bad_mac: 4,
                ..Refusals::default()
            },
            dropped_multicasts: 1,
            views_installed: 3,
            unreachable_suspicions: 0,
            lease: crate::membership::QuorumLease::NotRequired,
            key: KeyId([0, 0, 0, 7]),
            accepted_key: Some(KeyId([0xab, 0x01, 0x02, 0xff])),
        };
        let described = describe(&status, t0 + Duration::from_millis(42), &nodes, &bridge);
        assert_eq!(described.node, 1);
        assert_eq!(described.coordinator, Some("10.0.0.1".to_string()));
        let view = described.view.expect("a view");
        assert_eq!(view.members, vec!["10.0.0.1/7", "10.0.0.2/9"]);
        assert_eq!((view.ltime, view.coordinator, view.incarnation), (10, 0, 7));
        assert_eq!(described.refused.bad_mac, 4);
        assert_eq!(described.nodes[0].state, "in view");
        assert_eq!(described.nodes[0].last_heard_ms, Some(42));
        assert_eq!(described.nodes[0].refused.replayed, 2);
        let links = &described.nodes[0].links;
        assert_eq!(links.len(), 2);
        assert_eq!(
            (links[0].address.as_str(), links[0].state.as_str()),
            ("10.0.0.1", "up")
        );
        assert_eq!(links[0].last_heard_ms, Some(42));
        assert_eq!(
            (links[1].address.as_str(), links[1].state.as_str()),
            ("10.1.0.1", "down")
        );
        assert_eq!(links[1].last_heard_ms, None);
        assert_eq!(described.nodes[0].duplicates, 5);
        assert!(described.nodes[1].links.is_empty());
        assert_eq!(described.nodes[1].state, "self");
        assert_eq!(described.nodes[1].last_heard_ms, None);
        assert_eq!(described.nodes[0].key.as_deref(), Some("ab0102ff"));
        assert_eq!(described.key.as_deref(), Some("00000007"));
        assert_eq!(described.accepted_key.as_deref(), Some("ab0102ff"));
    }
}
