//! Health: HEALTH delivered in RUN and at settle, balancing and claiming
//! around members that cannot serve, keeping or releasing a VIF nobody
//! can serve, recovery, preferences and original members. Most tests
//! run a small cluster of engines over one agreed order.

use std::collections::VecDeque;

use super::testkit::*;
use super::{LocalHealth, MemberHealth};

/// Engines of one view, all ours, fed the same agreed order.
struct Cluster {
    engines: Vec<Engine>,
    /// (sender, type, body) not delivered yet, in agreed order.
    queue: VecDeque<(usize, i16, Vec<u8>)>,
    /// Agreed messages delivered so far.
    delivered: usize,
    /// (member, output) of every Acquire and Release, with `delivered`
    /// at the time.
    moves: Vec<(usize, Output, usize)>,
    logs: Vec<(Level, String)>,
}

impl Cluster {
    /// `n` mature members, `vifs` VIFs, `release` for release_unservable;
    /// member i's health fed before the view by `health(i)`.
    fn new(n: usize, vifs: usize, release: bool, health: impl Fn(usize) -> LocalHealth) -> Self {
        let mut c = Cluster {
            engines: Vec::new(),
            queue: VecDeque::new(),
            delivered: 0,
            moves: Vec::new(),
            logs: Vec::new(),
        };
        for i in 0..n {
            let mut s = settings(ip(i), vifs);
            s.release_unservable = release;
            let mut e = Engine::new(s);
            e.handle(Input::Connected);
            e.mature = true;
            let out = e.handle(Input::Health(health(i)));
            assert!(multicast_body(&out).is_none(), "no HEALTH out of a view");
            c.engines.push(e);
        }
        for i in 0..n {
            let out = c.engines[i].handle(Input::View(View {
                group_id: GID,
                members: (0..n).map(name).collect(),
                my_index: i,
            }));
            c.absorb(i, out);
        }
        c.settle();
        c
    }

    fn absorb(&mut self, i: usize, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Multicast {
                    mess_type, body, ..
                } if mess_type != codec::mess_type::ARPCACHE => {
                    self.queue.push_back((i, mess_type, body))
                }
                Output::Acquire(_) | Output::Release(_) => self.moves.push((i, o, self.delivered)),
                Output::Log(level, text) => self.logs.push((level, text)),
                _ => {}
            }
        }
    }

    /// Delivers everything queued, and what that sends.
    fn settle(&mut self) {
        while let Some((sender, kind, body)) = self.queue.pop_front() {
            self.delivered += 1;
            for i in 0..self.engines.len() {
                let out = self.engines[i].handle(msg(sender, kind, body.clone()));
                self.absorb(i, out);
            }
        }
    }

    fn set_health(&mut self, i: usize, health: LocalHealth) {
        let out = self.engines[i].handle(Input::Health(health));
        self.absorb(i, out);
    }

    /// The leader's balance timer fires (repeatedly, until it stops).
    fn balance(&mut self) {
        for _ in 0..64 {
            let out = self.engines[0].handle(Input::TimerFired(Timer::Balance));
            let sends = out
                .iter()
                .any(|o| matches!(o, Output::Multicast { mess_type, .. } if *mess_type == mess_type::BALANCE));
            self.absorb(0, out);
            self.settle();
            if !sends {
                return;
            }
        }
        panic!("balancing never ends");
    }

    /// The owner of every VIF; checks every engine agrees and that each
    /// VIF is up exactly at its owner.
    fn owners(&self) -> Vec<Option<usize>> {
        let table: Vec<Option<usize>> = self.engines[0]
            .snapshot()
            .vifs
            .iter()
            .map(|v| v.owner.map(|o| o.0))
            .collect();
        for (i, e) in self.engines.iter().enumerate() {
            let snap = e.snapshot();
            let theirs: Vec<_> = snap.vifs.iter().map(|v| v.owner.map(|o| o.0)).collect();
            assert_eq!(theirs, table, "member {i} computes another table");
            for (vif, owner) in table.iter().enumerate() {
                assert_eq!(
                    e.holds(v(vif)),
                    *owner == Some(i),
                    "VIF {vif} at member {i}"
                );
            }
        }
        table
    }

    fn count(&self, member: usize) -> usize {
        self.owners().iter().filter(|&&o| o == Some(member)).count()
    }

    fn notices(&self) -> Vec<&str> {
        self.logs
            .iter()
            .filter(|(l, _)| *l == Level::Notice)
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

fn full(vifs: usize) -> LocalHealth {
    LocalHealth::full(vifs)
}

fn down(vifs: usize) -> LocalHealth {
    LocalHealth {
        healthy: false,
        vifs: vec![true; vifs],
    }
}

#[test]
fn an_unhealthy_owner_hands_its_vifs_over_released_before_acquired() {
    let mut c = Cluster::new(3, 6, false, |_| full(6));
    c.balance();
    assert_eq!((c.count(0), c.count(1), c.count(2)), (2, 2, 2));
    let theirs: Vec<usize> = (0..6).filter(|&i| c.owners()[i] == Some(1)).collect();
    c.moves.clear();
    c.set_health(1, down(6));
    let sent_at = c.delivered;
    c.settle();
    assert_eq!(c.count(1), 0, "an unhealthy member holds nothing");
    assert_eq!((c.count(0), c.count(2)), (3, 3));
    for vif in theirs {
        let released = c
            .moves
            .iter()
            .find(|(i, o, _)| *i == 1 && *o == Output::Release(v(vif)))
            .expect("the old owner takes it down");
        let acquired = c
            .moves
            .iter()
            .find(|(i, o, _)| *i != 1 && *o == Output::Acquire(v(vif)))
            .expect("a healthy member brings it up");
        // The HEALTH is the first agreed message after the change, the
        // old owner's RELEASED the second: the new owner acquires on it.
        assert_eq!(released.2, sent_at + 1, "down on delivering the HEALTH");
        assert_eq!(acquired.2, sent_at + 2, "up on delivering the RELEASED");
    }
    let snap = c.engines[0].snapshot();
    let view = snap.view.expect("view");
    assert!(view.health_agreed);
    assert_eq!(view.members[1].health, MemberHealth::Unhealthy);
    assert_eq!(view.members[0].health, MemberHealth::Healthy);
    assert!(snap.vifs.iter().all(|v| v.servable_by_owner));
}

#[test]
fn an_unhealthy_member_gets_nothing_when_the_exchange_settles() {
    // Member 1 is unhealthy before the view: its HEALTH precedes its
    // STATE, and claim unclaimed passes it over.
    let mut c = Cluster::new(3, 7, false, |i| if i == 1 { down(7) } else { full(7) });
    assert_eq!(c.count(1), 0);
    c.balance();
    assert_eq!(c.count(1), 0, "balancing never gives it one");
    let (a, b) = (c.count(0), c.count(2));
    assert!(a.abs_diff(b) <= 1 && a + b == 7, "{a} {b}");
    assert!(c.moves.iter().all(|(i, _, _)| *i != 1), "{:?}", c.moves);
}

#[test]
fn a_member_that_recovers_gets_its_share_back_through_balancing() {
    let mut c = Cluster::new(2, 4, false, |i| if i == 1 { down(4) } else { full(4) });
    c.balance();
    assert_eq!(c.count(0), 4);
    c.set_health(1, full(4));
    c.settle();
    assert_eq!(c.count(0), 4, "recovery moves nothing by itself");
    assert_eq!(
        c.engines[0].snapshot().view.expect("view").members[1].health,
        MemberHealth::Healthy
    );
    c.balance();
    assert_eq!((c.count(0), c.count(1)), (2, 2));
}

#[test]
fn with_every_member_unhealthy_vifs_stay_where_they_are_and_the_log_says_so() {
    let mut c = Cluster::new(2, 2, false, |_| full(2));
    c.set_health(0, down(2));
    c.settle();
    assert_eq!(c.owners(), vec![Some(1), Some(1)]);
    c.set_health(1, down(2));
    c.settle();
    assert_eq!(
        c.owners(),
        vec![Some(1), Some(1)],
        "kept: served as well as it can be"
    );
    let notices = c.notices();
    let stays: Vec<_> = notices
        .iter()
        .filter(|t| t.contains("no member can serve VIF 10.0.0.1"))
        .collect();
    assert_eq!(
        stays.len(),
        2,
        "once per member, once per change: {notices:?}"
    );
    assert!(stays[0].contains("stays with #m1#d"), "{stays:?}");
    assert!(!c.engines[0].snapshot().vifs[0].servable_by_owner);
    // Member 0 recovers: everything goes to it at once.
    c.set_health(0, full(2));
    c.settle();
    assert_eq!(c.owners(), vec![Some(0), Some(0)]);
    assert!(c
        .notices()
        .iter()
        .any(|t| t.contains("10.0.0.1 can be served again")));
}

#[test]
fn release_unservable_leaves_a_vif_nobody_can_serve_unheld_until_one_can() {
    let mut c = Cluster::new(2, 2, true, |_| full(2));
    c.balance();
    c.set_health(0, down(2));
    c.set_health(1, down(2));
    c.settle();
    assert_eq!(c.owners(), vec![None, None]);
    assert!(c
        .notices()
        .iter()
        .any(|t| t.contains("released, nobody holds it")));
    c.set_health(0, full(2));
    c.settle();
    assert_eq!(
        c.owners(),
        vec![Some(0), Some(0)],
        "the fix-up gives them out"
    );
}

#[test]
fn the_owners_word_decides_whether_a_vif_nobody_can_serve_is_released() {
    // Member 1 says `Unservable = release`, member 0 `keep`: what member
    // 0 holds and nobody can serve stays with it, whatever member 1 says,
    // until member 0 itself is reloaded to release; every member agrees
    // at each step.
    let mut c = Cluster::new(2, 4, false, |_| full(4));
    c.balance();
    let out = c.engines[1].set_release_unservable(true);
    c.absorb(1, out);
    c.set_health(1, down(4));
    c.settle();
    assert_eq!(c.owners(), vec![Some(0); 4], "member 1's VIFs moved to 0");
    c.set_health(0, down(4));
    c.settle();
    assert_eq!(c.owners(), vec![Some(0); 4], "the owner keeps");
    let out = c.engines[0].set_release_unservable(true);
    c.absorb(0, out);
    c.settle();
    assert_eq!(c.owners(), vec![None; 4], "the owner now releases");
}

#[test]
fn a_vif_whose_interface_is_down_moves_alone() {
    let mut c = Cluster::new(2, 4, false, |_| full(4));
    c.balance();
    let owner = c.owners()[2].expect("owned");
    let mut partial = full(4);
    partial.vifs[2] = false;
    c.set_health(owner, partial);
    c.settle();
    let owners = c.owners();
    assert_eq!(owners[2], Some(1 - owner));
    assert_eq!(owners.iter().filter(|&&o| o == Some(owner)).count(), 1);
    let health = c.engines[0].snapshot().view.expect("view").members[owner].health;
    assert_eq!(health, MemberHealth::Partial { servable: 3, of: 4 });
    // Balancing evens the counts without handing VIF 2 back.
    c.balance();
    assert_eq!(c.owners()[2], Some(1 - owner));
    assert_eq!(c.count(owner), 2);
}

#[test]
fn a_preference_never_overrides_servability() {
    let mut e = gathering(0, 2, 2);
    e.handle(Input::Health(down(2)));
    let preferring = StateBody {
        group_id: GID,
        identity: ip(0),
        index: 0,
        mature: true,
        held: Vec::new(),
        preferred: vec![primary(0)],
    };
    e.handle(msg(
        0,
        mess_type::HEALTH,
        codec::encode_health(GID, false, &[true; 2], false),
    ));
    e.handle(msg(0, mess_type::HOLDING, codec::encode_holding(GID, &[])));
    e.handle(msg(0, mess_type::STATE, preferring.encode()));
    e.handle(msg(1, mess_type::HOLDING, codec::encode_holding(GID, &[])));
    let out = e.handle(state(1, ip(1), &[]));
    assert_eq!(e.phase(), Phase::Run);
    let snap = e.snapshot();
    assert!(snap.vifs.iter().all(|v| v.owner == Some(m(1))), "{snap:?}");
    assert_eq!(snap.vifs[0].priority, ClaimPriority::Claimed);
    assert!(!out.iter().any(|o| matches!(o, Output::Acquire(_))));
}

#[test]
fn a_balance_planned_before_a_health_change_skips_moves_to_a_member_that_cannot_serve() {
    let mut c = Cluster::new(2, 4, false, |i| if i == 1 { down(4) } else { full(4) });
    c.set_health(1, full(4));
    c.settle();
    assert_eq!(c.count(0), 4, "member 1's share not balanced yet");
    let out = c.engines[0].handle(Input::TimerFired(Timer::Balance));
    let plan = multicast_body(&out).expect("the leader plans a move to member 1");
    c.set_health(1, down(4));
    c.settle();
    for i in 0..2 {
        let out = c.engines[i].handle(msg(0, mess_type::BALANCE, plan.clone()));
        assert!(
            logs(&out, Level::Notice)[0].contains("cannot serve them"),
            "{out:?}"
        );
        c.absorb(i, out);
    }
    c.settle();
    assert_eq!(c.count(1), 0);
}

#[test]
fn health_is_sent_on_a_view_only_when_not_full_and_on_every_change() {
    let mut e = gathering(0, 2, 2);
    // gathering() sent no HEALTH with the view: fully healthy.
    let out = e.handle(Input::Health(full(2)));
    assert!(out.is_empty(), "no change, nothing sent");
    let out = e.handle(Input::Health(down(2)));
    let body = multicast_body(&out).expect("sent on a change");
    let decoded = codec::decode_health(&body, false, 2).expect("decodes");
    assert!(!decoded.healthy);
    let out = e.handle(Input::View(View {
        group_id: GroupId::from_raw([7, 7, 7]),
        members: vec![name(0)],
        my_index: 0,
    }));
    let kinds: Vec<i16> = out
        .iter()
        .filter_map(|o| match o {
            Output::Multicast { mess_type, .. } => Some(*mess_type),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![mess_type::HEALTH, mess_type::HOLDING, mess_type::STATE]
    );
    let out = e.handle(Input::Health(LocalHealth::full(3)));
    assert_eq!(
        logs(&out, Level::Error).len(),
        1,
        "a wrong VIF count is refused"
    );
}

#[test]
fn with_an_original_member_health_changes_no_table() {
    // Member 1 sends no HOLDING (an original node): health is not agreed.
    let mut e = gathering(0, 2, 2);
    e.handle(msg(0, mess_type::HOLDING, codec::encode_holding(GID, &[])));
    e.handle(msg(
        0,
        mess_type::HEALTH,
        codec::encode_health(GID, false, &[true; 2], false),
    ));
    e.handle(state(
        0,
        ip(0),
        &[(0, ClaimPriority::Claimed), (1, ClaimPriority::Claimed)],
    ));
    e.handle(state(1, ip(1), &[]));
    let snap = e.snapshot();
    let view = snap.view.clone().expect("view");
    assert!(!view.health_agreed);
    assert!(!e.view_is_all_ours());
    assert_eq!(view.members[1].health, MemberHealth::Unknown);
    assert_eq!(view.members[0].health, MemberHealth::Unhealthy);
    assert!(
        snap.vifs.iter().all(|v| v.owner == Some(m(0))),
        "C rules alone"
    );
    assert!(e.holds(v(0)) && e.holds(v(1)));
}

#[test]
fn health_of_another_view_or_a_stranger_changes_nothing() {
    let mut c = Cluster::new(2, 2, false, |_| full(2));
    c.balance();
    let before = c.owners();
    let stale = codec::encode_health(GroupId::from_raw([9, 9, 9]), false, &[true; 2], false);
    let out = c.engines[0].handle(msg(1, mess_type::HEALTH, stale));
    assert!(out.is_empty(), "{out:?}");
    let out = c.engines[0].handle(msg(
        5,
        mess_type::HEALTH,
        codec::encode_health(GID, false, &[true; 2], false),
    ));
    assert_eq!(logs(&out, Level::Warning).len(), 1, "{out:?}");
    assert_eq!(c.owners(), before);
}
