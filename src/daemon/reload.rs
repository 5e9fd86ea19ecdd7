//! What a re-read configuration (SIGHUP) may change in a running daemon.
//!
//! Live: `Notify`, `Arp-Cache`, `Balance`, `Mature`, hooks, `LogFacility`,
//! `SpreadRetryInterval`, `Quorum`, `Addresses`, `Track`, and the
//! membership's `Heartbeat`, `Timeout`, `Key` and `AcceptKey` (the steps of
//! a key rotation: the node swaps its keys between two datagrams and keeps
//! its view). Everything that the cluster or the connection depends on
//! (the VIFs, the group, the identity, the preferences our STATE carries,
//! the group service itself: the Spread daemon, or the membership's nodes
//! and port, the control socket, the announcer's `Announce` block)
//! needs a restart: a file that changes
//! any of it is refused whole and the running configuration stays.
//!
//! The daemon reads the file; [`Core::reload`](super::core::Core::reload)
//! carries the reload out: these checks, the group service's own (it
//! reads and checks the key files, whose content may change under the
//! same paths), then the live settings, the quorum rule last (it may
//! have us leave the group and join again).

use std::fmt;

use super::group::ServiceRefusal;
use crate::config::{Config, ServiceConfig};

/// The reload was refused: these settings differ from the running ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The names of the settings that differ.
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
    let (service_fixed, service_live) = service_changes(&running.service, &new.service);
    let mut fixed = vec![("VirtualInterfaces", running.vifs != new.vifs)];
    fixed.extend(service_fixed);
    fixed.extend([
        ("Identity", running.identity != new.identity),
        ("Prefer", running.prefer != new.prefer),
        ("Control", running.control != new.control),
        ("Announce", running.announce != new.announce),
    ]);
    let refused = changed(&fixed);
    if !refused.is_empty() {
        return Err(Refused { settings: refused });
    }
    let mut live = vec![
        ("Notify", running.notify != new.notify),
        (
            "Arp-Cache",
            running.arp_cache_interval != new.arp_cache_interval,
        ),
        ("Balance", running.balance != new.balance),
        ("Mature", running.mature != new.mature),
        ("Run", running.hooks != new.hooks),
        ("LogFacility", running.log_facility != new.log_facility),
    ];
    live.extend(service_live);
    live.extend([
        ("Quorum", running.quorum != new.quorum),
        ("Addresses", running.addresses != new.addresses),
        ("Track", running.track != new.track),
    ]);
    Ok(changed(&live))
}

/// Timing, each marked changed or not.
type Rows = Vec<(&'static str, bool)>;

/// The group service's settings that cannot change while running, and
/// those that may.
fn service_changes(running: &ServiceConfig, new: &ServiceConfig) -> (Rows, Rows) {
    match (running, new) {
        (ServiceConfig::Spread(old), ServiceConfig::Spread(new)) => (
            vec![
                ("Group", old.group != new.group),
                ("Spread", old.address != new.address),
            ],
            vec![(
                "SpreadRetryInterval",
                old.retry_interval != new.retry_interval,
            )],
        ),
        (ServiceConfig::Membership(old), ServiceConfig::Membership(new)) => (
            vec![
                (
                    "Nodes",
                    old.nodes != new.nodes || old.more_links != new.more_links,
                ),
                ("Port", old.port != new.port),
            ],
            vec![
                ("Heartbeat", old.timing.heartbeat != new.timing.heartbeat),
                ("Timeout", old.timing.timeout != new.timing.timeout),
                ("Key", old.key != new.key),
                ("AcceptKey", old.accept_key != new.accept_key),
            ],
        ),
        _ => (
            vec![("the group service (Spread or Membership)", true)],
            Vec::new(),
        ),
    }
}

/// A reload the group service refused
/// ([`GroupService::check_reload`](super::group::GroupService::check_reload)).
#[derive(Debug)]
pub struct ServiceRefused(pub ServiceRefusal);

impl fmt::Display for ServiceRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration not reloaded: {}; the running configuration and keys stay",
            self.0
        )
    }
}

impl std::error::Error for ServiceRefused {}

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
    use crate::config::{
        AcquisitionsPerRound, MembershipConfig, Prefer, Quorum, SpreadAddress, SpreadConfig,
    };
    use crate::membership::Timing;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn with_membership() -> Config {
        Config {
            service: ServiceConfig::Membership(MembershipConfig {
                nodes: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
                more_links: Vec::new(),
                port: 4810,
                key: "/etc/wackamole/cluster.key".into(),
                accept_key: None,
                timing: Timing::default(),
            }),
            ..Config::default()
        }
    }

    fn membership_of(config: &mut Config) -> &mut MembershipConfig {
        match &mut config.service {
            ServiceConfig::Membership(membership) => membership,
            ServiceConfig::Spread(_) => panic!("a membership block"),
        }
    }

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
        new.service = ServiceConfig::Spread(SpreadConfig {
            group: "other".into(),
            ..SpreadConfig::default()
        });
        new.prefer = Prefer::None;
        new.mature = Duration::from_secs(1);
        let refused = check(&running, &new).unwrap_err();
        assert_eq!(refused.settings, vec!["Group", "Prefer"]);
        assert!(refused.to_string().contains("Group, Prefer cannot change"));
        let mut refresh = running.clone();
        refresh.announce.refresh = Some(Duration::from_secs(60));
        assert_eq!(
            check(&running, &refresh).unwrap_err().settings,
            vec!["Announce"]
        );
    }

    #[test]
    fn membership_timing_and_quorum_are_live() {
        let running = with_membership();
        let mut new = running.clone();
        membership_of(&mut new).timing =
            Timing::new(Duration::from_millis(10), Duration::from_millis(100))
                .expect("valid settings");
        new.quorum = Quorum::Majority;
        assert_eq!(
            check(&running, &new),
            Ok(vec!["Heartbeat", "Timeout", "Quorum"])
        );
        let mut spread = Config::default();
        let before = spread.clone();
        spread.quorum = Quorum::Count(2);
        assert_eq!(check(&before, &spread), Ok(vec!["Quorum"]));
    }

    #[test]
    fn membership_nodes_and_port_are_fixed() {
        let running = with_membership();
        let mut new = running.clone();
        membership_of(&mut new)
            .nodes
            .push(Ipv4Addr::new(10, 0, 0, 3));
        membership_of(&mut new).port = 4811;
        membership_of(&mut new).key = "/etc/wackamole/other.key".into();
        new.quorum = Quorum::Majority;
        let refused = check(&running, &new).unwrap_err();
        assert_eq!(refused.settings, vec!["Nodes", "Port"]);
    }

    #[test]
    fn the_membership_keys_are_live() {
        let running = with_membership();
        let mut new = running.clone();
        membership_of(&mut new).accept_key = Some("/etc/wackamole/new.key".into());
        assert_eq!(check(&running, &new), Ok(vec!["AcceptKey"]));
        let mut switched = new.clone();
        membership_of(&mut switched).key = "/etc/wackamole/new.key".into();
        membership_of(&mut switched).accept_key = Some("/etc/wackamole/cluster.key".into());
        assert_eq!(check(&new, &switched), Ok(vec!["Key", "AcceptKey"]));
    }

    #[test]
    fn switching_between_spread_and_membership_is_fixed() {
        let membership = with_membership();
        let spread = Config {
            service: ServiceConfig::Spread(SpreadConfig {
                address: SpreadAddress::Local { port: 4804 },
                ..SpreadConfig::default()
            }),
            ..Config::default()
        };
        for (running, new) in [(&membership, &spread), (&spread, &membership)] {
            let refused = check(running, new).unwrap_err();
            assert_eq!(
                refused.settings,
                vec!["the group service (Spread or Membership)"]
            );
        }
    }
}
