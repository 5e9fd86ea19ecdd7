//! What the fuzz targets share: reading choices out of the fuzzer's
//! bytes, the fixed status the control targets serve, and lines of a
//! watch for their seeds.
//!
//! Each target's first bytes usually choose what to decode (a byte order,
//! a message kind); [`Bytes`] reads them and answers zero once the input
//! runs out, so every input means something.

use std::net::Ipv4Addr;

use wackamole::config::VifAddress;
use wackamole::control::{
    EndCause, MemberStatus, QuorumStatus, MoveReason, RefusalReason, ServiceStatus, StatusReport, VifStatus,
    WatchEvent, WatchItem, WatchRecord,
};

/// The fuzzer's bytes, read front to back.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A number below `n` (which must be nonzero).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// The next `n` bytes, or fewer if the input ends first.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length byte, then that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// The status the control targets serve: three members, of which this
/// node is the first, and four VIFs of up to three addresses each, held
/// by turns or by nobody.
pub fn sample_status() -> StatusReport {
    let node = |n: u8| Ipv4Addr::new(192, 168, 7, n);
    let vif = |v: u8| VifStatus {
        priority: i32::from(v % 6),
        owner: (v != 3).then(|| node(1 + v % 3)),
        addresses: (0..=v % 3)
            .map(|a| VifAddress {
                interface: format!("eth{a}"),
                addr: Ipv4Addr::new(10, a, 0, 10 + v).into(),
                prefix_len: 16 + 8 * (a % 2),
                network_len: 24,
            })
            .collect(),
    };
    StatusReport {
        state: "RUN".to_string(),
        mature: true,
        identity: Some(node(1)),
        view_id: Some([0xC0A8_0701, 1_700_000_000, 3]),
        members: (1..=3)
            .map(|n| MemberStatus {
                name: format!("#wack{n}#node{n}"),
                address: (n != 3).then(|| node(n)),
                held: u32::from(n % 3),
                health: "healthy".to_string(),
                servable: Some(4),
            })
            .collect(),
        vifs: (0..4).map(vif).collect(),
        service: ServiceStatus {
            name: "spread".to_string(),
            endpoint: "unix:/tmp/4803".to_string(),
            state: "connected".to_string(),
            membership: None,
            error: None,
        },
        quorum: Some(QuorumStatus {
            rule: "2".to_string(),
            needed: 2,
            members: Some(3),
            met: true,
        }),
        trackers: Vec::new(),
    }
}

/// One line of every kind a watch carries, each with its text.
pub fn watch_records() -> Vec<(WatchRecord, String)> {
    let status = sample_status();
    let addresses = status.vifs[2].addresses.clone();
    let items = [
        WatchItem::Watching,
        WatchItem::Event(WatchEvent::View {
            members: status.members.iter().map(|m| m.name.clone()).collect(),
        }),
        WatchItem::Event(WatchEvent::Acquired {
            vif: 2,
            addresses: addresses.clone(),
            reason: MoveReason::MemberLeft,
        }),
        WatchItem::Event(WatchEvent::Released {
            vif: 2,
            addresses,
            reason: MoveReason::Tracker("uplink".to_string()),
        }),
        WatchItem::Event(WatchEvent::QuorumLost {
            members: 1,
            needed: 2,
        }),
        WatchItem::Event(WatchEvent::QuorumMet {
            members: 2,
            needed: 2,
        }),
        WatchItem::Event(WatchEvent::RefusedDatagram {
            reason: RefusalReason::BadMac,
            source: "192.168.7.9:4810".parse().expect("a socket address"),
        }),
        WatchItem::End {
            cause: EndCause::Stopping,
            reason: "wackamole is stopping".to_string(),
        },
    ];
    items
        .into_iter()
        .map(|item| {
            let record = WatchRecord {
                time: "2024-05-01T12:34:56.789Z".to_string(),
                item,
                suppressed: 3,
            };
            let text = record.to_string();
            (record, text)
        })
        .collect()
}
