//! Between the built-in membership and the engine: the engine's messages
//! as membership payloads, and membership events as group events.
//!
//! A payload is one flags byte (bit 0: the sender is little-endian), the
//! message type (i16, big-endian), then the engine's body untouched (it is
//! in the sender's byte order, as with Spread; the receiver learns from
//! the flag whether it must swap).
//!
//! A member is named `ADDRESS/INCARNATION` (a restarted node is a new
//! member), and a view's group id is made of its id: the ltime's two
//! halves, then the coordinator's index over the low 24 bits of its
//! incarnation.
//!
//! A MATURING that its view ended without delivering is sent again in the
//! next view: the engine counts on seeing its own MATURING (the group
//! service it was written for delivers every message to its sender), and
//! MATURING means the same in any view. Other undelivered messages are
//! dropped: STATE and PROCEED name their view, BALANCE is planned for one
//! view, and the ARP cache is shared again on every view.

use std::net::Ipv4Addr;

use super::group::GroupEvent;
use crate::engine::codec::mess_type;
use crate::engine::{GroupId, Message, View};
use crate::membership::{Member, NodeEvent, ViewId};

const LITTLE_ENDIAN: u8 = 1;

fn our_order() -> u8 {
    if cfg!(target_endian = "little") {
        LITTLE_ENDIAN
    } else {
        0
    }
}

/// The payload carrying an engine message.
pub fn encode(mess_type: i16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + body.len());
    out.push(our_order());
    out.extend_from_slice(&mess_type.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// (message type, endian mismatch, body), or `None` for a payload too
/// short to be one of ours.
pub fn decode(payload: &[u8]) -> Option<(i16, bool, &[u8])> {
    let (&flags, rest) = payload.split_first()?;
    let (kind, body) = rest.split_at_checked(2)?;
    let mismatch = (flags & LITTLE_ENDIAN) != our_order();
    Some((i16::from_be_bytes([kind[0], kind[1]]), mismatch, body))
}

/// The engine's group id of a built-in view: its logical time split in
/// two, then its coordinator in the top byte over the low 24 bits of the
/// coordinator's incarnation.
pub fn group_id(view: &ViewId) -> GroupId {
    GroupId::from_raw([
        (view.ltime >> 32) as u32,
        view.ltime as u32,
        (u32::from(view.coordinator) << 24) | (view.incarnation as u32 & 0x00FF_FFFF),
    ])
}

/// Turns membership events into group events for the engine loop.
pub struct Bridge {
    /// The configured node addresses, by index.
    nodes: Vec<Ipv4Addr>,
    /// Payloads to multicast again once the next view is in.
    resend: Vec<Vec<u8>>,
    /// The view the engine was last given: its multicasts belong to it.
    view: Option<ViewId>,
}

impl Bridge {
    /// A bridge for the configured `nodes`, in `Nodes` order.
    pub fn new(nodes: Vec<Ipv4Addr>) -> Bridge {
        Bridge {
            nodes,
            resend: Vec::new(),
            view: None,
        }
    }

    /// The view the engine's multicasts are meant for (none when out of
    /// the group: they are dropped).
    pub fn view(&self) -> Option<ViewId> {
        self.view
    }

    /// The engine's name of a member: `ADDRESS/INCARNATION`.
    pub fn name(&self, member: &Member) -> String {
        let addr = self
            .nodes
            .get(usize::from(member.node))
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        format!("{addr}/{}", member.incarnation)
    }

    /// What `event` means for the engine, if anything. A malformed
    /// payload (from a node of another version) is dropped.
    pub fn translate(&mut self, event: NodeEvent) -> Option<GroupEvent> {
        match event {
            NodeEvent::Joined => Some(GroupEvent::Connected),
            NodeEvent::Left(reason) => {
                self.resend.clear();
                self.view = None;
                Some(GroupEvent::Disconnected {
                    reason: reason.as_str().to_string(),
                })
            }
            NodeEvent::View {
                id,
                members,
                my_index,
            } => {
                self.view = Some(id);
                Some(GroupEvent::View(View {
                    group_id: group_id(&id),
                    members: members.iter().map(|m| self.name(m)).collect(),
                    my_index,
                }))
            }
            NodeEvent::Deliver { origin, payload } => {
                let (mess_type, endian_mismatch, body) = decode(&payload)?;
                Some(GroupEvent::Message(Message {
                    sender: self.name(&origin),
                    mess_type,
                    endian_mismatch,
                    body: body.to_vec(),
                }))
            }
            NodeEvent::Undelivered { payload } => {
                if decode(&payload).is_some_and(|(t, _, _)| t == mess_type::MATURING) {
                    self.resend.push(payload);
                }
                None
            }
            NodeEvent::Lease(held) => Some(GroupEvent::Lease(held)),
        }
    }

    /// Payloads to multicast again: call after handing a view to the engine.
    pub fn take_resends(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.resend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::LeftReason;

    fn member(node: u8) -> Member {
        Member {
            node,
            incarnation: 42,
        }
    }

    #[test]
    fn payloads_round_trip_and_refuse_short_ones() {
        let p = encode(3, &[1, 2, 3]);
        assert_eq!(decode(&p), Some((3, false, &[1u8, 2, 3][..])));
        let mut foreign = p.clone();
        foreign[0] ^= LITTLE_ENDIAN;
        assert_eq!(decode(&foreign), Some((3, true, &[1u8, 2, 3][..])));
        assert_eq!(decode(&[1, 0]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn events_become_group_events() {
        let mut b = Bridge::new(vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(b.translate(NodeEvent::Joined), Some(GroupEvent::Connected));
        let id = ViewId {
            ltime: (7 << 32) | 9,
            coordinator: 1,
            incarnation: 0x1234_5678,
        };
        match b.translate(NodeEvent::View {
            id,
            members: vec![member(0), member(1)],
            my_index: 1,
        }) {
            Some(GroupEvent::View(v)) => {
                assert_eq!(v.group_id.raw(), [7, 9, (1 << 24) | 0x34_5678]);
                assert_eq!(v.members, vec!["10.0.0.1/42", "10.0.0.2/42"]);
                assert_eq!(v.my_index, 1);
            }
            other => panic!("not a view: {other:?}"),
        }
        match b.translate(NodeEvent::Deliver {
            origin: member(0),
            payload: encode(1, &[5]),
        }) {
            Some(GroupEvent::Message(m)) => {
                assert_eq!((m.sender.as_str(), m.mess_type), ("10.0.0.1/42", 1));
                assert_eq!(m.body, vec![5]);
            }
            other => panic!("not a message: {other:?}"),
        }
        assert_eq!(
            b.translate(NodeEvent::Deliver {
                origin: member(0),
                payload: vec![0]
            }),
            None
        );
        assert!(matches!(
            b.translate(NodeEvent::Left(LeftReason::Stalled)),
            Some(GroupEvent::Disconnected { .. })
        ));
    }

    #[test]
    fn only_an_undelivered_maturing_is_sent_again() {
        let mut b = Bridge::new(vec![Ipv4Addr::new(10, 0, 0, 1)]);
        for t in [mess_type::STATE, mess_type::BALANCE, mess_type::MATURING] {
            assert_eq!(
                b.translate(NodeEvent::Undelivered {
                    payload: encode(t, &[])
                }),
                None
            );
        }
        assert_eq!(b.take_resends(), vec![encode(mess_type::MATURING, &[])]);
        assert!(b.take_resends().is_empty());
    }
}
