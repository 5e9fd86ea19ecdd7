//! What the engine's unit tests share: settings, members and their
//! messages, and an engine gathering in a view.

pub(super) use std::net::Ipv4Addr;
pub(super) use std::time::Duration;

pub(super) use super::codec::{self, mess_type, ClaimPriority, StateBody};
pub(super) use super::event::{Input, Level, Message, Output, Timer, View};
pub(super) use super::index::{MemberIndex, VifIndex};
pub(super) use super::machine::Engine;
pub(super) use super::machine::Phase;
pub(super) use super::members::StateReport;
pub(super) use super::settings::{Settings, SILENT_WARNING_REPEAT};
pub(super) use crate::base::GroupId;
pub(super) use crate::config::{AcquisitionsPerRound, Balance, HookEvent};

pub(super) const GID: GroupId = GroupId::from_raw([1, 2, 3]);

pub(super) fn settings(identity: Ipv4Addr, vifs: usize) -> Settings {
    Settings {
        identity,
        vifs: (0..vifs).map(primary).collect(),
        preferred: Vec::new(),
        mature: Duration::from_secs(5),
        balance: Balance {
            acquisitions_per_round: AcquisitionsPerRound::Limited(1),
            interval: Duration::from_secs(4),
        },
        state_wait: Duration::from_secs(10),
        arp_cache_interval: Duration::from_secs(60),
        release_unservable: false,
    }
}

pub(super) fn name(m: usize) -> String {
    format!("#m{m}#d")
}

pub(super) fn msg(m: usize, kind: i16, body: Vec<u8>) -> Input {
    Input::Message(Message {
        sender: name(m),
        mess_type: kind,
        endian_mismatch: false,
        body,
    })
}

pub(super) fn state(m: usize, identity: Ipv4Addr, held: &[(usize, ClaimPriority)]) -> Input {
    state_in(GID, m, identity, held)
}

pub(super) fn state_in(
    group_id: GroupId,
    m: usize,
    identity: Ipv4Addr,
    held: &[(usize, ClaimPriority)],
) -> Input {
    let body = StateBody {
        group_id,
        identity,
        index: m as i32,
        mature: true,
        held: held.iter().map(|&(v, p)| (primary(v), p)).collect(),
        preferred: Vec::new(),
    };
    msg(m, mess_type::STATE, body.encode())
}

/// An engine at `my_index` of a view of `members`, mature, gathering.
pub(super) fn gathering(my_index: usize, members: usize, vifs: usize) -> Engine {
    let mut e = Engine::new(settings(ip(my_index), vifs));
    e.handle(Input::Connected);
    e.mature = true;
    e.handle(Input::View(View {
        group_id: GID,
        members: (0..members).map(name).collect(),
        my_index,
    }));
    e
}

pub(super) fn ip(m: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 0, m as u8 + 1)
}

pub(super) fn multicast_body(out: &[Output]) -> Option<Vec<u8>> {
    out.iter().find_map(|o| match o {
        Output::Multicast { body, .. } => Some(body.clone()),
        _ => None,
    })
}

pub(super) fn logs(out: &[Output], level: Level) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Log(l, t) if *l == level => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// VIF `i` of the configuration.
pub(super) fn v(i: usize) -> VifIndex {
    VifIndex(i)
}

/// Member `i` of the view.
pub(super) fn m(i: usize) -> MemberIndex {
    MemberIndex(i)
}

/// The primary of VIF `i` in [`settings`].
pub(super) fn primary(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i as u8 + 1)
}

/// A BALANCE body moving each VIF to a member.
pub(super) fn balance(moves: &[(VifIndex, MemberIndex)]) -> Vec<u8> {
    let moves: Vec<codec::Move> = moves
        .iter()
        .map(|&(vif, owner)| codec::Move {
            owner: ip(owner.0),
            vif: primary(vif.0),
        })
        .collect();
    codec::encode_balance(&moves)
}
