//! The bodies of our handoff messages, HOLDING and RELEASED: the view's
//! group id, then a list of VIF primaries, in the style of STATE (int32
//! in the sender's order, addresses in network order).

use std::net::Ipv4Addr;

use super::bodies::{read_group_id, write_group_id};
use super::bytes::{Reader, Writer};
use super::error::{BodyKind, CodecError};
use crate::base::GroupId;

/// A HOLDING or RELEASED body: a view and the VIFs it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifList {
    /// The view the sender sent it in.
    pub group_id: GroupId,
    /// VIF primaries, each at most once.
    pub vifs: Vec<Ipv4Addr>,
}

fn encode(group_id: GroupId, vifs: &[Ipv4Addr]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(16 + 4 * vifs.len()));
    write_group_id(&mut w, group_id);
    w.count(vifs.len());
    for &vif in vifs {
        w.addr(vif);
    }
    w.0
}

fn decode(body: &[u8], endian_mismatch: bool, kind: BodyKind) -> Result<VifList, CodecError> {
    let mut r = Reader::new(body, endian_mismatch, kind);
    let group_id = read_group_id(&mut r)?;
    let n = r.count("VIFs", 4)?;
    let mut vifs = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = r.at();
        let addr = r.addr("VIF address")?;
        if vifs.contains(&addr) {
            return Err(CodecError::RepeatedAddress { kind, offset, addr });
        }
        vifs.push(addr);
    }
    r.finish()?;
    Ok(VifList { group_id, vifs })
}

/// HOLDING (ours): the VIFs the sender has up as it answers view
/// `group_id`; sent just before its STATE.
pub fn encode_holding(group_id: GroupId, vifs: &[Ipv4Addr]) -> Vec<u8> {
    encode(group_id, vifs)
}

/// Decodes a HOLDING body.
pub fn decode_holding(body: &[u8], endian_mismatch: bool) -> Result<VifList, CodecError> {
    decode(body, endian_mismatch, BodyKind::Holding)
}

/// RELEASED (ours): the VIFs the sender has just taken down in view
/// `group_id`.
pub fn encode_released(group_id: GroupId, vifs: &[Ipv4Addr]) -> Vec<u8> {
    encode(group_id, vifs)
}

/// Decodes a RELEASED body.
pub fn decode_released(body: &[u8], endian_mismatch: bool) -> Result<VifList, CodecError> {
    decode(body, endian_mismatch, BodyKind::Released)
}
