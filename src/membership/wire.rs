//! Byte layouts of the membership datagrams (see the module documentation
//! of [`crate::membership`] for the table), as pure functions.

/// Longest datagram we send or accept (fits one UDP datagram with room).
pub const MAX_DATAGRAM: usize = 60_000;
/// Longest payload of one multicast.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// Most nodes a cluster may list (the bitmaps are 32 bits wide).
pub const MAX_NODES: usize = 32;

/// Identifies a view; ordered by (`ltime`, `coordinator`, `incarnation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ViewId {
    pub ltime: u64,
    pub coordinator: u8,
    pub incarnation: u64,
}

/// One member of a view: a node in one of its incarnations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    pub node: u8,
    pub incarnation: u64,
}

/// A sequenced message of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequenced {
    pub seq: u32,
    pub origin: u8,
    pub local: u32,
    pub payload: Vec<u8>,
}

/// The fixed part of every datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub digest: [u8; 8],
    pub sender: u8,
    pub destination: u8,
    pub incarnation: u64,
    pub counter: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub hears: u32,
    pub reach: u32,
    /// `None` travels as 0xFF.
    pub choice: Option<u8>,
    /// `None` travels as an id with ltime 0.
    pub view: Option<ViewId>,
    pub delivered: u32,
    pub sequenced: u32,
    pub stable: u32,
    pub max_ltime: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Heartbeat(Heartbeat),
    Propose {
        proposal: ViewId,
        members: Vec<Member>,
    },
    Flush {
        proposal: ViewId,
        old_view: Option<ViewId>,
        delivered: u32,
        max_ltime: u64,
        messages: Vec<Sequenced>,
    },
    Install {
        view: ViewId,
        members: Vec<Member>,
        old_view: Option<ViewId>,
        cut: u32,
        messages: Vec<Sequenced>,
    },
    Data {
        view: ViewId,
        local: u32,
        payload: Vec<u8>,
    },
    Sequenced {
        view: ViewId,
        message: Sequenced,
    },
    Leave,
}
