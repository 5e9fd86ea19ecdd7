//! Why a received datagram is refused.

use std::fmt;

use super::{
    Kind, MAC_LEN, MAX_DATAGRAM, MAX_LTIME, MAX_NODES, MAX_PAYLOAD, MIN_DATAGRAM, VERSION,
};

/// A datagram that [`super::open`] or [`super::decode_body`] refuses.
/// Offsets count from the first byte of the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than a header, an empty body and the tag.
    TooShort {
        /// The datagram's length.
        len: usize,
    },
    /// Longer than [`MAX_DATAGRAM`].
    TooLong {
        /// The datagram's length.
        len: usize,
    },
    /// Not a membership datagram: the first two bytes are not "WM".
    BadMagic {
        /// The first two bytes.
        found: u16,
    },
    /// A protocol version this node does not speak.
    BadVersion {
        /// The version byte.
        found: u8,
    },
    /// The tag does not match: another key, or bytes changed on the way.
    BadMac,
    /// A kind byte no kind has.
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// The body ends inside `field`.
    Truncated {
        /// The message kind.
        kind: Kind,
        /// The field the body ends in.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes the field takes.
        needed: usize,
        /// Bytes left from `offset`.
        left: usize,
    },
    /// A count announces more `items` than the rest of the body can hold,
    /// each taking at least `min_each` bytes.
    CountExceedsBody {
        /// The message kind.
        kind: Kind,
        /// What is counted.
        items: &'static str,
        /// The count.
        count: usize,
        /// Least bytes one item takes.
        min_each: usize,
        /// Bytes left after the count.
        left: usize,
    },
    /// More members than [`MAX_NODES`].
    TooManyMembers {
        /// The message kind.
        kind: Kind,
        /// The count.
        count: usize,
    },
    /// A payload longer than [`MAX_PAYLOAD`].
    PayloadTooLong {
        /// The message kind.
        kind: Kind,
        /// The payload's length.
        len: usize,
    },
    /// A view id the kind requires reads as "none" (ltime 0).
    MissingView {
        /// The message kind.
        kind: Kind,
        /// The field that holds the view id.
        field: &'static str,
    },
    /// A "none" view id (ltime 0) with a coordinator or incarnation set:
    /// a sender writes "none" as 17 zero bytes.
    BadNoneView {
        /// The message kind.
        kind: Kind,
        /// The field that holds the view id.
        field: &'static str,
    },
    /// A heartbeat's echo flag other than 0 or 1.
    BadEchoFlag {
        /// The flag byte.
        found: u8,
    },
    /// A heartbeat's echo of incarnation 0 (none) with a send time or flag
    /// set: a sender writes "no echo" as 17 zero bytes.
    BadNoEcho,
    /// A heartbeat's flags with a bit set that no version defines.
    BadHeartbeatFlags {
        /// The flags byte.
        found: u8,
    },
    /// Bytes after the body's last field.
    TrailingBytes {
        /// The message kind.
        kind: Kind,
        /// How many.
        extra: usize,
    },
    /// A logical time above [`super::MAX_LTIME`]: no node counts that far,
    /// and a node that took it as the highest seen could not count on.
    LtimeTooLarge {
        /// The message kind.
        kind: Kind,
        /// The field that holds it.
        field: &'static str,
        /// The logical time.
        ltime: u64,
    },
}

/// What a refusal counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Length, magic, version, kind or body layout.
    Malformed,
    /// The MAC.
    BadMac,
}

impl WireError {
    /// What this refusal counts as.
    pub fn reason(&self) -> Refusal {
        match self {
            WireError::BadMac => Refusal::BadMac,
            _ => Refusal::Malformed,
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireError::TooShort { len } => write!(
                f,
                "datagram of {len} bytes is shorter than the {MIN_DATAGRAM}-byte minimum"
            ),
            WireError::TooLong { len } => write!(
                f,
                "datagram of {len} bytes is longer than the {MAX_DATAGRAM}-byte maximum"
            ),
            WireError::BadMagic { found } => write!(
                f,
                "datagram starts with {found:#06X} instead of {:#06X}: it is not a membership datagram",
                super::MAGIC
            ),
            WireError::BadVersion { found } => write!(
                f,
                "datagram is of membership protocol version {found}, this node speaks version {VERSION} (run one release on every node)"
            ),
            WireError::BadMac => f.write_str(
                "authentication failed (wrong key or altered datagram)",
            ),
            WireError::UnknownKind { kind } => write!(
                f,
                "datagram of unknown kind {kind} (this node knows kinds 1 to 7; run one release on every node)"
            ),
            WireError::Truncated {
                kind,
                field,
                offset,
                needed,
                left,
            } => write!(
                f,
                "{kind} ends inside its {field} at byte {offset} ({needed} bytes needed, {left} left before the {MAC_LEN}-byte MAC)"
            ),
            WireError::CountExceedsBody {
                kind,
                items,
                count,
                min_each,
                left,
            } => write!(
                f,
                "{kind} announces {count} {items} but only {left} bytes follow (each takes at least {min_each})"
            ),
            WireError::TooManyMembers { kind, count } => write!(
                f,
                "{kind} lists {count} members, more than the {MAX_NODES} a cluster may have"
            ),
            WireError::PayloadTooLong { kind, len } => write!(
                f,
                "{kind} carries a payload of {len} bytes, more than the {MAX_PAYLOAD}-byte maximum"
            ),
            WireError::MissingView { kind, field } => {
                write!(f, "{kind} has no {field} (its ltime is 0)")
            }
            WireError::BadNoneView { kind, field } => write!(
                f,
                "{kind} has a {field} of ltime 0 (none) with a coordinator or incarnation set"
            ),
            WireError::BadEchoFlag { found } => write!(
                f,
                "HEARTBEAT has an echo flag of {found}; only 0 and 1 are defined"
            ),
            WireError::BadHeartbeatFlags { found } => write!(
                f,
                "HEARTBEAT has flags {found:#04x}; only bit 0 (answers wanted) is defined"
            ),
            WireError::BadNoEcho => f.write_str(
                "HEARTBEAT has an echo of incarnation 0 (none) with a send time or flag set",
            ),
            WireError::TrailingBytes { kind, extra } => write!(
                f,
                "{kind} has {extra} unexpected bytes after its last field"
            ),
            WireError::LtimeTooLarge { kind, field, ltime } => write!(
                f,
                "{kind} carries {ltime} as its {field}, above the largest logical time {MAX_LTIME}"
            ),
        }
    }
}

impl std::error::Error for WireError {}
