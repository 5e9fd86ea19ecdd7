//! The engine's bodies between CPUs of both byte orders. A node writes
//! the integers of its bodies in its own order and the group service tells
//! the receiver whether the orders differ; here a build encodes its bodies
//! (those its engine sends, and codec-built STATE and BALANCE with VIFs
//! held and moved) inside Spread frames and built-in membership payloads,
//! and a build of either order decodes them to the values sent.
//!
//! Without settings, this build's encoding must equal the recording for
//! its order in tests/data/endian/ (`little.bin` from an x86-64 build,
//! `big.bin` from the PowerPC build under emulation), and both recordings
//! must decode. `make cross-test` exchanges fresh files instead:
//! `WACKAMOLE_ENDIAN_WRITE=DIR` also writes this build's `DIR/<order>.bin`,
//! and `WACKAMOLE_ENDIAN_READ=DIR` decodes every `.bin` file in DIR (at
//! least one) in place of the recordings.
//!
//! A file is a sequence of records, each a big-endian u32 length and that
//! many bytes: for every message, its Spread frame, then its membership
//! payload.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wackamole::config::Balance;
use wackamole::daemon::bridge;
use wackamole::engine::codec::{
    self, mess_type, ArpEntry, ClaimPriority, GroupId, Move, StateBody,
};
use wackamole::engine::{Engine, Input, Output, Settings, Timer, View};
use wackamole::spread::wire::{decode_frame, encode_frame, service_bits, ByteOrder, Outgoing};
use wackamole::spread::SessionEvent;

const RECORDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/endian");
const ME: &str = "#n1#h1";
const GROUP: &str = "wack1";
const GROUP_ID: GroupId = GroupId::from_raw([0x0a63_0001, 1_795_562_366, 7]);
const IDENTITY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const VIFS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 99, 0, 101),
    Ipv4Addr::new(10, 99, 0, 102),
    Ipv4Addr::new(192, 0, 2, 201),
];

fn order_name(order: ByteOrder) -> &'static str {
    match order {
        ByteOrder::Little => "little",
        ByteOrder::Big => "big",
    }
}

/// What a message carries, as its sender meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    State(StateBody),
    Maturing,
    Balance(Vec<Move>),
    ArpCache(Vec<ArpEntry>),
    Proceed(GroupId),
}

impl Body {
    fn mess_type(&self) -> i16 {
        match self {
            Body::State(_) => mess_type::STATE,
            Body::Maturing => mess_type::MATURING,
            Body::Balance(_) => mess_type::BALANCE,
            Body::ArpCache(_) => mess_type::ARPCACHE,
            Body::Proceed(_) => mess_type::PROCEED,
        }
    }

    fn decode(t: i16, body: &[u8], mismatch: bool) -> Result<Body, String> {
        let r = match t {
            mess_type::STATE => StateBody::decode(body, mismatch).map(Body::State),
            mess_type::MATURING => codec::decode_maturing(body).map(|()| Body::Maturing),
            mess_type::BALANCE => codec::decode_balance(body, mismatch).map(|b| {
                assert_eq!(b.announced, b.moves.len(), "BALANCE count");
                Body::Balance(b.moves)
            }),
            mess_type::ARPCACHE => codec::decode_arp_cache(body).map(Body::ArpCache),
            mess_type::PROCEED => codec::decode_proceed(body, mismatch).map(Body::Proceed),
            other => return Err(format!("unexpected message type {other}")),
        };
        r.map_err(|e| e.to_string())
    }
}

fn arp_table() -> Vec<ArpEntry> {
    vec![
        ArpEntry {
            addr: PEER,
            mac: [0xee, 0x62, 0x2c, 0x35, 0xde, 0x6a],
        },
        ArpEntry {
            addr: Ipv4Addr::new(192, 0, 2, 1),
            mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
        },
    ]
}

/// A STATE with VIFs held at several priorities, and a BALANCE: built by
/// the codec, since the engine sends them only deep in a scenario.
fn held_state() -> StateBody {
    StateBody {
        group_id: GroupId::from_raw([0xc000_0201, 0x7fff_fffe, 0x0102_0304]),
        identity: PEER,
        index: 1,
        mature: true,
        held: vec![
            (VIFS[0], ClaimPriority::Claimed),
            (VIFS[2], ClaimPriority::PreferClaimed),
        ],
        preferred: vec![VIFS[2], VIFS[1]],
    }
}

fn moves() -> Vec<Move> {
    vec![
        Move {
            owner: PEER,
            vif: VIFS[1],
        },
        Move {
            owner: IDENTITY,
            vif: VIFS[2],
        },
    ]
}

/// The messages and the values each carries, in the order written.
fn expected() -> Vec<Body> {
    vec![
        Body::State(StateBody {
            group_id: GROUP_ID,
            identity: IDENTITY,
            index: 0,
            mature: false,
            held: Vec::new(),
            preferred: vec![VIFS[1]],
        }),
        Body::Maturing,
        Body::ArpCache(arp_table()),
        Body::Proceed(GROUP_ID),
        Body::State(held_state()),
        Body::Balance(moves()),
    ]
}

/// The bodies this build sends: the first four from a real engine (its
/// STATE answering a view, MATURING, the shared ARP table, PROCEED when a
/// member stays silent), then the codec-built ones. The engine's HOLDING
/// (newer than the recordings) is left out; the codec's unit tests build
/// it and RELEASED in both byte orders by hand.
fn encoded_bodies() -> Vec<(i16, Vec<u8>)> {
    let mut engine = Engine::new(Settings {
        identity: IDENTITY,
        vifs: VIFS.to_vec(),
        preferred: vec![VIFS[1]],
        mature: Duration::from_secs(5),
        balance: Balance::default(),
        state_wait: Duration::from_secs(10),
        arp_cache_interval: Duration::from_secs(90),
        release_unservable: false,
    });
    let mut sent = Vec::new();
    let inputs = [
        Input::Connected,
        Input::View(View {
            group_id: GROUP_ID,
            members: vec![ME.into(), "#n2#h2".into()],
            my_index: 0,
        }),
        Input::TimerFired(Timer::Maturity),
        Input::LocalArpTable(arp_table()),
        Input::TimerFired(Timer::StateWait),
    ];
    for input in inputs {
        for out in engine.handle(input) {
            if let Output::Multicast {
                mess_type, body, ..
            } = out
            {
                if mess_type == mess_type::HOLDING {
                    continue;
                }
                sent.push((mess_type, body));
            }
        }
    }
    sent.push((mess_type::STATE, held_state().encode()));
    sent.push((mess_type::BALANCE, codec::encode_balance(&moves())));
    sent
}

/// This build's file: every body in a Spread frame and in a membership
/// payload.
fn encode_file() -> Vec<u8> {
    let mut file = Vec::new();
    let mut record = |bytes: &[u8]| {
        file.extend_from_slice(&u32::try_from(bytes.len()).expect("small").to_be_bytes());
        file.extend_from_slice(bytes);
    };
    for (t, body) in encoded_bodies() {
        let frame = encode_frame(
            ByteOrder::native(),
            &Outgoing {
                service_type: service_bits::AGREED,
                sender: ME,
                groups: &[GROUP],
                mess_type: t,
                original_type: None,
                body: &body,
            },
        )
        .expect("encodes");
        record(&frame);
        record(&bridge::encode(t, &body));
    }
    file
}

fn records(file: &[u8], path: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = file;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .unwrap_or_else(|| panic!("{}: a record length is cut short", path.display()));
        let len = u32::from_be_bytes(*len) as usize;
        assert!(
            len <= tail.len(),
            "{}: a record of {len} bytes runs past the end",
            path.display()
        );
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

/// Decodes the file of a build of `order` and checks every value.
fn check_file(path: &Path, order: ByteOrder) {
    let file = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records = records(&file, path);
    let expected = expected();
    assert_eq!(
        records.len(),
        2 * expected.len(),
        "{}: records",
        path.display()
    );
    let mismatch = order != ByteOrder::native();
    for (i, (want, pair)) in expected.iter().zip(records.chunks(2)).enumerate() {
        let at = format!("{} message {i} ({:?})", path.display(), want.mess_type());
        // Through Spread, as the daemon hands it on.
        let (frame, used) = decode_frame(&pair[0]).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(used, pair[0].len(), "{at}: frame length");
        let Ok(SessionEvent::Message(m)) = SessionEvent::from_frame(frame, "#me#host") else {
            panic!("{at}: not a message");
        };
        assert_eq!(m.sender, ME, "{at}");
        assert_eq!(m.mess_type, want.mess_type(), "{at}");
        assert_eq!(
            m.endian_mismatch, mismatch,
            "{at}: Spread's endian mismatch"
        );
        let got = Body::decode(m.mess_type, &m.body, m.endian_mismatch);
        assert_eq!(got.as_ref(), Ok(want), "{at}: through Spread");
        // Through the built-in membership.
        let (t, flag, body) = bridge::decode(&pair[1]).unwrap_or_else(|| panic!("{at}: payload"));
        assert_eq!(t, want.mess_type(), "{at}");
        assert_eq!(flag, mismatch, "{at}: the membership's endian flag");
        assert_eq!(body, m.body, "{at}: the same body both ways");
        let got = Body::decode(t, body, flag);
        assert_eq!(got.as_ref(), Ok(want), "{at}: through the membership");
    }
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[test]
fn bodies_encode_as_recorded_for_this_byte_order() {
    let ours = encode_file();
    let name = format!("{}.bin", order_name(ByteOrder::native()));
    if let Some(dir) = env_dir("WACKAMOLE_ENDIAN_WRITE") {
        std::fs::create_dir_all(&dir).expect("create the exchange directory");
        std::fs::write(dir.join(&name), &ours).expect("write the exchange file");
    }
    let recorded = Path::new(RECORDINGS).join(&name);
    let recorded = std::fs::read(&recorded).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        ours == recorded,
        "this build encodes its bodies otherwise than tests/data/endian/{name}"
    );
    // And this build reads its own bytes back.
    check_file(&Path::new(RECORDINGS).join(&name), ByteOrder::native());
}

#[test]
fn bodies_of_either_byte_order_decode_to_the_values_sent() {
    let (dir, required) = match env_dir("WACKAMOLE_ENDIAN_READ") {
        Some(dir) => (dir, false),
        None => (PathBuf::from(RECORDINGS), true),
    };
    let mut checked = Vec::new();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let path = dir.join(format!("{}.bin", order_name(order)));
        if required || path.exists() {
            check_file(&path, order);
            checked.push(order_name(order));
        }
    }
    assert!(
        !checked.is_empty(),
        "no little.bin or big.bin in {} to decode",
        dir.display()
    );
    eprintln!("decoded the bodies of {checked:?} in {}", dir.display());
}
