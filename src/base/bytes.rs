//! Reading a byte layout front to back. A [`Reader`] over a slice checks
//! every read against the bytes left, reads integers in the byte order the
//! caller names, and reports an input that ends too soon or goes on too
//! long through the caller's own error type: the caller hands it a
//! [`Faults`] (usually the kind of message being read), which turns the
//! facts (field, offset, lengths) into that layer's error.
//!
//! The engine's message bodies, the Spread client protocol and the
//! membership datagrams all read through it, each building its own fields
//! (addresses, names, view ids, counts) on top and keeping its own errors.

/// The byte order of a peer's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first (network order).
    Big,
}

impl ByteOrder {
    /// This host's order: what a node writes its host-order integers in.
    pub const fn native() -> ByteOrder {
        if cfg!(target_endian = "little") {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        }
    }

    /// The order of a sender whose integers are swapped relative to
    /// ours when `swapped`, this host's otherwise.
    pub const fn of_sender(swapped: bool) -> ByteOrder {
        match (ByteOrder::native(), swapped) {
            (order, false) => order,
            (ByteOrder::Little, true) => ByteOrder::Big,
            (ByteOrder::Big, true) => ByteOrder::Little,
        }
    }

    /// Reads `bytes` as a u32 in this order.
    pub fn read_u32(self, bytes: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(bytes),
            ByteOrder::Big => u32::from_be_bytes(bytes),
        }
    }

    /// Writes `value` as four bytes in this order.
    pub fn write_u32(self, value: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => value.to_le_bytes(),
            ByteOrder::Big => value.to_be_bytes(),
        }
    }
}

/// Where an input ended too soon: what a [`Faults`] makes its error of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// The field being read (as the caller named it).
    pub field: &'static str,
    /// Where that field starts, counted from the reader's first byte.
    pub at: usize,
    /// Bytes the field takes.
    pub needed: usize,
    /// The input's whole length.
    pub len: usize,
}

impl Short {
    /// Bytes there were from `at` on (fewer than `needed`).
    pub fn left(&self) -> usize {
        self.len - self.at
    }
}

/// How a layout names what goes wrong while reading it: the caller's own
/// error for an input that ends too soon or goes on after its last field.
pub trait Faults {
    /// The caller's error.
    type Error;

    /// The input ends inside a field.
    fn short(&self, short: Short) -> Self::Error;

    /// The input of `len` bytes goes on after its last field, which ends
    /// at byte `at`.
    fn trailing(&self, at: usize, len: usize) -> Self::Error;
}

/// A cursor over a byte slice that reports through `F`.
#[derive(Debug, Clone)]
pub struct Reader<'a, F> {
    bytes: &'a [u8],
    at: usize,
    faults: F,
}

/// `u16`, `u32` and `u64` readers, one shape each.
macro_rules! read_int {
    ($($int:ident),*) => {$(
        #[doc = concat!("A `", stringify!($int), "` in `order`.")]
        pub fn $int(&mut self, order: ByteOrder, field: &'static str) -> Result<$int, F::Error> {
            let bytes = self.array(field)?;
            Ok(match order {
                ByteOrder::Little => $int::from_le_bytes(bytes),
                ByteOrder::Big => $int::from_be_bytes(bytes),
            })
        }
    )*};
}

impl<'a, F: Faults> Reader<'a, F> {
    /// A reader at the first byte of `bytes`, reporting through `faults`.
    pub fn new(bytes: &'a [u8], faults: F) -> Self {
        Reader {
            bytes,
            at: 0,
            faults,
        }
    }

    /// What this reader reports through (the caller's context, such as
    /// the kind of message).
    pub fn faults(&self) -> &F {
        &self.faults
    }

    /// The offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes not read yet.
    pub fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// The caller's error for `field`, of `needed` bytes, starting here.
    fn short(&self, field: &'static str, needed: usize) -> F::Error {
        self.faults.short(Short {
            field,
            at: self.at,
            needed,
            len: self.bytes.len(),
        })
    }

    /// The next `n` bytes as they are.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], F::Error> {
        let bytes = self.bytes[self.at..]
            .get(..n)
            .ok_or_else(|| self.short(field, n))?;
        self.at += n;
        Ok(bytes)
    }

    /// The next `N` bytes as they are.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], F::Error> {
        let bytes = *self.bytes[self.at..]
            .first_chunk::<N>()
            .ok_or_else(|| self.short(field, N))?;
        self.at += N;
        Ok(bytes)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, F::Error> {
        let [byte] = self.array(field)?;
        Ok(byte)
    }

    read_int!(u16, u32, u64);

    /// Every byte not read yet (none when all were).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        self.at = self.bytes.len();
        rest
    }

    /// Ends the reading: the caller's error unless every byte was read.
    pub fn finish(self) -> Result<(), F::Error> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.faults.trailing(self.at, self.bytes.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller's error, naming the message it reads.
    #[derive(Debug, PartialEq, Eq)]
    enum Refused {
        Short(&'static str, Short),
        Trailing(&'static str, usize, usize),
    }

    #[derive(Clone)]
    struct Message(&'static str);

    impl Faults for Message {
        type Error = Refused;
        fn short(&self, short: Short) -> Refused {
            Refused::Short(self.0, short)
        }
        fn trailing(&self, at: usize, len: usize) -> Refused {
            Refused::Trailing(self.0, at, len)
        }
    }

    const BYTES: [u8; 15] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn integers_read_in_either_order() {
        for (order, u16, u32, u64) in [
            (
                ByteOrder::Big,
                0x0203,
                0x0405_0607,
                0x0809_0a0b_0c0d_0e0f_u64,
            ),
            (
                ByteOrder::Little,
                0x0302,
                0x0706_0504,
                0x0f0e_0d0c_0b0a_0908,
            ),
        ] {
            let mut r = Reader::new(&BYTES, Message("TEST"));
            assert_eq!(r.u8("first"), Ok(1));
            assert_eq!(r.u16(order, "second"), Ok(u16));
            assert_eq!(r.u32(order, "third"), Ok(u32));
            assert_eq!(r.position(), 7);
            assert_eq!(r.u64(order, "fourth"), Ok(u64));
            assert_eq!(r.left(), 0);
            assert_eq!(r.finish(), Ok(()));
            assert_eq!(order.read_u32(order.write_u32(u32)), u32);
        }
    }

    #[test]
    fn a_short_input_is_the_callers_error_naming_the_field() {
        let mut r = Reader::new(&BYTES[..6], Message("TEST"));
        assert_eq!(r.take(3, "head"), Ok(&BYTES[..3]));
        let short = Short {
            field: "word",
            at: 3,
            needed: 4,
            len: 6,
        };
        assert_eq!(
            r.u32(ByteOrder::Big, "word"),
            Err(Refused::Short("TEST", short))
        );
        assert_eq!(short.left(), 3);
        // A refused read takes nothing.
        assert_eq!(r.position(), 3);
        assert_eq!(
            r.take(usize::MAX, "huge"),
            Err(Refused::Short(
                "TEST",
                Short {
                    field: "huge",
                    at: 3,
                    needed: usize::MAX,
                    len: 6
                }
            ))
        );
        assert_eq!(r.array::<3>("tail"), Ok([4, 5, 6]));
        assert!(matches!(
            r.u8("past the end"),
            Err(Refused::Short("TEST", Short { at: 6, .. }))
        ));
    }

    #[test]
    fn trailing_bytes_are_the_callers_error_and_rest_takes_them() {
        let mut r = Reader::new(&BYTES[..5], Message("TEST"));
        r.take(2, "head").expect("two bytes");
        assert_eq!(r.clone().finish(), Err(Refused::Trailing("TEST", 2, 5)));
        assert_eq!(r.rest(), &BYTES[2..5]);
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn the_sender_order_is_ours_unless_swapped() {
        let ours = ByteOrder::native();
        assert_eq!(ByteOrder::of_sender(false), ours);
        assert_ne!(ByteOrder::of_sender(true), ours);
        assert_eq!(
            ours.read_u32(1u32.to_ne_bytes()),
            1,
            "native is this host's order"
        );
    }
}
