//! The engine against the recorded exchange of two original C nodes
//! (tests/data/spread-wire/s08a-*): the bodies decode and re-encode byte for
//! byte, our engine given the same inputs sends exactly the STATE,
//! MATURING and BALANCE bytes the C node sent, and reaches the allocation
//! the C nodes reached.
//!
//! The recordings are little-endian. On a big-endian host every recorded
//! body arrives with the endian mismatch set, as it would from those C
//! nodes, and is compared with ours by the values it carries (the bytes
//! differ in order); `make cross-test` runs this on a big-endian CPU.

use crate::support::transcript;

use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use transcript::{Dir, Item};
use wackamole::config::{
    AcquisitionsPerRound, Balance, Config, HookEvent, Prefer, Vif, VifAddress,
};
use wackamole::daemon::{group::GroupEvent, group_event};
use wackamole::engine::codec::{self, mess_type, StateBody};
use wackamole::engine::{
    Delivery, Engine, GroupId, Input, Message, Output, Phase, Settings, Snapshot, Timer, View,
    VifIndex,
};
use wackamole::spread::wire::{decode_header, decode_payload, ByteOrder, Frame, HEADER_LEN};
use wackamole::spread::wire::{service_bits, Accept, ConnectRequest, Parse};
use wackamole::spread::SessionEvent;

const WM1: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const WM2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// The group the recorded nodes joined.
const GROUP: &str = "wack1";

/// One protocol unit of a recording, in the order recorded.
struct Unit {
    from_client: bool,
    bytes: Vec<u8>,
}

fn read_units(name: &str) -> Vec<Unit> {
    let stem = name.trim_end_matches(".txt");
    let units: Vec<Unit> = transcript::load(stem)
        .items
        .into_iter()
        .filter_map(|item| match item {
            Item::Data { dir, bytes, .. } => Some(Unit {
                from_client: dir == Dir::C,
                bytes,
            }),
            _ => None,
        })
        .collect();
    assert!(!units.is_empty(), "{name} holds no data lines");
    units
}

/// A unit that is a whole Spread message (the handshake units are not),
/// decoded by the library's own frame decoder.
fn frame(unit: &Unit) -> Option<Frame> {
    let b = &unit.bytes;
    let header = decode_header(b.get(..HEADER_LEN)?).ok()?;
    decode_payload(header, &b[HEADER_LEN..]).ok()
}

/// Whether the frame's body integers are in the other byte order than
/// this host's (what the group service reports as the endian mismatch).
fn mismatch(f: &Frame) -> bool {
    f.header.hint_order != ByteOrder::native()
}

/// Whether `ours` (this host's order) carries the same values as
/// `recorded` (in the order `mismatch` tells): the same bytes when the
/// orders agree, the same decoded body when they do not.
fn same_body(t: i16, ours: &[u8], recorded: &[u8], mismatch: bool) -> bool {
    if !mismatch {
        return ours == recorded;
    }
    // Both must decode, to the same values.
    fn equal<T: PartialEq, E>(a: Result<T, E>, b: Result<T, E>) -> bool {
        matches!((a, b), (Ok(a), Ok(b)) if a == b)
    }
    match t {
        mess_type::STATE => equal(
            StateBody::decode(ours, false),
            StateBody::decode(recorded, true),
        ),
        mess_type::BALANCE => equal(
            codec::decode_balance(ours, false),
            codec::decode_balance(recorded, true),
        ),
        mess_type::PROCEED => equal(
            codec::decode_proceed(ours, false),
            codec::decode_proceed(recorded, true),
        ),
        _ => ours == recorded,
    }
}

fn is_regular(f: &Frame) -> bool {
    let kind = f.header.service_type;
    kind & service_bits::REGULAR != 0 && kind & (service_bits::REG_MEMB | service_bits::JOIN) == 0
}

/// Our private group name, from the daemon's accept answer, read by the
/// library's own handshake parsers (the request first: the accept's
/// layout depends on the version the client asked for).
fn private_name(units: &[Unit]) -> String {
    let request = units
        .iter()
        .find(|u| u.from_client)
        .expect("recording holds a connect request");
    let version = match ConnectRequest::parse(&request.bytes) {
        Parse::Complete { value, .. } => value.version,
        other => panic!("the first client unit is not a connect request: {other:?}"),
    };
    units
        .iter()
        .filter(|u| !u.from_client)
        .find_map(|u| match Accept::parse(version, &u.bytes) {
            Ok(Parse::Complete { value, len }) if len == u.bytes.len() => Some(value.private_group),
            _ => None,
        })
        .expect("recording holds an accept answer")
}

/// The recorded nodes' configuration: Prefer None, four VIFs,
/// balance { all, 4s }, mature 5s, Arp-Cache 10s.
fn recorded_config() -> Config {
    Config {
        prefer: Prefer::None,
        vifs: (101..=104)
            .map(|last| Vif {
                addresses: vec![VifAddress {
                    interface: "eth0".into(),
                    addr: Ipv4Addr::new(10, 99, 0, last).into(),
                    prefix_len: 24,
                    network_len: 24,
                }],
            })
            .collect(),
        balance: Balance {
            acquisitions_per_round: AcquisitionsPerRound::All,
            interval: Duration::from_secs(4),
        },
        mature: Duration::from_secs(5),
        arp_cache_interval: Duration::from_secs(10),
        ..Config::default()
    }
}

/// What replaying one node's recording produced.
struct Replay {
    engine: Engine,
    held: BTreeSet<usize>,
    /// (snapshot, what we held) right after each BALANCE was delivered.
    after_balance: Vec<(Snapshot, BTreeSet<usize>)>,
    agreed_sent: usize,
    /// Our HOLDING messages, which the C node does not send.
    holdings_sent: usize,
}

/// Replays one recording: `D` units become engine inputs, and every
/// agreed message the C node sent (`C` units) must be the next one our
/// engine asked to send, byte for byte. Our HOLDING (one per view, which
/// C nodes neither send nor read) is counted apart; the C peer sends no
/// HOLDING, so our engine never waits for a RELEASED from it.
fn replay(file: &str, identity: Ipv4Addr) -> Replay {
    let units = read_units(file);
    let me = private_name(&units);
    let mut engine = Engine::new(Settings::from_config(&recorded_config(), identity));
    let mut held = BTreeSet::new();
    let mut pending: VecDeque<(i16, Vec<u8>)> = VecDeque::new();
    let mut arp_reads = 0usize;
    let mut after_balance = Vec::new();
    let mut agreed_sent = 0;
    let holdings_sent = std::cell::Cell::new(0);

    let feed = |engine: &mut Engine,
                input: Input,
                held: &mut BTreeSet<usize>,
                pending: &mut VecDeque<(i16, Vec<u8>)>,
                arp_reads: &mut usize|
     -> Vec<Output> {
        let outputs = engine.handle(input);
        for o in &outputs {
            match o {
                Output::Acquire(VifIndex(v)) => {
                    assert!(held.insert(*v), "{file}: acquired {v} twice")
                }
                Output::Release(VifIndex(v)) => {
                    assert!(held.remove(v), "{file}: released {v} not held")
                }
                Output::Multicast {
                    delivery: Delivery::Agreed,
                    mess_type: mess_type::HOLDING,
                    ..
                } => holdings_sent.set(holdings_sent.get() + 1),
                Output::Multicast {
                    delivery: Delivery::Agreed,
                    mess_type,
                    body,
                } => pending.push_back((*mess_type, body.clone())),
                Output::ReadArpTable => *arp_reads += 1,
                _ => {}
            }
        }
        outputs
    };

    for unit in &units {
        let Some(f) = frame(unit) else { continue };
        if unit.from_client {
            if f.header.service_type & service_bits::JOIN != 0 {
                feed(
                    &mut engine,
                    Input::Connected,
                    &mut held,
                    &mut pending,
                    &mut arp_reads,
                );
                continue;
            }
            if !is_regular(&f) {
                continue;
            }
            if f.header.mess_type() == mess_type::ARPCACHE {
                if arp_reads == 0 {
                    feed(
                        &mut engine,
                        Input::TimerFired(Timer::ArpShare),
                        &mut held,
                        &mut pending,
                        &mut arp_reads,
                    );
                }
                assert!(arp_reads > 0, "{file}: C node shared its ARP table unasked");
                arp_reads -= 1;
                let table = codec::decode_arp_cache(&f.body).expect("recorded ARPCACHE decodes");
                let out = feed(
                    &mut engine,
                    Input::LocalArpTable(table),
                    &mut held,
                    &mut pending,
                    &mut arp_reads,
                );
                assert!(
                    out.contains(&Output::Multicast {
                        delivery: Delivery::Reliable,
                        mess_type: mess_type::ARPCACHE,
                        body: f.body.clone(),
                    }),
                    "{file}: our ARPCACHE differs from the C node's"
                );
                continue;
            }
            if f.header.mess_type() == mess_type::MATURING && pending.is_empty() {
                feed(
                    &mut engine,
                    Input::TimerFired(Timer::Maturity),
                    &mut held,
                    &mut pending,
                    &mut arp_reads,
                );
            }
            let ours = pending.pop_front().unwrap_or_else(|| {
                panic!("{file}: C node sent type {} first", f.header.mess_type())
            });
            assert!(
                ours.0 == f.header.mess_type() && same_body(ours.0, &ours.1, &f.body, mismatch(&f)),
                "{file}: our multicast {ours:?} differs from the C node's {:?}",
                f.body
            );
            agreed_sent += 1;
            continue;
        }
        // What the daemon would hand the engine: the library's own
        // decoding of the frame, then the daemon's own mapping.
        let event = SessionEvent::from_frame(f, &me)
            .unwrap_or_else(|e| panic!("{file}: a recorded frame does not decode: {e}"));
        let input = match group_event(GROUP, event) {
            Some(GroupEvent::View(view)) => Input::View(view),
            Some(GroupEvent::Message(message)) => Input::Message(message),
            _ => continue,
        };
        let delivered_type = match &input {
            Input::Message(m) => Some(m.mess_type),
            _ => None,
        };
        feed(&mut engine, input, &mut held, &mut pending, &mut arp_reads);
        if delivered_type == Some(mess_type::BALANCE) {
            after_balance.push((engine.snapshot(), held.clone()));
        }
    }
    assert!(
        pending.is_empty(),
        "{file}: our engine asked to send {pending:?}, which the C node did not send"
    );
    Replay {
        engine,
        held,
        after_balance,
        agreed_sent,
        holdings_sent: holdings_sent.get(),
    }
}

fn owners(s: &Snapshot) -> Vec<Option<Ipv4Addr>> {
    s.vifs.iter().map(|v| v.owner_identity).collect()
}

#[test]
fn recorded_bodies_decode_and_reencode_byte_for_byte() {
    let mut seen = [0usize; 6];
    for file in ["s08a-2node-wm1-conn1.txt", "s08a-2node-wm2-conn1.txt"] {
        for unit in read_units(file) {
            let Some(f) = frame(&unit) else { continue };
            if !is_regular(&f) {
                continue;
            }
            let t = f.header.mess_type();
            let swap = mismatch(&f);
            let again = match t {
                mess_type::STATE => StateBody::decode(&f.body, swap)
                    .expect("recorded STATE decodes")
                    .encode(),
                mess_type::MATURING => {
                    codec::decode_maturing(&f.body).expect("recorded MATURING decodes");
                    Vec::new()
                }
                mess_type::BALANCE => codec::encode_balance(
                    &codec::decode_balance(&f.body, swap)
                        .expect("recorded BALANCE decodes")
                        .moves,
                ),
                mess_type::ARPCACHE => codec::encode_arp_cache(
                    &codec::decode_arp_cache(&f.body).expect("recorded ARPCACHE decodes"),
                ),
                other => panic!("{file}: unexpected mess_type {other}"),
            };
            assert!(
                same_body(t, &again, &f.body, swap),
                "{file}: type {t} does not re-encode"
            );
            seen[t as usize] += 1;
        }
    }
    assert!(
        seen[1] >= 6 && seen[2] >= 2 && seen[3] >= 2 && seen[5] >= 10,
        "{seen:?}"
    );
}

#[test]
fn recorded_state_fields_mean_what_the_c_nodes_meant() {
    let units = read_units("s08a-2node-wm1-conn1.txt");
    let states: Vec<StateBody> = units
        .iter()
        .filter(|u| u.from_client)
        .filter_map(frame)
        .filter(|f| is_regular(f) && f.header.mess_type() == mess_type::STATE)
        .map(|f| StateBody::decode(&f.body, mismatch(&f)).expect("decodes"))
        .collect();
    let second = &states[1];
    assert_eq!(second.group_id.raw(), [0x0a63_0001, 1_795_562_366, 2]);
    assert_eq!(second.identity, WM1);
    assert!(second.mature);
    assert_eq!(second.held.len(), 4);
    assert_eq!(second.preferred, vec![Ipv4Addr::UNSPECIFIED]);
}

#[test]
fn wm1_replays_boot_maturity_balance_and_the_peer_leaving() {
    let r = replay("s08a-2node-wm1-conn1.txt", WM1);
    // STATE x3, MATURING, BALANCE: all ours, byte for byte; and our
    // HOLDING before each STATE.
    assert_eq!(r.agreed_sent, 5);
    assert_eq!(r.holdings_sent, 3);
    let (snapshot, held) = r.after_balance.first().expect("a BALANCE was delivered");
    assert_eq!(
        owners(snapshot),
        vec![Some(WM2), Some(WM2), Some(WM1), Some(WM1)],
        "101,102 on wm2; 103,104 on wm1"
    );
    assert_eq!(*held, BTreeSet::from([2, 3]));
    // wm2 left: wm1 holds everything again.
    let end = r.engine.snapshot();
    assert_eq!(end.phase, Phase::Run);
    assert!(end.mature);
    assert_eq!(owners(&end), vec![Some(WM1); 4]);
    assert_eq!(r.held, BTreeSet::from([0, 1, 2, 3]));
    let cache = r.engine.arp_cache();
    assert_eq!(
        cache.get(&Ipv4Addr::new(10, 99, 0, 2)),
        Some(&[0xee, 0x62, 0x2c, 0x35, 0xde, 0x6a])
    );
    assert_eq!(
        cache.get(&Ipv4Addr::new(10, 99, 0, 1)),
        Some(&[0x26, 0x2c, 0x85, 0x66, 0xd9, 0x6d])
    );
}

#[test]
fn wm2_replays_joining_a_mature_node_and_receiving_two_vifs() {
    let r = replay("s08a-2node-wm2-conn1.txt", WM2);
    assert_eq!(r.agreed_sent, 1, "wm2 sends its one STATE");
    assert_eq!(r.holdings_sent, 1, "and one HOLDING before it");
    let (snapshot, held) = r.after_balance.first().expect("a BALANCE was delivered");
    assert_eq!(
        owners(snapshot),
        vec![Some(WM2), Some(WM2), Some(WM1), Some(WM1)]
    );
    assert_eq!(*held, BTreeSet::from([0, 1]));
    assert!(snapshot.mature, "wm1's STATE matured wm2");
    assert_eq!(snapshot.phase, Phase::Run);
}

#[test]
fn acquisitions_and_releases_come_with_their_hooks() {
    let mut engine = Engine::new(Settings::from_config(&recorded_config(), WM1));
    engine.handle(Input::Connected);
    let view = View {
        group_id: GroupId::from_raw([1, 2, 3]),
        members: vec!["#a#wm1".into()],
        my_index: 0,
    };
    let out = engine.handle(Input::View(view));
    let Some(body) = out.iter().find_map(|o| match o {
        Output::Multicast {
            mess_type: mess_type::STATE,
            body,
            ..
        } => Some(body),
        _ => None,
    }) else {
        panic!("view answered with {out:?}");
    };
    let state = Message {
        sender: "#a#wm1".into(),
        mess_type: mess_type::STATE,
        endian_mismatch: false,
        body: body.clone(),
    };
    engine.handle(Input::Message(state));
    let maturing = Message {
        sender: "#a#wm1".into(),
        mess_type: mess_type::MATURING,
        endian_mismatch: false,
        body: Vec::new(),
    };
    let out = engine.handle(Input::Message(maturing));
    assert_eq!(
        &out[..3],
        &[
            Output::DisarmTimer(Timer::Maturity),
            Output::Acquire(VifIndex(0)),
            Output::Hooks(HookEvent::OnUp, VifIndex(0))
        ]
    );
    // The post hook runs once, for every VIF the round brought up.
    let all: Vec<VifIndex> = (0..4).map(VifIndex).collect();
    assert_eq!(
        out.last(),
        Some(&Output::PostHooks(HookEvent::PostUp, all.clone()))
    );
    let out = engine.handle(Input::Disconnected);
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Release(_)))
            .count(),
        4
    );
    assert!(out.contains(&Output::PostHooks(HookEvent::PostDown, all)));
    assert!((0..4).all(|v| !engine.holds(VifIndex(v))));
}
