//! What a session receives: messages, memberships, self-leave notices and
//! rejects, decoded from frames the way the Spread library reports them.

use super::wire::membership_body::{decode_regular_body, decode_transitional_body};
use super::wire::service_bits as bits;
use super::wire::{ByteOrder, DecodeError, Frame, GroupId};

/// A message ordering service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// May be lost; no order.
    Unreliable,
    /// Delivered, in no particular order.
    Reliable,
    /// In the order each sender sent.
    Fifo,
    /// In causal order.
    Causal,
    /// In one total order at every member.
    Agreed,
    /// In total order, once every member has it.
    Safe,
}

impl Service {
    /// Every service, weakest first.
    pub const ALL: [Service; 6] = [
        Service::Unreliable,
        Service::Reliable,
        Service::Fifo,
        Service::Causal,
        Service::Agreed,
        Service::Safe,
    ];

    /// The service-type bit.
    pub fn bits(self) -> u32 {
        match self {
            Service::Unreliable => bits::UNRELIABLE,
            Service::Reliable => bits::RELIABLE,
            Service::Fifo => bits::FIFO,
            Service::Causal => bits::CAUSAL,
            Service::Agreed => bits::AGREED,
            Service::Safe => bits::SAFE,
        }
    }

    /// The service of a type with exactly one ordering bit set.
    pub fn from_bits(service_type: u32) -> Option<Service> {
        let ordering = service_type & bits::REGULAR;
        Service::ALL.into_iter().find(|s| s.bits() == ordering)
    }

    /// This service, not delivered back to the sender.
    pub fn self_discard(self) -> ServiceType {
        ServiceType {
            service: self,
            self_discard: true,
        }
    }
}

/// A service plus the SELF_DISCARD flag: what a multicast asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceType {
    /// The ordering service.
    pub service: Service,
    /// Do not deliver the message back to its sender.
    pub self_discard: bool,
}

impl ServiceType {
    /// The service-type bits of this request.
    pub fn bits(self) -> u32 {
        self.service.bits()
            | if self.self_discard {
                bits::SELF_DISCARD
            } else {
                0
            }
    }
}

impl From<Service> for ServiceType {
    fn from(service: Service) -> ServiceType {
        ServiceType {
            service,
            self_discard: false,
        }
    }
}

/// One thing received from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A regular (application) message.
    Message(Message),
    /// A membership change of a group we joined.
    Membership(Membership),
    /// We left `group` (only the leaver gets this).
    SelfLeave {
        /// The group left.
        group: String,
    },
    /// The daemon refused one of our requests and returned it.
    Rejected(Rejected),
}

/// A regular (application) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The ordering service it was sent with.
    pub service: Service,
    /// The sender's private group.
    pub sender: String,
    /// Every group the message was sent to.
    pub groups: Vec<String>,
    /// The application's message type.
    pub mess_type: i16,
    /// The sender's native byte order differs from ours: integers in the
    /// body need swapping.
    pub endian_mismatch: bool,
    /// The message body, as sent.
    pub body: Vec<u8>,
}

/// Why a regular membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A member joined.
    Join,
    /// A member left.
    Leave,
    /// A member disconnected.
    Disconnect,
    /// The network partitioned or merged.
    Network,
}

/// Which kind of membership message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MembershipKind {
    /// A new view is installed.
    Regular(Cause),
    /// The view `group_id` is ending; a regular membership follows.
    Transitional,
}

/// A membership message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Regular or transitional, and why.
    pub kind: MembershipKind,
    /// The group whose membership changed.
    pub group: String,
    /// The new view's id (regular), or the ending view's (transitional).
    pub group_id: GroupId,
    /// Private groups of the members, in Spread's order (regular only).
    pub members: Vec<String>,
    /// Our position in `members`, as the library reports it.
    pub my_index: Option<usize>,
    /// Members that came into this view together. For join, leave and
    /// disconnect: one set holding just the member that changed.
    pub vs_sets: Vec<Vec<String>>,
    /// The set the daemon pointed at as ours (for join, leave and
    /// disconnect it always points at the single set).
    pub my_vs_set: Option<usize>,
}

/// What kind of request the daemon refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedRequest {
    /// A multicast with this service.
    Multicast(Service),
    /// A join.
    Join,
    /// A leave.
    Leave,
    /// A disconnect.
    Disconnect,
    /// A type this library does not send.
    Other(u32),
}

/// A request returned by the daemon's access control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// What the request was.
    pub request: RejectedRequest,
    /// The private group it was sent as (ours).
    pub sender: String,
    /// The groups it was addressed to.
    pub groups: Vec<String>,
    /// The message type it carried.
    pub mess_type: i16,
    /// The body it carried.
    pub body: Vec<u8>,
}

impl RejectedRequest {
    fn from_type(original: u32) -> RejectedRequest {
        match original & !bits::SELF_DISCARD {
            bits::JOIN => RejectedRequest::Join,
            bits::LEAVE => RejectedRequest::Leave,
            bits::KILL => RejectedRequest::Disconnect,
            other => Service::from_bits(other)
                .filter(|s| s.bits() == other)
                .map_or(RejectedRequest::Other(original), RejectedRequest::Multicast),
        }
    }
}

fn cause_of(service_type: u32) -> Result<Cause, DecodeError> {
    match service_type & bits::CAUSES {
        bits::CAUSED_BY_JOIN => Ok(Cause::Join),
        bits::CAUSED_BY_LEAVE => Ok(Cause::Leave),
        bits::CAUSED_BY_DISCONNECT => Ok(Cause::Disconnect),
        bits::CAUSED_BY_NETWORK => Ok(Cause::Network),
        _ => Err(DecodeError::BadMembershipCause(service_type)),
    }
}

impl SessionEvent {
    /// Interprets a frame received by the session whose private group is
    /// `private_group`.
    pub fn from_frame(frame: Frame, private_group: &str) -> Result<SessionEvent, DecodeError> {
        let t = frame.header.service_type;
        if t & bits::REJECT != 0 {
            let mess_type = frame.header.mess_type();
            return Ok(SessionEvent::Rejected(Rejected {
                request: RejectedRequest::from_type(frame.original_type.unwrap_or(0)),
                sender: frame.header.name,
                groups: frame.groups,
                mess_type,
                body: frame.body,
            }));
        }
        if t & bits::REG_MEMB != 0 {
            let cause = cause_of(t)?;
            // The daemon writes the body in the order its `type` tells,
            // which is what the library converts it by.
            let body = decode_regular_body(frame.header.order, &frame.body)?;
            let my_index = frame.groups.iter().position(|m| m == private_group);
            return Ok(SessionEvent::Membership(Membership {
                kind: MembershipKind::Regular(cause),
                group: frame.header.name,
                group_id: body.group_id,
                members: frame.groups,
                my_index,
                vs_sets: body.vs_sets,
                my_vs_set: body.my_vs_set,
            }));
        }
        if t & bits::TRANSITION != 0 {
            let group_id = decode_transitional_body(frame.header.order, &frame.body)?;
            return Ok(SessionEvent::Membership(Membership {
                kind: MembershipKind::Transitional,
                group: frame.header.name,
                group_id,
                members: frame.groups,
                my_index: None,
                vs_sets: Vec::new(),
                my_vs_set: None,
            }));
        }
        if t & bits::CAUSES == bits::CAUSED_BY_LEAVE {
            return Ok(SessionEvent::SelfLeave {
                group: frame.header.name,
            });
        }
        match Service::from_bits(t) {
            Some(service) if t & bits::CAUSES == 0 => Ok(SessionEvent::Message(Message {
                service,
                mess_type: frame.header.mess_type(),
                endian_mismatch: frame.header.hint_order != ByteOrder::native(),
                sender: frame.header.name,
                groups: frame.groups,
                body: frame.body,
            })),
            _ => Err(DecodeError::UnknownServiceType(t)),
        }
    }
}
