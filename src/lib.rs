//! Wackamole: N-way IP failover for clusters, coordinated through Spread.
//!
//! Layers (see README.md): `config` reads `wackamole.conf` into a typed
//! [`config::Config`]; `engine` is the pure allocation state machine;
//! `spread` speaks the Spread client protocol; `net` puts addresses on
//! interfaces (IPv4 by ioctl, IPv6 by rtnetlink) and sends ARP and
//! neighbour advertisements; `control`, `hooks`, `log` and `descriptor`
//! are the daemon's plumbing; `cli` parses the command lines of both faces
//! of the binary.

#![warn(unreachable_pub, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod base;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod descriptor;
pub mod engine;
pub mod hooks;
pub mod log;
pub mod membership;
pub mod net;
pub mod process;
pub mod spread;

#[cfg(test)]
mod testutil;
