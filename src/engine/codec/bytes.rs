//! The words a body is made of: int32s in the sender's byte order
//! (swapped on a mismatch) and IPv4 addresses in network order, read
//! through the shared byte reader with errors that name the message,
//! field and offset.

use std::net::Ipv4Addr;

use super::error::{BodyKind, CodecError};
use crate::base::bytes::{self, Faults, Short};
use crate::base::ByteOrder;

/// Builds a body in this host's byte order.
pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn int(&mut self, value: i32) {
        self.0.extend_from_slice(&value.to_ne_bytes());
    }

    pub(super) fn addr(&mut self, addr: Ipv4Addr) {
        self.0.extend_from_slice(&addr.octets());
    }

    pub(super) fn count(&mut self, len: usize) {
        // Our own lists are bounded by the configuration (a few hundred
        // VIFs at most), far below i32::MAX.
        self.int(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

/// A body that ends early or goes on is named by its message.
impl Faults for BodyKind {
    type Error = CodecError;

    fn short(&self, short: Short) -> CodecError {
        CodecError::Truncated {
            kind: *self,
            field: short.field,
            offset: short.at,
            len: short.len,
        }
    }

    fn trailing(&self, at: usize, len: usize) -> CodecError {
        CodecError::TrailingBytes {
            kind: *self,
            offset: at,
            len,
        }
    }
}

/// Reads a body from its start, in the sender's byte order.
pub(super) struct Reader<'a> {
    /// The bytes, with the offset of the next unread one.
    pub(super) bytes: bytes::Reader<'a, BodyKind>,
    /// The sender's byte order.
    pub(super) order: ByteOrder,
}

impl<'a> Reader<'a> {
    pub(super) fn new(body: &'a [u8], swap: bool, kind: BodyKind) -> Self {
        Reader {
            bytes: bytes::Reader::new(body, kind),
            order: ByteOrder::of_sender(swap),
        }
    }

    /// The offset of the next unread byte.
    pub(super) fn at(&self) -> usize {
        self.bytes.position()
    }

    /// An int32 in the sender's byte order.
    pub(super) fn int(&mut self, field: &'static str) -> Result<i32, CodecError> {
        Ok(self.bytes.u32(self.order, field)? as i32)
    }

    /// An address: network order whatever the sender's CPU.
    pub(super) fn addr(&mut self, field: &'static str) -> Result<Ipv4Addr, CodecError> {
        Ok(Ipv4Addr::from(self.bytes.array::<4>(field)?))
    }

    /// A count of entries of `entry_len` bytes each, bounded by what is
    /// left of the body.
    pub(super) fn count(
        &mut self,
        field: &'static str,
        entry_len: usize,
    ) -> Result<usize, CodecError> {
        let count = self.int(field)?;
        let room = self.bytes.left() / entry_len;
        match usize::try_from(count) {
            Ok(n) if n <= room => Ok(n),
            _ => Err(CodecError::BadCount {
                kind: *self.bytes.faults(),
                field,
                count,
                room,
            }),
        }
    }

    /// Fails unless the whole body was read.
    pub(super) fn finish(self) -> Result<(), CodecError> {
        self.bytes.finish()
    }
}
