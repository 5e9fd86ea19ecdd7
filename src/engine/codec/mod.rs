//! Bodies of the messages Wackamole members exchange, byte-for-byte as the
//! C nodes write them.
//!
//! Integers are written in this host's byte order (the group service marks
//! the message with the sender's order, and a receiver of the other order
//! is told so); addresses are written as their four bytes, in network
//! order, on every host. On an endian mismatch every int32 of STATE,
//! BALANCE, PROCEED, HOLDING, RELEASED and HEALTH is byte-swapped, and the
//! addresses are read as they are. The C nodes swap the address fields too, so a C node reads
//! every address of a peer of the other byte order backwards (a claim on
//! 10.0.0.1 arrives as a claim on 1.0.0.10, which no VIF matches), and a
//! mixed-endian cluster of C nodes does not agree on who holds what; we
//! read what the sender meant, so nodes of this implementation agree
//! whatever their CPUs (see the engine's module docs).
//! ARPCACHE carries no host-order integer (its count is implied by the
//! length, its addresses are in network order), so it is never swapped.
//!
//! [`Body::decode`] reads any received body by its message type. The
//! layouts, offsets in bytes from the start of the body ("int32" in the
//! sender's byte order, addresses in network order):
//!
//! STATE (type 1; `H` VIFs held, `P` preferred):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 12 | group id of the view it answers: 3 × int32 |
//! | 12 | 4 | the sender's real address |
//! | 16 | 4 | the sender's index in the view, as it sees it: int32 |
//! | 20 | 4 | mature: int32, nonzero once the sender has matured |
//! | 24 | 4 | H: int32 |
//! | 28 + 8 × i | 4 | held VIF `i`: its primary address |
//! | 32 + 8 × i | 4 | held VIF `i`: its claim priority, int32 in 0..=5 ([`ClaimPriority`]) |
//! | 28 + 8 × H | 4 | P: int32 |
//! | 32 + 8 × H | 4 × P | preferred VIF primaries |
//!
//! MATURING (type 2) has an empty body.
//!
//! BALANCE (type 3; `N` moves):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | N: int32 (may announce more moves than follow: see [`BalanceBody::announced`]) |
//! | 4 + 8 × i | 4 | move `i`: the new owner's real address |
//! | 8 + 8 × i | 4 | move `i`: the primary of the VIF it takes |
//!
//! ARPCACHE (type 5; as many entries as the length holds, no count):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 12 × i | 4 | entry `i`: the IPv4 address |
//! | 12 × i + 4 | 6 | entry `i`: its MAC address |
//! | 12 × i + 10 | 2 | padding: zero when we send, not read |
//!
//! PROCEED (type 6):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 12 | group id of the view whose state exchange is to finish: 3 × int32 |
//!
//! HOLDING (type 7) and RELEASED (type 8) are ours, as is PROCEED (type
//! 6); C nodes ignore every type they do not know (OPERATOR, type 4, is
//! the C nodes' and never sent). Both are sent AGREED and share one
//! layout (`N` the number of VIFs listed):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 12 | group id of the view the sender sent it in: 3 × int32 |
//! | 12 | 4 | N: int32 |
//! | 16 | 4 × N | VIF primary addresses, network order, each at most once |
//!
//! HOLDING goes out on every view, just before the sender's STATE, and
//! lists the VIFs the sender has up in its kernel at that moment (it is
//! also how a member learns that the sender is one of ours). RELEASED
//! lists the VIFs the sender has just taken down, and is sent only after
//! the sender's driver has removed them (see the engine's module docs).
//!
//! HEALTH (type 9) is ours too, sent AGREED on every view before the
//! sender's STATE when it is not fully healthy, and whenever its health
//! changes while in a view (`N` the number of VIFs, which must be ours:
//! another count is a configuration mismatch, refused):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 12 | group id of the view the sender sent it in: 3 × int32 |
//! | 12 | 4 | flags: int32, bit 0 set when the sender is healthy as a node; other bits zero |
//! | 16 | 4 | N: int32 |
//! | 20 | ⌈N / 8⌉ | bitmap: bit `i % 8` of byte `i / 8` set when the sender can serve VIF `i` (configuration order); bits past N zero |
//!
//! The bitmap is bytes, never swapped; the flags and N follow the
//! sender's byte order like every int32.
//!
//! The parts, by job:
//! - this file: the message types and [`ClaimPriority`];
//! - `body`: [`Body`], any received body decoded by its type;
//! - `bodies`: each message body's encoding and decoding
//!   ([`StateBody`], [`encode_balance`], [`decode_arp_cache`], ...);
//! - `handoff`: the HOLDING and RELEASED bodies ([`VifList`]);
//! - `health`: the HEALTH body ([`HealthBody`]);
//! - `bytes`: the reader (on the shared one of `base::bytes`) and writer
//!   of host-order integers and network-order addresses the bodies are
//!   made of;
//! - `error`: [`CodecError`], which names the message, field and offset;
//! - `tests`: the bodies against hand-built bytes in both byte orders.

mod bodies;
mod body;
mod bytes;
mod error;
mod handoff;
mod health;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_handoff;
#[cfg(test)]
mod tests_health;

pub use crate::base::{ArpEntry, GroupId};
pub use bodies::{
    decode_arp_cache, decode_balance, decode_maturing, decode_proceed, encode_arp_cache,
    encode_balance, encode_proceed, BalanceBody, Move, StateBody,
};
pub use body::Body;
pub use error::{BodyKind, CodecError};
pub use handoff::{decode_holding, decode_released, encode_holding, encode_released, VifList};
pub use health::{decode_health, encode_health, HealthBody};

/// Wackamole message types (the group service's `mess_type`).
pub mod mess_type {
    /// STATE: what a member holds and prefers, in answer to a view.
    pub const STATE: i16 = 1;
    /// MATURING: the sender has matured.
    pub const MATURING: i16 = 2;
    /// BALANCE: the leader's moves.
    pub const BALANCE: i16 = 3;
    /// Defined by the C nodes, never sent, ignored on receipt.
    pub const OPERATOR: i16 = 4;
    /// ARPCACHE: the sender's ARP table.
    pub const ARPCACHE: i16 = 5;
    /// Ours: "finish the state exchange of this view without the members
    /// whose STATE has not arrived" (see the engine's module docs).
    pub const PROCEED: i16 = 6;
    /// Ours: "these are the VIFs I have up", sent on every view just
    /// before the sender's STATE (see the engine's module docs).
    pub const HOLDING: i16 = 7;
    /// Ours: "I have taken these VIFs down" (see the engine's module docs).
    pub const RELEASED: i16 = 8;
    /// Ours: "this is what I can serve" (see the engine's module docs).
    pub const HEALTH: i16 = 9;
}

crate::base::wire_enum::wire_enum! {
/// How strongly a member holds (or wants) a VIF. The order matters: the
/// claim rules compare priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClaimPriority: i32 {
    /// No member holds it.
    Unclaimed = 0,
    /// Defined by the C nodes, never produced.
    ClaimedBoot = 1,
    /// Held, assigned by the balancing rules.
    Claimed = 2,
    /// Defined by the C nodes, never produced.
    PreferBoot = 3,
    /// Some member prefers it; not yet taken over.
    Prefer = 4,
    /// Held by a member that prefers it.
    PreferClaimed = 5,
}
}

impl ClaimPriority {
    /// The priority a wire value names, if any.
    pub fn from_wire(value: i32) -> Option<ClaimPriority> {
        ClaimPriority::from_wire_value(value)
    }

    /// The wire value.
    pub fn to_wire(self) -> i32 {
        self as i32
    }

    /// The name ALGORITHM.md and the status output use.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimPriority::Unclaimed => "UNCLAIMED",
            ClaimPriority::ClaimedBoot => "CLAIMED_BOOT",
            ClaimPriority::Claimed => "CLAIMED",
            ClaimPriority::PreferBoot => "PREFER_BOOT",
            ClaimPriority::Prefer => "PREFER",
            ClaimPriority::PreferClaimed => "PREFER_CLAIMED",
        }
    }
}
