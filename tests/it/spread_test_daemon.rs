//! The test daemon held against the recorded transcripts, and sessions
//! against it: several clients, agreed order, disconnects, partitions.

use crate::support::{scratch, spread_daemon, transcript};

use scratch::Scratch;
use spread_daemon::{Listen, TestDaemon};

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use transcript::{Dir, Item, Transcript};
use wackamole::config::SpreadAddress;
use wackamole::spread::wire::service_bits as bits;
use wackamole::spread::wire::{decode_header, ByteOrder, GROUP_NAME_FIELD, HEADER_LEN};
use wackamole::spread::{Cause, ConnectOptions, MembershipKind, Service, Session, SessionEvent};

enum Raw {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Raw {
    fn connect(addr: &SpreadAddress) -> Raw {
        let raw = match addr {
            SpreadAddress::Unix(p) => Raw::Unix(UnixStream::connect(p).unwrap()),
            SpreadAddress::Tcp { port, host } => {
                Raw::Tcp(TcpStream::connect((host.as_str(), *port)).unwrap())
            }
            SpreadAddress::Local { .. } => unreachable!(),
        };
        let timeout = Some(Duration::from_secs(5));
        match &raw {
            Raw::Unix(s) => s.set_read_timeout(timeout).unwrap(),
            Raw::Tcp(s) => s.set_read_timeout(timeout).unwrap(),
        }
        raw
    }
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Raw::Unix(s) => s,
            Raw::Tcp(s) => s,
        }
    }
    fn shutdown_write(&self) {
        let _ = match self {
            Raw::Unix(s) => s.shutdown(Shutdown::Write),
            Raw::Tcp(s) => s.shutdown(Shutdown::Write),
        };
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Membership bodies carry the daemon membership's timestamp: the only
/// daemon bytes allowed to differ from the recording.
fn mask_gid_time(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    if let Ok(header) = decode_header(frame) {
        if header.service_type & (bits::REG_MEMB | bits::TRANSITION) != 0 {
            // The group id's time follows its daemon address.
            let at = HEADER_LEN + GROUP_NAME_FIELD * header.num_groups + 4;
            if out.len() >= at + 4 {
                out[at..at + 4].fill(0);
            }
        }
    }
    out
}

/// One recorded connection, played as a raw client against the daemon.
struct Player {
    t: Transcript,
    next: usize,
    raw: Option<Raw>,
    /// s01c: the recorded daemon-chosen name and ours.
    rename: Option<(Vec<u8>, Vec<u8>)>,
}

impl Player {
    fn new(name: &str) -> Player {
        Player {
            t: transcript::load(name),
            next: 0,
            raw: None,
            rename: None,
        }
    }

    /// Plays the next `count` data and EOF items (API lines are skipped).
    fn play(&mut self, addr: &SpreadAddress, mut count: usize) {
        while count > 0 {
            let item = self.t.items[self.next].clone();
            self.next += 1;
            let raw = self.raw.get_or_insert_with(|| Raw::connect(addr));
            match item {
                Item::Api { .. } => continue,
                Item::Data {
                    dir: Dir::C,
                    mut bytes,
                    comment,
                    ..
                } => {
                    if let Some((from, to)) = &self.rename {
                        rename_in_frame(&mut bytes, from, to);
                    }
                    // A daemon that already refused may have closed.
                    let sent = raw.io().write_all(&bytes);
                    assert!(
                        sent.is_ok() || comment.starts_with("unparsed"),
                        "{}: {comment}: {sent:?}",
                        self.t.name
                    );
                }
                Item::Data {
                    dir: Dir::D,
                    bytes,
                    comment,
                    line,
                } => {
                    let at = format!("{}:{line} {comment}", self.t.name);
                    if self.t.name == "s01c" && comment.contains("ACCEPT_SESSION") {
                        let ours = read_accept(raw.io());
                        assert!(
                            ours.starts_with(b"#r") && ours.ends_with(b"#wm1"),
                            "{at}: {ours:?}"
                        );
                        self.rename = Some((bytes[5..].to_vec(), ours));
                    } else {
                        let mut got = vec![0u8; bytes.len()];
                        raw.io()
                            .read_exact(&mut got)
                            .unwrap_or_else(|e| panic!("{at}: {e}"));
                        // The recordings are little-endian; this daemon writes
                        // in this host's order.
                        let got = transcript::in_order(&got, ByteOrder::Little);
                        assert_eq!(mask_gid_time(&got), mask_gid_time(&bytes), "{at}");
                    }
                }
                Item::Eof(Dir::C) => raw.shutdown_write(),
                Item::Eof(Dir::D) => {
                    let mut rest = Vec::new();
                    let end = raw.io().read_to_end(&mut rest);
                    assert!(
                        end.is_ok() && rest.is_empty(),
                        "{}: expected EOF, got {end:?} {rest:02x?}",
                        self.t.name
                    );
                }
            }
            count -= 1;
        }
    }

    fn finish(&mut self, addr: &SpreadAddress) {
        let left = self.t.items[self.next..]
            .iter()
            .filter(|i| !matches!(i, Item::Api { .. }))
            .count();
        self.play(addr, left);
    }
}

fn read_accept(io: &mut dyn ReadWrite) -> Vec<u8> {
    let mut head = [0u8; 5];
    io.read_exact(&mut head).unwrap();
    assert_eq!(&head[..4], &[1, 4, 4, 0]);
    let mut group = vec![0u8; usize::from(head[4])];
    io.read_exact(&mut group).unwrap();
    group
}

fn rename_in_frame(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    for field in [4..36, 48..80] {
        if bytes.len() >= field.end && bytes[field.clone()].starts_with(from) {
            let f = &mut bytes[field];
            f.fill(0);
            f[..to.len()].copy_from_slice(to);
        }
    }
}

/// A test daemon answering as the recorded one did, its socket named
/// `tag` in `dir`.
fn recorded_daemon(dir: &Scratch, tag: &str) -> TestDaemon {
    TestDaemon::start_as(
        Listen::Unix(dir.path(tag)),
        "wm1",
        Ipv4Addr::new(10, 99, 0, 1),
    )
    .unwrap()
}

/// Every single-connection recording of one daemon, replayed as the
/// client: the test daemon answers with the recorded bytes. (s08 ran on
/// two daemons, wm1 and wm2, which one test daemon cannot impersonate.)
#[test]
fn test_daemon_answers_single_client_recordings_as_recorded() {
    let names = [
        "s01a", "s01c", "s02", "s04a", "s04b", "s04c", "s04e", "s04f", "s04g", "s04h", "s04i",
        "s04j", "s04k", "s06",
    ];
    let dir = Scratch::new("td");
    for name in names {
        let daemon = recorded_daemon(&dir, name);
        let mut player = Player::new(name);
        player.finish(&daemon.address());
        drop(daemon);
    }
    // s01b ran over TCP.
    let daemon = TestDaemon::start_as(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        "wm1",
        Ipv4Addr::new(10, 99, 0, 1),
    )
    .unwrap();
    Player::new("s01b").finish(&daemon.address());
}

/// The multi-client recordings, interleaved so that requests reach the
/// daemon in the order the recorded deliveries show.
#[test]
fn test_daemon_answers_multi_client_recordings_as_recorded() {
    let dir = Scratch::new("td");
    let daemon = recorded_daemon(&dir, "s03");
    let addr = daemon.address();
    let (mut alice, mut bob) = (Player::new("s03-alice"), Player::new("s03-bob"));
    alice.play(&addr, 6);
    bob.play(&addr, 6);
    alice.play(&addr, 1);
    // bob's SAFE is delivered (back to bob) before alice sends her FIFO.
    bob.play(&addr, 2);
    alice.play(&addr, 3);
    bob.play(&addr, 1);
    alice.play(&addr, 1);
    bob.finish(&addr);
    alice.finish(&addr);
    drop(daemon);

    let daemon = recorded_daemon(&dir, "s04d");
    let addr = daemon.address();
    let (mut first, mut second) = (Player::new("s04d-first"), Player::new("s04d-second"));
    first.play(&addr, 4);
    second.finish(&addr);
    first.finish(&addr);
    drop(daemon);

    let daemon = recorded_daemon(&dir, "s05");
    let addr = daemon.address();
    let (mut quiet, mut loud) = (Player::new("s05-quiet"), Player::new("s05-loud"));
    quiet.play(&addr, 5);
    // quiet gets no membership to wait for: watch the daemon instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while daemon.members("grp5").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "quiet's join never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    loud.play(&addr, 6);
    quiet.play(&addr, 2);
    loud.finish(&addr);
    quiet.finish(&addr);
}

fn connect(daemon: &TestDaemon, name: &str) -> Session {
    Session::connect(&daemon.address(), name, ConnectOptions::default()).unwrap()
}

fn next_view(s: &Session) -> wackamole::spread::Membership {
    match s.receive().unwrap() {
        SessionEvent::Membership(m) => m,
        other => panic!("expected a membership, got {other:?}"),
    }
}

#[test]
fn sessions_see_joins_agreed_order_leaves_and_disconnects() {
    let dir = Scratch::new("td");
    let daemon = TestDaemon::start(Listen::Unix(dir.path("order")), "td").unwrap();
    let names = ["n1", "n2", "n3"];
    let sessions: Vec<Session> = names.iter().map(|n| connect(&daemon, n)).collect();
    for (i, s) in sessions.iter().enumerate() {
        s.join("grp").unwrap();
        // Everyone already in sees the join.
        for earlier in &sessions[..=i] {
            let v = next_view(earlier);
            assert_eq!(v.kind, MembershipKind::Regular(Cause::Join));
            assert_eq!(v.members.len(), i + 1);
            assert_eq!(v.vs_sets, vec![vec![s.private_group().to_string()]]);
        }
    }
    assert_eq!(daemon.sessions(), names);
    // Concurrent senders: every receiver sees one and the same order.
    let received: Vec<Vec<(String, Vec<u8>)>> = std::thread::scope(|scope| {
        for (i, s) in sessions.iter().enumerate() {
            scope.spawn(move || {
                for k in 0..50u8 {
                    s.multicast(Service::Agreed, &["grp"], 1, &[i as u8, k])
                        .unwrap();
                }
            });
        }
        let readers: Vec<_> = sessions
            .iter()
            .map(|s| {
                scope.spawn(move || {
                    (0..150)
                        .map(|_| match s.receive().unwrap() {
                            SessionEvent::Message(m) => (m.sender, m.body),
                            other => panic!("{other:?}"),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(
        received.iter().all(|r| r == &received[0]),
        "receivers disagree on the order"
    );
    for sender in 0..3u8 {
        let seq: Vec<u8> = received[0]
            .iter()
            .filter(|(_, b)| b[0] == sender)
            .map(|(_, b)| b[1])
            .collect();
        assert_eq!(
            seq,
            (0..50).collect::<Vec<u8>>(),
            "sender {sender} out of FIFO order"
        );
    }
    let mut sessions = sessions.into_iter();
    let (s1, s2, s3) = (
        sessions.next().unwrap(),
        sessions.next().unwrap(),
        sessions.next().unwrap(),
    );
    s2.leave("grp").unwrap();
    assert_eq!(
        s2.receive().unwrap(),
        SessionEvent::SelfLeave {
            group: "grp".into()
        }
    );
    for s in [&s1, &s3] {
        let v = next_view(s);
        assert_eq!(v.kind, MembershipKind::Regular(Cause::Leave));
        assert_eq!(v.members, vec!["#n1#td", "#n3#td"]);
    }
    s3.disconnect().unwrap();
    let v = next_view(&s1);
    assert_eq!(v.kind, MembershipKind::Regular(Cause::Disconnect));
    assert_eq!(
        (v.members, v.my_index),
        (vec!["#n1#td".to_string()], Some(0))
    );
    // Self-discard: s1 does not get its own message; s2 (not in grp) neither.
    s1.multicast(Service::Fifo.self_discard(), &["grp", "#n2#td"], 9, b"x")
        .unwrap();
    match s2.receive().unwrap() {
        SessionEvent::Message(m) => assert_eq!(
            (m.mess_type, m.groups),
            (9, vec!["grp".to_string(), "#n2#td".to_string()])
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn partition_and_merge_give_transitional_and_network_views() {
    let dir = Scratch::new("td");
    let daemon = TestDaemon::start(Listen::Unix(dir.path("part")), "td").unwrap();
    let (a, b, c) = (
        connect(&daemon, "a"),
        connect(&daemon, "b"),
        connect(&daemon, "c"),
    );
    for (i, s) in [&a, &b, &c].into_iter().enumerate() {
        s.join("g").unwrap();
        for earlier in [&a, &b, &c].into_iter().take(i + 1) {
            next_view(earlier);
        }
    }
    daemon.partition(&[vec!["a".into(), "b".into()], vec!["c".into()]]);
    let mut ab_gid = None;
    for (s, members) in [
        (&a, vec!["#a#td", "#b#td"]),
        (&b, vec!["#a#td", "#b#td"]),
        (&c, vec!["#c#td"]),
    ] {
        let t = next_view(s);
        assert_eq!(t.kind, MembershipKind::Transitional);
        let v = next_view(s);
        assert_eq!(v.kind, MembershipKind::Regular(Cause::Network));
        assert_eq!(v.members, members);
        assert_eq!(
            v.vs_sets,
            vec![members.iter().map(|m| m.to_string()).collect::<Vec<_>>()]
        );
        assert_ne!(v.group_id, t.group_id);
        if members.len() == 2 {
            assert!(
                ab_gid.map_or(true, |g| g == v.group_id),
                "one component, one group id"
            );
            ab_gid = Some(v.group_id);
        } else {
            assert_ne!(Some(v.group_id), ab_gid);
        }
    }
    // Messages stay inside their component.
    c.multicast(Service::Agreed, &["g"], 2, b"alone").unwrap();
    a.multicast(Service::Agreed, &["g"], 3, b"pair").unwrap();
    let got = |s: &Session| match s.receive().unwrap() {
        SessionEvent::Message(m) => m.body,
        other => panic!("{other:?}"),
    };
    assert_eq!(got(&c), b"alone");
    assert_eq!(got(&a), b"pair");
    assert_eq!(got(&b), b"pair");
    daemon.merge();
    for s in [&a, &b, &c] {
        // A pure merge has no transitional membership.
        let v = next_view(s);
        assert_eq!(v.kind, MembershipKind::Regular(Cause::Network));
        assert_eq!(v.members, vec!["#a#td", "#b#td", "#c#td"]);
        assert_eq!(v.vs_sets.len(), 2);
        let mine = &v.vs_sets[v.my_vs_set.unwrap()];
        assert!(mine.contains(&s.private_group().to_string()));
    }
}

#[test]
fn stopped_daemon_wakes_readers_and_can_start_again() {
    let dir = Scratch::new("td");
    let path = dir.path("stop");
    let mut daemon = TestDaemon::start(Listen::Unix(path.clone()), "td").unwrap();
    let (reader, _writer) = connect(&daemon, "r").split();
    let blocked = std::thread::spawn(move || reader.receive());
    daemon.stop();
    assert!(matches!(
        blocked.join().unwrap(),
        Err(wackamole::spread::Error::ConnectionClosed)
    ));
    let daemon = TestDaemon::start(Listen::Unix(path), "td").unwrap();
    let s = connect(&daemon, "r");
    assert_eq!(daemon.sessions(), vec!["r"]);
    // The writer side can also wake its own reader.
    let (reader, writer) = s.split();
    let blocked = std::thread::spawn(move || reader.receive());
    writer.shutdown();
    assert!(matches!(
        blocked.join().unwrap(),
        Err(wackamole::spread::Error::ConnectionClosed)
    ));
}

#[test]
fn membership_off_sessions_get_messages_only_and_rejects_are_typed() {
    let dir = Scratch::new("td");
    let daemon = TestDaemon::start(Listen::Unix(dir.path("quiet")), "td").unwrap();
    let quiet = Session::connect(
        &daemon.address(),
        "quiet",
        ConnectOptions {
            membership: false,
            ..Default::default()
        },
    )
    .unwrap();
    quiet.join("g").unwrap();
    quiet.multicast(Service::Safe, &["g"], 4, b"hi").unwrap();
    assert!(matches!(quiet.receive().unwrap(), SessionEvent::Message(m) if m.body == b"hi"));
    let dup = Session::connect(&daemon.address(), "quiet", ConnectOptions::default());
    assert!(matches!(
        dup,
        Err(wackamole::spread::Error::Rejected {
            code: wackamole::spread::RejectCode::NotUnique,
            ..
        })
    ));
    let anon = connect(&daemon, "");
    assert!(anon.private_group().starts_with("#r") && anon.private_group().ends_with("#td"));
}
