//! The group service a configuration chooses: a Spread daemon and a
//! group in it, or the built-in membership.

use std::time::Duration;

use super::{MembershipConfig, SpreadAddress};

/// The Spread daemon and the group the cluster meets in there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadConfig {
    /// `Spread`: the Spread daemon to connect to.
    pub address: SpreadAddress,
    /// `SpreadRetryInterval`: the wait before connecting to Spread again.
    pub retry_interval: Duration,
    /// `Group`: the Spread group of the cluster.
    pub group: String,
}

impl Default for SpreadConfig {
    /// The manual page's: the local daemon on port 4803, group `wack1`,
    /// 5 s between tries.
    fn default() -> Self {
        SpreadConfig {
            address: SpreadAddress::default(),
            retry_interval: Duration::from_secs(5),
            group: "wack1".to_string(),
        }
    }
}

/// The group service a configuration chooses: a Spread daemon, or the
/// built-in membership (a `Membership` block); never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceConfig {
    /// The nodes meet in a group of a Spread daemon (the default).
    Spread(SpreadConfig),
    /// `Membership { ... }` (ours): the built-in group membership.
    Membership(MembershipConfig),
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig::Spread(SpreadConfig::default())
    }
}

impl ServiceConfig {
    /// The built-in membership's settings; `None` with Spread.
    pub fn membership(&self) -> Option<&MembershipConfig> {
        match self {
            ServiceConfig::Membership(membership) => Some(membership),
            ServiceConfig::Spread(_) => None,
        }
    }
}
