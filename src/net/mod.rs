//! Linux networking: VIP addresses on interfaces (`iface`, with `iface4`
//! for IPv4 alias labels and `iface6` for IPv6, both over rtnetlink
//! (`netlink` moves the messages `addrmsg` builds and reads), with an
//! optional lifetime the kernel enforces, renewed by `iface::renew`), ARP
//! frames (`arp`) and neighbour advertisements (`ndp`) sent on AF_PACKET
//! sockets (`packet`) or, unicast to an IPv6 neighbour, through the kernel
//! (`neighbour`), the kernel's ARP table (`arptable`), and the announcer
//! thread (`announce`), held back by a [`lease::Lease`] when the process
//! may have been stopped. Everything acts in the network namespace of the
//! calling thread.

pub mod addrmsg;
pub mod announce;
pub mod arp;
pub mod arptable;
pub mod error;
pub mod iface;
pub mod iface4;
pub mod iface6;
mod ifaddr;
mod ifreq;
pub mod lease;
pub mod linkwatch;
pub mod ndp;
pub mod neighbour;
pub mod netlink;
pub mod packet;
mod renewal;

pub use error::{Error, Result};
