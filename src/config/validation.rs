//! Checks that need the whole file: duplicate VIF addresses (also across
//! sets), at least one VIF, one group service, a Quorum the listed nodes
//! can reach, and Prefer entries that match nothing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::error::{ErrorKind, Position, WarningKind, MIN_HEARTBEATS_FOR_QUORUM};
use super::parser::{Located, Spans};
use super::{Config, Prefer, Quorum};

/// Refuses what cannot run; returns warnings about what can but may not be
/// what the operator meant.
pub(super) fn validate(
    config: &Config,
    spans: &Spans,
    end: Position,
) -> Located<Vec<(Position, WarningKind)>> {
    if config.vifs.is_empty() {
        return Err((end, ErrorKind::NoVirtualInterfaces));
    }
    let addresses = config.vifs.iter().flat_map(|vif| &vif.addresses);
    let mut first_seen: HashMap<IpAddr, Position> = HashMap::new();
    for (address, &position) in addresses.zip(&spans.vif_addresses) {
        if let Some(&first) = first_seen.get(&address.addr) {
            return Err((
                position,
                ErrorKind::DuplicateVifAddress {
                    address: address.addr,
                    first,
                },
            ));
        }
        first_seen.insert(address.addr, position);
    }
    wire_keys(config, spans)?;
    group_service(config, spans)?;
    let mut warnings = Vec::new();
    if let Prefer::Blocks(blocks) = &config.prefer {
        for (block, &position) in blocks.iter().zip(&spans.prefer) {
            if !config
                .vifs
                .iter()
                .filter_map(|vif| vif.primary().ipv4())
                .any(|primary| block.contains(primary))
            {
                let written = if block.prefix_len == 32 {
                    block.addr.to_string()
                } else {
                    block.to_string()
                };
                warnings.push((position, WarningKind::PreferMatchesNoVif { block: written }));
            }
        }
    }
    Ok(warnings)
}

/// Every VIF needs its own wire key. Two IPv4 primaries cannot share one
/// (duplicates are refused above); an IPv6 primary whose hash meets
/// another VIF's key is refused here, naming both.
fn wire_keys(config: &Config, spans: &Spans) -> Located<()> {
    let mut first_seen: HashMap<Ipv4Addr, Position> = HashMap::new();
    let mut span = 0;
    for vif in &config.vifs {
        let Some(&at) = spans.vif_addresses.get(span) else {
            break;
        };
        span += vif.addresses.len();
        if let Some(&first) = first_seen.get(&vif.wire_key()) {
            return Err((
                at,
                ErrorKind::WireKeyClash {
                    address: vif.primary().addr,
                    first,
                },
            ));
        }
        first_seen.insert(vif.wire_key(), at);
    }
    Ok(())
}

/// The file chooses Spread or the built-in membership, not both, a
/// Quorum count fits the nodes the membership lists, and `majority` has a
/// node list to count.
fn group_service(config: &Config, spans: &Spans) -> Located<()> {
    if let (Some(spread), Some(membership)) = (spans.spread, spans.membership) {
        return Err((
            spread.max(membership),
            ErrorKind::SpreadAndMembership { spread, membership },
        ));
    }
    let membership = config.service.membership();
    if let (None, Quorum::Majority, Some(at)) = (membership, config.quorum, spans.quorum) {
        return Err((at, ErrorKind::MajorityWithoutNodes));
    }
    if let (Some(membership), Quorum::Count(quorum), Some(at)) =
        (membership, config.quorum, spans.quorum)
    {
        let nodes = membership.nodes.len();
        if config.quorum.needed(nodes) > nodes {
            return Err((at, ErrorKind::QuorumAboveNodes { quorum, nodes }));
        }
    }
    if let (Some(membership), Some(at)) = (membership, spans.quorum) {
        let settings = &membership.timing;
        let per_timeout = settings.timeout.as_nanos() / settings.heartbeat.as_nanos().max(1);
        if config.quorum.needed(membership.nodes.len()) >= 2
            && per_timeout < u128::from(MIN_HEARTBEATS_FOR_QUORUM)
        {
            return Err((
                at,
                ErrorKind::QuorumWithFewHeartbeats {
                    per_timeout: u32::try_from(per_timeout).unwrap_or(u32::MAX),
                },
            ));
        }
    }
    Ok(())
}
