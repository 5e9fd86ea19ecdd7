//! The vocabulary the layers share, and nothing else: address and
//! interface-name types, log levels, the Spread group-name rule, the
//! membership's timing settings and node limit, the id of a view, an ARP
//! table entry and the byte reader every wire layout is read with.
//! Every layer may import it; it imports no other module of the crate, so
//! no layer has to reach sideways or up to name a thing another layer
//! also names (`tests/it/layers.rs` checks this).

#![forbid(unsafe_code)]

pub mod address;
pub mod arp_entry;
pub mod bytes;
pub mod group_id;
pub mod level;
pub mod membership_timing;
pub mod rate_limit;
pub mod spread_name;
pub mod wire_enum;

pub use address::{
    interface_name_fault, prefix_mask, InterfaceNameFault, Ipv4Block, NotifyTarget, SpreadAddress,
    VifAddress, MAX_INTERFACE_NAME,
};
pub use arp_entry::ArpEntry;
pub use bytes::ByteOrder;
pub use group_id::GroupId;
pub use level::{Level, LogFacility};
pub use membership_timing::MAX_NODES;
pub use rate_limit::RateLimit;
