//! Wackamole: N-way IP failover for clusters, coordinated through Spread.
//!
//! Layers (see README.md): `config` reads `wackamole.conf` into a typed
//! [`config::Config`]; `engine` is the pure allocation state machine;
//! `spread` speaks the Spread client protocol; `net` puts addresses on
//! interfaces and sends ARP.

pub mod config;
pub mod engine;
pub mod net;
pub mod spread;
