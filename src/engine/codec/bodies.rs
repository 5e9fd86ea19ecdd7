//! The message bodies: STATE, MATURING, BALANCE, ARPCACHE and PROCEED,
//! each encoded as the C nodes write it and decoded with every count
//! checked against the bytes present.

use std::net::Ipv4Addr;

use super::bytes::{Reader, Writer};
use super::error::{BodyKind, CodecError};
use super::ClaimPriority;
use crate::base::{ArpEntry, ByteOrder, GroupId};

/// STATE: what a member holds and prefers, in answer to a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBody {
    /// The view this STATE answers.
    pub group_id: GroupId,
    /// The sender's real address.
    pub identity: Ipv4Addr,
    /// The sender's position in the view, as it sees it.
    pub index: i32,
    /// Whether the sender has matured.
    pub mature: bool,
    /// (VIF primary, priority) for every VIF the sender holds.
    pub held: Vec<(Ipv4Addr, ClaimPriority)>,
    /// The primaries of the VIFs the sender prefers.
    pub preferred: Vec<Ipv4Addr>,
}

/// One move of a BALANCE message: `vif` (a primary) goes to `owner` (a
/// member's identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The member's identity that takes the VIF.
    pub owner: Ipv4Addr,
    /// The VIF's primary.
    pub vif: Ipv4Addr,
}

const ARP_ENTRY_LEN: usize = 12;

impl StateBody {
    /// The body as the C nodes write it, integers in this host's order.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            36 + 8 * self.held.len() + 4 * self.preferred.len(),
        ));
        write_group_id(&mut w, self.group_id);
        w.addr(self.identity);
        w.int(self.index);
        w.int(i32::from(self.mature));
        w.count(self.held.len());
        for &(vif, priority) in &self.held {
            w.addr(vif);
            w.int(priority.to_wire());
        }
        w.count(self.preferred.len());
        for &addr in &self.preferred {
            w.addr(addr);
        }
        w.0
    }

    /// Decodes a STATE body; `endian_mismatch` says the sender's
    /// integers are in the other byte order.
    pub fn decode(body: &[u8], endian_mismatch: bool) -> Result<StateBody, CodecError> {
        let mut r = Reader::new(body, endian_mismatch, BodyKind::State);
        let group_id = read_group_id(&mut r)?;
        let identity = r.addr("real address")?;
        let index = r.int("member index")?;
        let mature = r.int("maturity")? != 0;
        let n = r.count("held VIFs", 8)?;
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let vif = r.addr("held VIF address")?;
            let offset = r.at();
            let value = r.int("claim priority")?;
            let priority = ClaimPriority::from_wire(value)
                .ok_or(CodecError::UnknownPriority { offset, value })?;
            held.push((vif, priority));
        }
        let p = r.count("preferred addresses", 4)?;
        let mut preferred = Vec::with_capacity(p);
        for _ in 0..p {
            preferred.push(r.addr("preferred address")?);
        }
        r.finish()?;
        Ok(StateBody {
            group_id,
            identity,
            index,
            mature,
            held,
            preferred,
        })
    }
}

pub(super) fn read_group_id(r: &mut Reader<'_>) -> Result<GroupId, CodecError> {
    GroupId::read(&mut r.bytes, r.order, "group id")
}

/// MATURING has an empty body.
pub fn decode_maturing(body: &[u8]) -> Result<(), CodecError> {
    Reader::new(body, false, BodyKind::Maturing).finish()
}

/// BALANCE: the leader's moves.
pub fn encode_balance(moves: &[Move]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(4 + 8 * moves.len()));
    w.count(moves.len());
    for m in moves {
        w.addr(m.owner);
        w.addr(m.vif);
    }
    w.0
}

/// A decoded BALANCE: the moves it carries and how many its count
/// announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceBody {
    /// The moves carried, at most as many as announced.
    pub moves: Vec<Move>,
    /// The count field. A C leader announces more moves than it writes
    /// when, within its round, the fullest member holds only preferred
    /// VIFs; the C receivers apply the pairs that are there (and then read
    /// stale buffer bytes for the rest), so we apply exactly the pairs the
    /// body carries and leave out what does not fit.
    pub announced: usize,
}

/// Decodes a BALANCE body: a count, then whole 8-byte pairs. A count
/// larger than the pairs present is bounded by them (see
/// [`BalanceBody::announced`]); a negative count, a partial pair or pairs
/// beyond the count make the body malformed.
pub fn decode_balance(body: &[u8], endian_mismatch: bool) -> Result<BalanceBody, CodecError> {
    let mut r = Reader::new(body, endian_mismatch, BodyKind::Balance);
    let count = r.int("moves")?;
    let rest = r.bytes.left();
    let carried = rest / 8;
    if rest % 8 != 0 {
        return Err(CodecError::TrailingBytes {
            kind: BodyKind::Balance,
            offset: r.at() + carried * 8,
            len: body.len(),
        });
    }
    let announced = usize::try_from(count).map_err(|_| CodecError::BadCount {
        kind: BodyKind::Balance,
        field: "moves",
        count,
        room: carried,
    })?;
    let mut moves = Vec::with_capacity(carried.min(announced));
    for _ in 0..carried.min(announced) {
        let owner = r.addr("new owner")?;
        let vif = r.addr("moved VIF")?;
        moves.push(Move { owner, vif });
    }
    r.finish()?;
    Ok(BalanceBody { moves, announced })
}

/// ARPCACHE: 12-byte entries (address, MAC, two bytes of padding).
pub fn encode_arp_cache(entries: &[ArpEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(ARP_ENTRY_LEN * entries.len());
    for e in entries {
        body.extend_from_slice(&e.addr.octets());
        body.extend_from_slice(&e.mac);
        body.extend_from_slice(&[0, 0]);
    }
    body
}

/// Decodes an ARPCACHE body: whole 12-byte entries only.
pub fn decode_arp_cache(body: &[u8]) -> Result<Vec<ArpEntry>, CodecError> {
    if body.len() % ARP_ENTRY_LEN != 0 {
        let whole = body.len() - body.len() % ARP_ENTRY_LEN;
        return Err(CodecError::TrailingBytes {
            kind: BodyKind::ArpCache,
            offset: whole,
            len: body.len(),
        });
    }
    Ok(body
        .chunks_exact(ARP_ENTRY_LEN)
        .map(|c| ArpEntry {
            addr: Ipv4Addr::new(c[0], c[1], c[2], c[3]),
            mac: [c[4], c[5], c[6], c[7], c[8], c[9]],
        })
        .collect())
}

/// PROCEED (ours): the group id of the view whose state exchange is to
/// finish without its silent members.
pub fn encode_proceed(group_id: GroupId) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(12));
    write_group_id(&mut w, group_id);
    w.0
}

pub(super) fn write_group_id(w: &mut Writer, group_id: GroupId) {
    w.0.extend_from_slice(&group_id.to_bytes(ByteOrder::native()));
}

/// Decodes a PROCEED body: one group id.
pub fn decode_proceed(body: &[u8], endian_mismatch: bool) -> Result<GroupId, CodecError> {
    let mut r = Reader::new(body, endian_mismatch, BodyKind::Proceed);
    let group_id = read_group_id(&mut r)?;
    r.finish()?;
    Ok(group_id)
}
