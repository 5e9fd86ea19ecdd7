//! Three services on loopback addresses (127.0.0.1 to .3, no root
//! needed), each with a real engine on top through the quorum gate: they
//! form one view, split the VIFs, hear a clean leave at once, and a
//! survivor below the quorum holds nothing.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::worker::Command;
use super::*;
use crate::config::Quorum;
use crate::daemon::quorum::{QuorumGate, Step};
use crate::daemon::timers::Timers;
use crate::daemon::Event;
use crate::engine::{Engine, Input, Output, Settings as EngineSettings, Timer, View, VifIndex};
use crate::testutil::TempDir;

const NODES: usize = 3;
const VIFS: usize = 6;
const SETTLE: Duration = Duration::from_secs(20);

fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 1 + u8::try_from(i).expect("few nodes"))
}

/// A port of its own per test process and test, below the ephemeral
/// range.
fn port(offset: u16) -> u16 {
    let pid = u16::try_from(std::process::id() % 3_000).unwrap_or(0);
    20_000 + pid * 4 + offset
}

fn config(i: usize, key: &std::path::Path, port: u16, quorum: &str) -> Config {
    let nodes: Vec<String> = (0..NODES).map(|n| address(n).to_string()).collect();
    let vifs: String = (0..VIFS)
        .map(|k| format!("wkabsent0:192.0.2.{}/32\n", k + 1))
        .collect();
    let text = format!(
        "Membership {{\n Nodes {{ {} }}\n Port = {port}\n Key = {}\n Heartbeat = 20ms\n \
         Timeout = 500ms\n}}\nQuorum = {quorum}\nMature = 200ms\n\
         Balance {{ AcquisitionsPerRound = all Interval = 100ms }}\n\
         VirtualInterfaces {{\n{vifs}}}\n",
        nodes.join(" "),
        key.display()
    );
    let (mut config, _) = config::parse(&text, "test.conf").expect("a valid configuration");
    // Loopback identities are refused in a file, not here.
    config.identity = Some(address(i));
    config
}

/// One daemon without interfaces: the service, the gate and the engine,
/// with what the engine holds kept in a set.
struct Member {
    service: BuiltinService,
    inbox: Receiver<Event<Report>>,
    gate: QuorumGate,
    engine: Engine,
    timers: Timers<Timer>,
    held: BTreeSet<usize>,
    view: Option<View>,
}

impl Member {
    fn start(config: &Config) -> Member {
        let (events, inbox) = mpsc::channel();
        let membership = config.membership.as_ref().expect("a Membership block");
        let service = BuiltinService::start(config, membership, Reports::new(events))
            .unwrap_or_else(|e| panic!("cannot start the service: {e}"));
        let identity = service
            .identity()
            .expect("the membership decides the identity");
        assert_eq!(Some(identity), config.identity);
        let mut member = Member {
            service,
            inbox,
            gate: QuorumGate::new(config.quorum, Some(NODES)),
            engine: Engine::new(EngineSettings::from_config(config, identity)),
            timers: Timers::new(),
            held: BTreeSet::new(),
            view: None,
        };
        member.service.join();
        member
    }

    /// Handles what arrived within `wait`, and the timers due.
    fn step(&mut self, wait: Duration) {
        match self.inbox.recv_timeout(wait) {
            Ok(Event::Group(report)) => {
                if let Some(event) = self.service.handle(report) {
                    for step in self.gate.on_event(event) {
                        match step {
                            Step::Feed(input) => self.feed(input),
                            Step::ViewTaken(taken) => self.service.view_taken(taken),
                            Step::Lost(_) | Step::Notice(_) | Step::Rejoin => {}
                        }
                    }
                }
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("the service's channel closed"),
        }
        for timer in self.timers.take_due(Instant::now()) {
            self.feed(Input::TimerFired(timer));
        }
    }

    fn feed(&mut self, input: Input) {
        if let Input::View(view) = &input {
            self.view = Some(view.clone());
        }
        if input == Input::Disconnected {
            self.view = None;
        }
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            for output in self.engine.handle(input) {
                match output {
                    Output::Multicast {
                        delivery,
                        mess_type,
                        body,
                    } => self.service.multicast(delivery, mess_type, &body),
                    Output::Acquire(VifIndex(vif)) => assert!(self.held.insert(vif)),
                    Output::Release(VifIndex(vif)) => assert!(self.held.remove(&vif)),
                    Output::ArmTimer(timer, after) => {
                        self.timers.arm(timer, Instant::now() + after)
                    }
                    Output::DisarmTimer(timer) => self.timers.disarm(timer),
                    Output::ReadArpTable => pending.push(Input::LocalArpTable(Vec::new())),
                    Output::Hooks(..) | Output::PostHooks(..) | Output::Log(..) => {}
                }
            }
        }
    }
}

/// Steps every member until `done` holds, or fails after `within`.
fn run_until(
    members: &mut [Member],
    what: &str,
    within: Duration,
    done: impl Fn(&[Member]) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(members) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: views {:?}, held {:?}",
            members.iter().map(|m| m.view.clone()).collect::<Vec<_>>(),
            members.iter().map(|m| m.held.clone()).collect::<Vec<_>>()
        );
        for member in members.iter_mut() {
            member.step(Duration::from_millis(1));
        }
    }
}

/// Every member holds `counts[i]` VIFs, and each VIF is held once.
fn split_as(members: &[Member], counts: &[usize]) -> bool {
    let mut all = BTreeSet::new();
    let mut total = 0;
    for (member, &count) in members.iter().zip(counts) {
        if member.held.len() != count {
            return false;
        }
        total += count;
        all.extend(member.held.iter().copied());
    }
    all.len() == total && total == VIFS
}

fn key_file(dir: &TempDir) -> std::path::PathBuf {
    let key = dir.path().join("cluster.key");
    config::write_new_key(&key).expect("a key file");
    key
}

#[test]
fn three_nodes_form_one_view_split_the_vifs_and_see_a_leave_at_once() {
    let dir = TempDir::new("builtin-three");
    let key = key_file(&dir);
    let port = port(0);
    let mut members: Vec<Member> = (0..NODES)
        .map(|i| Member::start(&config(i, &key, port, "none")))
        .collect();
    run_until(&mut members, "one view of three", SETTLE, |m| {
        let first = m[0].view.as_ref();
        first.is_some_and(|v| v.members.len() == NODES)
            && m.iter()
                .all(|x| x.view.as_ref().map(|v| &v.group_id) == first.map(|v| &v.group_id))
    });
    let view = members[0].view.clone().expect("a view");
    for (i, member) in members.iter().enumerate() {
        let mine = member.view.as_ref().expect("a view");
        assert_eq!(mine.members, view.members);
        assert_eq!(mine.my_index, i);
        assert!(mine.members[i].starts_with(&format!("{}/", address(i))));
    }
    run_until(&mut members, "the VIFs split 2/2/2", SETTLE, |m| {
        split_as(m, &[2, 2, 2])
    });

    let status = members[1].service.status();
    assert_eq!(
        (status.name.as_str(), status.state.as_str()),
        ("membership", "in view")
    );
    assert_eq!(status.endpoint, format!("udp:127.0.0.2:{port}"));
    let detail = status.membership.expect("the node's status");
    assert_eq!(detail.node, 1);
    let states: Vec<&str> = detail.nodes.iter().map(|n| n.state.as_str()).collect();
    assert_eq!(states, ["in view", "self", "in view"]);
    assert!(detail.nodes[0].last_heard_ms.is_some_and(|ms| ms < 1000));
    assert_eq!(detail.view.map(|v| v.members.len()), Some(NODES));

    // A clean leave: the others' next view comes without waiting for the
    // time-out (500 ms).
    let mut leaver = members.pop().expect("three members");
    let left = Instant::now();
    leaver.feed(Input::Disconnected);
    leaver.service.leave();
    assert_eq!(leaver.service.status().state, "left");
    run_until(&mut members, "a view of two", SETTLE, |m| {
        m.iter()
            .all(|x| x.view.as_ref().is_some_and(|v| v.members.len() == 2))
    });
    let took = left.elapsed();
    assert!(
        took < Duration::from_millis(250),
        "the leave took {took:?} to be seen"
    );
    run_until(&mut members, "the VIFs split 3/3", SETTLE, |m| {
        split_as(m, &[3, 3])
    });

    // It comes back as a new member.
    leaver.service.join();
    members.push(leaver);
    run_until(&mut members, "the third back", SETTLE, |m| {
        m.iter()
            .all(|x| x.view.as_ref().is_some_and(|v| v.members.len() == NODES))
    });
}

#[test]
fn a_survivor_below_the_quorum_holds_nothing() {
    let dir = TempDir::new("builtin-quorum");
    let key = key_file(&dir);
    let port = port(1);
    let mut members: Vec<Member> = (0..NODES)
        .map(|i| Member::start(&config(i, &key, port, "majority")))
        .collect();
    run_until(&mut members, "the VIFs split 2/2/2", SETTLE, |m| {
        split_as(m, &[2, 2, 2])
    });
    // Two leave: the survivor's view of one is below the majority of 3.
    for mut gone in members.drain(1..).collect::<Vec<_>>() {
        gone.feed(Input::Disconnected);
        gone.service.leave();
    }
    run_until(&mut members, "the survivor released", SETTLE, |m| {
        m[0].held.is_empty() && m[0].gate.state().members == Some(1)
    });
    let quorum = members[0].gate.state();
    assert!(!quorum.met);
    assert_eq!((quorum.rule, quorum.needed), (Quorum::Majority, 2));
    // The engine was told it is out of the group, not given the view.
    assert_eq!(members[0].view, None);
}

#[test]
fn start_up_failures_name_the_cause() {
    let dir = TempDir::new("builtin-errors");
    let key = key_file(&dir);
    let (events, _inbox) = mpsc::channel();
    let mut config = config(0, &key, port(2), "none");
    // Not among the listed nodes.
    config.identity = Some(Ipv4Addr::new(192, 0, 2, 99));
    let membership = config.membership.clone().expect("a Membership block");
    let err = BuiltinService::start(&config, &membership, Reports::new(events.clone()))
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("is not listed in Membership Nodes"),
        "{err}"
    );
    // A key file others may read.
    config.identity = Some(address(0));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let err = BuiltinService::start(&config, &membership, Reports::new(events.clone()))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    // The port taken by another socket on our address.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let taken = UdpSocket::bind((address(0), membership.port)).expect("bind");
    let err = BuiltinService::start(&config, &membership, Reports::new(events))
        .err()
        .expect("refused");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot bind the membership socket to 127.0.0.1:{}",
            membership.port
        )),
        "{err}"
    );
    drop(taken);
}

#[test]
fn incarnations_grow_even_when_the_clock_does_not() {
    let dir = TempDir::new("builtin-incarnation");
    let key = key_file(&dir);
    let (events, _inbox) = mpsc::channel();
    let config = config(0, &key, port(3), "none");
    let membership = config.membership.clone().expect("a Membership block");
    let mut service =
        BuiltinService::start(&config, &membership, Reports::new(events)).expect("started");
    service.last_incarnation = u64::MAX - 5;
    assert_eq!(service.next_incarnation(), u64::MAX - 4);
    service.last_incarnation = 0;
    let first = service.next_incarnation();
    // Microseconds since 1970: well past 2020.
    assert!(first > 1_577_836_800_000_000, "{first}");
    assert!(service.next_incarnation() > first);
}

/// A service whose thread is the test: it reads the commands itself.
fn detached() -> (BuiltinService, Receiver<Command>) {
    let nodes = vec![address(0), address(1)];
    let (commands, inbox) = mpsc::channel();
    let waker = UdpSocket::bind((address(0), 0)).expect("a waker");
    waker
        .connect(waker.local_addr().expect("its address"))
        .expect("connect");
    let service = BuiltinService {
        own: SocketAddrV4::new(address(0), port(3)),
        me: 0,
        nodes: nodes.clone(),
        key_path: "/nonexistent".into(),
        key: Vec::new(),
        bridge: Bridge::new(nodes),
        commands,
        waker,
        thread: None,
        lease: Arc::new(Lease::new(Duration::from_secs(1))),
        epoch: 1,
        joined: true,
        engine_view: Some(false),
        last_incarnation: 0,
    };
    (service, inbox)
}

fn view_event(ltime: u64) -> membership::Event {
    membership::Event::View {
        id: membership::ViewId {
            ltime,
            coordinator: 0,
            incarnation: 1,
        },
        members: vec![membership::Member {
            node: 0,
            incarnation: 1,
        }],
        my_index: 0,
    }
}

fn report(event: membership::Event, bounced: bool) -> Report {
    Report {
        epoch: 1,
        event,
        bounced,
    }
}

fn undelivered(mess_type: i16) -> membership::Event {
    membership::Event::Undelivered {
        payload: bridge::encode(mess_type, &[]),
    }
}

/// The views the multicasts sent so far were meant for.
fn sent(inbox: &Receiver<Command>) -> Vec<u64> {
    inbox
        .try_iter()
        .filter_map(|c| match c {
            Command::Multicast { view, .. } => Some(view.ltime),
            _ => None,
        })
        .collect()
}

#[test]
fn an_undelivered_maturing_goes_out_again_in_the_view_the_engine_has() {
    use crate::engine::codec::mess_type::{MATURING, STATE};
    let (mut service, inbox) = detached();
    assert!(service.handle(report(view_event(10), false)).is_some());
    service.view_taken(true);
    // Left undelivered by the end of view 10: waits for the next view.
    assert_eq!(service.handle(report(undelivered(MATURING), false)), None);
    assert_eq!(sent(&inbox), Vec::<u64>::new());
    service.handle(report(view_event(11), false));
    service.view_taken(true);
    assert_eq!(sent(&inbox), vec![11]);
    // Meant for view 10 but sent after view 11 was in: at once, in 11.
    service.handle(report(undelivered(MATURING), true));
    assert_eq!(sent(&inbox), vec![11]);
    // Other messages are not sent again.
    service.handle(report(undelivered(STATE), true));
    assert_eq!(sent(&inbox), Vec::<u64>::new());
    // A view withheld below the quorum: the engine starts afresh, its old
    // MATURING is forgotten.
    service.handle(report(undelivered(MATURING), false));
    service.handle(report(view_event(12), false));
    service.view_taken(false);
    service.handle(report(undelivered(MATURING), true));
    service.handle(report(view_event(13), false));
    service.view_taken(true);
    assert_eq!(sent(&inbox), Vec::<u64>::new());
    // Reports of an earlier join are dropped.
    service.epoch = 2;
    assert_eq!(service.handle(report(view_event(14), false)), None);
}
