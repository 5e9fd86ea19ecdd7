//! The bodies of the datagrams: everything between the header and the MAC.

use crate::base::bytes::{self, ByteOrder, Faults, Short};

use super::{
    Body, Echo, Heartbeat, Kind, Member, Relayed, Sequenced, ViewId, WireError, HEADER_LEN,
    MAX_LTIME, MAX_NODES, MAX_PAYLOAD,
};

const VIEW_ID_LEN: usize = 17;
const MEMBER_LEN: usize = 9;
/// Bytes a message takes in a body besides its payload: seq, origin,
/// local number and length.
pub const MESSAGE_OVERHEAD: usize = 11;
/// A heartbeat without relayed entries: up to the echo, then the flags
/// and the bitmap of relayed entries.
const HEARTBEAT_LEN: usize = 4 + 4 + 1 + VIEW_ID_LEN + 4 + 4 + 4 + 8 + 8 + ECHO_LEN + 1 + 4;
/// A relayed entry: incarnation and age.
const RELAYED_LEN: usize = 8 + 2;
/// A heartbeat's flag: the sender wants an answer to every heartbeat.
const WANTS_ANSWERS: u8 = 1;
/// An echo: incarnation, send time, flag.
const ECHO_LEN: usize = 8 + 8 + 1;
/// How a heartbeat's choice "none" travels.
const NO_CHOICE: u8 = 0xFF;

/// The encoded size of `body`.
pub(super) fn len(body: &Body) -> usize {
    match body {
        Body::Heartbeat(h) => HEARTBEAT_LEN + h.relayed.nodes.count_ones() as usize * RELAYED_LEN,
        Body::Propose { members, .. } => VIEW_ID_LEN + members_len(members),
        Body::Flush { messages, .. } => 2 * VIEW_ID_LEN + 4 + 8 + messages_len(messages),
        Body::Install {
            members, messages, ..
        } => VIEW_ID_LEN + members_len(members) + VIEW_ID_LEN + 4 + messages_len(messages),
        Body::Data { payload, .. } => VIEW_ID_LEN + 4 + 2 + payload.len(),
        Body::Sequenced { message, .. } => VIEW_ID_LEN + MESSAGE_OVERHEAD + message.payload.len(),
        Body::Leave => 0,
    }
}

fn members_len(members: &[Member]) -> usize {
    1 + members.len() * MEMBER_LEN
}

fn messages_len(messages: &[Sequenced]) -> usize {
    2 + messages
        .iter()
        .map(|m| MESSAGE_OVERHEAD + m.payload.len())
        .sum::<usize>()
}

/// Appends the layout of `body` to `out`. Counts beyond their field's
/// range saturate, which a receiver then refuses (see [`super::encode`]).
pub(super) fn write(out: &mut Vec<u8>, body: &Body) {
    match body {
        Body::Heartbeat(h) => {
            debug_assert_ne!(h.choice, Some(NO_CHOICE), "0xFF travels as no choice");
            out.extend_from_slice(&h.hears.to_be_bytes());
            out.extend_from_slice(&h.reach.to_be_bytes());
            out.push(h.choice.unwrap_or(NO_CHOICE));
            put_optional_view(out, h.view);
            out.extend_from_slice(&h.delivered.to_be_bytes());
            out.extend_from_slice(&h.sequenced.to_be_bytes());
            out.extend_from_slice(&h.stable.to_be_bytes());
            out.extend_from_slice(&h.max_ltime.to_be_bytes());
            out.extend_from_slice(&h.sent.to_be_bytes());
            put_echo(out, h.echo);
            out.push(if h.wants_answers { WANTS_ANSWERS } else { 0 });
            out.extend_from_slice(&h.relayed.nodes.to_be_bytes());
            for n in (0..MAX_NODES).filter(|&n| h.relayed.nodes & (1 << n) != 0) {
                out.extend_from_slice(&h.relayed.incarnations[n].to_be_bytes());
                out.extend_from_slice(&h.relayed.ages[n].to_be_bytes());
            }
        }
        Body::Propose { proposal, members } => {
            put_view(out, proposal);
            put_members(out, members);
        }
        Body::Flush {
            proposal,
            old_view,
            delivered,
            max_ltime,
            messages,
        } => {
            put_view(out, proposal);
            put_optional_view(out, *old_view);
            out.extend_from_slice(&delivered.to_be_bytes());
            out.extend_from_slice(&max_ltime.to_be_bytes());
            put_messages(out, messages);
        }
        Body::Install {
            view,
            members,
            old_view,
            cut,
            messages,
        } => {
            put_view(out, view);
            put_members(out, members);
            put_optional_view(out, *old_view);
            out.extend_from_slice(&cut.to_be_bytes());
            put_messages(out, messages);
        }
        Body::Data {
            view,
            local,
            payload,
        } => {
            put_view(out, view);
            out.extend_from_slice(&local.to_be_bytes());
            put_payload(out, payload);
        }
        Body::Sequenced { view, message } => {
            put_view(out, view);
            put_message(out, message);
        }
        Body::Leave => {}
    }
}

fn put_view(out: &mut Vec<u8>, view: &ViewId) {
    debug_assert_ne!(view.ltime, 0, "a view id of ltime 0 reads as none");
    out.extend_from_slice(&view.ltime.to_be_bytes());
    out.push(view.coordinator);
    out.extend_from_slice(&view.incarnation.to_be_bytes());
}

fn put_optional_view(out: &mut Vec<u8>, view: Option<ViewId>) {
    match view {
        Some(view) => put_view(out, &view),
        None => out.extend_from_slice(&[0; VIEW_ID_LEN]),
    }
}

fn put_echo(out: &mut Vec<u8>, echo: Option<Echo>) {
    match echo {
        Some(e) => {
            debug_assert_ne!(e.incarnation, 0, "incarnation 0 travels as no echo");
            out.extend_from_slice(&e.incarnation.to_be_bytes());
            out.extend_from_slice(&e.sent.to_be_bytes());
            out.push(u8::from(e.in_view));
        }
        None => out.extend_from_slice(&[0; ECHO_LEN]),
    }
}

fn put_members(out: &mut Vec<u8>, members: &[Member]) {
    debug_assert!(members.len() <= MAX_NODES, "{} members", members.len());
    out.push(u8::try_from(members.len()).unwrap_or(u8::MAX));
    for member in members {
        out.push(member.node);
        out.extend_from_slice(&member.incarnation.to_be_bytes());
    }
}

fn put_messages(out: &mut Vec<u8>, messages: &[Sequenced]) {
    let count = u16::try_from(messages.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for message in messages {
        put_message(out, message);
    }
}

fn put_message(out: &mut Vec<u8>, message: &Sequenced) {
    out.extend_from_slice(&message.seq.to_be_bytes());
    out.push(message.origin);
    out.extend_from_slice(&message.local.to_be_bytes());
    put_payload(out, &message.payload);
}

fn put_payload(out: &mut Vec<u8>, payload: &[u8]) {
    debug_assert!(
        payload.len() <= MAX_PAYLOAD,
        "{}-byte payload",
        payload.len()
    );
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Parses the body of a datagram of kind `kind` (as [`super::open`]
/// returned them). Every count and length is checked against the bytes
/// left before anything is allocated, so a forged count costs nothing.
pub fn decode_body(kind: u8, body: &[u8]) -> Result<Body, WireError> {
    let kind = Kind::from_byte(kind).ok_or(WireError::UnknownKind { kind })?;
    let mut r = Reader {
        bytes: bytes::Reader::new(body, kind),
        kind,
    };
    let decoded = match kind {
        Kind::Heartbeat => Body::Heartbeat(Heartbeat {
            hears: r.u32("hears bitmap")?,
            reach: r.u32("reach bitmap")?,
            choice: match r.u8("choice")? {
                NO_CHOICE => None,
                node => Some(node),
            },
            view: r.optional_view("view id")?,
            delivered: r.u32("delivered count")?,
            sequenced: r.u32("sequenced count")?,
            stable: r.u32("stable count")?,
            max_ltime: r.ltime("max ltime")?,
            sent: r.u64("send time")?,
            echo: r.echo()?,
            wants_answers: match r.u8("flags")? {
                0 => false,
                WANTS_ANSWERS => true,
                found => return Err(WireError::BadHeartbeatFlags { found }),
            },
            relayed: r.relayed()?,
        }),
        Kind::Propose => Body::Propose {
            proposal: r.view("proposal view id")?,
            members: r.members()?,
        },
        Kind::Flush => Body::Flush {
            proposal: r.view("proposal view id")?,
            old_view: r.optional_view("old view id")?,
            delivered: r.u32("delivered count")?,
            max_ltime: r.ltime("max ltime")?,
            messages: r.messages()?,
        },
        Kind::Install => Body::Install {
            view: r.view("view id")?,
            members: r.members()?,
            old_view: r.optional_view("old view id")?,
            cut: r.u32("cut")?,
            messages: r.messages()?,
        },
        Kind::Data => Body::Data {
            view: r.view("view id")?,
            local: r.u32("local number")?,
            payload: r.payload()?,
        },
        Kind::Sequenced => Body::Sequenced {
            view: r.view("view id")?,
            message: r.message()?,
        },
        Kind::Leave => Body::Leave,
    };
    r.bytes.finish()?;
    Ok(decoded)
}

/// A body that ends early or goes on is named by its kind; offsets count
/// from the datagram's first byte.
impl Faults for Kind {
    type Error = WireError;

    fn short(&self, short: Short) -> WireError {
        WireError::Truncated {
            kind: *self,
            field: short.field,
            offset: HEADER_LEN + short.at,
            needed: short.needed,
            left: short.left(),
        }
    }

    fn trailing(&self, at: usize, len: usize) -> WireError {
        WireError::TrailingBytes {
            kind: *self,
            extra: len - at,
        }
    }
}

/// The shared byte reader with the fields of the membership's layouts on
/// top; every integer is in network order.
struct Reader<'a> {
    bytes: bytes::Reader<'a, Kind>,
    kind: Kind,
}

impl<'a> Reader<'a> {
    fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        self.bytes.u8(field)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        self.bytes.u16(ByteOrder::Big, field)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        self.bytes.u32(ByteOrder::Big, field)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        self.bytes.u64(ByteOrder::Big, field)
    }

    /// A logical time, at most [`MAX_LTIME`].
    fn ltime(&mut self, field: &'static str) -> Result<u64, WireError> {
        let ltime = self.u64(field)?;
        if ltime > MAX_LTIME {
            return Err(WireError::LtimeTooLarge {
                kind: self.kind,
                field,
                ltime,
            });
        }
        Ok(ltime)
    }

    /// A view id that reads as "none" when its ltime is 0.
    fn optional_view(&mut self, field: &'static str) -> Result<Option<ViewId>, WireError> {
        let view = ViewId {
            ltime: self.ltime(field)?,
            coordinator: self.u8(field)?,
            incarnation: self.u64(field)?,
        };
        match view {
            ViewId { ltime: 0, .. } if view != ViewId::default() => Err(WireError::BadNoneView {
                kind: self.kind,
                field,
            }),
            ViewId { ltime: 0, .. } => Ok(None),
            _ => Ok(Some(view)),
        }
    }

    /// A heartbeat's echo: none when the incarnation is 0 (and then the
    /// rest must be 0 too); the flag is 0 or 1.
    fn echo(&mut self) -> Result<Option<Echo>, WireError> {
        let incarnation = self.u64("echo incarnation")?;
        let sent = self.u64("echo send time")?;
        let in_view = match self.u8("echo flag")? {
            0 => false,
            1 => true,
            found => return Err(WireError::BadEchoFlag { found }),
        };
        match (incarnation, sent, in_view) {
            (0, 0, false) => Ok(None),
            (0, _, _) => Err(WireError::BadNoEcho),
            _ => Ok(Some(Echo {
                incarnation,
                sent,
                in_view,
            })),
        }
    }

    /// A heartbeat's relayed entries: a bitmap, then an entry per bit.
    fn relayed(&mut self) -> Result<Relayed, WireError> {
        let mut relayed = Relayed {
            nodes: self.u32("relayed bitmap")?,
            ..Relayed::default()
        };
        let count = relayed.nodes.count_ones() as usize;
        self.check_count(count, "relayed entries", RELAYED_LEN)?;
        for n in (0..MAX_NODES).filter(|&n| relayed.nodes & (1 << n) != 0) {
            relayed.incarnations[n] = self.u64("relayed incarnation")?;
            relayed.ages[n] = self.u16("relayed age")?;
        }
        Ok(relayed)
    }

    /// A view id the kind cannot do without.
    fn view(&mut self, field: &'static str) -> Result<ViewId, WireError> {
        self.optional_view(field)?.ok_or(WireError::MissingView {
            kind: self.kind,
            field,
        })
    }

    fn members(&mut self) -> Result<Vec<Member>, WireError> {
        let count = usize::from(self.u8("member count")?);
        if count > MAX_NODES {
            return Err(WireError::TooManyMembers {
                kind: self.kind,
                count,
            });
        }
        self.check_count(count, "members", MEMBER_LEN)?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(Member {
                node: self.u8("member node")?,
                incarnation: self.u64("member incarnation")?,
            });
        }
        Ok(members)
    }

    fn messages(&mut self) -> Result<Vec<Sequenced>, WireError> {
        let count = usize::from(self.u16("message count")?);
        self.check_count(count, "messages", MESSAGE_OVERHEAD)?;
        let mut messages = Vec::with_capacity(count);
        for _ in 0..count {
            messages.push(self.message()?);
        }
        Ok(messages)
    }

    /// Refuses a count the rest of the body cannot hold, before the caller
    /// allocates room for it.
    fn check_count(
        &self,
        count: usize,
        items: &'static str,
        min_each: usize,
    ) -> Result<(), WireError> {
        let left = self.bytes.left();
        if count.saturating_mul(min_each) > left {
            return Err(WireError::CountExceedsBody {
                kind: self.kind,
                items,
                count,
                min_each,
                left,
            });
        }
        Ok(())
    }

    fn message(&mut self) -> Result<Sequenced, WireError> {
        Ok(Sequenced {
            seq: self.u32("message seq")?,
            origin: self.u8("message origin")?,
            local: self.u32("message local number")?,
            payload: self.payload()?,
        })
    }

    fn payload(&mut self) -> Result<Vec<u8>, WireError> {
        let len = usize::from(self.u16("payload length")?);
        if len > MAX_PAYLOAD {
            return Err(WireError::PayloadTooLong {
                kind: self.kind,
                len,
            });
        }
        Ok(self.bytes.take(len, "payload")?.to_vec())
    }
}
