//! Three services on loopback addresses (127.0.0.1 to .3, no root
//! needed), each under the daemon's own core with a recording host: they
//! form one view, split the VIFs, hear a clean leave at once, and a
//! survivor below the quorum holds nothing.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Quorum, ServiceConfig};
use crate::daemon::core::Core;
use crate::daemon::test_host::{Journal, Recorder};
use crate::daemon::LoopEvent;
use crate::engine::View;
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

/// One daemon without interfaces: the core over the service's thread,
/// with a recording host.
struct Member {
    core: Core<BuiltinService<ThreadLink>, Recorder>,
    inbox: Receiver<LoopEvent<NodeReport>>,
}

impl Member {
    fn start(config: &Config) -> Member {
        let (events, inbox) = mpsc::channel();
        let membership = config.service.membership().expect("a Membership block");
        let service = BuiltinService::start(config, membership, Reports::new(events))
            .unwrap_or_else(|e| panic!("cannot start the service: {e}"));
        let identity = service
            .identity()
            .expect("the membership decides the identity");
        assert_eq!(Some(identity), config.identity);
        let host = Recorder::new(Journal::default());
        let mut core = Core::new(config.clone(), identity, service, host);
        core.start(Instant::now());
        Member { core, inbox }
    }

    /// Handles what arrived within `wait`, and the deadlines due: the
    /// daemon's loop, without signals.
    fn step(&mut self, wait: Duration) {
        match self.inbox.recv_timeout(wait) {
            Ok(LoopEvent::Group(report)) => self.core.handle_report(report, Instant::now()),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("the service's channel closed"),
        }
        self.core.handle_timeout(Instant::now());
    }

    /// The VIFs whose addresses are in the (recorded) kernel.
    fn held(&self) -> BTreeSet<usize> {
        (0..VIFS)
            .filter(|&k| {
                self.core
                    .host()
                    .kernel
                    .contains(&format!("wkabsent0:192.0.2.{}/32", k + 1))
            })
            .collect()
    }

    fn view(&self) -> Option<View> {
        let snapshot = self.core.snapshot();
        snapshot.view.map(|v| View {
            group_id: v.group_id,
            members: v.members.into_iter().map(|m| m.name).collect(),
            my_index: v.my_index.0,
        })
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
            members.iter().map(|m| m.view()).collect::<Vec<_>>(),
            members.iter().map(|m| m.held()).collect::<Vec<_>>()
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
        let held = member.held();
        if held.len() != count {
            return false;
        }
        total += count;
        all.extend(held);
    }
    all.len() == total && total == VIFS
}

fn key_file(dir: &TempDir) -> std::path::PathBuf {
    let key = dir.path().join("cluster.key");
    write_key_file(&key);
    key
}

/// A new key file at `path`, as `wackamole keygen` writes it.
fn write_key_file(path: &std::path::Path) {
    let mut key = [0u8; config::NEW_KEY_LEN];
    crate::os::random_bytes(&mut key).expect("random bytes");
    config::write_new_key(path, &key).expect("a key file");
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
        let first = m[0].view();
        first.as_ref().is_some_and(|v| v.members.len() == NODES)
            && m.iter()
                .all(|x| x.view().map(|v| v.group_id) == first.as_ref().map(|v| v.group_id))
    });
    let view = members[0].view().expect("a view");
    for (i, member) in members.iter().enumerate() {
        let mine = member.view().expect("a view");
        assert_eq!(mine.members, view.members);
        assert_eq!(mine.my_index, i);
        assert!(mine.members[i].starts_with(&format!("{}/", address(i))));
    }
    run_until(&mut members, "the VIFs split 2/2/2", SETTLE, |m| {
        split_as(m, &[2, 2, 2])
    });

    // The status is what the thread last published: give it a moment.
    run_until(&mut members, "a published status", SETTLE, |m| {
        m[1].core.service().status().state == "in view"
    });
    let status = members[1].core.service().status();
    assert_eq!(status.name, "membership");
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
    leaver.core.shut_down(left);
    assert!(leaver.held().is_empty());
    assert_eq!(leaver.core.service().status().state, "left");
    run_until(&mut members, "a view of two", SETTLE, |m| {
        m.iter()
            .all(|x| x.view().is_some_and(|v| v.members.len() == 2))
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
    leaver.core.start(Instant::now());
    members.push(leaver);
    run_until(&mut members, "the third back", SETTLE, |m| {
        m.iter()
            .all(|x| x.view().is_some_and(|v| v.members.len() == NODES))
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
        gone.core.shut_down(Instant::now());
    }
    run_until(&mut members, "the survivor released", SETTLE, |m| {
        m[0].held().is_empty() && m[0].core.quorum().members == Some(1)
    });
    let quorum = members[0].core.quorum();
    assert!(!quorum.met);
    assert_eq!((quorum.rule, quorum.needed), (Quorum::Majority, 2));
    // The engine was told it is out of the group, not given the view.
    assert_eq!(members[0].view(), None);
    assert!(members[0].core.host().logged("below quorum"));
}

#[test]
fn start_up_failures_name_the_cause() {
    let dir = TempDir::new("builtin-errors");
    let key = key_file(&dir);
    let (events, _inbox) = mpsc::channel();
    let mut config = config(0, &key, port(2), "none");
    // Not among the listed nodes.
    config.identity = Some(Ipv4Addr::new(192, 0, 2, 99));
    let membership = config
        .service
        .membership()
        .cloned()
        .expect("a Membership block");
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
    let membership = config
        .service
        .membership()
        .cloned()
        .expect("a Membership block");
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

/// A link that keeps the commands for the test to read.
#[derive(Clone, Default)]
struct Captured(Rc<RefCell<Vec<NodeCommand>>>);

impl NodeLink for Captured {
    fn command(&mut self, command: NodeCommand) -> bool {
        self.0.borrow_mut().push(command);
        true
    }

    fn status(&self) -> Option<(membership::Status, Instant)> {
        None
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        None
    }
}

/// A joined service whose node is the test.
fn detached() -> (BuiltinService<Captured>, Captured) {
    let membership = MembershipConfig {
        nodes: vec![address(0), address(1)],
        more_links: Vec::new(),
        port: port(3),
        key: "/nonexistent".into(),
        accept_key: None,
        timing: membership::Timing::default(),
    };
    let link = Captured::default();
    let mut service = BuiltinService::new(
        SocketAddrV4::new(address(0), port(3)),
        0,
        &membership,
        config::MembershipKeys::default(),
        link.clone(),
    );
    service.join();
    link.0.borrow_mut().clear();
    (service, link)
}

fn view_event(ltime: u64) -> membership::NodeEvent {
    membership::NodeEvent::View {
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

fn report(event: membership::NodeEvent, bounced: bool) -> NodeReport {
    NodeReport {
        epoch: 1,
        event,
        bounced,
    }
}

fn undelivered(mess_type: i16) -> membership::NodeEvent {
    membership::NodeEvent::Undelivered {
        payload: bridge::encode(mess_type, &[]),
    }
}

/// The views the multicasts sent since the last call were meant for.
fn sent(link: &Captured) -> Vec<u64> {
    link.0
        .borrow_mut()
        .drain(..)
        .filter_map(|c| match c {
            NodeCommand::Multicast { view, .. } => Some(view.ltime),
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

/// The keys handed to the node since the last call.
fn keys_sent(link: &Captured) -> Vec<wire::Keys> {
    link.0
        .borrow_mut()
        .drain(..)
        .filter_map(|c| match c {
            NodeCommand::Keys(keys) => Some(*keys),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reload_hands_changed_keys_to_the_node_and_refuses_bad_ones() {
    let dir = TempDir::new("builtin-keys");
    let old = key_file(&dir);
    let new = dir.path().join("new.key");
    write_key_file(&new);
    let wire_key = |path: &std::path::Path| {
        wire::Key::new(&config::load_key(path).expect("loads")).expect("long enough")
    };
    let with = |key: &std::path::Path, accept: Option<&std::path::Path>| {
        let mut config = config(0, key, port(3), "none");
        if let ServiceConfig::Membership(m) = &mut config.service {
            m.accept_key = accept.map(std::path::Path::to_path_buf);
        }
        config
    };
    let (mut service, link) = detached();
    let mut reload = |config: &Config| {
        let checked = service.check_reload(config);
        if checked.is_ok() {
            service.reconfigure(config);
        }
        checked
    };
    // The detached service started with no key: the first reload sets one.
    reload(&with(&old, None)).expect("taken");
    assert_eq!(keys_sent(&link), vec![wire::Keys::from(wire_key(&old))]);
    // The same keys again: nothing to hand over.
    reload(&with(&old, None)).expect("taken");
    assert_eq!(keys_sent(&link), vec![]);
    // The three steps of a rotation.
    let step1 = wire::Keys::new(wire_key(&old), Some(wire_key(&new))).expect("two keys");
    reload(&with(&old, Some(&new))).expect("taken");
    assert_eq!(keys_sent(&link), vec![step1]);
    let step2 = wire::Keys::new(wire_key(&new), Some(wire_key(&old))).expect("two keys");
    reload(&with(&new, Some(&old))).expect("taken");
    assert_eq!(keys_sent(&link), vec![step2]);
    reload(&with(&new, None)).expect("taken");
    assert_eq!(keys_sent(&link), vec![wire::Keys::from(wire_key(&new))]);
    // An accepted key equal to the key is refused; nothing changes, even
    // if the loop went on to reconfigure.
    let copy = dir.path().join("copy.key");
    std::fs::copy(&new, &copy).expect("copy the key");
    let refused = reload(&with(&new, Some(&copy))).unwrap_err();
    assert!(
        refused.to_string().contains("holds the same key as Key"),
        "{refused}"
    );
    service.reconfigure(&with(&new, Some(&copy)));
    assert_eq!(keys_sent(&link), vec![]);
}
