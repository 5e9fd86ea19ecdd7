//! The normalized summary `wackamole -t` prints: what was understood, in
//! one canonical spelling, so an operator can check it at a glance.

use std::fmt::Write;

use super::values::{format_interval, log_facility_name};
use super::{
    AcquisitionsPerRound, Config, Ipv4Block, MembershipConfig, NotifyTarget, Prefer, Quorum,
    ServiceConfig, SpreadAddress, SpreadConfig, TrackConfig, Unservable,
};

/// The summary `wackamole -t` prints for `config`.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_summary(&mut out, config);
    out
}

fn write_summary(out: &mut String, config: &Config) -> std::fmt::Result {
    match &config.service {
        ServiceConfig::Membership(membership) => write_membership(out, membership)?,
        ServiceConfig::Spread(spread) => write_spread(out, spread)?,
    }
    let quorum = match (config.service.membership(), config.quorum) {
        (Some(membership), Quorum::Majority) => {
            let nodes = membership.nodes.len();
            format!(
                "majority ({} of {nodes} nodes)",
                Quorum::Majority.needed(nodes)
            )
        }
        (Some(membership), Quorum::Count(n)) => format!("{n} of {} nodes", membership.nodes.len()),
        (_, quorum) => quorum.to_string(),
    };
    writeln!(out, "quorum: {quorum}")?;
    if let ServiceConfig::Spread(spread) = &config.service {
        writeln!(out, "group: {}", spread.group)?;
    }
    match &config.control {
        Some(path) => writeln!(out, "control: {}", path.display())?,
        None => writeln!(out, "control: none")?,
    }
    writeln!(
        out,
        "log facility: {}",
        log_facility_name(config.log_facility)
    )?;
    match config.identity {
        Some(addr) => writeln!(out, "identity: {addr}")?,
        None => writeln!(out, "identity: derived at start")?,
    }
    writeln!(out, "mature: {}", format_interval(config.mature))?;
    writeln!(
        out,
        "arp-cache: {}",
        format_interval(config.arp_cache_interval)
    )?;
    let per_round = match config.balance.acquisitions_per_round {
        AcquisitionsPerRound::All => "all".to_string(),
        AcquisitionsPerRound::Limited(n) => n.to_string(),
    };
    writeln!(
        out,
        "balance: acquisitions per round {per_round}, interval {}",
        format_interval(config.balance.interval)
    )?;
    match &config.prefer {
        Prefer::Unspecified => writeln!(out, "prefer: unspecified")?,
        Prefer::None => writeln!(out, "prefer: none")?,
        Prefer::Blocks(blocks) => {
            let blocks: Vec<String> = blocks.iter().map(Ipv4Block::to_string).collect();
            let primaries: Vec<String> = config
                .preferred_addresses()
                .iter()
                .map(|a| a.to_string())
                .collect();
            writeln!(
                out,
                "prefer: {} (preferred primaries: {})",
                blocks.join(" "),
                primaries.join(" ")
            )?;
        }
    }
    if config.notify.is_empty() {
        writeln!(out, "notify: none")?;
    } else {
        writeln!(out, "notify:")?;
        for target in &config.notify {
            match target {
                NotifyTarget::Network {
                    interface,
                    block,
                    throttle,
                    ping,
                } => {
                    write!(out, "  {interface}:{block}")?;
                    if let Some(rate) = throttle {
                        write!(out, " throttle {rate}")?;
                    }
                    if *ping {
                        write!(out, " ping")?;
                    }
                    writeln!(out)?;
                }
                NotifyTarget::Neighbour { interface, addr } => {
                    writeln!(out, "  {interface}:{addr}")?
                }
                NotifyTarget::ArpCache { ping } => {
                    writeln!(out, "  arp-cache{}", if *ping { " ping" } else { "" })?
                }
            }
        }
    }
    match config.announce.refresh {
        Some(period) => writeln!(out, "announce refresh: {}", format_interval(period))?,
        None => writeln!(out, "announce refresh: off")?,
    }
    match config.addresses.lifetime {
        Some(lifetime) => writeln!(
            out,
            "address lifetime: {}{}",
            format_interval(lifetime),
            if config.addresses.takeover_wait {
                ", survivors wait it out before taking over"
            } else {
                ""
            }
        )?,
        None => writeln!(out, "address lifetime: off (permanent addresses)")?,
    }
    write_track(out, &config.track)?;
    writeln!(out, "vifs: {}", config.vifs.len())?;
    for (index, vif) in config.vifs.iter().enumerate() {
        let addresses: Vec<String> = vif
            .addresses
            .iter()
            .map(|a| match a.addr {
                std::net::IpAddr::V4(_) => format!("{a}n{}", a.network_len),
                std::net::IpAddr::V6(_) => a.to_string(),
            })
            .collect();
        writeln!(out, "  {}: {}", index + 1, addresses.join(" "))?;
    }
    if config.hooks.is_empty() {
        writeln!(out, "hooks: none")?;
    } else {
        writeln!(out, "hooks:")?;
        for hook in &config.hooks {
            writeln!(out, "  {}: {}", hook.event.as_str(), hook.command)?;
        }
    }
    Ok(())
}

fn write_track(out: &mut String, track: &TrackConfig) -> std::fmt::Result {
    if track.is_empty() {
        writeln!(out, "track: none (VIF interfaces only)")?;
    } else {
        writeln!(out, "track:")?;
        for interface in &track.interfaces {
            writeln!(out, "  interface {interface}")?;
        }
        for check in &track.commands {
            writeln!(
                out,
                "  command \"{}\" every {}, timeout {}, fall {}, rise {}",
                check.command,
                format_interval(check.interval),
                format_interval(check.timeout),
                check.fall,
                check.rise
            )?;
        }
        for file in &track.files {
            writeln!(
                out,
                "  file {} (drains this node while it exists)",
                file.display()
            )?;
        }
    }
    let unservable = match track.unservable {
        Unservable::Keep => "keep",
        Unservable::Release => "release",
    };
    writeln!(
        out,
        "track hold-down: {}, unservable VIFs: {unservable}",
        format_interval(track.hold_down)
    )
}

fn write_spread(out: &mut String, spread: &SpreadConfig) -> std::fmt::Result {
    let address = match &spread.address {
        SpreadAddress::Local { port } => format!("{port} (local daemon)"),
        SpreadAddress::Tcp { port, host } => format!("{port}@{host}"),
        SpreadAddress::Unix(path) => format!("{} (Unix socket)", path.display()),
    };
    writeln!(out, "spread: {address}")?;
    writeln!(
        out,
        "spread retry interval: {}",
        format_interval(spread.retry_interval)
    )
}

fn write_membership(out: &mut String, membership: &MembershipConfig) -> std::fmt::Result {
    // Each node as written: its address on every link, `/` between.
    let nodes: Vec<String> = (0..membership.nodes.len())
        .map(|i| {
            let mut written = membership.nodes[i].to_string();
            for link in &membership.more_links {
                if let Some(addr) = link.get(i) {
                    written.push('/');
                    written.push_str(&addr.to_string());
                }
            }
            written
        })
        .collect();
    writeln!(out, "spread: none (built-in membership)")?;
    writeln!(out, "membership nodes: {}", nodes.join(" "))?;
    writeln!(out, "membership port: {}", membership.port)?;
    writeln!(out, "membership key: {}", membership.key.display())?;
    if let Some(accept) = &membership.accept_key {
        writeln!(out, "membership accepted key: {}", accept.display())?;
    }
    writeln!(
        out,
        "membership heartbeat: {}",
        format_interval(membership.timing.heartbeat)
    )?;
    writeln!(
        out,
        "membership timeout: {}",
        format_interval(membership.timing.timeout)
    )?;
    writeln!(
        out,
        "membership port unreachable: {}",
        if membership.timing.port_unreachable {
            "on"
        } else {
            "off"
        }
    )
}
