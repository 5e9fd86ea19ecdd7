//! The core on a loopback group service (every multicast comes back as
//! delivered, views of a size the test picks) and a recording host: what
//! the kernel holds, and in which order the effects came.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::testbus::{passive_service, sent_by};
use super::*;
use crate::config::{self, Quorum, ServiceConfig, SpreadConfig};
use crate::control::server::responder;
use crate::control::{MoveReason, ServiceStatus, WatchEvent};
use crate::daemon::group::GroupService;
use crate::daemon::test_host::{Journal, Recorder};
use crate::engine::{Delivery, GroupId, Message, View};

/// A group of `members` where only we speak: every multicast of ours is
/// delivered back to us in order.
struct Loopback {
    journal: Journal,
    joined: bool,
    members: usize,
    queue: VecDeque<GroupEvent>,
    views: u32,
}

impl Loopback {
    fn view(&mut self) -> GroupEvent {
        self.views += 1;
        GroupEvent::View(View {
            group_id: GroupId::from_raw([1, 2, self.views]),
            members: (0..self.members)
                .map(|i| {
                    if i == 0 {
                        "me".into()
                    } else {
                        format!("peer{i}")
                    }
                })
                .collect(),
            my_index: 0,
        })
    }
}

impl GroupService for Loopback {
    passive_service!("loopback");

    fn join(&mut self) {
        self.journal.borrow_mut().push("join".into());
        self.joined = true;
        self.queue.push_back(GroupEvent::Connected);
        let view = self.view();
        self.queue.push_back(view);
    }

    fn leave(&mut self) {
        self.journal.borrow_mut().push("leave".into());
        self.joined = false;
        self.queue.clear();
    }

    fn multicast(&mut self, _delivery: Delivery, mess_type: i16, body: &[u8]) {
        if self.joined {
            self.journal.borrow_mut().push(format!("send {mess_type}"));
            self.queue
                .push_back(GroupEvent::Message(sent_by("me", mess_type, body)));
        }
    }

    fn status(&self) -> ServiceStatus {
        ServiceStatus {
            name: "loopback".into(),
            endpoint: String::new(),
            state: if self.joined { "in view" } else { "left" }.into(),
            membership: None,
            error: None,
        }
    }
}

type TestCore = Core<Loopback, Recorder>;

const VIFS: [&str; 3] = ["wk0:192.0.2.1/32", "wk0:192.0.2.2/32", "wk1:192.0.2.3/32"];

fn config(quorum: &str) -> Config {
    let text = format!(
        "Spread = 4803\nGroup = g\nMature = 100ms\nQuorum = {quorum}\n\
         VirtualInterfaces {{ {} }}\n",
        VIFS.join(" ")
    );
    config::parse(&text, "test.conf")
        .expect("a valid configuration")
        .0
}

fn core(quorum: &str, members: usize) -> (TestCore, Journal, Instant) {
    let journal = Journal::default();
    let service = Loopback {
        journal: journal.clone(),
        joined: false,
        members,
        queue: VecDeque::new(),
        views: 0,
    };
    let core = Core::new(
        config(quorum),
        Ipv4Addr::new(10, 0, 0, 1),
        service,
        Recorder::new(journal.clone()),
    );
    (core, journal, Instant::now())
}

/// Delivers what the service has queued.
fn pump(core: &mut TestCore, now: Instant) {
    while let Some(event) = core.service_mut().queue.pop_front() {
        core.handle_report(event, now);
    }
}

/// Delivers what is queued at `now`, then runs every deadline up to
/// `until`; returns `until`.
fn run_to(core: &mut TestCore, now: Instant, until: Instant) -> Instant {
    pump(core, now);
    while let Some(at) = core.poll_timeout().filter(|&at| at <= until) {
        core.handle_timeout(at);
        pump(core, at);
    }
    until
}

fn kernel<S: GroupService>(core: &Core<S, Recorder>) -> Vec<String> {
    core.host().kernel.iter().cloned().collect()
}

fn all_vifs() -> Vec<String> {
    VIFS.iter().map(|s| s.to_string()).collect()
}

/// Started and matured: holds every VIF.
fn holding(quorum: &str) -> (TestCore, Journal, Instant) {
    let (mut core, journal, t0) = core(quorum, 1);
    core.start(t0);
    let now = run_to(&mut core, t0, t0 + Duration::from_secs(1));
    assert_eq!(
        kernel(&core),
        all_vifs(),
        "{:?} {:?}",
        core.host().logs,
        journal.borrow()
    );
    (core, journal, now)
}

#[test]
fn a_lone_node_holds_every_vif_and_announces_each() {
    let (core, journal, _) = holding("none");
    let journal = journal.borrow();
    for (vif, address) in VIFS.iter().enumerate() {
        let up = journal
            .iter()
            .position(|l| l == &format!("up {address}"))
            .expect("brought up");
        let announced = journal
            .iter()
            .position(|l| l == &format!("announce {vif}"))
            .expect("announced");
        assert!(up < announced, "announced before up: {journal:?}");
    }
    assert!(core.host().logged("UP: wk0:192.0.2.1/32"));
}

#[test]
fn a_stop_takes_every_address_down_before_leaving() {
    let (mut core, journal, now) = holding("none");
    journal.borrow_mut().clear();
    core.shut_down(now);
    assert!(kernel(&core).is_empty());
    let journal = journal.borrow();
    let leave = journal.iter().position(|l| l == "leave").expect("left");
    let last_down = journal
        .iter()
        .rposition(|l| l.starts_with("down "))
        .expect("taken down");
    assert!(last_down < leave, "left before releasing: {journal:?}");
}

#[test]
fn an_address_the_kernel_refuses_is_tried_again_until_it_comes_up() {
    let (mut core, _journal, t0) = core("none", 1);
    core.host_mut().refuse.insert(VIFS[2].to_string());
    core.start(t0);
    let now = run_to(&mut core, t0, t0 + Duration::from_millis(500));
    assert_eq!(kernel(&core), all_vifs()[..2].to_vec());
    assert!(core.host().logged("cannot bring up wk1:192.0.2.3/32"));
    // Still refused on the next try: logged at debug level only.
    let now = run_to(&mut core, now, now + ADDRESS_RETRY);
    let errors = core
        .host()
        .logs
        .iter()
        .filter(|(level, line)| *level == Level::Error && line.contains("cannot bring up"))
        .count();
    assert_eq!(errors, 1);
    core.host_mut().refuse.clear();
    run_to(&mut core, now, now + ADDRESS_RETRY);
    assert_eq!(kernel(&core), all_vifs());
}

#[test]
fn a_lapsed_lease_takes_the_addresses_out_and_brings_them_back_announced() {
    let (mut core, journal, now) = holding("none");
    journal.borrow_mut().clear();
    core.handle_report(GroupEvent::Lease(false), now);
    assert!(kernel(&core).is_empty());
    // The engine still holds them: no view change, no ARP meanwhile.
    assert!(core.holds(VifIndex(0)));
    assert!(journal.borrow().iter().any(|l| l == "cancel 0"));
    // A second lapse changes nothing.
    core.handle_report(GroupEvent::Lease(false), now);
    journal.borrow_mut().clear();
    core.handle_report(GroupEvent::Lease(true), now);
    assert_eq!(kernel(&core), all_vifs());
    let journal = journal.borrow();
    assert!(journal.iter().any(|l| l == "announce 2"), "{journal:?}");
}

#[test]
fn a_release_while_the_lease_has_lapsed_leaves_nothing_behind() {
    let (mut core, _journal, now) = holding("none");
    core.handle_report(GroupEvent::Lease(false), now);
    core.shut_down(now);
    assert!(kernel(&core).is_empty());
    // Joined again, the lease is not lapsed any more.
    core.start(now);
    run_to(&mut core, now, now + Duration::from_secs(1));
    assert_eq!(kernel(&core), all_vifs());
}

#[test]
fn below_the_quorum_nothing_is_held_and_a_new_rule_rejoins() {
    let (mut core, journal, t0) = core("2", 1);
    core.start(t0);
    let now = run_to(&mut core, t0, t0 + Duration::from_secs(1));
    assert!(kernel(&core).is_empty());
    assert!(core.host().logged("below quorum: the view has 1 of the 2"));
    assert!(!core.quorum().met);
    // The rule changes on reload: leave and join again, then hold.
    assert!(core.reload(config("none"), now));
    {
        let journal = journal.borrow();
        let leave = journal.iter().rposition(|l| l == "leave").expect("left");
        assert_eq!(journal.get(leave + 1).map(String::as_str), Some("join"));
    }
    run_to(&mut core, now, now + Duration::from_secs(1));
    assert_eq!(kernel(&core), all_vifs());
}

#[test]
fn a_reload_that_changes_a_fixed_setting_is_refused_whole() {
    let (mut core, _journal, now) = holding("none");
    let mut new = config("2");
    new.service = ServiceConfig::Spread(SpreadConfig {
        group: "other".into(),
        ..SpreadConfig::default()
    });
    assert!(!core.reload(new, now));
    assert!(core.host().logged("Group cannot change"));
    assert_eq!(core.config().quorum, Quorum::None);
    assert_eq!(kernel(&core), all_vifs());
}

#[test]
fn a_simulated_failure_releases_leaves_and_comes_back_on_request() {
    let (mut core, journal, now) = holding("none");
    let (answer, answered) = responder();
    core.handle_control(Request::SimulateFailure(answer), now);
    assert!(answered.try_recv().is_ok());
    assert!(kernel(&core).is_empty());
    assert_eq!(journal.borrow().last().map(String::as_str), Some("leave"));
    assert!(core.host().logged("leaving the group (loopback)"));
    let (answer, answered) = responder();
    core.handle_control(Request::EndFailure(answer), now);
    assert!(answered.try_recv().is_ok());
    run_to(&mut core, now, now + Duration::from_secs(1));
    assert_eq!(kernel(&core), all_vifs());
}

#[test]
fn the_status_shows_the_engine_the_service_and_the_quorum() {
    let (mut core, _journal, now) = holding("1");
    let (answer, answered) = responder();
    core.handle_control(Request::GetState(answer), now);
    let status = answered.try_recv().expect("answered at once");
    assert_eq!(status.service.name, "loopback");
    assert_eq!(status.members.len(), 1);
    assert_eq!(status.members[0].held, 3);
    assert!(status.quorum.is_some_and(|q| q.met));
}

fn lifetime_config(extra: &str) -> Config {
    let text = format!(
        "Spread = 4803\nGroup = g\nMature = 100ms\nAddresses {{ Lifetime = 3s {extra} }}\n\
         VirtualInterfaces {{ {} }}\n",
        VIFS.join(" ")
    );
    config::parse(&text, "test.conf")
        .expect("a valid configuration")
        .0
}

#[test]
fn addresses_go_in_with_their_lifetime_and_are_renewed_while_held() {
    let (mut core, journal, t0) = core("none", 1);
    assert!(core.reload(lifetime_config(""), t0));
    core.start(t0);
    let now = run_to(&mut core, t0, t0 + Duration::from_secs(1));
    assert!(journal
        .borrow()
        .iter()
        .any(|l| l == "up wk0:192.0.2.1/32 for 3s"));
    journal.borrow_mut().clear();
    // Renewed every third of the lifetime.
    let now = run_to(&mut core, now, now + Duration::from_millis(1100));
    let renewals = journal
        .borrow()
        .iter()
        .filter(|l| l.as_str() == "renew wk1:192.0.2.3/32 for 3s")
        .count();
    assert!(renewals >= 1, "renewed {renewals} times");
    // One gone from the kernel (removed by hand) is put back.
    core.host_mut().kernel.remove("wk1:192.0.2.3/32");
    run_to(&mut core, now, now + Duration::from_millis(1100));
    assert_eq!(kernel(&core), all_vifs());
    assert!(core
        .host()
        .logged("wk1:192.0.2.3/32 was gone from its interface"));
    // Released: no more renewals.
    core.shut_down(now);
    journal.borrow_mut().clear();
    run_to(&mut core, now, now + Duration::from_secs(5));
    assert!(!journal.borrow().iter().any(|l| l.starts_with("renew")));
}

/// Two cores on one agreed-order bus: a group of two that speaks.
mod pair {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Default)]
    pub(super) struct Bus {
        /// Members in view order, and the messages sent, in agreed order.
        pub members: Vec<String>,
        pub sent: Vec<Message>,
        pub views: u32,
    }

    pub(super) struct Member {
        pub name: String,
        pub bus: Rc<RefCell<Bus>>,
        pub inbox: VecDeque<GroupEvent>,
        pub joined: bool,
    }

    impl GroupService for Member {
        passive_service!("bus");
        fn join(&mut self) {
            self.joined = true;
        }
        fn leave(&mut self) {
            self.joined = false;
        }
        fn multicast(&mut self, _delivery: Delivery, mess_type: i16, body: &[u8]) {
            if self.joined {
                let message = sent_by(&self.name, mess_type, body);
                self.bus.borrow_mut().sent.push(message);
            }
        }
        fn status(&self) -> ServiceStatus {
            ServiceStatus::default()
        }
    }

    pub(super) type PairCore = Core<Member, Recorder>;

    /// Delivers everything sent, to every core in the view, until quiet,
    /// and runs the deadlines due at `now`.
    pub(super) fn settle(cores: &mut [PairCore], now: Instant) {
        loop {
            let sent = std::mem::take(&mut cores[0].service().bus.borrow_mut().sent);
            let members = cores[0].service().bus.borrow().members.clone();
            for core in cores.iter_mut() {
                if members.contains(&core.service().name) {
                    for m in &sent {
                        core.service_mut()
                            .inbox
                            .push_back(GroupEvent::Message(m.clone()));
                    }
                }
                while let Some(event) = core.service_mut().inbox.pop_front() {
                    core.handle_report(event, now);
                }
                core.handle_timeout(now);
            }
            let quiet = cores[0].service().bus.borrow().sent.is_empty();
            if quiet {
                return;
            }
        }
    }

    /// A new view of `names` (in this order) for the cores named.
    pub(super) fn view(cores: &mut [PairCore], names: &[&str], now: Instant) {
        let group_id = {
            let mut bus = cores[0].service().bus.borrow_mut();
            bus.members = names.iter().map(|n| n.to_string()).collect();
            bus.views += 1;
            GroupId::from_raw([7, 7, bus.views])
        };
        for core in cores.iter_mut() {
            let name = core.service().name.clone();
            if let Some(my_index) = names.iter().position(|n| *n == name) {
                let fresh = core.snapshot().view.is_none();
                if fresh {
                    core.service_mut().inbox.push_back(GroupEvent::Connected);
                }
                core.service_mut().inbox.push_back(GroupEvent::View(View {
                    group_id,
                    members: names.iter().map(|n| n.to_string()).collect(),
                    my_index,
                }));
            }
        }
        settle(cores, now);
    }

    /// Runs both cores' deadlines and the bus up to `until`.
    pub(super) fn run(cores: &mut [PairCore], from: Instant, until: Instant) -> Instant {
        let mut now = from;
        loop {
            settle(cores, now);
            let next = cores.iter().filter_map(|c| c.poll_timeout()).min();
            match next {
                Some(at) if at <= until => now = at.max(now),
                _ => return until,
            }
        }
    }

    pub(super) fn pair(config: &Config) -> Vec<PairCore> {
        let bus = Rc::new(RefCell::new(Bus::default()));
        ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let service = Member {
                    name: name.to_string(),
                    bus: bus.clone(),
                    inbox: VecDeque::new(),
                    joined: false,
                };
                let identity = Ipv4Addr::new(10, 0, 0, 1 + i as u8);
                Core::new(config.clone(), identity, service, Recorder::default())
            })
            .collect()
    }
}

#[test]
fn with_takeover_wait_a_departed_member_s_vifs_come_up_after_its_lifetime() {
    use pair::*;
    let t0 = Instant::now();
    let mut cores = pair(&lifetime_config("TakeoverWait = on"));
    for core in cores.iter_mut() {
        core.start(t0);
    }
    view(&mut cores, &["a", "b"], t0);
    // Joining, nothing goes up before a lifetime and the slack have
    // passed: a stalled holder that left before we came may still have it.
    let now = run(&mut cores, t0, t0 + Duration::from_secs(2));
    assert!(cores.iter().all(|c| c.host().kernel.is_empty()));
    let now = run(&mut cores, now, t0 + Duration::from_secs(5));
    let held_by_b = cores[1].host().kernel.len();
    assert!(held_by_b > 0 && cores[0].host().kernel.len() + held_by_b == VIFS.len());
    // b falls silent: a's view loses it. Its VIFs are a's in the table at
    // once, in a's kernel only after b's lifetime (3 s) and the slack.
    view(&mut cores[..1], &["a"], now);
    let soon = run(&mut cores[..1], now, now + Duration::from_secs(1));
    assert!(cores[0].holds(VifIndex(0)) && cores[0].holds(VifIndex(2)));
    assert_eq!(cores[0].host().kernel.len(), VIFS.len() - held_by_b);
    assert!(cores[0]
        .host()
        .logged("once its kernel has dropped it (TakeoverWait)"));
    run(&mut cores[..1], soon, now + Duration::from_millis(4100));
    assert_eq!(kernel(&cores[0]), all_vifs());
}

#[test]
fn without_takeover_wait_a_departed_member_s_vifs_come_up_at_once() {
    use pair::*;
    let t0 = Instant::now();
    let mut cores = pair(&lifetime_config(""));
    for core in cores.iter_mut() {
        core.start(t0);
    }
    view(&mut cores, &["a", "b"], t0);
    let now = run(&mut cores, t0, t0 + Duration::from_secs(2));
    assert!(!cores[1].host().kernel.is_empty());
    view(&mut cores[..1], &["a"], now);
    run(&mut cores[..1], now, now + Duration::from_millis(100));
    assert_eq!(kernel(&cores[0]), all_vifs());
}

#[test]
fn watchers_see_the_view_each_move_and_why() {
    let (mut core, _journal, now) = holding("none");
    let watched = &core.host().watched;
    assert!(matches!(&watched[0], WatchEvent::View { members } if members == &["me"]));
    let acquired = watched
        .iter()
        .filter(|e| {
            matches!(
                e,
                WatchEvent::Acquired {
                    reason: MoveReason::View,
                    ..
                }
            )
        })
        .count();
    assert_eq!(acquired, VIFS.len());
    core.handle_report(GroupEvent::Lease(false), now);
    assert!(core.host().watched.iter().any(|e| matches!(
        e,
        WatchEvent::Released {
            vif: 0,
            reason: MoveReason::Quorum,
            ..
        }
    )));
    core.handle_report(GroupEvent::Lease(true), now);
    core.host_mut().watched.clear();
    core.shut_down(now);
    let watched = &core.host().watched;
    let released: Vec<usize> = watched
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Released {
                vif,
                reason: MoveReason::Signal,
                ..
            } => Some(*vif),
            _ => None,
        })
        .collect();
    assert_eq!(released, vec![0, 1, 2]);
    assert!(matches!(watched.last(), Some(WatchEvent::View { members }) if members.is_empty()));
}

/// The reasons watchers see belong to the move under way, never to an
/// earlier one: a lease that holds again brings the VIFs back for the
/// quorum, and a lost service then releases them as lost.
#[test]
fn each_move_carries_its_own_reason() {
    let released = |core: &TestCore| -> Vec<MoveReason> {
        core.host()
            .watched
            .iter()
            .filter_map(|e| match e {
                WatchEvent::Released { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    };
    let (mut core, _journal, now) = holding("none");
    core.handle_report(GroupEvent::Lease(false), now);
    core.host_mut().watched.clear();
    core.handle_report(GroupEvent::Lease(true), now);
    let back: Vec<&MoveReason> = core
        .host()
        .watched
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Acquired { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(back, vec![&MoveReason::Quorum; VIFS.len()]);
    core.host_mut().watched.clear();
    core.handle_report(
        GroupEvent::Disconnected {
            reason: "the daemon went away".into(),
        },
        now,
    );
    assert_eq!(released(&core), vec![MoveReason::ServiceLost; VIFS.len()]);
}
