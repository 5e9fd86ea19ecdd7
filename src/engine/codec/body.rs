//! One decode for every received body: [`Body::decode`] reads the body
//! its message type names, so a receiver matches on what arrived.

use super::bodies::{decode_arp_cache, decode_balance, decode_maturing, decode_proceed};
use super::handoff::{decode_holding, decode_released};
use super::health::decode_health;
use super::{mess_type, BalanceBody, CodecError, HealthBody, StateBody, VifList};
use crate::base::{ArpEntry, GroupId};

/// A received message body, by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// STATE: what the sender holds and prefers, in answer to a view.
    State(StateBody),
    /// MATURING: the sender has matured.
    Maturing,
    /// BALANCE: the leader's moves.
    Balance(BalanceBody),
    /// OPERATOR: defined by the C nodes, never sent; its body is not read.
    Operator,
    /// ARPCACHE: the sender's ARP table.
    ArpCache(Vec<ArpEntry>),
    /// PROCEED: finish the state exchange of this view without the
    /// members whose STATE has not arrived.
    Proceed(GroupId),
    /// HOLDING: the VIFs the sender has up.
    Holding(VifList),
    /// RELEASED: the VIFs the sender has taken down.
    Released(VifList),
    /// HEALTH: what the sender can serve.
    Health(HealthBody),
    /// A type this node does not know (C nodes ignore such types too);
    /// its body is not read.
    Unknown(i16),
}

impl Body {
    /// Decodes `body`, of message type `kind`, from a sender whose
    /// integers are in the other byte order when `endian_mismatch`. A
    /// HEALTH body must be about `vifs` VIFs, our number (see
    /// [`decode_health`]).
    pub fn decode(
        kind: i16,
        body: &[u8],
        endian_mismatch: bool,
        vifs: usize,
    ) -> Result<Body, CodecError> {
        Ok(match kind {
            mess_type::STATE => Body::State(StateBody::decode(body, endian_mismatch)?),
            mess_type::MATURING => {
                decode_maturing(body)?;
                Body::Maturing
            }
            mess_type::BALANCE => Body::Balance(decode_balance(body, endian_mismatch)?),
            mess_type::OPERATOR => Body::Operator,
            mess_type::ARPCACHE => Body::ArpCache(decode_arp_cache(body)?),
            mess_type::PROCEED => Body::Proceed(decode_proceed(body, endian_mismatch)?),
            mess_type::HOLDING => Body::Holding(decode_holding(body, endian_mismatch)?),
            mess_type::RELEASED => Body::Released(decode_released(body, endian_mismatch)?),
            mess_type::HEALTH => Body::Health(decode_health(body, endian_mismatch, vifs)?),
            other => Body::Unknown(other),
        })
    }
}
