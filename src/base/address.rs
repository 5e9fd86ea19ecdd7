//! Addresses as every layer names them: an address of a VIF on an
//! interface, an IPv4 block, a notification target, where the Spread
//! daemon listens, and the one rule for interface names.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Linux's limit on interface names (IFNAMSIZ - 1).
pub const MAX_INTERFACE_NAME: usize = 15;

/// What is wrong with an interface name, by Linux's rule: 1 to 15 bytes,
/// not `.` or `..`, and none of `/`, `:`, NUL or white space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceNameFault {
    /// No name at all.
    Empty,
    /// Longer than [`MAX_INTERFACE_NAME`] bytes.
    TooLong,
    /// `.` or `..`.
    Reserved,
    /// The character at this character index.
    Forbidden {
        /// Its index, in characters.
        index: usize,
        /// The character.
        character: char,
    },
}

/// The fault in `name`, if any (see [`InterfaceNameFault`]).
pub fn interface_name_fault(name: &str) -> Option<InterfaceNameFault> {
    if name.is_empty() {
        return Some(InterfaceNameFault::Empty);
    }
    if let Some((index, character)) = name
        .chars()
        .enumerate()
        .find(|&(_, c)| matches!(c, '/' | ':' | '\0') || c.is_whitespace())
    {
        return Some(InterfaceNameFault::Forbidden { index, character });
    }
    if name.len() > MAX_INTERFACE_NAME {
        return Some(InterfaceNameFault::TooLong);
    }
    if name == "." || name == ".." {
        return Some(InterfaceNameFault::Reserved);
    }
    None
}

/// Where the Spread daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpreadAddress {
    /// `4803`: the local daemon, reached through its Unix socket
    /// `/tmp/<port>` as the Spread library does.
    Local {
        /// The daemon's port.
        port: u16,
    },
    /// `4803@host`: TCP to `host:port`.
    Tcp {
        /// The daemon's port.
        port: u16,
        /// Its host name or address.
        host: String,
    },
    /// A Unix socket path given directly (ours).
    Unix(PathBuf),
}

impl Default for SpreadAddress {
    fn default() -> Self {
        SpreadAddress::Local { port: 4803 }
    }
}

/// An IPv4 address with its prefix, as written `A.B.C.D[/BITS][nNET]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Block {
    /// The address.
    pub addr: Ipv4Addr,
    /// `/BITS`: the netmask length (default 32).
    pub prefix_len: u8,
}

impl Ipv4Block {
    /// The netmask as an address (`/24` -> 255.255.255.0).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix_len))
    }

    /// Whether `other` lies inside this block.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix_len);
        u32::from(self.addr) & mask == u32::from(other) & mask
    }
}

/// `A.B.C.D/BITS`, as `-t` shows Prefer and Notify blocks.
impl fmt::Display for Ipv4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// The mask of a prefix length (0..=32) as a host-order integer.
pub fn prefix_mask(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - u32::from(l)),
    }
}

/// One address of a VIF: `IF:A.B.C.D/BITS[nNET]` or `IF:ADDR/BITS` for
/// IPv6.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VifAddress {
    /// Interface name, at most 15 bytes.
    pub interface: String,
    /// The address.
    pub addr: IpAddr,
    /// `/BITS`: prefix of the address on the interface (default 32 for
    /// IPv4, 128 for IPv6).
    pub prefix_len: u8,
    /// `nNET` (IPv4 only): length of the directly attached network used
    /// to decide whom ARP notifications may reach (default 24). IPv6 has
    /// no such suffix: there it equals `prefix_len`.
    pub network_len: u8,
}

/// `IF:ADDR/BITS`, as logs (`UP: eth0:10.0.0.5/24`) and hooks show it.
impl fmt::Display for VifAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.interface, self.addr, self.prefix_len)
    }
}

impl VifAddress {
    /// The address if it is IPv4.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }

    /// The address if it is IPv6.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        match self.addr {
            IpAddr::V4(_) => None,
            IpAddr::V6(a) => Some(a),
        }
    }

    /// `ipv4` or `ipv6`, as the status names the family.
    pub fn family(&self) -> &'static str {
        if self.addr.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        }
    }

    /// The IPv4 netmask (none for IPv6).
    pub fn netmask(&self) -> Option<Ipv4Addr> {
        self.ipv4()
            .map(|_| Ipv4Addr::from(prefix_mask(self.prefix_len)))
    }

    /// Broadcast address of the IPv4 subnet on the interface (none for
    /// IPv6).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        self.ipv4()
            .map(|a| Ipv4Addr::from(u32::from(a) | !prefix_mask(self.prefix_len)))
    }

    /// The directly attached IPv4 network (`nNET`) as a block (none for
    /// IPv6).
    pub fn attached_network(&self) -> Option<Ipv4Block> {
        self.ipv4().map(|a| Ipv4Block {
            addr: Ipv4Addr::from(u32::from(a) & prefix_mask(self.network_len)),
            prefix_len: self.network_len,
        })
    }
}

/// One entry of the `Notify` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// `IF:NET/LEN [throttle T] [ping]`.
    Network {
        /// The interface to announce on.
        interface: String,
        /// The network whose addresses are told.
        block: Ipv4Block,
        /// At most this many destinations per second (None: no limit).
        throttle: Option<u32>,
        /// Also send each destination an ICMP echo.
        ping: bool,
    },
    /// `arp-cache [ping]`: every entry of the cluster-wide ARP cache.
    ArpCache {
        /// Also send each destination an ICMP echo.
        ping: bool,
    },
    /// `IF:ADDR` with an IPv6 address (ours): one neighbour that gets a
    /// unicast neighbour advertisement for every IPv6 address of each VIF
    /// acquired on that interface.
    Neighbour {
        /// The interface it is reached on.
        interface: String,
        /// Its IPv6 address.
        addr: Ipv6Addr,
    },
}
