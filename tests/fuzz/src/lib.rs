//! What the fuzz targets share: reading choices out of the fuzzer's
//! bytes, and the fixed status the control targets serve.
//!
//! Each target's first bytes usually choose what to decode (a byte order,
//! a message kind); [`Bytes`] reads them and answers zero once the input
//! runs out, so every input means something.

use std::net::Ipv4Addr;

use wackamole::config::VifAddress;
use wackamole::control::{MemberStatus, QuorumStatus, ServiceStatus, Status, VifStatus};

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

/// The status the control targets serve: two members, two VIFs, one of
/// them with two addresses.
pub fn sample_status() -> Status {
    let me = Ipv4Addr::new(192, 168, 1, 10);
    let address = |interface: &str, addr: [u8; 4], prefix_len| VifAddress {
        interface: interface.to_string(),
        addr: Ipv4Addr::from(addr),
        prefix_len,
        network_len: 24,
    };
    Status {
        state: "RUN".to_string(),
        mature: true,
        identity: Some(me),
        view_id: Some([3232235786, 1714566896, 7]),
        members: vec![
            MemberStatus {
                name: "#wack1#node1".to_string(),
                address: Some(me),
                held: 1,
            },
            MemberStatus {
                name: "#wack2#node2".to_string(),
                address: None,
                held: 0,
            },
        ],
        vifs: vec![
            VifStatus {
                priority: 5,
                owner: Some(me),
                addresses: vec![
                    address("eth0", [10, 0, 0, 5], 24),
                    address("eth1", [192, 0, 2, 5], 32),
                ],
            },
            VifStatus {
                priority: 0,
                owner: None,
                addresses: vec![address("eth0", [10, 0, 0, 6], 24)],
            },
        ],
        service: ServiceStatus {
            name: "spread".to_string(),
            endpoint: "unix:/var/run/4803".to_string(),
            state: "connected".to_string(),
            membership: None,
        },
        quorum: Some(QuorumStatus {
            rule: "none".to_string(),
            needed: 0,
            members: Some(2),
            met: true,
        }),
    }
}
