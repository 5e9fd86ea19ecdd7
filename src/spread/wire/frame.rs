//! Message frames: the 48-byte header, the group names, the body.

use super::cursor::{count, cursor, name};
use super::service_bits::{ENDIAN_MARKER, REJECT};
use super::{
    ByteOrder, DecodeError, EncodeError, GROUP_NAME_FIELD, HEADER_LEN, MAX_GROUPS_RECEIVED,
    MAX_GROUP_NAME, MAX_MESSAGE_BODY_LEN,
};

/// A decoded header, converted to host values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Order of `type`, `num_groups` and `data_len` (told by `type`).
    pub order: ByteOrder,
    /// The service type with the byte-order marker removed.
    pub service_type: u32,
    /// Sender's private group, or the group of a membership message.
    pub name: String,
    /// Group names that follow the header.
    pub num_groups: usize,
    /// Order of `hint`, checked on its own as the library does: it is
    /// the sender's native order, which its body integers follow.
    pub hint_order: ByteOrder,
    /// `hint` with the byte-order marker removed: `mess_type << 8`.
    pub hint: u32,
    /// Bytes of the body.
    pub data_len: usize,
}

impl Header {
    /// Whether an original-type field follows the header.
    pub fn is_reject(&self) -> bool {
        self.service_type & REJECT != 0
    }

    /// Bytes that follow the header: bounded by the protocol maxima,
    /// since decoding checked every count.
    pub fn payload_len(&self) -> usize {
        let original_type = if self.is_reject() { 4 } else { 0 };
        original_type + GROUP_NAME_FIELD * self.num_groups + self.data_len
    }

    /// The 16-bit message type carried in `hint`.
    pub fn mess_type(&self) -> i16 {
        ((self.hint >> 8) & 0xffff) as u16 as i16
    }
}

/// A whole frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// For reject frames: the type of the refused request (marker removed).
    pub original_type: Option<u32>,
    /// The groups it was sent to (for a membership: the members).
    pub groups: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What to put in a frame.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Service-type bits, without the marker (the encoder adds it).
    pub service_type: u32,
    /// The name field: own private group from a client, or the sender or
    /// group from a daemon.
    pub sender: &'a str,
    /// Groups to send to.
    pub groups: &'a [&'a str],
    /// The message type.
    pub mess_type: i16,
    /// Reject frames only: the refused request's type.
    pub original_type: Option<u32>,
    /// The message body.
    pub body: &'a [u8],
}

fn strip_marker(order: ByteOrder, value: u32) -> u32 {
    match order {
        ByteOrder::Little => value & !ENDIAN_MARKER,
        ByteOrder::Big => value,
    }
}

/// Decodes a header from (at least) its first 48 bytes.
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let mut cur = cursor(bytes, "message header");
    let raw_type = cur.array("type")?;
    let order = ByteOrder::of_marked(raw_type);
    let service_type = strip_marker(order, order.read_u32(raw_type));
    let name = name(&mut cur, "header name")?;
    let num_groups = count(&mut cur, order, "num_groups", MAX_GROUPS_RECEIVED)?;
    let raw_hint = cur.array("hint")?;
    let hint_order = ByteOrder::of_marked(raw_hint);
    let hint = strip_marker(hint_order, hint_order.read_u32(raw_hint));
    let data_len = count(&mut cur, order, "data_len", MAX_MESSAGE_BODY_LEN)?;
    debug_assert_eq!(cur.position(), HEADER_LEN);
    Ok(Header {
        order,
        service_type,
        name,
        num_groups,
        hint_order,
        hint,
        data_len,
    })
}

/// Decodes what follows a header; `payload` must be exactly
/// [`Header::payload_len`] bytes.
pub fn decode_payload(header: Header, payload: &[u8]) -> Result<Frame, DecodeError> {
    let mut cur = cursor(payload, "message payload");
    let original_type = if header.is_reject() {
        let original = cur.u32(header.order, "original type")?;
        Some(strip_marker(header.order, original))
    } else {
        None
    };
    let mut groups = Vec::with_capacity(header.num_groups);
    for _ in 0..header.num_groups {
        groups.push(name(&mut cur, "group name")?);
    }
    let body = cur.take(header.data_len, "body")?.to_vec();
    cur.finish()?;
    Ok(Frame {
        header,
        original_type,
        groups,
        body,
    })
}

/// Decodes one whole frame from the start of `bytes`; returns it and the
/// number of bytes it took.
pub fn decode_frame(bytes: &[u8]) -> Result<(Frame, usize), DecodeError> {
    let header = decode_header(bytes)?;
    let total = HEADER_LEN + header.payload_len();
    if bytes.len() < total {
        return Err(DecodeError::Truncated {
            what: "message",
            needed: total,
            available: bytes.len(),
        });
    }
    let frame = decode_payload(header, &bytes[HEADER_LEN..total])?;
    Ok((frame, total))
}

fn put_name(out: &mut Vec<u8>, name: &str, field: &'static str) -> Result<(), EncodeError> {
    if name.len() > MAX_GROUP_NAME || name.as_bytes().contains(&0) {
        return Err(EncodeError::BadName {
            field,
            name: name.to_string(),
        });
    }
    out.extend_from_slice(name.as_bytes());
    out.resize(out.len() + GROUP_NAME_FIELD - name.len(), 0);
    Ok(())
}

/// Encodes a frame with integers in `order` and that order's marker, as
/// a sender of that order would write it.
pub fn encode_frame(order: ByteOrder, msg: &Outgoing<'_>) -> Result<Vec<u8>, EncodeError> {
    let len = msg
        .body
        .len()
        .saturating_add(GROUP_NAME_FIELD.saturating_mul(msg.groups.len()));
    if len > MAX_MESSAGE_BODY_LEN {
        return Err(EncodeError::TooLong {
            len,
            max: MAX_MESSAGE_BODY_LEN,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + len);
    out.extend_from_slice(&order.write_u32(msg.service_type | order.marker()));
    put_name(&mut out, msg.sender, "sender")?;
    // Both counts are bounded by MAX_MESSAGE_BODY_LEN above.
    out.extend_from_slice(&order.write_u32(msg.groups.len() as u32));
    let hint = (u32::from(msg.mess_type as u16) << 8) | order.marker();
    out.extend_from_slice(&order.write_u32(hint));
    out.extend_from_slice(&order.write_u32(msg.body.len() as u32));
    if let Some(original) = msg.original_type {
        out.extend_from_slice(&order.write_u32(original | order.marker()));
    }
    for group in msg.groups {
        put_name(&mut out, group, "group")?;
    }
    out.extend_from_slice(msg.body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_counts_are_bounded_before_use() {
        let mut bytes = encode_frame(
            ByteOrder::Little,
            &Outgoing {
                service_type: 0x10,
                sender: "#a#b",
                groups: &["g"],
                mess_type: 1,
                original_type: None,
                body: b"x",
            },
        )
        .unwrap();
        bytes[36..40].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(matches!(
            decode_header(&bytes),
            Err(DecodeError::OutOfRange {
                field: "num_groups",
                value: -1,
                ..
            })
        ));
        bytes[36..40].copy_from_slice(&1u32.to_le_bytes());
        bytes[44..48].copy_from_slice(&(MAX_MESSAGE_BODY_LEN as u32 + 1).to_le_bytes());
        assert!(matches!(
            decode_header(&bytes),
            Err(DecodeError::OutOfRange {
                field: "data_len",
                ..
            })
        ));
    }

    #[test]
    fn reject_frames_carry_the_original_type() {
        let bytes = encode_frame(
            ByteOrder::Big,
            &Outgoing {
                service_type: REJECT,
                sender: "#a#b",
                groups: &["g"],
                mess_type: -2,
                original_type: Some(0x10),
                body: b"no",
            },
        )
        .unwrap();
        let (frame, used) = decode_frame(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(frame.original_type, Some(0x10));
        assert_eq!(frame.header.mess_type(), -2);
        assert_eq!(frame.header.order, ByteOrder::Big);
        assert_eq!(frame.body, b"no");
    }
}
