//! Bodies of the messages Wackamole members exchange, byte-for-byte as the
//! C nodes write them.
//!
//! Integers are written in this host's byte order (the group service marks
//! the message with the sender's order, and a receiver of the other order
//! is told so); addresses are written as their four bytes, in network
//! order, on every host. On an endian mismatch every int32 of STATE,
//! BALANCE and PROCEED is byte-swapped, and the addresses are read as
//! they are. The C nodes swap the address fields too, so a C node reads
//! every address of a peer of the other byte order backwards (a claim on
//! 10.0.0.1 arrives as a claim on 1.0.0.10, which no VIF matches), and a
//! mixed-endian cluster of C nodes does not agree on who holds what; we
//! read what the sender meant, so nodes of this implementation agree
//! whatever their CPUs (see the engine's module docs).
//! ARPCACHE carries no host-order integer (its count is implied by the
//! length, its addresses are in network order), so it is never swapped.

use std::fmt;
use std::net::Ipv4Addr;

pub use crate::base::{ArpEntry, GroupId};

/// Wackamole message types (the group service's `mess_type`).
pub mod mess_type {
    pub const STATE: i16 = 1;
    pub const MATURING: i16 = 2;
    pub const BALANCE: i16 = 3;
    /// Defined by the C nodes, never sent, ignored on receipt.
    pub const OPERATOR: i16 = 4;
    pub const ARPCACHE: i16 = 5;
    /// Ours: "finish the state exchange of this view without the members
    /// whose STATE has not arrived" (see the engine's module docs).
    pub const PROCEED: i16 = 6;
}

/// How strongly a member holds (or wants) a VIF. The order matters: the
/// claim rules compare priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClaimPriority {
    Unclaimed = 0,
    /// Defined by the C nodes, never produced.
    ClaimedBoot = 1,
    Claimed = 2,
    /// Defined by the C nodes, never produced.
    PreferBoot = 3,
    Prefer = 4,
    PreferClaimed = 5,
}

impl ClaimPriority {
    pub fn from_wire(value: i32) -> Option<ClaimPriority> {
        Some(match value {
            0 => ClaimPriority::Unclaimed,
            1 => ClaimPriority::ClaimedBoot,
            2 => ClaimPriority::Claimed,
            3 => ClaimPriority::PreferBoot,
            4 => ClaimPriority::Prefer,
            5 => ClaimPriority::PreferClaimed,
            _ => return None,
        })
    }

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

/// Which message a decoding error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    State,
    Maturing,
    Balance,
    ArpCache,
    Proceed,
}

impl fmt::Display for BodyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyKind::State => "STATE",
            BodyKind::Maturing => "MATURING",
            BodyKind::Balance => "BALANCE",
            BodyKind::ArpCache => "ARPCACHE",
            BodyKind::Proceed => "PROCEED",
        })
    }
}

/// A body that does not decode. Display names the message, the field and
/// the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The body ends before `field`, which starts at `offset`.
    Truncated {
        kind: BodyKind,
        field: &'static str,
        offset: usize,
        len: usize,
    },
    /// A count is negative or announces more entries than the body holds.
    BadCount {
        kind: BodyKind,
        field: &'static str,
        count: i32,
        room: usize,
    },
    /// A claim priority outside 0..=5.
    UnknownPriority { offset: usize, value: i32 },
    /// Bytes left over after the last field.
    TrailingBytes {
        kind: BodyKind,
        offset: usize,
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
            CodecError::TrailingBytes { kind, offset, len } => write!(
                f,
                "{kind} body has {} unexpected bytes after its last field (at byte {offset})",
                len - offset
            ),
        }
    }
}

impl std::error::Error for CodecError {}

/// STATE: what a member holds and prefers, in answer to a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBody {
    pub group_id: GroupId,
    pub identity: Ipv4Addr,
    pub index: i32,
    pub mature: bool,
    /// (VIF primary, priority) for every VIF the sender holds.
    pub held: Vec<(Ipv4Addr, ClaimPriority)>,
    pub preferred: Vec<Ipv4Addr>,
}

/// One move of a BALANCE message: `vif` (a primary) goes to `owner` (a
/// member's identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub owner: Ipv4Addr,
    pub vif: Ipv4Addr,
}

const ARP_ENTRY_LEN: usize = 12;

struct Writer(Vec<u8>);

impl Writer {
    fn int(&mut self, value: i32) {
        self.0.extend_from_slice(&value.to_ne_bytes());
    }

    fn addr(&mut self, addr: Ipv4Addr) {
        self.0.extend_from_slice(&addr.octets());
    }

    fn count(&mut self, len: usize) {
        // Our own lists are bounded by the configuration (a few hundred
        // VIFs at most), far below i32::MAX.
        self.int(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    swap: bool,
    kind: BodyKind,
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8], swap: bool, kind: BodyKind) -> Self {
        Reader {
            body,
            at: 0,
            swap,
            kind,
        }
    }

    fn word(&mut self, field: &'static str) -> Result<[u8; 4], CodecError> {
        let bytes = self
            .body
            .get(self.at..self.at + 4)
            .ok_or(CodecError::Truncated {
                kind: self.kind,
                field,
                offset: self.at,
                len: self.body.len(),
            })?;
        self.at += 4;
        Ok([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// An int32 in the sender's byte order.
    fn int(&mut self, field: &'static str) -> Result<i32, CodecError> {
        let mut word = self.word(field)?;
        if self.swap {
            word.reverse();
        }
        Ok(i32::from_ne_bytes(word))
    }

    /// An address: network order whatever the sender's CPU.
    fn addr(&mut self, field: &'static str) -> Result<Ipv4Addr, CodecError> {
        Ok(Ipv4Addr::from(self.word(field)?))
    }

    /// A count of entries of `entry_len` bytes each, bounded by what is
    /// left of the body.
    fn count(&mut self, field: &'static str, entry_len: usize) -> Result<usize, CodecError> {
        let count = self.int(field)?;
        let room = (self.body.len() - self.at) / entry_len;
        match usize::try_from(count) {
            Ok(n) if n <= room => Ok(n),
            _ => Err(CodecError::BadCount {
                kind: self.kind,
                field,
                count,
                room,
            }),
        }
    }

    fn finish(self) -> Result<(), CodecError> {
        if self.at == self.body.len() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                kind: self.kind,
                offset: self.at,
                len: self.body.len(),
            })
        }
    }
}

impl StateBody {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            36 + 8 * self.held.len() + 4 * self.preferred.len(),
        ));
        for part in self.group_id.raw() {
            w.int(part as i32);
        }
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
            let offset = r.at;
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

fn read_group_id(r: &mut Reader<'_>) -> Result<GroupId, CodecError> {
    Ok(GroupId::from_raw([
        r.int("group id")? as u32,
        r.int("group id")? as u32,
        r.int("group id")? as u32,
    ]))
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
    let rest = body.len() - r.at;
    let carried = rest / 8;
    if rest % 8 != 0 {
        return Err(CodecError::TrailingBytes {
            kind: BodyKind::Balance,
            offset: r.at + carried * 8,
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
    for part in group_id.raw() {
        w.int(part as i32);
    }
    w.0
}

pub fn decode_proceed(body: &[u8], endian_mismatch: bool) -> Result<GroupId, CodecError> {
    let mut r = Reader::new(body, endian_mismatch, BodyKind::Proceed);
    let group_id = read_group_id(&mut r)?;
    r.finish()?;
    Ok(group_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_state() -> StateBody {
        StateBody {
            group_id: GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]),
            identity: Ipv4Addr::new(10, 99, 0, 1),
            index: 0,
            mature: true,
            held: vec![
                (Ipv4Addr::new(10, 99, 0, 101), ClaimPriority::Claimed),
                (Ipv4Addr::new(10, 99, 0, 102), ClaimPriority::PreferClaimed),
            ],
            preferred: vec![Ipv4Addr::new(10, 99, 0, 102)],
        }
    }

    #[test]
    fn state_round_trips() {
        let s = sample_state();
        assert_eq!(StateBody::decode(&s.encode(), false), Ok(s));
    }

    /// `value` as a host of the other byte order writes it.
    fn foreign_int(value: i32) -> [u8; 4] {
        let mut bytes = value.to_ne_bytes();
        bytes.reverse();
        bytes
    }

    #[test]
    fn state_from_other_byte_order_swaps_its_integers_not_its_addresses() {
        let s = sample_state();
        // Built field by field as a host of the other order writes it.
        let mut foreign = Vec::new();
        for part in s.group_id.raw() {
            foreign.extend_from_slice(&foreign_int(part as i32));
        }
        foreign.extend_from_slice(&[10, 99, 0, 1]);
        foreign.extend_from_slice(&foreign_int(0));
        foreign.extend_from_slice(&foreign_int(1));
        foreign.extend_from_slice(&foreign_int(2));
        foreign.extend_from_slice(&[10, 99, 0, 101]);
        foreign.extend_from_slice(&foreign_int(2));
        foreign.extend_from_slice(&[10, 99, 0, 102]);
        foreign.extend_from_slice(&foreign_int(5));
        foreign.extend_from_slice(&foreign_int(1));
        foreign.extend_from_slice(&[10, 99, 0, 102]);
        assert_eq!(StateBody::decode(&foreign, true), Ok(s.clone()));
        // Told no mismatch, the same bytes read as nonsense counts.
        assert!(StateBody::decode(&foreign, false).is_err());
    }

    #[test]
    fn balance_and_proceed_from_other_byte_order_keep_their_addresses() {
        let mut foreign = foreign_int(1).to_vec();
        foreign.extend_from_slice(&[10, 99, 0, 2, 10, 99, 0, 101]);
        let balance = decode_balance(&foreign, true).expect("decodes");
        assert_eq!(
            balance.moves,
            vec![Move {
                owner: Ipv4Addr::new(10, 99, 0, 2),
                vif: Ipv4Addr::new(10, 99, 0, 101),
            }]
        );
        assert_eq!(balance.announced, 1);
        let gid = GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]);
        let foreign: Vec<u8> = gid
            .raw()
            .iter()
            .flat_map(|&g| foreign_int(g as i32))
            .collect();
        assert_eq!(decode_proceed(&foreign, true), Ok(gid));
    }

    #[test]
    fn state_with_oversized_count_is_rejected() {
        let mut body = sample_state().encode();
        // held count lives at byte 24
        body[24..28].copy_from_slice(&1000i32.to_ne_bytes());
        let err = StateBody::decode(&body, false).unwrap_err();
        assert!(matches!(err, CodecError::BadCount { count: 1000, .. }));
        assert!(err
            .to_string()
            .contains("STATE body announces 1000 held VIFs"));
    }

    #[test]
    fn state_with_negative_count_is_rejected() {
        let mut body = sample_state().encode();
        body[24..28].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(matches!(
            StateBody::decode(&body, false),
            Err(CodecError::BadCount { count: -1, .. })
        ));
    }

    #[test]
    fn state_with_unknown_priority_is_rejected() {
        let mut body = sample_state().encode();
        body[32..36].copy_from_slice(&9i32.to_ne_bytes());
        assert_eq!(
            StateBody::decode(&body, false),
            Err(CodecError::UnknownPriority {
                offset: 32,
                value: 9
            })
        );
    }

    #[test]
    fn truncated_and_padded_states_are_rejected() {
        let body = sample_state().encode();
        for cut in 0..body.len() {
            assert!(StateBody::decode(&body[..cut], false).is_err(), "cut {cut}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert!(matches!(
            StateBody::decode(&longer, false),
            Err(CodecError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn balance_round_trips() {
        let moves = vec![Move {
            owner: Ipv4Addr::new(10, 99, 0, 2),
            vif: Ipv4Addr::new(10, 99, 0, 101),
        }];
        let body = encode_balance(&moves);
        assert_eq!(
            decode_balance(&body, false),
            Ok(BalanceBody {
                moves,
                announced: 1
            })
        );
        assert_eq!(
            decode_balance(&encode_balance(&[]), false),
            Ok(BalanceBody {
                moves: vec![],
                announced: 0
            })
        );
        assert!(decode_balance(&[], false).is_err());
    }

    #[test]
    fn balance_announcing_more_than_it_carries_yields_the_pairs_present() {
        let moves = vec![Move {
            owner: Ipv4Addr::new(10, 99, 0, 2),
            vif: Ipv4Addr::new(10, 99, 0, 101),
        }];
        // A C leader with AcquisitionsPerRound 3 that made one move.
        let mut short = encode_balance(&moves);
        short[0..4].copy_from_slice(&3i32.to_ne_bytes());
        assert_eq!(
            decode_balance(&short, false),
            Ok(BalanceBody {
                moves,
                announced: 3
            })
        );
        // ... or none at all.
        let empty = 2i32.to_ne_bytes();
        let decoded = decode_balance(&empty, false).expect("decodes");
        assert_eq!((decoded.moves.len(), decoded.announced), (0, 2));
    }

    #[test]
    fn malformed_balances_are_rejected() {
        let body = encode_balance(&[Move {
            owner: Ipv4Addr::new(10, 99, 0, 2),
            vif: Ipv4Addr::new(10, 99, 0, 101),
        }]);
        let mut negative = body.clone();
        negative[0..4].copy_from_slice(&(-1i32).to_ne_bytes());
        let err = decode_balance(&negative, false).unwrap_err();
        assert_eq!(
            err,
            CodecError::BadCount {
                kind: BodyKind::Balance,
                field: "moves",
                count: -1,
                room: 1
            }
        );
        assert!(err.to_string().contains("BALANCE body announces -1 moves"));
        let mut partial = body.clone();
        partial.push(0);
        assert!(matches!(
            decode_balance(&partial, false),
            Err(CodecError::TrailingBytes { offset: 12, .. })
        ));
        let mut beyond = body.clone();
        beyond[0..4].copy_from_slice(&0i32.to_ne_bytes());
        assert!(matches!(
            decode_balance(&beyond, false),
            Err(CodecError::TrailingBytes { offset: 4, .. })
        ));
    }

    #[test]
    fn arp_cache_round_trips_and_rejects_partial_entries() {
        let entries = vec![ArpEntry {
            addr: Ipv4Addr::new(10, 99, 0, 2),
            mac: [0xee, 0x62, 0x2c, 0x35, 0xde, 0x6a],
        }];
        let body = encode_arp_cache(&entries);
        assert_eq!(body.len(), 12);
        assert_eq!(decode_arp_cache(&body), Ok(entries));
        assert_eq!(decode_arp_cache(&[]), Ok(vec![]));
        assert!(decode_arp_cache(&body[..11]).is_err());
    }

    #[test]
    fn maturing_must_be_empty_and_proceed_carries_a_group_id() {
        assert_eq!(decode_maturing(&[]), Ok(()));
        assert!(decode_maturing(&[1]).is_err());
        let gid = GroupId::from_raw([1, 2, 3]);
        assert_eq!(decode_proceed(&encode_proceed(gid), false), Ok(gid));
        assert!(decode_proceed(&[0; 8], false).is_err());
    }
}
