//! The words a body is made of: int32s in the sender's byte order
//! (swapped on a mismatch) and IPv4 addresses in network order, read with
//! bounds checks that name the field and offset.

use std::net::Ipv4Addr;

use super::error::{BodyKind, CodecError};

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

/// Reads a body from its start, swapping integers when the sender's
/// byte order is not ours.
pub(super) struct Reader<'a> {
    body: &'a [u8],
    /// The offset of the next unread byte.
    pub(super) at: usize,
    swap: bool,
    kind: BodyKind,
}

impl<'a> Reader<'a> {
    pub(super) fn new(body: &'a [u8], swap: bool, kind: BodyKind) -> Self {
        Reader {
            body,
            at: 0,
            swap,
            kind,
        }
    }

    fn word(&mut self, field: &'static str) -> Result<[u8; 4], CodecError> {
        let bytes = self.bytes(4, field)?;
        Ok([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// An int32 in the sender's byte order.
    pub(super) fn int(&mut self, field: &'static str) -> Result<i32, CodecError> {
        let mut word = self.word(field)?;
        if self.swap {
            word.reverse();
        }
        Ok(i32::from_ne_bytes(word))
    }

    /// An address: network order whatever the sender's CPU.
    pub(super) fn addr(&mut self, field: &'static str) -> Result<Ipv4Addr, CodecError> {
        Ok(Ipv4Addr::from(self.word(field)?))
    }

    /// The next `n` bytes as they are.
    pub(super) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        let bytes = self
            .body
            .get(self.at..self.at + n)
            .ok_or(CodecError::Truncated {
                kind: self.kind,
                field,
                offset: self.at,
                len: self.body.len(),
            })?;
        self.at += n;
        Ok(bytes)
    }

    /// A count of entries of `entry_len` bytes each, bounded by what is
    /// left of the body.
    pub(super) fn count(
        &mut self,
        field: &'static str,
        entry_len: usize,
    ) -> Result<usize, CodecError> {
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

    /// Fails unless the whole body was read.
    pub(super) fn finish(self) -> Result<(), CodecError> {
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
