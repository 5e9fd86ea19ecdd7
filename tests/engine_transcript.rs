//! The engine against the recorded exchange of two original C nodes
//! (shared/spread-wire/s08a-*): the bodies decode and re-encode byte for
//! byte, our engine given the same inputs sends exactly the STATE,
//! MATURING and BALANCE bytes the C node sent, and reaches the allocation
//! the C nodes reached.

use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use wackamole::config::{
    AcquisitionsPerRound, Balance, Config, HookEvent, Prefer, Vif, VifAddress,
};
use wackamole::engine::codec::{self, mess_type, StateBody};
use wackamole::engine::{
    Delivery, Engine, Input, Message, Output, Phase, Settings, Snapshot, Timer, View,
};

const WM1: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const WM2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

const REG_MEMB: u32 = 0x1000;
const JOIN: u32 = 0x10000;
const SERVICE_BITS: u32 = 0x3f;

/// The recordings sit in `shared/` beside the checkout (one level up from
/// the main checkout, two from a worktree under `wt/`).
fn wire_dir() -> PathBuf {
    let candidates = [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spread-wire"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spread-wire"),
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("spread-wire recordings not found at {candidates:?}"))
}

/// One protocol unit of a recording.
struct Unit {
    from_client: bool,
    bytes: Vec<u8>,
}

fn read_units(name: &str) -> Vec<Unit> {
    let path = wire_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("recording {} is missing: {e}", path.display()));
    let mut units = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let (from_client, hex) = match line.split_once(' ') {
            Some(("C", hex)) => (true, hex),
            Some(("D", hex)) => (false, hex),
            _ => continue,
        };
        assert!(hex.len() % 2 == 0, "{name}:{}: odd hex length", n + 1);
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .unwrap_or_else(|e| panic!("{name}:{}: bad hex: {e}", n + 1));
        units.push(Unit { from_client, bytes });
    }
    assert!(!units.is_empty(), "{name} holds no data lines");
    units
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn name_at(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A Spread message unit: 48-byte header, group names, body.
struct Frame {
    kind: u32,
    sender: String,
    groups: Vec<String>,
    mess_type: i16,
    body: Vec<u8>,
}

fn frame(unit: &Unit) -> Option<Frame> {
    let b = &unit.bytes;
    if b.len() < 48 {
        return None;
    }
    let num_groups = le32(b, 36) as usize;
    let data_len = le32(b, 44) as usize;
    if num_groups > 100 || b.len() != 48 + 32 * num_groups + data_len {
        return None;
    }
    let hint = le32(b, 40);
    assert_eq!(
        hint & 0x8000_0080,
        0x8000_0080,
        "the recordings are little-endian throughout"
    );
    let groups = (0..num_groups)
        .map(|g| name_at(&b[48 + 32 * g..48 + 32 * (g + 1)]))
        .collect();
    Some(Frame {
        kind: le32(b, 0),
        sender: name_at(&b[4..36]),
        groups,
        mess_type: ((hint >> 8) & 0xffff) as u16 as i16,
        body: b[48 + 32 * num_groups..].to_vec(),
    })
}

fn is_regular(f: &Frame) -> bool {
    f.kind & SERVICE_BITS != 0 && f.kind & (REG_MEMB | JOIN) == 0
}

/// Our private group name, from the daemon's accept answer.
fn private_name(units: &[Unit]) -> String {
    units
        .iter()
        .filter(|u| !u.from_client)
        .find_map(|u| {
            let b = &u.bytes;
            (b.len() > 5 && b[0] == 1 && b.len() == 5 + b[4] as usize)
                .then(|| String::from_utf8_lossy(&b[5..]).into_owned())
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
                    addr: Ipv4Addr::new(10, 99, 0, last),
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
        arp_cache: Duration::from_secs(10),
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
}

/// Replays one recording: `D` units become engine inputs, and every
/// agreed message the C node sent (`C` units) must be the next one our
/// engine asked to send, byte for byte.
fn replay(file: &str, identity: Ipv4Addr) -> Replay {
    let units = read_units(file);
    let me = private_name(&units);
    let mut engine = Engine::new(Settings::from_config(&recorded_config(), identity));
    let mut held = BTreeSet::new();
    let mut pending: VecDeque<(i16, Vec<u8>)> = VecDeque::new();
    let mut arp_reads = 0usize;
    let mut after_balance = Vec::new();
    let mut agreed_sent = 0;

    let feed = |engine: &mut Engine,
                input: Input,
                held: &mut BTreeSet<usize>,
                pending: &mut VecDeque<(i16, Vec<u8>)>,
                arp_reads: &mut usize|
     -> Vec<Output> {
        let outputs = engine.handle(input);
        for o in &outputs {
            match o {
                Output::Acquire(v) => assert!(held.insert(*v), "{file}: acquired {v} twice"),
                Output::Release(v) => assert!(held.remove(v), "{file}: released {v} not held"),
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
            if f.kind & JOIN != 0 {
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
            if f.mess_type == mess_type::ARPCACHE {
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
            if f.mess_type == mess_type::MATURING && pending.is_empty() {
                feed(
                    &mut engine,
                    Input::TimerFired(Timer::Maturity),
                    &mut held,
                    &mut pending,
                    &mut arp_reads,
                );
            }
            let ours = pending
                .pop_front()
                .unwrap_or_else(|| panic!("{file}: C node sent type {} first", f.mess_type));
            assert_eq!(
                ours,
                (f.mess_type, f.body.clone()),
                "{file}: our multicast differs from the C node's"
            );
            agreed_sent += 1;
            continue;
        }
        if f.kind & REG_MEMB != 0 {
            let my_index = f
                .groups
                .iter()
                .position(|g| *g == me)
                .expect("we are in our own membership");
            let b = &f.body;
            let view = View {
                group_id: [le32(b, 0), le32(b, 4), le32(b, 8)],
                members: f.groups.clone(),
                my_index,
            };
            feed(
                &mut engine,
                Input::View(view),
                &mut held,
                &mut pending,
                &mut arp_reads,
            );
        } else if is_regular(&f) {
            let delivered_type = f.mess_type;
            feed(
                &mut engine,
                Input::Message(Message {
                    sender: f.sender.clone(),
                    mess_type: f.mess_type,
                    endian_mismatch: false,
                    body: f.body.clone(),
                }),
                &mut held,
                &mut pending,
                &mut arp_reads,
            );
            if delivered_type == mess_type::BALANCE {
                after_balance.push((engine.snapshot(), held.clone()));
            }
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
            let t = f.mess_type;
            let again = match t {
                mess_type::STATE => StateBody::decode(&f.body, false)
                    .expect("recorded STATE decodes")
                    .encode(),
                mess_type::MATURING => {
                    codec::decode_maturing(&f.body).expect("recorded MATURING decodes");
                    Vec::new()
                }
                mess_type::BALANCE => codec::encode_balance(
                    &codec::decode_balance(&f.body, false)
                        .expect("recorded BALANCE decodes")
                        .moves,
                ),
                mess_type::ARPCACHE => codec::encode_arp_cache(
                    &codec::decode_arp_cache(&f.body).expect("recorded ARPCACHE decodes"),
                ),
                other => panic!("{file}: unexpected mess_type {other}"),
            };
            assert_eq!(again, f.body, "{file}: type {t} does not re-encode");
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
        .filter(|f| is_regular(f) && f.mess_type == mess_type::STATE)
        .map(|f| StateBody::decode(&f.body, false).expect("decodes"))
        .collect();
    let second = &states[1];
    assert_eq!(second.group_id, [0x0a63_0001, 1_795_562_366, 2]);
    assert_eq!(second.identity, WM1);
    assert!(second.mature);
    assert_eq!(second.held.len(), 4);
    assert_eq!(second.preferred, vec![Ipv4Addr::UNSPECIFIED]);
}

#[test]
fn wm1_replays_boot_maturity_balance_and_the_peer_leaving() {
    let r = replay("s08a-2node-wm1-conn1.txt", WM1);
    // STATE x3, MATURING, BALANCE: all ours, byte for byte.
    assert_eq!(r.agreed_sent, 5);
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
        group_id: [1, 2, 3],
        members: vec!["#a#wm1".into()],
        my_index: 0,
    };
    let out = engine.handle(Input::View(view));
    let Some(body) = out.iter().find_map(|o| match o {
        Output::Multicast { body, .. } => Some(body),
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
            Output::Acquire(0),
            Output::Hooks(HookEvent::OnUp, 0)
        ]
    );
    assert_eq!(out.last(), Some(&Output::PostHooks(HookEvent::PostUp)));
    let out = engine.handle(Input::Disconnected);
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Release(_)))
            .count(),
        4
    );
    assert!(out.contains(&Output::PostHooks(HookEvent::PostDown)));
    assert!((0..4).all(|v| !engine.holds(v)));
}
