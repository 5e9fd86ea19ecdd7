//! Configurations that must load, and exactly what they must mean: the
//! sample shipped with the original and every example of the language.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use wackamole::config::{
    self, AcquisitionsPerRound, AddressesConfig, AnnounceConfig, Balance, Config, Hook, HookEvent,
    Ipv4Block, LogFacility, MembershipConfig, NotifyTarget, Prefer, Quorum, ServiceConfig,
    SpreadAddress, SpreadConfig, TrackConfig, Unservable, Vif, VifAddress, Warning, WarningKind,
};
use wackamole::membership::Timing;

const ONE_VIF: &str = "VirtualInterfaces { eth0:10.0.0.5/24 }\n";

fn parse(text: &str) -> (Config, Vec<Warning>) {
    config::parse(text, "test.conf").unwrap_or_else(|err| panic!("{err}"))
}

/// Parses `snippet` with one VIF added, and expects no warning.
/// The Spread settings of `config`, which must choose Spread.
fn spread(config: &Config) -> &SpreadConfig {
    match &config.service {
        ServiceConfig::Spread(spread) => spread,
        ServiceConfig::Membership(_) => panic!("a configuration with Spread"),
    }
}

fn parse_snippet(snippet: &str) -> Config {
    let (config, warnings) = parse(&format!("{snippet}\n{ONE_VIF}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    config
}

fn vif_address(interface: &str, addr: [u8; 4], prefix_len: u8, network_len: u8) -> VifAddress {
    VifAddress {
        interface: interface.to_string(),
        addr: Ipv4Addr::from(addr).into(),
        prefix_len,
        network_len,
    }
}

fn block(addr: [u8; 4], prefix_len: u8) -> Ipv4Block {
    Ipv4Block {
        addr: Ipv4Addr::from(addr),
        prefix_len,
    }
}

fn network(interface: &str, addr: [u8; 4], prefix_len: u8) -> NotifyTarget {
    NotifyTarget::Network {
        interface: interface.to_string(),
        block: block(addr, prefix_len),
        throttle: None,
        ping: false,
    }
}

const ORIGINAL_SAMPLE: &str = "Spread = 4803@127.0.0.1
SpreadRetryInterval = 5s
Group = wack1
Control = 127.0.0.1:2413
Prefer None
VirtualInterfaces {
\t{ brlan0:10.80.116.41/23 }
}
Arp-Cache = 90s
Notify {
\tbrlan0:10.80.116.41/23
\tarp-cache
}
balance {
\tAcquisitionsPerRound = all
\tinterval = 4s
}
mature = 5s
";

#[test]
fn the_original_sample_means_what_it_says() {
    let (config, warnings) = parse(ORIGINAL_SAMPLE);
    assert!(warnings.is_empty(), "{warnings:?}");
    let expected = Config {
        service: ServiceConfig::Spread(SpreadConfig {
            address: SpreadAddress::Tcp {
                port: 4803,
                host: "127.0.0.1".to_string(),
            },
            retry_interval: Duration::from_secs(5),
            group: "wack1".to_string(),
        }),
        control: Some(PathBuf::from("127.0.0.1:2413")),
        log_facility: LogFacility::Daemon,
        mature: Duration::from_secs(5),
        arp_cache_interval: Duration::from_secs(90),
        balance: Balance {
            acquisitions_per_round: AcquisitionsPerRound::All,
            interval: Duration::from_secs(4),
        },
        prefer: Prefer::None,
        notify: vec![
            network("brlan0", [10, 80, 116, 41], 23),
            NotifyTarget::ArpCache { ping: false },
        ],
        announce: AnnounceConfig::default(),
        addresses: AddressesConfig::default(),
        track: TrackConfig::default(),
        vifs: vec![Vif {
            addresses: vec![vif_address("brlan0", [10, 80, 116, 41], 23, 24)],
        }],
        hooks: vec![],
        identity: None,
        quorum: Quorum::None,
    };
    assert_eq!(config, expected);
    assert_eq!(config.preferred_addresses(), vec![Ipv4Addr::UNSPECIFIED]);
}

#[test]
fn the_shipped_example_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/wackamole.conf");
    let (config, warnings) = config::load(path.as_ref()).unwrap_or_else(|err| panic!("{err}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spread(&config).address, SpreadAddress::Local { port: 4803 });
    assert_eq!(config.vifs.len(), 3);
    assert_eq!(
        config.vifs[1].addresses,
        vec![
            vif_address("eth0", [192, 168, 10, 1], 24, 24),
            vif_address("eth1", [203, 0, 113, 1], 29, 29),
            vif6("eth0", "2001:db8:10::1", 64),
        ]
    );
    assert_eq!(
        config.vifs[2].addresses,
        vec![vif6("eth0", "2001:db8:10::80", 64)]
    );
    assert_eq!(
        config.notify.last(),
        Some(&NotifyTarget::Neighbour {
            interface: "eth0".into(),
            addr: "2001:db8:10::fffe".parse().unwrap(),
        })
    );
    assert_eq!(config.announce.refresh, Some(Duration::from_secs(60)));
    assert_eq!(
        config.preferred_addresses(),
        vec![Ipv4Addr::new(192, 168, 10, 80)]
    );
    assert_eq!(config.hooks.len(), 3);
    assert_eq!(config.hooks[2].event, HookEvent::PostUp);
    // Its Membership block and Quorum are commented out.
    assert_eq!(config.service.membership(), None);
    assert_eq!(config.quorum, Quorum::None);
}

#[test]
fn the_shipped_example_membership_block_loads_once_uncommented() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/wackamole.conf");
    let text = std::fs::read_to_string(path).expect("read the example");
    let mut in_block = false;
    let uncommented: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("Spread ="))
        .map(|line| {
            let code = line.strip_prefix("# ").unwrap_or(line);
            if code.starts_with("Membership {") {
                in_block = true;
            }
            let keep = in_block || code.starts_with("Quorum =");
            if code.starts_with('}') {
                in_block = false;
            }
            match line.strip_prefix('#') {
                Some(rest) if keep => rest.strip_prefix(' ').unwrap_or(rest),
                _ => line,
            }
        })
        .collect();
    let (config, warnings) = parse(&uncommented.join("\n"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let membership = config
        .service
        .membership()
        .cloned()
        .expect("the example's Membership block");
    assert_eq!(
        membership.nodes,
        vec![
            Ipv4Addr::new(192, 168, 10, 11),
            Ipv4Addr::new(192, 168, 10, 12)
        ]
    );
    assert_eq!(membership.key, PathBuf::from("/etc/wackamole/cluster.key"));
    assert_eq!(config.quorum, Quorum::Majority);
}

#[test]
fn defaults_are_those_of_the_manual() {
    let config = parse_snippet("");
    assert_eq!(spread(&config).address, SpreadAddress::Local { port: 4803 });
    assert_eq!(spread(&config).retry_interval, Duration::from_secs(5));
    assert_eq!(config.mature, Duration::from_secs(5));
    assert_eq!(config.arp_cache_interval, Duration::from_secs(60));
    assert_eq!(
        config.balance,
        Balance {
            acquisitions_per_round: AcquisitionsPerRound::Limited(1),
            interval: Duration::from_secs(4),
        }
    );
    assert_eq!(config.prefer, Prefer::Unspecified);
    assert!(config.preferred_addresses().is_empty());
    assert_eq!(config.control, None);
    assert_eq!(config.log_facility, LogFacility::Daemon);
    assert!(config.notify.is_empty() && config.hooks.is_empty());
}

#[test]
fn address_notation_examples() {
    let config = parse_snippet(
        "VirtualInterfaces { eth0:10.2.3.4/24 fxp0:192.168.10.2/32n23 { eth1:10.9.0.1 } }",
    );
    let addresses: Vec<&VifAddress> = config.vifs[..3].iter().map(|v| v.primary()).collect();
    assert_eq!(
        addresses,
        vec![
            &vif_address("eth0", [10, 2, 3, 4], 24, 24),
            &vif_address("fxp0", [192, 168, 10, 2], 32, 23),
            &vif_address("eth1", [10, 9, 0, 1], 32, 24),
        ]
    );
}

#[test]
fn interval_units() {
    let config = parse_snippet(
        "SpreadRetryInterval = 90s\nMature = 500ms\nArp-Cache = 2m\nBalance { Interval = 1h }",
    );
    assert_eq!(spread(&config).retry_interval, Duration::from_secs(90));
    assert_eq!(config.mature, Duration::from_millis(500));
    assert_eq!(config.arp_cache_interval, Duration::from_secs(120));
    assert_eq!(config.balance.interval, Duration::from_secs(3600));
}

#[test]
fn spread_forms() {
    assert_eq!(
        spread(&parse_snippet("Spread = 4803")).address,
        SpreadAddress::Local { port: 4803 }
    );
    assert_eq!(
        spread(&parse_snippet("Spread = 4803@10.0.0.1")).address,
        SpreadAddress::Tcp {
            port: 4803,
            host: "10.0.0.1".to_string()
        }
    );
    assert_eq!(
        spread(&parse_snippet("Spread = \"/var/run/spread/4803\"")).address,
        SpreadAddress::Unix(PathBuf::from("/var/run/spread/4803"))
    );
}

#[test]
fn scalar_directives_of_the_table() {
    let config = parse_snippet(
        "Group = web-cluster\nControl = /var/run/wack.it\nLogFacility = local3\nMature = 5s\nArp-Cache = 90s",
    );
    assert_eq!(spread(&config).group, "web-cluster");
    assert_eq!(config.control, Some(PathBuf::from("/var/run/wack.it")));
    assert_eq!(config.log_facility, LogFacility::Local3);
    assert_eq!(config.mature, Duration::from_secs(5));
    assert_eq!(config.arp_cache_interval, Duration::from_secs(90));
}

#[test]
fn balance_block_on_one_line() {
    let config = parse_snippet("Balance { AcquisitionsPerRound = 3  Interval = 10s }");
    assert_eq!(
        config.balance,
        Balance {
            acquisitions_per_round: AcquisitionsPerRound::Limited(3),
            interval: Duration::from_secs(10),
        }
    );
    let only_rate = parse_snippet("Balance { AcquisitionsPerRound = all }");
    assert_eq!(
        only_rate.balance.acquisitions_per_round,
        AcquisitionsPerRound::All
    );
    assert_eq!(only_rate.balance.interval, Duration::from_secs(4));
}

#[test]
fn prefer_forms() {
    let vifs = "VirtualInterfaces { eth0:10.0.0.5/24 eth0:10.0.0.6/24 eth0:10.1.0.7/24 }";
    let (single, _) = parse(&format!("Prefer 10.0.0.6\n{vifs}"));
    assert_eq!(
        single.prefer,
        Prefer::Blocks(vec![block([10, 0, 0, 6], 32)])
    );
    assert_eq!(
        single.preferred_addresses(),
        vec![Ipv4Addr::new(10, 0, 0, 6)]
    );

    let (range, _) = parse(&format!("Prefer 10.0.0.0/24\n{vifs}"));
    assert_eq!(
        range.preferred_addresses(),
        vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)]
    );

    let (list, _) = parse(&format!("Prefer {{ 10.1.0.7 10.0.0.5 }}\n{vifs}"));
    assert_eq!(
        list.prefer,
        Prefer::Blocks(vec![block([10, 1, 0, 7], 32), block([10, 0, 0, 5], 32)])
    );
}

#[test]
fn repeated_prefer_and_notify_add_repeated_scalars_replace() {
    let config = parse_snippet(
        "Prefer None\nPrefer 10.0.0.5\nPrefer { 10.0.0.0/24 }\nNotify arp-cache\nNotify { eth0:10.0.0.0/24 }\nNotify None\nGroup = a\nGroup = b\nMature = 1s\nMature = 2s",
    );
    assert_eq!(
        config.prefer,
        Prefer::Blocks(vec![block([10, 0, 0, 5], 32), block([10, 0, 0, 0], 24)])
    );
    assert_eq!(
        config.notify,
        vec![
            NotifyTarget::ArpCache { ping: false },
            network("eth0", [10, 0, 0, 0], 24),
        ]
    );
    assert_eq!(spread(&config).group, "b");
    assert_eq!(config.mature, Duration::from_secs(2));
}

#[test]
fn notify_entries_with_throttle_and_ping() {
    let config = parse_snippet(
        "Notify {\n eth0:10.0.0.0/24 throttle 20\n eth1:192.0.2.0/28 throttle 5 ping\n eth0:10.0.1.9 ping\n arp-cache ping\n eth2:10.3.0.0/16 throttle 0\n}",
    );
    assert_eq!(
        config.notify,
        vec![
            NotifyTarget::Network {
                interface: "eth0".to_string(),
                block: block([10, 0, 0, 0], 24),
                throttle: Some(20),
                ping: false,
            },
            NotifyTarget::Network {
                interface: "eth1".to_string(),
                block: block([192, 0, 2, 0], 28),
                throttle: Some(5),
                ping: true,
            },
            NotifyTarget::Network {
                interface: "eth0".to_string(),
                block: block([10, 0, 1, 9], 32),
                throttle: None,
                ping: true,
            },
            NotifyTarget::ArpCache { ping: true },
            // The original reads `throttle 0` as no limit.
            network("eth2", [10, 3, 0, 0], 16),
        ]
    );
    assert!(parse_snippet("Notify None").notify.is_empty());
}

#[test]
fn vif_sets_move_together_and_keep_their_order() {
    let (config, _) = parse(
        "VIPs {\n  { eth0:10.0.0.5/24 eth1:192.0.2.5/32n29 }\n  eth0:10.0.0.6/24\n}\nVIFs { eth3:10.3.0.1 }",
    );
    assert_eq!(
        config.vifs,
        vec![
            Vif {
                addresses: vec![
                    vif_address("eth0", [10, 0, 0, 5], 24, 24),
                    vif_address("eth1", [192, 0, 2, 5], 32, 29),
                ]
            },
            Vif {
                addresses: vec![vif_address("eth0", [10, 0, 0, 6], 24, 24)]
            },
            Vif {
                addresses: vec![vif_address("eth3", [10, 3, 0, 1], 32, 24)]
            },
        ]
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let config = parse_snippet(
        "SPREAD = 4804\ngroup = g\nlogfacility = AUTHPRIV\nARP-CACHE = 30S\nBALANCE { acquisitionsperround = ALL INTERVAL = 2s }\nprefer NONE\nnotify { ARP-CACHE PING }\nrun \"true\" ON UP\nexec \"false\" Post Down",
    );
    assert_eq!(spread(&config).address, SpreadAddress::Local { port: 4804 });
    assert_eq!(config.log_facility, LogFacility::AuthPriv);
    assert_eq!(config.arp_cache_interval, Duration::from_secs(30));
    assert_eq!(
        config.balance.acquisitions_per_round,
        AcquisitionsPerRound::All
    );
    assert_eq!(config.prefer, Prefer::None);
    assert_eq!(config.notify, vec![NotifyTarget::ArpCache { ping: true }]);
    assert_eq!(
        config.hooks,
        vec![
            Hook {
                command: "true".to_string(),
                event: HookEvent::OnUp
            },
            Hook {
                command: "false".to_string(),
                event: HookEvent::PostDown
            },
        ]
    );
}

#[test]
fn run_hooks_for_every_event() {
    let config = parse_snippet(
        "Run \"logger 'up'\" on up\nRun 'echo \"down\" >&2' on down\nExec /usr/local/bin/after post up\nRun \"x # not a comment\" post down",
    );
    let hooks: Vec<(&str, HookEvent)> = config
        .hooks
        .iter()
        .map(|h| (h.command.as_str(), h.event))
        .collect();
    assert_eq!(
        hooks,
        vec![
            ("logger 'up'", HookEvent::OnUp),
            ("echo \"down\" >&2", HookEvent::OnDown),
            ("/usr/local/bin/after", HookEvent::PostUp),
            ("x # not a comment", HookEvent::PostDown),
        ]
    );
}

#[test]
fn identity_sets_the_node_address() {
    let config = parse_snippet("Identity = 192.168.10.11");
    assert_eq!(config.identity, Some(Ipv4Addr::new(192, 168, 10, 11)));
}

#[test]
fn comments_and_layout_do_not_matter() {
    let (config, _) = parse(
        "# leading comment\r\nGroup=tight#comment right after\r\nVirtualInterfaces{eth0:10.0.0.5/24}\r\n",
    );
    assert_eq!(spread(&config).group, "tight");
    assert_eq!(config.vifs.len(), 1);
}

#[test]
fn module_dir_loads_with_a_warning() {
    let (config, warnings) = parse(&format!("{ONE_VIF}ModuleDir = /usr/lib/wackamole\n"));
    assert_eq!(config.vifs.len(), 1);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].kind, WarningKind::ModuleDirIgnored);
    assert_eq!(
        (warnings[0].position.line, warnings[0].position.column),
        (2, 1)
    );
    let text = warnings[0].to_string();
    assert!(
        text.starts_with("test.conf:2:1: warning: ModuleDir"),
        "{text}"
    );
}

#[test]
fn prefer_matching_no_vif_is_a_warning() {
    let (config, warnings) = parse(&format!("{ONE_VIF}Prefer {{ 10.0.0.5 10.9.9.9 }}\n"));
    assert_eq!(
        config.prefer,
        Prefer::Blocks(vec![block([10, 0, 0, 5], 32), block([10, 9, 9, 9], 32)])
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].kind,
        WarningKind::PreferMatchesNoVif {
            block: "10.9.9.9".to_string()
        }
    );
    assert_eq!(
        (warnings[0].position.line, warnings[0].position.column),
        (2, 19)
    );
}

#[test]
fn network_length_where_it_means_nothing_is_a_warning() {
    let (config, warnings) = parse(&format!("{ONE_VIF}Notify {{ eth0:10.0.0.0/24n16 }}\n"));
    assert_eq!(config.notify, vec![network("eth0", [10, 0, 0, 0], 24)]);
    assert_eq!(
        warnings.iter().map(|w| w.kind.clone()).collect::<Vec<_>>(),
        vec![WarningKind::NetworkLengthIgnored {
            directive: "Notify"
        }]
    );
}

#[test]
fn summary_lists_every_address_and_setting() {
    let (config, _) = parse(ORIGINAL_SAMPLE);
    let summary = config::summary(&config);
    for line in [
        "spread: 4803@127.0.0.1",
        "group: wack1",
        "control: 127.0.0.1:2413",
        "mature: 5s",
        "arp-cache: 90s",
        "balance: acquisitions per round all, interval 4s",
        "prefer: none",
        "  brlan0:10.80.116.41/23",
        "  arp-cache",
        "vifs: 1",
        "  1: brlan0:10.80.116.41/23n24",
        "hooks: none",
    ] {
        assert!(summary.lines().any(|l| l == line), "{line:?} in\n{summary}");
    }
}

fn node(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

#[test]
fn membership_block_of_the_issue() {
    let config = parse_snippet(
        "Membership {
    Nodes { 10.0.0.1 10.0.0.2 10.0.0.3 }   # every node lists the same set, in the same order
    Port = 4811
    Key = /etc/wackamole/cluster.key
    Heartbeat = 20ms
    Timeout = 1s
}
Quorum = majority",
    );
    assert_eq!(
        config.service.membership().cloned(),
        Some(MembershipConfig {
            nodes: vec![node(1), node(2), node(3)],
            more_links: Vec::new(),
            port: 4811,
            key: PathBuf::from("/etc/wackamole/cluster.key"),
            accept_key: None,
            timing: Timing {
                heartbeat: Duration::from_millis(20),
                timeout: Duration::from_secs(1),
                port_unreachable: true,
            },
        })
    );
    assert_eq!(config.quorum, Quorum::Majority);
    assert_eq!(config.quorum.needed(3), 2);
}

#[test]
fn membership_nodes_on_several_links() {
    let config = parse_snippet(
        "Membership {\n  Nodes { 10.0.0.1/192.168.9.1  10.0.0.2/192.168.9.2\n    10.0.0.3/192.168.9.3 }\n  Key = /k\n}",
    );
    let membership = config
        .service
        .membership()
        .cloned()
        .expect("a membership block");
    assert_eq!(membership.nodes, vec![node(1), node(2), node(3)]);
    let second: Vec<Ipv4Addr> = (1..=3).map(|i| Ipv4Addr::new(192, 168, 9, i)).collect();
    assert_eq!(membership.more_links, vec![second]);
    let one = parse_snippet("Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }");
    assert!(one
        .service
        .membership()
        .cloned()
        .expect("a block")
        .more_links
        .is_empty());
}

#[test]
fn membership_defaults() {
    let config = parse_snippet("Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = '/k/cluster key' }");
    let membership = config.service.membership().cloned().expect("a membership");
    assert_eq!(membership.port, config::DEFAULT_MEMBERSHIP_PORT);
    assert_eq!(membership.port, 4810);
    assert_eq!(membership.key, PathBuf::from("/k/cluster key"));
    assert_eq!(membership.timing, Timing::default());
    assert_eq!(
        membership.timing,
        Timing {
            heartbeat: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
            port_unreachable: true,
        }
    );
    assert_eq!(config.quorum, Quorum::None);
    let spread = parse_snippet("");
    assert_eq!(spread.service.membership(), None);
    assert_eq!(spread.quorum, Quorum::None);
}

#[test]
fn membership_keywords_are_case_insensitive() {
    let config = parse_snippet(
        "MEMBERSHIP { nodes { 10.0.0.1 } KEY = /k PORT = 1 HEARTBEAT = 10MS timeout = 30Ms }\nquorum = MAJORITY",
    );
    let membership = config.service.membership().cloned().expect("a membership");
    assert_eq!(membership.nodes, vec![node(1)]);
    assert_eq!(membership.port, 1);
    assert_eq!(
        membership.timing,
        Timing {
            heartbeat: Duration::from_millis(10),
            timeout: Duration::from_millis(30),
            port_unreachable: true,
        }
    );
    assert_eq!(config.quorum, Quorum::Majority);
    assert_eq!(parse_snippet("Quorum = NONE").quorum, Quorum::None);
}

#[test]
fn accept_key_names_a_second_key_file() {
    let config = parse_snippet(
        "Membership { Nodes { 10.0.0.1 } Key = /etc/wackamole/new.key AcceptKey = /etc/wackamole/old.key }",
    );
    let membership = config.service.membership().cloned().expect("a membership");
    assert_eq!(membership.key, PathBuf::from("/etc/wackamole/new.key"));
    assert_eq!(
        membership.accept_key,
        Some(PathBuf::from("/etc/wackamole/old.key"))
    );
    let summary = config::summary(&config);
    assert!(
        summary
            .lines()
            .any(|l| l == "membership accepted key: /etc/wackamole/old.key"),
        "{summary}"
    );
    // Before Key, in any case, quoted: the same.
    let first =
        parse_snippet("Membership { acceptkey = '/k/old one' Nodes { 10.0.0.1 } Key = /k/new }");
    let membership = first.service.membership().cloned().expect("a membership");
    assert_eq!(membership.accept_key, Some(PathBuf::from("/k/old one")));
    // Without it, none, and no summary line.
    let none = parse_snippet("Membership { Nodes { 10.0.0.1 } Key = /k }");
    assert_eq!(
        none.service.membership().expect("a membership").accept_key,
        None
    );
    assert!(!config::summary(&none).contains("accepted key"));
}

#[test]
fn nodes_from_one_to_thirty_two_keep_their_order() {
    let one = parse_snippet("Membership { Nodes { 10.0.0.9 } Key = /k }");
    assert_eq!(
        one.service
            .membership()
            .cloned()
            .expect("a membership")
            .nodes,
        vec![node(9)]
    );
    let listed: Vec<String> = (1..=32).rev().map(|i| node(i).to_string()).collect();
    let all = parse_snippet(&format!(
        "Membership {{ Nodes {{ {} }} Key = /k }}\nQuorum = 32",
        listed.join(" ")
    ));
    let nodes = all
        .service
        .membership()
        .cloned()
        .expect("a membership")
        .nodes;
    assert_eq!(nodes.len(), config::MAX_NODES);
    assert_eq!(nodes[0], node(32));
    assert_eq!(nodes[31], node(1));
    assert_eq!(all.quorum, Quorum::Count(32));
    // A second Nodes adds to the list; a repeated scalar replaces.
    let split = parse_snippet(
        "Membership { Nodes { 10.0.0.1 } Port = 5000 Nodes { 127.0.0.1 } Key = /a Port = 5001 Key = /b }",
    );
    let membership = split.service.membership().cloned().expect("a membership");
    assert_eq!(membership.nodes, vec![node(1), Ipv4Addr::LOCALHOST]);
    assert_eq!(membership.port, 5001);
    assert_eq!(membership.key, PathBuf::from("/b"));
}

#[test]
fn quorum_forms() {
    // A majority needs the node list to count (refused with Spread).
    let nodes = "Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }";
    assert_eq!(
        parse_snippet(&format!("Quorum = majority\n{nodes}")).quorum,
        Quorum::Majority
    );
    assert_eq!(parse_snippet("Quorum = none").quorum, Quorum::None);
    assert_eq!(parse_snippet("Quorum = 1").quorum, Quorum::Count(1));
    // With Spread the group's size is the daemon's to judge.
    assert_eq!(parse_snippet("Quorum = 40").quorum, Quorum::Count(40));
    // The last Quorum wins, as for every scalar.
    assert_eq!(
        parse_snippet(&format!("Quorum = 2\nQuorum = majority\n{nodes}")).quorum,
        Quorum::Majority
    );
    let at_most = parse_snippet("Quorum = 2\nMembership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }");
    assert_eq!(at_most.quorum, Quorum::Count(2));
}

#[test]
fn port_unreachable_is_on_unless_turned_off() {
    let settings = |text: &str| {
        parse_snippet(&format!(
            "Membership {{ Nodes {{ 10.0.0.1 10.0.0.2 }} Key = /k {text} }}"
        ))
        .service
        .membership()
        .cloned()
        .expect("a membership")
        .timing
    };
    assert!(settings("").port_unreachable);
    assert!(settings("PortUnreachable = on").port_unreachable);
    assert!(settings("portunreachable = YES").port_unreachable);
    let off = settings("Heartbeat = 10ms PortUnreachable = off Timeout = 50ms");
    assert!(!off.port_unreachable);
    assert_eq!(off.timeout, Duration::from_millis(50));
    assert!(!settings("PortUnreachable = No").port_unreachable);
    let summary = config::summary(&parse_snippet(
        "Membership { Nodes { 10.0.0.1 } Key = /k PortUnreachable = off }",
    ));
    assert!(
        summary
            .lines()
            .any(|l| l == "membership port unreachable: off"),
        "{summary}"
    );
}

#[test]
fn summary_shows_the_membership_and_the_quorum() {
    let config = parse_snippet(
        "Membership { Nodes { 10.0.0.1 10.0.0.2 10.0.0.3 } Key = /etc/wackamole/cluster.key Heartbeat = 20ms Timeout = 1s }\nQuorum = majority",
    );
    let summary = config::summary(&config);
    for line in [
        "spread: none (built-in membership)",
        "membership nodes: 10.0.0.1 10.0.0.2 10.0.0.3",
        "membership port: 4810",
        "membership key: /etc/wackamole/cluster.key",
        "membership heartbeat: 20ms",
        "membership timeout: 1s",
        "membership port unreachable: on",
        "quorum: majority (2 of 3 nodes)",
    ] {
        assert!(summary.lines().any(|l| l == line), "{line:?} in\n{summary}");
    }
    assert!(!summary.contains("spread retry interval"), "{summary}");
    assert!(!summary.contains("group:"), "{summary}");
    let counted = parse_snippet("Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }\nQuorum = 2");
    let summary = config::summary(&counted);
    assert!(
        summary.lines().any(|l| l == "quorum: 2 of 2 nodes"),
        "{summary}"
    );
    let spread = config::summary(&parse_snippet("Quorum = 3"));
    assert!(spread.lines().any(|l| l == "quorum: 3"), "{spread}");
    assert!(!spread.contains("membership"), "{spread}");
    let none = config::summary(&parse_snippet(""));
    assert!(none.lines().any(|l| l == "quorum: none"), "{none}");
}

fn vif6(interface: &str, addr: &str, prefix_len: u8) -> VifAddress {
    VifAddress {
        interface: interface.to_string(),
        addr: addr.parse().expect("test address"),
        prefix_len,
        network_len: prefix_len,
    }
}

#[test]
fn ipv6_vifs_alone_and_mixed_with_ipv4() {
    let (config, warnings) = parse(
        "VirtualInterfaces {\n\
         { eth0:192.0.2.10/24 eth0:2001:db8::10/64 }\n\
         { eth0:2001:db8::11/64 }\n\
         { br-lan.5:fd00:5::1 eth1:10.0.0.5 }\n\
         }\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.vifs[0].addresses,
        vec![
            vif_address("eth0", [192, 0, 2, 10], 24, 24),
            vif6("eth0", "2001:db8::10", 64),
        ]
    );
    assert_eq!(
        config.vifs[1].addresses,
        vec![vif6("eth0", "2001:db8::11", 64)]
    );
    assert_eq!(
        config.vifs[2].addresses,
        vec![
            vif6("br-lan.5", "fd00:5::1", 128),
            vif_address("eth1", [10, 0, 0, 5], 32, 24),
        ]
    );
    assert_eq!(config.vifs[2].primary().family(), "ipv6");
    // The first VIF travels under its IPv4 primary; the others under keys
    // of their own.
    assert_eq!(config.vifs[0].wire_key(), Ipv4Addr::new(192, 0, 2, 10));
    assert_ne!(config.vifs[1].wire_key(), config.vifs[2].wire_key());
    let text = config::summary(&config);
    assert!(
        text.contains("  1: eth0:192.0.2.10/24n24 eth0:2001:db8::10/64"),
        "{text}"
    );
}

#[test]
fn notify_takes_ipv6_neighbours() {
    let config = parse_snippet("Notify { eth0:2001:db8::1 eth0:fe80::1/128 eth0:10.0.0.0/24 }");
    assert_eq!(
        config.notify,
        vec![
            NotifyTarget::Neighbour {
                interface: "eth0".into(),
                addr: "2001:db8::1".parse().unwrap(),
            },
            NotifyTarget::Neighbour {
                interface: "eth0".into(),
                addr: "fe80::1".parse().unwrap(),
            },
            network("eth0", [10, 0, 0, 0], 24),
        ]
    );
}

#[test]
fn announce_refresh() {
    assert_eq!(parse_snippet("").announce.refresh, None);
    assert_eq!(
        parse_snippet("Announce { Refresh = 60s }").announce.refresh,
        Some(Duration::from_secs(60))
    );
    for off in ["0", "off", "OFF"] {
        let text = format!("Announce {{ Refresh = 10s }}\nannounce {{ refresh = {off} }}");
        assert_eq!(parse_snippet(&text).announce.refresh, None);
    }
    let text = config::summary(&parse_snippet("Announce { Refresh = 2m }"));
    assert!(text.contains("announce refresh: 2m"), "{text}");
}

#[test]
fn address_lifetimes_default_to_the_group_service() {
    let spread = parse_snippet("Spread = 4803");
    assert_eq!(spread.addresses, AddressesConfig::default());
    let builtin = parse_snippet("Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }");
    assert_eq!(
        builtin.addresses.lifetime,
        Some(config::DEFAULT_ADDRESS_LIFETIME)
    );
    assert!(!builtin.addresses.takeover_wait);
    let off = parse_snippet(
        "Membership { Nodes { 10.0.0.1 10.0.0.2 } Key = /k }\nAddresses { Lifetime = off }",
    );
    assert_eq!(off.addresses.lifetime, None);
    let waiting = parse_snippet("Spread = 4803\naddresses { LIFETIME = 3s takeoverwait = on }");
    assert_eq!(
        waiting.addresses,
        AddressesConfig {
            lifetime: Some(Duration::from_secs(3)),
            takeover_wait: true,
        }
    );
}

#[test]
fn track_block_of_the_readme() {
    let config = parse_snippet(
        "Track {
    Interface = eth1                      # operstate and carrier; a missing interface is down
    Command = \"/usr/local/sbin/check-proxy --quiet\" { Interval = 2s  Timeout = 1s  Fall = 3  Rise = 2 }
    Command = '/bin/true'
    File = /var/run/wackamole.drain       # exists => drain this node
    HoldDown = 500ms
    Unservable = release
}",
    );
    let track = &config.track;
    assert_eq!(track.interfaces, vec!["eth1".to_string()]);
    assert_eq!(track.commands.len(), 2);
    let proxy = &track.commands[0];
    assert_eq!(proxy.command, "/usr/local/sbin/check-proxy --quiet");
    assert_eq!(
        (proxy.interval, proxy.timeout, proxy.fall, proxy.rise),
        (Duration::from_secs(2), Duration::from_secs(1), 3, 2)
    );
    assert_eq!(track.commands[1], config::CheckCommand::new("/bin/true"));
    assert_eq!(track.files, vec![PathBuf::from("/var/run/wackamole.drain")]);
    assert_eq!(track.hold_down, Duration::from_millis(500));
    assert_eq!(track.unservable, Unservable::Release);
    let summary = config::summary(&config);
    for line in [
        "track:",
        "  interface eth1",
        "  command \"/usr/local/sbin/check-proxy --quiet\" every 2s, timeout 1s, fall 3, rise 2",
        "  file /var/run/wackamole.drain (drains this node while it exists)",
        "track hold-down: 500ms, unservable VIFs: release",
    ] {
        assert!(summary.lines().any(|l| l == line), "{line:?} in\n{summary}");
    }
}

#[test]
fn track_defaults_and_blocks_that_add_up() {
    let none = parse_snippet("Spread = 4803");
    assert_eq!(none.track, TrackConfig::default());
    assert!(none.track.is_empty());
    assert_eq!(none.track.hold_down, config::DEFAULT_HOLD_DOWN);
    assert_eq!(none.track.hold_down, Duration::from_secs(2));
    assert_eq!(none.track.unservable, Unservable::Keep);
    assert!(config::summary(&none).contains("track: none (VIF interfaces only)"));
    let check = config::CheckCommand::new("x");
    assert_eq!(
        (check.interval, check.timeout, check.fall, check.rise),
        (Duration::from_secs(2), Duration::from_secs(1), 3, 2)
    );
    let two = parse_snippet(
        "track { interface = eth1 }\nTRACK { Interface = eth2 command = \"c\" { interval = 10s } }",
    );
    assert_eq!(two.track.interfaces, vec!["eth1", "eth2"]);
    // A Timeout not written is half the Interval.
    assert_eq!(two.track.commands[0].timeout, Duration::from_secs(5));
    assert_eq!(two.track.commands[0].fall, config::DEFAULT_CHECK_FALL);
}
