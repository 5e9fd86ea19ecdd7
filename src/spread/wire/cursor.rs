//! Checked reading from a byte slice: every read is bounds-checked and
//! reports what was being read when the bytes run out.

use super::{ByteOrder, DecodeError, GROUP_NAME_FIELD};

pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8], what: &'static str) -> Cursor<'a> {
        Cursor {
            bytes,
            pos: 0,
            what,
        }
    }

    pub(super) fn position(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what: self.what,
                needed: self.pos.saturating_add(n),
                available: self.bytes.len(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(super) fn array4(&mut self) -> Result<[u8; 4], DecodeError> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    pub(super) fn u32(&mut self, order: ByteOrder) -> Result<u32, DecodeError> {
        Ok(order.read_u32(self.array4()?))
    }

    /// A count field: an int32 that must lie in 0..=max.
    pub(super) fn count(
        &mut self,
        order: ByteOrder,
        field: &'static str,
        max: usize,
    ) -> Result<usize, DecodeError> {
        let value = self.u32(order)? as i32;
        match usize::try_from(value) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(DecodeError::OutOfRange {
                field,
                value: i64::from(value),
                max,
            }),
        }
    }

    /// A NUL-padded 32-byte name field.
    pub(super) fn name(&mut self, field: &'static str) -> Result<String, DecodeError> {
        name_from_field(self.take(GROUP_NAME_FIELD)?, field)
    }

    pub(super) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes {
                what: self.what,
                extra,
            }),
        }
    }
}

/// The text before the first NUL of a name field.
pub(super) fn name_from_field(
    field_bytes: &[u8],
    field: &'static str,
) -> Result<String, DecodeError> {
    let end = field_bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or(DecodeError::UnterminatedName { field })?;
    String::from_utf8(field_bytes[..end].to_vec()).map_err(|_| DecodeError::NameNotText { field })
}
