//! The id of one view of the group: the group service delivers it with
//! every view, and the engine copies it into its STATE and PROCEED bodies
//! to tie them to that view.

use std::fmt;

use super::bytes::{ByteOrder, Faults, Reader};

/// Bytes of a group id on the wire: three u32s.
pub const GROUP_ID_LEN: usize = 12;

/// Identifies one view of a group: three 32-bit words whose meaning is
/// the group service's. The engine only compares them and copies them
/// into its messages. Spread delivers them with each membership (the
/// address of the daemon that created the daemon membership, that
/// membership's timestamp, and the count of this group's views within
/// it); the built-in membership makes them from its view id (the two
/// halves of the logical time, then the coordinator over its
/// incarnation: see the daemon's bridge). The field names are Spread's,
/// the layout a Spread view id has on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    /// The first word. Spread: the IPv4 address of the daemon that
    /// created the daemon membership. Built-in: the high half of the
    /// logical time.
    pub proc_id: u32,
    /// The second word. Spread: the daemon membership's timestamp.
    /// Built-in: the low half of the logical time.
    pub time: u32,
    /// The third word. Spread: counts views of this group within that
    /// daemon membership. Built-in: the coordinator and its incarnation.
    pub index: u32,
}

impl GroupId {
    /// The three words, in the order a Spread view id keeps them (and
    /// Wackamole copies into its STATE messages).
    pub const fn raw(&self) -> [u32; 3] {
        [self.proc_id, self.time, self.index]
    }

    /// The id whose words, in [`GroupId::raw`]'s order, are `raw`.
    pub const fn from_raw(raw: [u32; 3]) -> GroupId {
        GroupId {
            proc_id: raw[0],
            time: raw[1],
            index: raw[2],
        }
    }

    /// Reads the three integers, in `order` (Spread's membership bodies
    /// and the engine's bodies carry them so).
    pub fn read<F: Faults>(
        r: &mut Reader<'_, F>,
        order: ByteOrder,
        field: &'static str,
    ) -> Result<GroupId, F::Error> {
        Ok(GroupId::from_raw([
            r.u32(order, field)?,
            r.u32(order, field)?,
            r.u32(order, field)?,
        ]))
    }

    /// The three integers as [`GroupId::read`] reads them, in `order`.
    pub fn to_bytes(self, order: ByteOrder) -> [u8; GROUP_ID_LEN] {
        let mut out = [0; GROUP_ID_LEN];
        for (chunk, value) in out.chunks_exact_mut(4).zip(self.raw()) {
            chunk.copy_from_slice(&order.write_u32(value));
        }
        out
    }
}

impl fmt::Display for GroupId {
    /// `174260225/1795562150/3`: the three words in decimal, whichever
    /// service made them (none of them is an address for every service).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.proc_id, self.time, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_keeps_spreads_order() {
        let id = GroupId::from_raw([1, 2, 3]);
        assert_eq!((id.proc_id, id.time, id.index), (1, 2, 3));
        assert_eq!(id.raw(), [1, 2, 3]);
    }

    #[test]
    fn bytes_read_back_in_either_order() {
        use super::super::bytes::Short;
        struct Id;
        impl Faults for Id {
            type Error = Short;
            fn short(&self, short: Short) -> Short {
                short
            }
            fn trailing(&self, _: usize, _: usize) -> Short {
                unreachable!("the tests read no trailing bytes")
            }
        }
        let id = GroupId::from_raw([0x0a63_0001, 7, 1]);
        let big = id.to_bytes(ByteOrder::Big);
        assert_eq!(big[..4], [10, 99, 0, 1]);
        for order in [ByteOrder::Big, ByteOrder::Little] {
            let bytes = id.to_bytes(order);
            let mut r = Reader::new(&bytes, Id);
            assert_eq!(GroupId::read(&mut r, order, "id"), Ok(id));
            let mut short = Reader::new(&bytes[..11], Id);
            let err = GroupId::read(&mut short, order, "id").unwrap_err();
            assert_eq!((err.field, err.at, err.needed), ("id", 8, 4));
        }
    }

    #[test]
    fn display_shows_the_three_words_as_numbers() {
        assert_eq!(
            GroupId::from_raw([174_260_225, 1_795_562_150, 3]).to_string(),
            "174260225/1795562150/3"
        );
    }
}
