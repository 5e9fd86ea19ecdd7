//! The core on a loopback group service (every multicast comes back as
//! delivered, views of a size the test picks) and a recording host: what
//! the kernel holds, and in which order the effects came.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{self, Quorum};
use crate::control::server::responder;
use crate::control::ServiceStatus;
use crate::daemon::group::GroupService;
use crate::daemon::reload::KeyRefused;
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
    type Report = GroupEvent;

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
            self.queue.push_back(GroupEvent::Message(Message {
                sender: "me".into(),
                mess_type,
                endian_mismatch: false,
                body: body.to_vec(),
            }));
        }
    }

    fn handle(&mut self, report: GroupEvent) -> Option<GroupEvent> {
        Some(report)
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self) {}

    fn check_reload(&self, _new: &Config) -> Result<(), KeyRefused> {
        Ok(())
    }

    fn reconfigure(&mut self, _config: &Config) {}

    fn name(&self) -> &'static str {
        "loopback"
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

fn kernel(core: &TestCore) -> Vec<String> {
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
    new.group = "other".into();
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
