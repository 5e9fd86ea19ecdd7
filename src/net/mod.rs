//! Linux networking: VIP addresses on interfaces (`iface`, and `iface6`
//! for IPv6 over rtnetlink, `netlink`), ARP frames (`arp`) and neighbour
//! advertisements (`ndp`) sent on AF_PACKET sockets (`packet`) or, unicast
//! to an IPv6 neighbour, through the kernel (`neighbour`), the kernel's ARP table
//! (`arptable`), and the announcer thread (`announce`), held back by a
//! [`lease::Lease`] when the process may have been stopped. Everything acts in
//! the network namespace of the calling thread.

pub mod announce;
pub mod arp;
pub mod arptable;
pub mod error;
pub mod iface;
pub mod iface6;
mod ifreq;
pub mod lease;
pub mod ndp;
pub mod neighbour;
pub mod netlink;
pub mod packet;

pub use error::{Error, Result};
