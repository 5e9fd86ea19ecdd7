//! Health in the core: cores of ours on one agreed bus (every multicast
//! and view reaches every joined member in one order), sometimes with an
//! original node that only answers views with its STATE.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::testbus::{passive_service, sent_by};
use super::*;
use crate::config;
use crate::control::server::responder;
use crate::control::{MoveReason, ServiceStatus, WatchEvent};
use crate::daemon::test_host::{Journal, Recorder};
use crate::engine::codec::StateBody;
use crate::engine::{Delivery, GroupId, View};

/// The group: who is in it, in join order, and what each has yet to
/// deliver.
#[derive(Default)]
struct Net {
    joined: Vec<String>,
    queues: BTreeMap<String, VecDeque<GroupEvent>>,
    views: u32,
    /// An original node is in the group (last in every view).
    original: bool,
}

const ORIGINAL: &str = "original";

impl Net {
    fn post(&mut self, event: GroupEvent) {
        for name in &self.joined {
            if let Some(q) = self.queues.get_mut(name) {
                q.push_back(event.clone());
            }
        }
    }

    fn new_view(&mut self) {
        self.views += 1;
        let group_id = GroupId::from_raw([1, 1, self.views]);
        let mut members = self.joined.clone();
        if self.original {
            members.push(ORIGINAL.into());
        }
        for (i, name) in self.joined.iter().enumerate() {
            if let Some(q) = self.queues.get_mut(name) {
                q.push_back(GroupEvent::View(View {
                    group_id,
                    members: members.clone(),
                    my_index: i,
                }));
            }
        }
        if self.original && !self.joined.is_empty() {
            let state = StateBody {
                group_id,
                identity: Ipv4Addr::new(10, 0, 0, 99),
                index: self.joined.len() as i32,
                mature: true,
                held: Vec::new(),
                preferred: Vec::new(),
            };
            self.post(GroupEvent::Message(sent_by(
                ORIGINAL,
                mess_type::STATE,
                &state.encode(),
            )));
        }
    }
}

struct Bus {
    net: Rc<RefCell<Net>>,
    me: String,
    journal: Journal,
}

impl GroupService for Bus {
    passive_service!("bus");

    fn join(&mut self) {
        self.journal.borrow_mut().push("join".into());
        let mut net = self.net.borrow_mut();
        net.joined.push(self.me.clone());
        net.queues
            .insert(self.me.clone(), VecDeque::from([GroupEvent::Connected]));
        net.new_view();
    }

    fn leave(&mut self) {
        self.journal.borrow_mut().push("leave".into());
        let mut net = self.net.borrow_mut();
        if net.queues.remove(&self.me).is_some() {
            net.joined.retain(|n| n != &self.me);
            net.new_view();
        }
    }

    fn multicast(&mut self, _delivery: Delivery, mess_type: i16, body: &[u8]) {
        let mut net = self.net.borrow_mut();
        if net.queues.contains_key(&self.me) {
            net.post(GroupEvent::Message(sent_by(&self.me, mess_type, body)));
        }
    }

    fn status(&self) -> ServiceStatus {
        ServiceStatus {
            name: "bus".into(),
            endpoint: String::new(),
            state: String::new(),
            membership: None,
            error: None,
        }
    }
}

type BusCore = Core<Bus, Recorder>;

const VIFS: [&str; 4] = [
    "wk0:192.0.2.1/32",
    "wk0:192.0.2.2/32",
    "wk0:192.0.2.3/32",
    "wk0:192.0.2.4/32",
];

struct Cluster {
    net: Rc<RefCell<Net>>,
    cores: Vec<BusCore>,
    now: Instant,
}

impl Cluster {
    /// `n` cores of ours, started, and run until settled and balanced.
    fn started(n: usize, original: bool) -> Cluster {
        let text = format!(
            "Spread = 4803\nGroup = g\nMature = 100ms\nBalance {{ Interval = 1s }}\n\
             VirtualInterfaces {{ {} }}\n",
            VIFS.join(" ")
        );
        let config = config::parse(&text, "test.conf").expect("valid").0;
        let net = Rc::new(RefCell::new(Net {
            original,
            ..Net::default()
        }));
        let now = Instant::now();
        let cores = (0..n)
            .map(|i| {
                let journal = Journal::default();
                let bus = Bus {
                    net: net.clone(),
                    me: format!("node{i}"),
                    journal: journal.clone(),
                };
                let id = Ipv4Addr::new(10, 0, 0, i as u8 + 1);
                Core::new(config.clone(), id, bus, Recorder::new(journal))
            })
            .collect();
        let mut c = Cluster { net, cores, now };
        for i in 0..n {
            c.cores[i].start(now);
        }
        c.run(Duration::from_secs(10));
        c
    }

    /// Delivers everything queued; after each delivery, no address is up
    /// at two members.
    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.cores.len() {
                let name = self.cores[i].service().me.clone();
                let event = self
                    .net
                    .borrow_mut()
                    .queues
                    .get_mut(&name)
                    .and_then(VecDeque::pop_front);
                if let Some(event) = event {
                    any = true;
                    self.cores[i].handle_report(event, self.now);
                    self.no_address_twice();
                }
            }
            if !any {
                return;
            }
        }
    }

    fn run(&mut self, span: Duration) {
        let until = self.now + span;
        self.pump();
        loop {
            let next = self.cores.iter().filter_map(|c| c.poll_timeout()).min();
            let Some(at) = next.filter(|&at| at <= until) else {
                break;
            };
            self.now = self.now.max(at);
            for core in &mut self.cores {
                core.handle_timeout(self.now);
            }
            self.pump();
        }
        self.now = until;
    }

    fn no_address_twice(&self) {
        for address in VIFS {
            let at: Vec<usize> = (0..self.cores.len())
                .filter(|&i| self.cores[i].host().kernel.contains(address))
                .collect();
            assert!(at.len() <= 1, "{address} up at {at:?}");
        }
    }

    fn held(&self, i: usize) -> usize {
        self.cores[i].host().kernel.len()
    }

    fn set_health(&mut self, i: usize, health: LocalHealth) {
        let now = self.now;
        self.cores[i].set_health(health, now);
        self.pump();
    }
}

fn unhealthy() -> LocalHealth {
    LocalHealth {
        healthy: false,
        vifs: vec![true; VIFS.len()],
    }
}

fn healthy() -> LocalHealth {
    LocalHealth::full(VIFS.len())
}

#[test]
fn an_unhealthy_node_hands_its_addresses_over_and_takes_its_share_back() {
    let mut c = Cluster::started(2, false);
    assert_eq!((c.held(0), c.held(1)), (2, 2));
    c.set_health(1, unhealthy());
    // At once, without a timer: the HEALTH, then the RELEASED.
    assert_eq!((c.held(0), c.held(1)), (4, 0));
    assert!(c.cores[1].host().logged("health: this node is unhealthy"));
    let moved: Vec<&WatchEvent> = c.cores[0]
        .host()
        .watched
        .iter()
        .filter(|e| {
            matches!(e, WatchEvent::Acquired { reason: MoveReason::Tracker(t), .. } if t == "health of node1")
        })
        .collect();
    assert_eq!(moved.len(), 2, "{:?}", c.cores[0].host().watched);
    assert!(c.cores[1].host().watched.iter().any(|e| matches!(
        e,
        WatchEvent::Released {
            reason: MoveReason::Tracker(_),
            ..
        }
    )));
    // It stays in the group, and its health is agreed.
    let snap = c.cores[0].snapshot();
    let view = snap.view.expect("view");
    assert_eq!(view.members.len(), 2);
    assert_eq!(
        view.members[1].health,
        crate::engine::MemberHealth::Unhealthy
    );
    // Recovery: its share back through balancing.
    c.set_health(1, healthy());
    assert_eq!(c.held(1), 0, "not before the balance round");
    c.run(Duration::from_secs(10));
    assert_eq!((c.held(0), c.held(1)), (2, 2));
    assert!(c.cores[1].host().logged("health: this node is healthy"));
}

#[test]
fn a_vif_whose_interface_is_down_here_moves_to_the_other_node() {
    let mut c = Cluster::started(2, false);
    let mine: Vec<&str> = VIFS
        .iter()
        .copied()
        .filter(|a| c.cores[1].host().kernel.contains(*a))
        .collect();
    let index = VIFS.iter().position(|a| *a == mine[0]).expect("a VIF");
    let mut partial = healthy();
    partial.vifs[index] = false;
    c.set_health(1, partial);
    assert!(c.cores[0].host().kernel.contains(mine[0]));
    assert!(c.cores[1].host().kernel.contains(mine[1]));
    assert!(c.cores[1]
        .host()
        .logged(&format!("its interfaces cannot serve VIF {}", mine[0])));
}

#[test]
fn with_an_original_node_an_unhealthy_node_leaves_until_healthy() {
    let mut c = Cluster::started(1, true);
    assert!(!c.cores[0].snapshot().view.expect("view").health_agreed);
    let before = c.held(0);
    assert!(before > 0);
    c.set_health(0, unhealthy());
    assert_eq!(c.held(0), 0, "everything released");
    assert!(c.cores[0].host().logged("with original nodes"));
    assert_eq!(
        c.cores[0]
            .host()
            .journal
            .borrow()
            .last()
            .map(String::as_str),
        Some("leave")
    );
    c.run(Duration::from_secs(5));
    assert_eq!(c.held(0), 0, "stays out");
    c.set_health(0, healthy());
    c.run(Duration::from_secs(5));
    assert!(c.cores[0].host().logged("healthy again: joining"));
    assert_eq!(c.held(0), before);
}

#[test]
fn an_operators_simulated_failure_wins_over_recovered_health() {
    let mut c = Cluster::started(1, true);
    let before = c.held(0);
    c.set_health(0, unhealthy());
    let now = c.now;
    let (answer, _answered) = responder();
    c.cores[0].handle_control(Request::SimulateFailure(answer), now);
    c.set_health(0, healthy());
    c.run(Duration::from_secs(5));
    assert_eq!(c.held(0), 0, "-f is in force");
    assert!(c.cores[0].host().logged("wackatrl -f is in force"));
    let (answer, _answered) = responder();
    c.cores[0].handle_control(Request::EndFailure(answer), now);
    c.run(Duration::from_secs(5));
    assert_eq!(c.held(0), before);
    // And -s while still unhealthy in a mixed group does not rejoin.
    c.set_health(0, unhealthy());
    let (answer, _answered) = responder();
    c.cores[0].handle_control(Request::SimulateFailure(answer), now);
    let (answer, _answered) = responder();
    c.cores[0].handle_control(Request::EndFailure(answer), now);
    c.run(Duration::from_secs(5));
    assert_eq!(c.held(0), 0, "still unhealthy: stays out");
}
