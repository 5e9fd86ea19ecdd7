//! What a re-read configuration (SIGHUP) may change in a running daemon.
//!
//! Live: `Notify`, `Arp-Cache`, `Balance`, `Mature`, hooks, `LogFacility`
//! and `SpreadRetryInterval`. Everything that the cluster or the
//! connection depends on (the VIFs, the group, the identity, the
//! preferences our STATE carries, the Spread daemon, the control socket)
//! needs a restart: a file that changes any of it is refused whole and the
//! running configuration stays.

use std::fmt;

use crate::config::Config;

/// The reload was refused: these settings differ from the running ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub settings: Vec<&'static str>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration not reloaded: {} cannot change while running (restart \
             wackamole to apply it); the running configuration stays",
            self.settings.join(", ")
        )
    }
}

/// Checks `new` against the running configuration and returns the names
/// of the live settings that change.
pub fn check(running: &Config, new: &Config) -> Result<Vec<&'static str>, Refused> {
    let fixed = [
        ("VirtualInterfaces", running.vifs != new.vifs),
        ("Group", running.group != new.group),
        ("Identity", running.identity != new.identity),
        ("Prefer", running.prefer != new.prefer),
        ("Spread", running.spread != new.spread),
        ("Control", running.control != new.control),
    ];
    let refused = changed(&fixed);
    if !refused.is_empty() {
        return Err(Refused { settings: refused });
    }
    let live = [
        ("Notify", running.notify != new.notify),
        ("Arp-Cache", running.arp_cache != new.arp_cache),
        ("Balance", running.balance != new.balance),
        ("Mature", running.mature != new.mature),
        ("Run", running.hooks != new.hooks),
        ("LogFacility", running.log_facility != new.log_facility),
        (
            "SpreadRetryInterval",
            running.spread_retry_interval != new.spread_retry_interval,
        ),
    ];
    Ok(changed(&live))
}

/// The names of the settings marked as changed.
fn changed(settings: &[(&'static str, bool)]) -> Vec<&'static str> {
    settings
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AcquisitionsPerRound, Prefer};
    use std::time::Duration;

    #[test]
    fn live_settings_are_listed() {
        let running = Config::default();
        let mut new = running.clone();
        new.mature = Duration::from_secs(1);
        new.balance.acquisitions_per_round = AcquisitionsPerRound::All;
        assert_eq!(check(&running, &new), Ok(vec!["Balance", "Mature"]));
        assert_eq!(check(&running, &running), Ok(vec![]));
    }

    #[test]
    fn fixed_settings_refuse_the_whole_file() {
        let running = Config::default();
        let mut new = running.clone();
        new.group = "other".into();
        new.prefer = Prefer::None;
        new.mature = Duration::from_secs(1);
        let refused = check(&running, &new).unwrap_err();
        assert_eq!(refused.settings, vec!["Group", "Prefer"]);
        assert!(refused.to_string().contains("Group, Prefer cannot change"));
    }
}
