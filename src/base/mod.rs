//! The vocabulary the layers share, and nothing else: address and
//! interface-name types, log levels, the Spread group-name rule and the
//! membership's timing settings. Every layer may import it; it imports no
//! other module of the crate, so no layer has to reach sideways or up to
//! name a thing another layer also names (`tests/layers.rs` checks this).

pub mod address;
pub mod level;
pub mod membership_settings;
pub mod spread_name;

pub use address::{
    interface_name_fault, prefix_mask, InterfaceNameFault, Ipv4Block, NotifyTarget, SpreadAddress,
    VifAddress, MAX_INTERFACE_NAME,
};
pub use level::{Level, LogFacility};
