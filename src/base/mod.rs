//! The vocabulary the layers share, and nothing else: address and
//! interface-name types, log levels, the Spread group-name rule, the
//! membership's timing settings, the id of a view and an ARP table entry.
//! Every layer may import it; it imports no other module of the crate, so
//! no layer has to reach sideways or up to name a thing another layer
//! also names (`tests/layers.rs` checks this).

#![forbid(unsafe_code)]

pub mod address;
pub mod arp_entry;
pub mod group_id;
pub mod level;
pub mod membership_settings;
pub mod rate_limit;
pub mod spread_name;

pub use address::{
    interface_name_fault, prefix_mask, InterfaceNameFault, Ipv4Block, NotifyTarget, SpreadAddress,
    VifAddress, MAX_INTERFACE_NAME,
};
pub use arp_entry::ArpEntry;
pub use group_id::GroupId;
pub use level::{Level, LogFacility};
pub use rate_limit::RateLimit;
