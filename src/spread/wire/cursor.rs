//! Checked reading from a byte slice, on the shared reader of
//! `base::bytes`: every read is bounds-checked and reports what was being
//! read when the bytes run out. What Spread adds: counts bounded by the
//! protocol maxima and NUL-padded name fields.

use super::{ByteOrder, DecodeError, GROUP_NAME_FIELD};
use crate::base::bytes::{Faults, Reader, Short};

/// The protocol unit being read ("message header", "membership body"):
/// what a short or overlong input is reported as.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unit(pub(super) &'static str);

impl Faults for Unit {
    type Error = DecodeError;

    fn short(&self, short: Short) -> DecodeError {
        DecodeError::Truncated {
            what: self.0,
            needed: short.at.saturating_add(short.needed),
            available: short.len,
        }
    }

    fn trailing(&self, at: usize, len: usize) -> DecodeError {
        DecodeError::TrailingBytes {
            what: self.0,
            extra: len - at,
        }
    }
}

/// A reader of one protocol unit.
pub(super) type Cursor<'a> = Reader<'a, Unit>;

/// A cursor at the start of `bytes`, a `what`.
pub(super) fn cursor<'a>(bytes: &'a [u8], what: &'static str) -> Cursor<'a> {
    Reader::new(bytes, Unit(what))
}

/// A count field: an int32 in `order` that must lie in 0..=max.
pub(super) fn count(
    cur: &mut Cursor<'_>,
    order: ByteOrder,
    field: &'static str,
    max: usize,
) -> Result<usize, DecodeError> {
    let value = cur.u32(order, field)? as i32;
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
pub(super) fn name(cur: &mut Cursor<'_>, field: &'static str) -> Result<String, DecodeError> {
    name_from_field(cur.take(GROUP_NAME_FIELD, field)?, field)
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
