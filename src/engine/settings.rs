//! What the engine needs to know about this node.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::config::{Balance, Config, Unservable};

/// How long a view may wait for its members' STATE before the engine
/// warns about them and asks the group to proceed without them.
pub const DEFAULT_STATE_WAIT: Duration = Duration::from_secs(10);

/// How often the warning about silent members repeats while the state
/// exchange stays stuck.
pub const SILENT_WARNING_REPEAT: Duration = Duration::from_secs(5);

/// How long a VIF given to us waits for the RELEASED of a member of ours
/// that had it up before we bring it up anyway (with a warning). Members
/// send it within milliseconds; this only bounds the outage when one is
/// stuck.
pub const RELEASE_WAIT: Duration = Duration::from_secs(3);

/// What the engine needs of the configuration, and this node's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Our real address, as STATE and BALANCE carry it.
    pub identity: Ipv4Addr,
    /// The wire key of every VIF (its primary address when IPv4), in
    /// configuration order.
    pub vifs: Vec<Ipv4Addr>,
    /// Exactly what our STATE carries as preferred addresses.
    pub preferred: Vec<Ipv4Addr>,
    /// How long after joining before this node claims VIFs (`Mature`).
    pub mature: Duration,
    /// How the leader balances (`Balance`).
    pub balance: Balance,
    /// How long the state exchange waits for every member's STATE.
    pub state_wait: Duration,
    /// Interval of ARP table sharing (`Arp-Cache`).
    pub arp_cache_interval: Duration,
    /// When no member of the view can serve a VIF: true releases it
    /// (nobody holds it), false keeps it where it is.
    pub release_unservable: bool,
}

impl Settings {
    /// The settings of `config` for this node, known by `identity`.
    pub fn from_config(config: &Config, identity: Ipv4Addr) -> Settings {
        Settings {
            identity,
            vifs: config.vifs.iter().map(|v| v.wire_key()).collect(),
            preferred: config.preferred_addresses(),
            mature: config.mature,
            balance: config.balance,
            state_wait: DEFAULT_STATE_WAIT,
            arp_cache_interval: config.arp_cache_interval,
            release_unservable: config.track.unservable == Unservable::Release,
        }
    }
}
