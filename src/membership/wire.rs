//! Byte layouts of the membership datagrams (see the module documentation
//! of [`crate::membership`] for the table), as pure functions.
//!
//! Receiving takes two steps so that the caller can run its own checks
//! (digest, addressing, incarnation, replay) between authentication and
//! the parsing of the body: [`open`] checks the frame and the MAC, and
//! [`decode_body`] parses what it authenticated.

mod body;
mod error;
mod key;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddrV4;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use body::{decode_body, MESSAGE_OVERHEAD};
pub use error::{Refusal, WireError};
pub use key::{Key, KeyError, KeyId, Keys, KEY_ID_LABEL};

/// The first two bytes of every datagram ("WM").
pub const MAGIC: u16 = 0x574D;
/// The protocol version this node speaks. Version 2 added the send time
/// and the echo to HEARTBEAT (the quorum lease), version 3 its flags and
/// what the sender relays of its own hearing; nodes of different versions
/// refuse each other's datagrams.
pub const VERSION: u8 = 3;
/// Bytes before the body: magic, version, kind and [`Header`].
pub const HEADER_LEN: usize = 30;
/// Bytes of the HMAC-SHA256 tag that ends every datagram.
pub const MAC_LEN: usize = 32;
/// Shortest datagram: a header, an empty body and the tag.
pub const MIN_DATAGRAM: usize = HEADER_LEN + MAC_LEN;
pub use key::MIN_KEY_LEN;

/// Longest datagram we send or accept (fits one UDP datagram with room).
pub const MAX_DATAGRAM: usize = 60_000;
/// Longest payload of one multicast.
pub const MAX_PAYLOAD: usize = 16 * 1024;
pub use crate::base::MAX_NODES;
/// Largest logical time a datagram may carry (view ids, max ltime): 2^62.
/// Ltimes start from an incarnation (microseconds of the wall clock) and
/// grow by one per view, so no node gets there; a larger value is refused
/// as malformed, which keeps `ltime + 1` from overflowing.
pub const MAX_LTIME: u64 = 1 << 62;

/// Identifies a view; ordered by (`ltime`, `coordinator`, `incarnation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ViewId {
    /// Logical time; 0 travels as "no view".
    pub ltime: u64,
    /// The node that installed the view.
    pub coordinator: u8,
    /// That node's incarnation when it did.
    pub incarnation: u64,
}

/// One member of a view: a node in one of its incarnations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// Its index in the node list.
    pub node: u8,
    /// Its incarnation: the wall-clock microseconds it started at.
    pub incarnation: u64,
}

/// A sequenced message of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequenced {
    /// Its place in the view's agreed order.
    pub seq: u32,
    /// The node that multicast it.
    pub origin: u8,
    /// The origin's own number for it, counting its multicasts in the view.
    pub local: u32,
    /// What the origin multicast.
    pub payload: Vec<u8>,
}

/// The fixed part of every datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Names the cluster: see [`cluster_digest`].
    pub digest: [u8; 8],
    /// The sending node's index.
    pub sender: u8,
    /// The index of the node it is for.
    pub destination: u8,
    /// The sender's incarnation.
    pub incarnation: u64,
    /// Counts the sender's datagrams to this destination (replay window).
    pub counter: u64,
}

/// What every node tells every other listed node, every `Heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// Bit `n`: the sender hears node `n`.
    pub hears: u32,
    /// Bit `n`: the sender and node `n` hear each other.
    pub reach: u32,
    /// `None` travels as 0xFF.
    pub choice: Option<u8>,
    /// `None` travels as an id with ltime 0.
    pub view: Option<ViewId>,
    /// Sequence number of the last message delivered here in the view.
    pub delivered: u32,
    /// Sequence number the coordinator has given out last (0 for others).
    pub sequenced: u32,
    /// Sequence number up to which every member has delivered.
    pub stable: u32,
    /// The largest logical time the sender has seen.
    pub max_ltime: u64,
    /// When the sender sent it: microseconds of its own monotonic clock
    /// since it started (what the destination echoes back).
    pub sent: u64,
    /// What the sender last heard from the destination, if anything.
    pub echo: Option<Echo>,
    /// The sender keeps a quorum lease: it wants an answer (an echo) to
    /// every heartbeat, so every node heartbeats it every `Heartbeat`.
    pub wants_answers: bool,
    /// Whom the sender heard directly, and how long ago.
    pub relayed: Relayed,
}

/// What a heartbeat passes on of its sender's own hearing: for each node
/// the sender heard directly less than `Timeout` ago, that node's
/// incarnation and how long before the heartbeat went (the failure
/// detector's relayed evidence: "Failure detector" in the module
/// documentation of [`crate::membership`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relayed {
    /// Bit `n`: an entry for node `n`.
    pub nodes: u32,
    /// The incarnation heard, by node (meaningful where the bit is set).
    pub incarnations: [u64; MAX_NODES],
    /// How long ago, by node, in [`RELAYED_AGE_UNIT`]s rounded up.
    pub ages: [u16; MAX_NODES],
}

/// The unit of a relayed age: 100 µs (the longest age that travels is
/// 65,535 units, about 6.5 s).
pub const RELAYED_AGE_UNIT: Duration = Duration::from_micros(100);

impl Relayed {
    /// Notes that `node`'s `incarnation` was heard `age` before the
    /// heartbeat goes. An age too long to travel is left out (it could
    /// only say less).
    pub fn insert(&mut self, node: u8, incarnation: u64, age: Duration) {
        let unit = RELAYED_AGE_UNIT.as_micros();
        let Ok(units) = u16::try_from(age.as_micros().div_ceil(unit)) else {
            return;
        };
        let slot = usize::from(node);
        if slot >= MAX_NODES {
            return;
        }
        self.nodes |= 1 << slot;
        self.incarnations[slot] = incarnation;
        self.ages[slot] = units;
    }

    /// The entries in node order: node, incarnation, age.
    pub fn entries(&self) -> impl Iterator<Item = (u8, u64, Duration)> + '_ {
        (0..MAX_NODES)
            .filter(|&n| self.nodes & (1 << n) != 0)
            .map(|n| {
                let age = RELAYED_AGE_UNIT * u32::from(self.ages[n]);
                (n as u8, self.incarnations[n], age)
            })
    }
}

/// A heartbeat's answer to the heartbeats of its destination: the
/// ground of the destination's quorum lease (see "Quorum lease" in the
/// module documentation of [`crate::membership`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// The destination's incarnation it answers (never 0).
    pub incarnation: u64,
    /// The `sent` time of the latest heartbeat the sender received from
    /// that incarnation.
    pub sent: u64,
    /// The sender names a view holding that incarnation (its installed
    /// view, or the proposal it flushes for) and promises to hold back
    /// any FLUSH that excludes it (the module documentation says how
    /// long).
    pub in_view: bool,
}

/// A datagram's body, by kind.
// A HEARTBEAT, with its relayed entries inline, is some 400 bytes, the
// other kinds hold vectors. A body lives on the stack for one datagram;
// boxing the heartbeat would cost an allocation for every one received.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Liveness and what the sender sees.
    Heartbeat(Heartbeat),
    /// A coordinator proposes a view to each proposed member.
    Propose {
        /// The proposed view's id.
        proposal: ViewId,
        /// The proposed members.
        members: Vec<Member>,
    },
    /// A member answers a proposal with what it has of its old view.
    Flush {
        /// The proposal it answers.
        proposal: ViewId,
        /// Its installed view, if any.
        old_view: Option<ViewId>,
        /// Sequence number of the last message it delivered there.
        delivered: u32,
        /// The largest logical time it has seen.
        max_ltime: u64,
        /// Messages of the old view it holds beyond what it delivered.
        messages: Vec<Sequenced>,
    },
    /// The coordinator installs the view.
    Install {
        /// The new view's id.
        view: ViewId,
        /// Its members.
        members: Vec<Member>,
        /// The view the members flushed.
        old_view: Option<ViewId>,
        /// Every member delivers the old view's messages up to this number.
        cut: u32,
        /// The old view's messages some member may lack.
        messages: Vec<Sequenced>,
    },
    /// A member hands a multicast to its view's coordinator.
    Data {
        /// The view it was multicast in.
        view: ViewId,
        /// The member's own number for it.
        local: u32,
        /// What it multicasts.
        payload: Vec<u8>,
    },
    /// The coordinator hands a message in agreed order to each member.
    Sequenced {
        /// The view it belongs to.
        view: ViewId,
        /// The message and its place in the order.
        message: Sequenced,
    },
    /// The sender leaves for good.
    Leave,
}

crate::base::wire_enum::wire_enum! {
/// The kind byte of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind: u8 {
    /// HEARTBEAT.
    Heartbeat = 1,
    /// PROPOSE.
    Propose = 2,
    /// FLUSH.
    Flush = 3,
    /// INSTALL.
    Install = 4,
    /// DATA.
    Data = 5,
    /// SEQUENCED.
    Sequenced = 6,
    /// LEAVE.
    Leave = 7,
}
}

impl Kind {
    /// The kind a datagram's kind byte names, if any.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Kind::from_wire_value(byte)
    }

    /// The kind byte.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// The name the specification's table uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Heartbeat => "HEARTBEAT",
            Kind::Propose => "PROPOSE",
            Kind::Flush => "FLUSH",
            Kind::Install => "INSTALL",
            Kind::Data => "DATA",
            Kind::Sequenced => "SEQUENCED",
            Kind::Leave => "LEAVE",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Body {
    /// The kind this body travels as.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Heartbeat(_) => Kind::Heartbeat,
            Body::Propose { .. } => Kind::Propose,
            Body::Flush { .. } => Kind::Flush,
            Body::Install { .. } => Kind::Install,
            Body::Data { .. } => Kind::Data,
            Body::Sequenced { .. } => Kind::Sequenced,
            Body::Leave => Kind::Leave,
        }
    }

    /// Every node index in the body is one of `count` listed nodes, and
    /// member lists are in configured order without repeats (decoding
    /// cannot check this: it does not know the list).
    pub fn names_listed_nodes(&self, count: usize) -> bool {
        let node = |n: u8| usize::from(n) < count;
        let view = |v: &ViewId| node(v.coordinator);
        let members = |ms: &[Member]| {
            ms.iter().all(|m| node(m.node)) && ms.windows(2).all(|w| w[0].node < w[1].node)
        };
        let messages = |ms: &[Sequenced]| ms.iter().all(|m| node(m.origin));
        match self {
            Body::Heartbeat(hb) => {
                hb.choice.map_or(true, node)
                    && hb.view.as_ref().map_or(true, view)
                    && (count >= MAX_NODES || hb.relayed.nodes >> count == 0)
            }
            Body::Propose {
                proposal,
                members: ms,
            } => view(proposal) && members(ms),
            Body::Flush {
                proposal,
                messages: ms,
                ..
            } => view(proposal) && messages(ms),
            Body::Install {
                view: v,
                members: ms,
                messages: msgs,
                ..
            } => view(v) && members(ms) && messages(msgs),
            Body::Data { view: v, .. } => view(v),
            Body::Sequenced { view: v, message } => view(v) && node(message.origin),
            Body::Leave => true,
        }
    }
}

/// Names the configured node list: the first 8 bytes of SHA-256 over each
/// node's address and port, in order. Nodes configured with different
/// lists (or the same nodes in another order) get different digests.
pub fn cluster_digest(nodes: &[SocketAddrV4]) -> [u8; 8] {
    let mut sha = Sha256::new();
    for node in nodes {
        sha.update(node.ip().octets());
        sha.update(node.port().to_be_bytes());
    }
    let full = sha.finalize();
    let mut digest = [0; 8];
    digest.copy_from_slice(&full[..8]);
    digest
}

/// The exact size of the datagram [`encode`] makes of `body`.
pub fn encoded_len(body: &Body) -> usize {
    MIN_DATAGRAM + body::len(body)
}

/// Makes the authenticated datagram of `header` and `body`.
///
/// The caller keeps the body within the limits a receiver enforces
/// ([`MAX_NODES`] members, [`MAX_PAYLOAD`] bytes of payload, a datagram of
/// at most [`MAX_DATAGRAM`] bytes, see [`encoded_len`]), and gives view
/// ids that must be present a nonzero ltime. A body beyond them still
/// encodes, into a datagram that every receiver refuses.
pub fn encode(key: &Key, header: &Header, body: &Body) -> Vec<u8> {
    let len = encoded_len(body);
    debug_assert!(len <= MAX_DATAGRAM, "a {len}-byte datagram is too long");
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.push(VERSION);
    out.push(body.kind().byte());
    out.extend_from_slice(&header.digest);
    out.push(header.sender);
    out.push(header.destination);
    out.extend_from_slice(&header.incarnation.to_be_bytes());
    out.extend_from_slice(&header.counter.to_be_bytes());
    body::write(&mut out, body);
    let tag = key.tag(&out);
    out.extend_from_slice(&tag);
    debug_assert_eq!(out.len(), len);
    out
}

/// Appends the authentication code to bytes built by hand: what a peer
/// holding the key could send, whatever its layout (for tests and tools).
pub fn seal(key: &Key, unsigned: &[u8]) -> Vec<u8> {
    let mut out = unsigned.to_vec();
    out.extend_from_slice(&key.tag(unsigned));
    out
}

/// An authenticated datagram whose body is not parsed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The authenticated header.
    pub header: Header,
    /// The kind byte, unchecked: [`decode_body`] refuses unknown kinds.
    pub kind: u8,
    /// The body's bytes, authenticated.
    pub body: &'a [u8],
}

/// Checks a received datagram's length, magic, version and MAC, in that
/// order, and splits it into header, kind and body.
pub fn open<'a>(key: &Key, bytes: &'a [u8]) -> Result<Opened<'a>, WireError> {
    open_with(bytes, |signed, tag| {
        key.verifies(signed, tag).then(|| key.id())
    })
}

/// [`open`] under either of `keys` (the current one tried first), and
/// which of them the datagram was signed under.
pub fn open_under<'a>(keys: &Keys, bytes: &'a [u8]) -> Result<(Opened<'a>, KeyId), WireError> {
    let mut used = None;
    let opened = open_with(bytes, |signed, tag| {
        used = keys.verify(signed, tag);
        used
    })?;
    let used = used.ok_or(WireError::BadMac)?;
    Ok((opened, used))
}

/// [`open`], with `verify` naming the key the tag verifies under.
fn open_with<'a>(
    bytes: &'a [u8],
    verify: impl FnOnce(&[u8], &[u8; MAC_LEN]) -> Option<KeyId>,
) -> Result<Opened<'a>, WireError> {
    let len = bytes.len();
    if len > MAX_DATAGRAM {
        return Err(WireError::TooLong { len });
    }
    let Some((signed, tag)) = bytes.split_last_chunk::<MAC_LEN>() else {
        return Err(WireError::TooShort { len });
    };
    let Some((head, body)) = signed.split_first_chunk::<HEADER_LEN>() else {
        return Err(WireError::TooShort { len });
    };
    let magic = u16::from_be_bytes(field(head, 0));
    if magic != MAGIC {
        return Err(WireError::BadMagic { found: magic });
    }
    if head[2] != VERSION {
        return Err(WireError::BadVersion { found: head[2] });
    }
    if verify(signed, tag).is_none() {
        return Err(WireError::BadMac);
    }
    Ok(Opened {
        header: Header {
            digest: field(head, 4),
            sender: head[12],
            destination: head[13],
            incarnation: u64::from_be_bytes(field(head, 14)),
            counter: u64::from_be_bytes(field(head, 22)),
        },
        kind: head[3],
        body,
    })
}

/// The `N` bytes at `at` of the fixed header (offsets of the table).
fn field<const N: usize>(head: &[u8; HEADER_LEN], at: usize) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(&head[at..at + N]);
    bytes
}
