//! The engine's snapshot, the group service's description and the quorum
//! as the control socket reports them.

use std::net::Ipv4Addr;

use super::quorum::QuorumState;
use crate::config::Config;
use crate::control::{MemberStatus, QuorumStatus, ServiceStatus, StatusReport, VifStatus};
use crate::engine::{MemberHealth, Snapshot};

/// What `wackatrl` shows. While the daemon is out of the group (the
/// group service lost, or a simulated failure) the state reads
/// DISCONNECTED.
pub(super) fn status(
    snapshot: &Snapshot,
    config: &Config,
    identity: Ipv4Addr,
    service: ServiceStatus,
    quorum: &QuorumState,
) -> StatusReport {
    let members = snapshot
        .view
        .iter()
        .flat_map(|view| view.members.iter())
        .map(|member| MemberStatus {
            name: member.name.clone(),
            address: member.identity,
            held: u32::try_from(member.owned).unwrap_or(u32::MAX),
            health: health_name(member.health).to_string(),
            servable: servable(member.health, snapshot.vifs.len()),
        })
        .collect();
    let vifs = snapshot
        .vifs
        .iter()
        .zip(&config.vifs)
        .map(|(vif, configured)| VifStatus {
            priority: vif.priority.to_wire(),
            owner: vif.owner_identity,
            addresses: configured.addresses.clone(),
        })
        .collect();
    StatusReport {
        state: snapshot.phase.as_str().to_string(),
        mature: snapshot.mature,
        identity: Some(identity),
        view_id: snapshot.view.as_ref().map(|view| view.group_id.raw()),
        members,
        vifs,
        service,
        quorum: Some(QuorumStatus {
            rule: quorum.rule.to_string(),
            needed: quorum.needed,
            members: quorum.members,
            met: quorum.met,
        }),
        trackers: Vec::new(),
    }
}

/// The JSON status's word for a member's agreed health.
fn health_name(health: MemberHealth) -> &'static str {
    match health {
        MemberHealth::Unknown => "unknown",
        MemberHealth::Healthy => "healthy",
        MemberHealth::Partial { .. } => "partial",
        MemberHealth::Unhealthy => "unhealthy",
    }
}

/// How many of `vifs` VIFs a member of this health can serve.
fn servable(health: MemberHealth, vifs: usize) -> Option<u32> {
    let n = match health {
        MemberHealth::Unknown => return None,
        MemberHealth::Healthy => vifs,
        MemberHealth::Partial { servable, .. } => servable,
        MemberHealth::Unhealthy => 0,
    };
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}
