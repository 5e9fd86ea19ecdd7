//! Linux networking: VIP addresses on interfaces (`iface`), ARP frames
//! (`arp`) sent on AF_PACKET sockets (`packet`), the kernel's ARP table
//! (`arptable`), and the announcer thread (`announce`), held back by a
//! [`lease::Lease`] when the process may have been stopped. Everything acts in
//! the network namespace of the calling thread.

pub mod announce;
pub mod arp;
pub mod arptable;
pub mod error;
pub mod iface;
mod ifreq;
pub mod lease;
pub mod packet;

pub use error::{Error, Result};
