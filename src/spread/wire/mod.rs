//! Pure encoding and decoding of the Spread 4.4 client protocol: the
//! connect handshake and the message frames, in both directions (the
//! client side is what the session uses; the daemon side serves the test
//! daemon and the transcript tests). Nothing here touches a socket.
//!
//! Decoding takes bytes from a peer: every length is checked against the
//! protocol maxima before anything is allocated, and malformed input is a
//! [`DecodeError`], never a panic.

mod cursor;
pub mod frame;
pub mod handshake;
pub mod membership_body;

use std::fmt;

pub use frame::{
    decode_frame, decode_header, decode_payload, encode_frame, Frame, Header, Outgoing,
};
pub use handshake::{Accept, ConnectRequest, Parse, RejectCode, Version};
pub use membership_body::GroupId;

/// Longest private name a client may ask for.
pub const MAX_PRIVATE_NAME: usize = 10;
pub use crate::base::spread_name::{is_legal_group_name, GROUP_NAME_FIELD, MAX_GROUP_NAME};
/// Most groups a client may address in one request.
pub const MAX_GROUPS_PER_REQUEST: usize = 100;
/// Largest body plus group list of one message: 100 packets of 1472
/// bytes less their 32-byte headers.
pub const MAX_MESSAGE_BODY_LEN: usize = 144_000;
/// Most names a received frame can carry: a membership's member list is
/// bounded by the message size like any group list.
pub const MAX_GROUPS_RECEIVED: usize = MAX_MESSAGE_BODY_LEN / GROUP_NAME_FIELD;
/// The fixed message header.
pub const HEADER_LEN: usize = 48;

/// Service-type bits, as Spread defines them.
pub mod service_bits {
    /// May be lost; no order.
    pub const UNRELIABLE: u32 = 0x0000_0001;
    /// Delivered, in no particular order.
    pub const RELIABLE: u32 = 0x0000_0002;
    /// In the order each sender sent.
    pub const FIFO: u32 = 0x0000_0004;
    /// In causal order.
    pub const CAUSAL: u32 = 0x0000_0008;
    /// In one total order at every member.
    pub const AGREED: u32 = 0x0000_0010;
    /// In total order, once every member has it.
    pub const SAFE: u32 = 0x0000_0020;
    /// Every regular (ordering) service bit.
    pub const REGULAR: u32 = 0x0000_003f;
    /// Not delivered back to the sender.
    pub const SELF_DISCARD: u32 = 0x0000_0040;
    /// A membership caused by a join.
    pub const CAUSED_BY_JOIN: u32 = 0x0000_0100;
    /// A membership caused by a leave.
    pub const CAUSED_BY_LEAVE: u32 = 0x0000_0200;
    /// A membership caused by a disconnect.
    pub const CAUSED_BY_DISCONNECT: u32 = 0x0000_0400;
    /// A membership caused by a partition or merge.
    pub const CAUSED_BY_NETWORK: u32 = 0x0000_0800;
    /// Every cause bit.
    pub const CAUSES: u32 = 0x0000_0f00;
    /// A regular membership.
    pub const REG_MEMB: u32 = 0x0000_1000;
    /// A transitional membership.
    pub const TRANSITION: u32 = 0x0000_2000;
    /// A join request.
    pub const JOIN: u32 = 0x0001_0000;
    /// A leave request.
    pub const LEAVE: u32 = 0x0002_0000;
    /// A disconnect request.
    pub const KILL: u32 = 0x0004_0000;
    /// A group-list request (not used here).
    pub const GROUPS: u32 = 0x0008_0000;
    /// A request the daemon refused and returned.
    pub const REJECT: u32 = 0x0040_0000;
    /// What a little-endian sender ORs into `type` and `hint`. Symmetric
    /// under a 4-byte swap, so it reads the same in either order.
    pub const ENDIAN_MARKER: u32 = 0x8000_0080;
}

/// The byte order of a peer's integers (the shared one of `base`; Spread
/// adds how a sender marks it).
pub use crate::base::ByteOrder;

impl ByteOrder {
    /// The order a `type` or `hint` field was written in, told by the
    /// marker: little-endian senders set it, big-endian ones do not.
    pub fn of_marked(field: [u8; 4]) -> ByteOrder {
        let marker = service_bits::ENDIAN_MARKER.to_le_bytes();
        if field[0] & marker[0] == marker[0] && field[3] & marker[3] == marker[3] {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        }
    }

    /// The marker a sender of this order ORs into `type` and `hint`.
    pub const fn marker(self) -> u32 {
        match self {
            ByteOrder::Little => service_bits::ENDIAN_MARKER,
            ByteOrder::Big => 0,
        }
    }
}

/// Bytes from a peer that do not form a valid protocol unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the unit needs.
    Truncated {
        /// The unit.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// A length or count outside what the protocol allows.
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
        /// The largest allowed.
        max: usize,
    },
    /// A 32-byte name field with no terminating NUL.
    UnterminatedName {
        /// The field.
        field: &'static str,
    },
    /// A name that is not text.
    NameNotText {
        /// The field.
        field: &'static str,
    },
    /// A service type that is neither a message, a membership nor a reject.
    UnknownServiceType(u32),
    /// A regular membership without exactly one cause.
    BadMembershipCause(u32),
    /// The membership body's own-set offset points at no set.
    BadVsSetOffset(u32),
    /// Bytes left over after the unit ended.
    TrailingBytes {
        /// The unit.
        what: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated {
                what,
                needed,
                available,
            } => {
                write!(
                    f,
                    "{what} is truncated: needs {needed} bytes, has {available}"
                )
            }
            DecodeError::OutOfRange { field, value, max } => {
                write!(f, "{field} is {value}, outside 0..={max}")
            }
            DecodeError::UnterminatedName { field } => {
                write!(
                    f,
                    "{field} fills its 32-byte field without a terminating NUL"
                )
            }
            DecodeError::NameNotText { field } => write!(f, "{field} is not valid text"),
            DecodeError::UnknownServiceType(t) => write!(f, "unknown service type {t:#010x}"),
            DecodeError::BadMembershipCause(t) => {
                write!(
                    f,
                    "membership type {t:#010x} does not name exactly one cause"
                )
            }
            DecodeError::BadVsSetOffset(o) => {
                write!(
                    f,
                    "own virtual-synchrony set offset {o} is not the start of a set"
                )
            }
            DecodeError::TrailingBytes { what, extra } => {
                write!(f, "{what} has {extra} unexpected trailing bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Values that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A name that does not fit its field, or contains a NUL.
    BadName {
        /// The field.
        field: &'static str,
        /// The name.
        name: String,
    },
    /// More groups than a request may address.
    TooManyGroups {
        /// Groups addressed.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Body plus group list above the message limit.
    TooLong {
        /// Bytes of body and group list.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BadName { field, name } => write!(
                f,
                "{field} {name:?} cannot be sent: at most {MAX_GROUP_NAME} bytes and no NUL"
            ),
            EncodeError::TooManyGroups { count, max } => {
                write!(f, "{count} groups in one message, at most {max} allowed")
            }
            EncodeError::TooLong { len, max } => write!(
                f,
                "message of {len} bytes (body plus 32 per group) exceeds the limit of {max}"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Whether `name` is a private name the daemon accepts: at most 10 bytes,
/// all in 0x24..=0x7e. Empty asks the daemon to pick one.
pub fn is_legal_private_name(name: &[u8]) -> bool {
    name.len() <= MAX_PRIVATE_NAME && name.iter().all(|b| (0x24..=0x7e).contains(b))
}
