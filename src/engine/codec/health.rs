//! The body of our HEALTH message: the view's group id, whether the
//! sender is healthy as a node and whether it releases what nobody can
//! serve (its `Unservable` setting), and per VIF whether it can serve it (a
//! bitmap), in the style of HOLDING (int32 in the sender's order).

use super::bodies::{read_group_id, write_group_id};
use super::bytes::{Reader, Writer};
use super::error::{BodyKind, CodecError};
use crate::base::GroupId;

/// Bit 0 of the flags word: the sender is healthy as a node.
const HEALTHY: i32 = 1;
/// Bit 1: a VIF the sender holds and no member can serve is released
/// (`Unservable = release`), not kept. The owner's word decides, so every
/// member applies the same rule to its VIFs whatever its own setting.
const RELEASES_UNSERVABLE: i32 = 2;

/// A HEALTH body: what the sender can serve, in view `group_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthBody {
    /// The view the sender sent it in.
    pub group_id: GroupId,
    /// No node-wide tracker of the sender fails.
    pub healthy: bool,
    /// Per VIF, in configuration order: the interfaces its addresses sit
    /// on are up at the sender.
    pub vifs: Vec<bool>,
    /// The sender releases, rather than keeps, a VIF of its that no
    /// member can serve.
    pub releases_unservable: bool,
}

/// HEALTH (ours): what the sender can serve, sent in view `group_id`,
/// and whether it releases what nobody can serve.
pub fn encode_health(
    group_id: GroupId,
    healthy: bool,
    vifs: &[bool],
    releases_unservable: bool,
) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(20 + vifs.len().div_ceil(8)));
    write_group_id(&mut w, group_id);
    let releases = if releases_unservable {
        RELEASES_UNSERVABLE
    } else {
        0
    };
    w.int(if healthy { HEALTHY } else { 0 } | releases);
    w.count(vifs.len());
    let mut bitmap = vec![0u8; vifs.len().div_ceil(8)];
    for (i, _) in vifs.iter().enumerate().filter(|(_, &up)| up) {
        bitmap[i / 8] |= 1 << (i % 8);
    }
    w.0.extend_from_slice(&bitmap);
    w.0
}

/// Decodes a HEALTH body from a member whose configuration has `ours`
/// VIFs (a sender with another count has another configuration: an
/// error, as its bits would name other VIFs).
pub fn decode_health(
    body: &[u8],
    endian_mismatch: bool,
    ours: usize,
) -> Result<HealthBody, CodecError> {
    let kind = BodyKind::Health;
    let mut r = Reader::new(body, endian_mismatch, kind);
    let group_id = read_group_id(&mut r)?;
    let offset = r.at();
    let flags = r.int("flags")?;
    if flags & !(HEALTHY | RELEASES_UNSERVABLE) != 0 {
        return Err(CodecError::UnknownBits {
            kind,
            field: "flags",
            offset,
        });
    }
    let count = r.int("VIF count")?;
    if usize::try_from(count).ok() != Some(ours) {
        return Err(CodecError::VifCount { kind, count, ours });
    }
    let offset = r.at();
    let bitmap = r.bytes.take(ours.div_ceil(8), "VIF bitmap")?;
    let vifs: Vec<bool> = (0..ours)
        .map(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    let spare = ours % 8;
    if spare != 0 && bitmap[bitmap.len() - 1] >> spare != 0 {
        return Err(CodecError::UnknownBits {
            kind,
            field: "VIF bitmap",
            offset: offset + bitmap.len() - 1,
        });
    }
    r.finish()?;
    Ok(HealthBody {
        group_id,
        healthy: flags & HEALTHY != 0,
        releases_unservable: flags & RELEASES_UNSERVABLE != 0,
        vifs,
    })
}
