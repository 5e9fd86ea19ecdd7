//! One entry of an ARP table: what `net` reads from the kernel, what the
//! engine shares with its peers in ARPCACHE and merges from theirs.

use std::net::Ipv4Addr;

/// An IPv4 address and the MAC it resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpEntry {
    /// The neighbour's IPv4 address.
    pub addr: Ipv4Addr,
    /// Its link-layer address.
    pub mac: [u8; 6],
}
