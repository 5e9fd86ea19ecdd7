//! The handoff between two of our members (HOLDING, RELEASED), a VIF
//! waiting at its new owner, and original nodes, which never speak either
//! message.

use super::testkit::*;
use crate::engine::RELEASE_WAIT;

fn primaries(vifs: &[usize]) -> Vec<Ipv4Addr> {
    vifs.iter().map(|&v| primary(v)).collect()
}

fn holding(m: usize, vifs: &[usize]) -> Input {
    msg(
        m,
        mess_type::HOLDING,
        codec::encode_holding(GID, &primaries(vifs)),
    )
}

fn released_in(group_id: GroupId, m: usize, vifs: &[usize]) -> Input {
    msg(
        m,
        mess_type::RELEASED,
        codec::encode_released(group_id, &primaries(vifs)),
    )
}

fn released(m: usize, vifs: &[usize]) -> Input {
    released_in(GID, m, vifs)
}

fn moves(moves: &[(usize, usize)]) -> Input {
    let moves: Vec<_> = moves.iter().map(|&(vif, to)| (v(vif), m(to))).collect();
    msg(0, mess_type::BALANCE, balance(&moves))
}

fn claimed(vifs: &[usize]) -> Vec<(usize, ClaimPriority)> {
    vifs.iter().map(|&v| (v, ClaimPriority::Claimed)).collect()
}

/// Engine `me` in a settled view where member `i` had `holds[i]` up and
/// claims it; every member is one of ours (its HOLDING came before its
/// STATE) except those in `originals`. `prefers` is what `me` prefers.
fn settled(
    me: usize,
    holds: &[&[usize]],
    originals: &[usize],
    prefers: &[usize],
    vifs: usize,
) -> (Engine, Vec<Output>) {
    let mut e = gathering(me, holds.len(), vifs);
    e.settings.preferred = primaries(prefers);
    for &v in holds[me] {
        e.held[v] = true;
    }
    for (i, vs) in holds.iter().enumerate() {
        if !originals.contains(&i) {
            e.handle(holding(i, vs));
        }
    }
    let mut out = Vec::new();
    for (i, vs) in holds.iter().enumerate() {
        let mut body = StateBody {
            group_id: GID,
            identity: ip(i),
            index: i as i32,
            mature: true,
            held: claimed(vs)
                .into_iter()
                .map(|(v, p)| (primary(v), p))
                .collect(),
            preferred: Vec::new(),
        };
        if i == me {
            body.preferred = primaries(prefers);
        }
        out = e.handle(msg(i, mess_type::STATE, body.encode()));
    }
    assert_eq!(e.phase(), Phase::Run);
    (e, out)
}

fn acquired(out: &[Output]) -> Vec<VifIndex> {
    out.iter()
        .filter_map(|o| match o {
            Output::Acquire(vif) => Some(*vif),
            _ => None,
        })
        .collect()
}

/// The RELEASED this output list multicasts: (view, VIFs).
fn released_sent(out: &[Output]) -> Option<(GroupId, Vec<Ipv4Addr>)> {
    out.iter().find_map(|o| match o {
        Output::Multicast {
            mess_type: mess_type::RELEASED,
            body,
            ..
        } => {
            let list = codec::decode_released(body, false).expect("our RELEASED decodes");
            Some((list.group_id, list.vifs))
        }
        _ => None,
    })
}

fn awaiting(e: &Engine) -> Vec<bool> {
    e.snapshot()
        .vifs
        .iter()
        .map(|v| v.awaiting_release)
        .collect()
}

#[test]
fn the_old_owner_releases_then_says_so() {
    let (mut e, _) = settled(0, &[&[0, 1], &[]], &[], &[], 2);
    let out = e.handle(moves(&[(1, 1)]));
    let release = out.iter().position(|o| *o == Output::Release(v(1)));
    let said = out.iter().position(|o| {
        matches!(
            o,
            Output::Multicast {
                mess_type: mess_type::RELEASED,
                ..
            }
        )
    });
    assert!(release < said && release.is_some(), "{out:?}");
    assert_eq!(released_sent(&out), Some((GID, vec![primary(1)])));
    let hooks = out
        .iter()
        .position(|o| *o == Output::Hooks(HookEvent::OnDown, v(1)));
    assert!(said < hooks, "the hooks after the message: {out:?}");
}

#[test]
fn the_new_owner_brings_it_up_on_the_old_owners_released() {
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[], &[], 2);
    let out = e.handle(moves(&[(1, 1)]));
    assert!(acquired(&out).is_empty(), "not on the BALANCE: {out:?}");
    assert!(out.contains(&Output::ArmTimer(Timer::ReleaseWait, RELEASE_WAIT)));
    assert_eq!(awaiting(&e), vec![false, true]);
    assert_eq!(e.snapshot().vifs[1].owner, Some(m(1)), "the table moved");
    let out = e.handle(released(0, &[1]));
    assert_eq!(acquired(&out), vec![v(1)]);
    assert!(out.contains(&Output::DisarmTimer(Timer::ReleaseWait)));
    assert_eq!(awaiting(&e), vec![false, false]);
    assert!(e.holds(v(1)));
}

#[test]
fn an_original_old_owner_is_not_waited_for() {
    // Member 0 sent no HOLDING: an original node, which sends no RELEASED.
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[0], &[], 2);
    let out = e.handle(moves(&[(1, 1)]));
    assert_eq!(acquired(&out), vec![v(1)], "at once, as before: {out:?}");
    assert!(released_sent(&out).is_none());
}

#[test]
fn a_holding_after_the_senders_state_does_not_make_it_ours() {
    let mut e = gathering(1, 3, 2);
    e.handle(state(0, ip(0), &claimed(&[0, 1])));
    let out = e.handle(holding(0, &[0, 1]));
    assert!(logs(&out, Level::Warning)[0].contains("HOLDING from #m0#d after its STATE"));
    e.handle(state(1, ip(1), &[]));
    e.handle(state(2, ip(2), &[]));
    assert_eq!(e.phase(), Phase::Run);
    assert!(!e.handoff.is_ours(m(0)));
}

#[test]
fn a_preferred_vif_from_one_of_ours_comes_up_on_its_released() {
    // We (member 1) prefer VIF 0, which member 0 has up.
    let (mut e, out) = settled(1, &[&[0, 1], &[]], &[], &[0], 2);
    assert_eq!(e.snapshot().vifs[0].owner, Some(m(1)));
    assert!(acquired(&out).is_empty(), "{out:?}");
    assert_eq!(awaiting(&e), vec![true, false]);
    let out = e.handle(released(0, &[0]));
    assert_eq!(acquired(&out), vec![v(0)]);
}

#[test]
fn the_member_giving_up_a_preferred_vif_releases_then_says_so() {
    let mut e = gathering(0, 2, 2);
    e.held[0] = true;
    e.held[1] = true;
    e.handle(holding(0, &[0, 1]));
    e.handle(holding(1, &[]));
    e.handle(state(0, ip(0), &claimed(&[0, 1])));
    let prefers = StateBody {
        group_id: GID,
        identity: ip(1),
        index: 1,
        mature: true,
        held: Vec::new(),
        preferred: vec![primary(0)],
    };
    let out = e.handle(msg(1, mess_type::STATE, prefers.encode()));
    let release = out.iter().position(|o| *o == Output::Release(v(0)));
    let said = out.iter().position(|o| {
        matches!(
            o,
            Output::Multicast {
                mess_type: mess_type::RELEASED,
                ..
            }
        )
    });
    assert!(release.is_some() && release < said, "{out:?}");
    assert_eq!(released_sent(&out), Some((GID, vec![primary(0)])));
}

#[test]
fn a_preferred_vif_from_an_original_comes_up_at_once() {
    let (e, out) = settled(1, &[&[0, 1], &[]], &[0], &[0], 2);
    assert_eq!(acquired(&out), vec![v(0)]);
    assert!(e.holds(v(0)));
}

#[test]
fn a_vif_waiting_for_its_released_is_reported_as_a_c_node_would() {
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[], &[], 2);
    e.handle(moves(&[(1, 1)]));
    assert!(!e.holds(v(1)));
    // The view changes before member 0's RELEASED: a C node's previous
    // table gives VIF 1 to us, so its STATE claims it; ours too. Our
    // HOLDING says it is not up.
    let next = GroupId::from_raw([7, 7, 7]);
    let out = e.handle(Input::View(View {
        group_id: next,
        members: (0..2).map(name).collect(),
        my_index: 1,
    }));
    assert!(out.contains(&Output::DisarmTimer(Timer::ReleaseWait)));
    assert_eq!(
        awaiting(&e),
        vec![false, false],
        "nothing waits into the view"
    );
    let sent: Vec<(i16, Vec<u8>)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Multicast {
                mess_type, body, ..
            } => Some((*mess_type, body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sent[0].0, mess_type::HOLDING, "HOLDING goes first");
    let holding = codec::decode_holding(&sent[0].1, false).expect("decodes");
    assert_eq!(holding.vifs, Vec::<Ipv4Addr>::new());
    assert_eq!(sent[1].0, mess_type::STATE);
    let state = StateBody::decode(&sent[1].1, false).expect("decodes");
    assert_eq!(state.held, vec![(primary(1), ClaimPriority::Claimed)]);
    // A RELEASED of the old view changes nothing now.
    let before = e.snapshot();
    assert!(e.handle(released(0, &[1])).is_empty());
    assert_eq!(e.snapshot(), before);
}

#[test]
fn after_a_view_change_the_new_exchange_decides() {
    // Member 0 crashed after the BALANCE and before its RELEASED: the
    // next view has us alone, and our claim settles it at once.
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[], &[], 2);
    e.handle(moves(&[(1, 1)]));
    let next = GroupId::from_raw([7, 7, 7]);
    e.handle(Input::View(View {
        group_id: next,
        members: vec![name(1)],
        my_index: 0,
    }));
    e.handle(Input::Message(Message {
        sender: name(1),
        mess_type: mess_type::HOLDING,
        endian_mismatch: false,
        body: codec::encode_holding(next, &[]),
    }));
    let out = e.handle(state_in(next, 1, ip(1), &claimed(&[1])));
    assert_eq!(acquired(&out), vec![v(0), v(1)]);
    // Member 0 still there and ours: it took VIF 1 down on the BALANCE,
    // so its HOLDING does not list it and we bring it up at once.
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[], &[], 2);
    e.handle(moves(&[(1, 1)]));
    e.handle(Input::View(View {
        group_id: next,
        members: (0..2).map(name).collect(),
        my_index: 1,
    }));
    for (i, vs) in [(0, vec![0]), (1, vec![])] {
        let body = codec::encode_holding(next, &primaries(&vs));
        e.handle(Input::Message(Message {
            sender: name(i),
            mess_type: mess_type::HOLDING,
            endian_mismatch: false,
            body,
        }));
    }
    e.handle(state_in(next, 0, ip(0), &claimed(&[0])));
    let out = e.handle(state_in(next, 1, ip(1), &claimed(&[1])));
    assert_eq!(acquired(&out), vec![v(1)]);
}

#[test]
fn a_waiting_vif_moved_on_is_owed_by_us_too() {
    // Three of ours; member 0 holds VIF 1; a BALANCE gives it to member
    // 1, the next (before member 0's RELEASED) to member 2.
    let (mut us, _) = settled(1, &[&[0, 1], &[], &[]], &[], &[], 2);
    us.handle(moves(&[(1, 1)]));
    let out = us.handle(moves(&[(1, 2)]));
    assert!(!out.iter().any(|o| matches!(o, Output::Release(_))));
    assert_eq!(released_sent(&out), Some((GID, vec![primary(1)])));
    assert!(out.contains(&Output::DisarmTimer(Timer::ReleaseWait)));
    assert_eq!(awaiting(&us), vec![false, false]);
    // Member 2 waits for both RELEASED messages, in either order.
    let (mut third, _) = settled(2, &[&[0, 1], &[], &[]], &[], &[], 2);
    third.handle(moves(&[(1, 1)]));
    third.handle(moves(&[(1, 2)]));
    assert!(acquired(&third.handle(released(1, &[1]))).is_empty());
    assert_eq!(awaiting(&third), vec![false, true]);
    assert_eq!(acquired(&third.handle(released(0, &[1]))), vec![v(1)]);
}

#[test]
fn a_vif_moved_back_waits_for_the_member_it_went_to() {
    // Member 0 gives VIF 1 to member 1 and gets it back before member
    // 1's RELEASED: member 0 brings it up only on that RELEASED (its own
    // RELEASED, still on its way, is about its own kernel).
    let (mut e, _) = settled(0, &[&[0, 1], &[]], &[], &[], 2);
    e.handle(moves(&[(1, 1)]));
    let out = e.handle(moves(&[(1, 0)]));
    assert!(acquired(&out).is_empty(), "{out:?}");
    assert!(acquired(&e.handle(released(0, &[1]))).is_empty());
    assert_eq!(acquired(&e.handle(released(1, &[1]))), vec![v(1)]);
}

#[test]
fn a_released_that_never_comes_is_given_up_on_after_the_release_wait() {
    let (mut e, _) = settled(2, &[&[0, 1], &[2, 3], &[]], &[], &[], 4);
    e.handle(moves(&[(0, 2)]));
    // A second wait starting while the timer runs waits a whole round.
    e.handle(moves(&[(2, 2)]));
    let out = e.handle(Input::TimerFired(Timer::ReleaseWait));
    assert_eq!(acquired(&out), vec![v(0)]);
    let warning = logs(&out, Level::Warning)[0];
    assert!(
        warning.contains("no RELEASED for 10.0.0.1 from #m0#d within 3s"),
        "{warning}"
    );
    assert!(out.contains(&Output::ArmTimer(Timer::ReleaseWait, RELEASE_WAIT)));
    let out = e.handle(Input::TimerFired(Timer::ReleaseWait));
    assert_eq!(acquired(&out), vec![v(2)]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::ArmTimer(Timer::ReleaseWait, _))));
    // The late RELEASED is taken without a second acquisition.
    let out = e.handle(released(0, &[0]));
    assert!(acquired(&out).is_empty() && logs(&out, Level::Warning).is_empty());
}

#[test]
fn hostile_releaseds_are_refused_and_change_nothing() {
    let (mut e, _) = settled(1, &[&[0, 1], &[]], &[], &[], 2);
    e.handle(moves(&[(1, 1)]));
    let before = e.snapshot();
    let mut beyond = codec::encode_released(GID, &[primary(1)]);
    beyond[12..16].copy_from_slice(&5i32.to_ne_bytes());
    let unknown = codec::encode_released(GID, &[Ipv4Addr::new(172, 16, 0, 9)]);
    for (body, says) in [
        (
            vec![1, 2, 3],
            "RELEASED body of 3 bytes ends before its group id",
        ),
        (beyond, "RELEASED body announces 5 VIFs, but only 1 fit"),
        (
            unknown,
            "names 172.16.0.9, which are not among our VirtualInterfaces",
        ),
    ] {
        let out = e.handle(msg(0, mess_type::RELEASED, body));
        let warnings = logs(&out, Level::Warning);
        assert_eq!(warnings.len(), 1, "{out:?}");
        assert!(warnings[0].contains(says), "{warnings:?}");
        assert!(acquired(&out).is_empty());
        assert_eq!(e.snapshot(), before);
    }
    // VIF 0 is member 0's own: it owes nothing for it.
    let out = e.handle(released(0, &[0]));
    assert!(logs(&out, Level::Warning)[0].contains("names 10.0.0.1, which it did not owe"));
    // Nor does member 1 (us) owe anything for VIF 1.
    let out = e.handle(released(1, &[1]));
    assert!(acquired(&out).is_empty());
    let out = e.handle(Input::Message(Message {
        sender: "#stranger#d".into(),
        mess_type: mess_type::RELEASED,
        endian_mismatch: false,
        body: codec::encode_released(GID, &[primary(1)]),
    }));
    assert!(logs(&out, Level::Warning)[0].contains("not in the current view"));
    assert_eq!(e.snapshot(), before);
    assert_eq!(acquired(&e.handle(released(0, &[1]))), vec![v(1)]);
}
