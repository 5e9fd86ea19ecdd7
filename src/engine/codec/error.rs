//! Decoding errors of message bodies.

use std::fmt;
use std::net::Ipv4Addr;

/// Which message a decoding error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// STATE.
    State,
    /// MATURING.
    Maturing,
    /// BALANCE.
    Balance,
    /// ARPCACHE.
    ArpCache,
    /// PROCEED.
    Proceed,
    /// HOLDING.
    Holding,
    /// RELEASED.
    Released,
    /// HEALTH.
    Health,
}

impl fmt::Display for BodyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyKind::State => "STATE",
            BodyKind::Maturing => "MATURING",
            BodyKind::Balance => "BALANCE",
            BodyKind::ArpCache => "ARPCACHE",
            BodyKind::Proceed => "PROCEED",
            BodyKind::Holding => "HOLDING",
            BodyKind::Released => "RELEASED",
            BodyKind::Health => "HEALTH",
        })
    }
}

/// A body that does not decode. Display names the message, the field and
/// the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The body ends before `field`, which starts at `offset`.
    Truncated {
        /// The message.
        kind: BodyKind,
        /// The field the body ends before.
        field: &'static str,
        /// Where that field starts.
        offset: usize,
        /// The body's length.
        len: usize,
    },
    /// A count is negative or announces more entries than the body holds.
    BadCount {
        /// The message.
        kind: BodyKind,
        /// What is counted.
        field: &'static str,
        /// The count as sent.
        count: i32,
        /// Entries the rest of the body can hold.
        room: usize,
    },
    /// A claim priority outside 0..=5.
    UnknownPriority {
        /// Where the priority is.
        offset: usize,
        /// The value sent.
        value: i32,
    },
    /// An address listed twice where each may appear once.
    RepeatedAddress {
        /// The message.
        kind: BodyKind,
        /// Where the second occurrence is.
        offset: usize,
        /// The address.
        addr: Ipv4Addr,
    },
    /// Bits set that the layout leaves zero (unknown flags, bits past the
    /// last VIF of a bitmap).
    UnknownBits {
        /// The message.
        kind: BodyKind,
        /// The field they are in.
        field: &'static str,
        /// Where that field (or its last byte) is.
        offset: usize,
    },
    /// A list of VIFs whose length is not our number of VIFs: the
    /// sender's configuration differs.
    VifCount {
        /// The message.
        kind: BodyKind,
        /// The count as sent.
        count: i32,
        /// Our number of VIFs.
        ours: usize,
    },
    /// Bytes left over after the last field.
    TrailingBytes {
        /// The message.
        kind: BodyKind,
        /// Where the unexpected bytes start.
        offset: usize,
        /// The body's length.
        len: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated {
                kind,
                field,
                offset,
                len,
            } => write!(
                f,
                "{kind} body of {len} bytes ends before its {field} at byte {offset}"
            ),
            CodecError::BadCount {
                kind,
                field,
                count,
                room,
            } => write!(
                f,
                "{kind} body announces {count} {field}, but only {room} fit in the rest of the body"
            ),
            CodecError::UnknownPriority { offset, value } => write!(
                f,
                "STATE body has claim priority {value} at byte {offset} (known: 0..=5)"
            ),
            CodecError::RepeatedAddress { kind, offset, addr } => write!(
                f,
                "{kind} body lists {addr} a second time (at byte {offset})"
            ),
            CodecError::UnknownBits {
                kind,
                field,
                offset,
            } => write!(
                f,
                "{kind} body has unknown bits set in its {field} at byte {offset}"
            ),
            CodecError::VifCount { kind, count, ours } => write!(
                f,
                "{kind} body is about {count} VIFs, but we have {ours} VirtualInterfaces \
                 (configurations differ)"
            ),
            CodecError::TrailingBytes { kind, offset, len } => write!(
                f,
                "{kind} body has {} unexpected bytes after its last field (at byte {offset})",
                len - offset
            ),
        }
    }
}

impl std::error::Error for CodecError {}
