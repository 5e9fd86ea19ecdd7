//! Membership bodies: the group id, and for regular memberships the
//! virtual-synchrony sets.

use super::cursor::{cursor, name};
use super::{
    ByteOrder, DecodeError, EncodeError, GROUP_NAME_FIELD, MAX_GROUPS_RECEIVED, MAX_GROUP_NAME,
};
pub use crate::base::GroupId;

/// Size of a group id on the wire.
pub use crate::base::group_id::GROUP_ID_LEN;
/// Where the vs-sets start; the own-set offset counts from here.
const VS_SETS_START: usize = 20;

/// The body of a regular membership message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegularBody {
    /// The new view's id.
    pub group_id: GroupId,
    /// Members that moved together into this view, set by set.
    pub vs_sets: Vec<Vec<String>>,
    /// The set the daemon's own-set offset points at.
    pub my_vs_set: Option<usize>,
}

/// Decodes a transitional membership body: the ending view's group id.
pub fn decode_transitional_body(order: ByteOrder, body: &[u8]) -> Result<GroupId, DecodeError> {
    let mut cur = cursor(body, "transitional membership body");
    let id = GroupId::read(&mut cur, order, "group id")?;
    cur.finish()?;
    Ok(id)
}

/// Encodes a transitional membership body: the ending view's group id.
/// A regular membership body starts with the same twelve bytes.
pub fn encode_transitional_body(order: ByteOrder, group_id: GroupId) -> [u8; GROUP_ID_LEN] {
    group_id.to_bytes(order)
}

/// Decodes a regular membership body. Counts are checked against the
/// bytes actually present before anything is allocated.
pub fn decode_regular_body(order: ByteOrder, body: &[u8]) -> Result<RegularBody, DecodeError> {
    let mut cur = cursor(body, "membership body");
    let group_id = GroupId::read(&mut cur, order, "group id")?;
    let num_sets = cur.u32(order, "number of vs-sets")? as usize;
    let my_offset = cur.u32(order, "own vs-set offset")?;
    // Each set takes at least its 4-byte count.
    if num_sets > cur.left() / 4 {
        return Err(DecodeError::OutOfRange {
            field: "number of vs-sets",
            value: num_sets as i64,
            max: cur.left() / 4,
        });
    }
    let mut vs_sets = Vec::with_capacity(num_sets);
    let mut my_vs_set = None;
    for index in 0..num_sets {
        if (cur.position() - VS_SETS_START) as u64 == u64::from(my_offset) {
            my_vs_set = Some(index);
        }
        let count = cur.u32(order, "vs-set size")? as usize;
        let max = (cur.left() / GROUP_NAME_FIELD).min(MAX_GROUPS_RECEIVED);
        if count > max {
            return Err(DecodeError::OutOfRange {
                field: "vs-set size",
                value: count as i64,
                max,
            });
        }
        let mut set = Vec::with_capacity(count);
        for _ in 0..count {
            set.push(name(&mut cur, "vs-set member")?);
        }
        vs_sets.push(set);
    }
    cur.finish()?;
    if my_vs_set.is_none() && !(num_sets == 0 && my_offset == 0) {
        return Err(DecodeError::BadVsSetOffset(my_offset));
    }
    Ok(RegularBody {
        group_id,
        vs_sets,
        my_vs_set,
    })
}

/// Encodes a regular membership body whose own-set offset points at set
/// `my_vs_set`.
pub fn encode_regular_body(
    order: ByteOrder,
    group_id: GroupId,
    vs_sets: &[Vec<String>],
    my_vs_set: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = encode_transitional_body(order, group_id).to_vec();
    out.extend_from_slice(&order.write_u32(vs_sets.len() as u32));
    let my_offset: usize = vs_sets
        .iter()
        .take(my_vs_set)
        .map(|set| 4 + GROUP_NAME_FIELD * set.len())
        .sum();
    out.extend_from_slice(&order.write_u32(my_offset as u32));
    for set in vs_sets {
        out.extend_from_slice(&order.write_u32(set.len() as u32));
        for name in set {
            if name.len() > MAX_GROUP_NAME || name.as_bytes().contains(&0) {
                return Err(EncodeError::BadName {
                    field: "vs-set member",
                    name: name.clone(),
                });
            }
            out.extend_from_slice(name.as_bytes());
            out.resize(out.len() + GROUP_NAME_FIELD - name.len(), 0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_body_round_trips_in_both_orders() {
        let sets = vec![
            vec!["#alice#wm1".to_string()],
            vec!["#bob#wm2".to_string(), "#carol#wm2".to_string()],
        ];
        let id = GroupId::from_raw([0x0a63_0001, 7, 1]);
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let body = encode_regular_body(order, id, &sets, 1).unwrap();
            let decoded = decode_regular_body(order, &body).unwrap();
            assert_eq!(
                decoded,
                RegularBody {
                    group_id: id,
                    vs_sets: sets.clone(),
                    my_vs_set: Some(1)
                }
            );
        }
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut body =
            encode_transitional_body(ByteOrder::Little, GroupId::from_raw([1, 2, 3])).to_vec();
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            decode_regular_body(ByteOrder::Little, &body),
            Err(DecodeError::OutOfRange {
                field: "number of vs-sets",
                ..
            })
        ));
        body[12..16].copy_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_regular_body(ByteOrder::Little, &body),
            Err(DecodeError::OutOfRange {
                field: "vs-set size",
                ..
            })
        ));
    }
}
