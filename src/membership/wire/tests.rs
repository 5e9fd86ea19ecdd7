use super::*;
use crate::testutil::allocations;
use std::net::Ipv4Addr;

fn key() -> Key {
    Key::new(b"0123456789abcdef").expect("a 16-byte key")
}

/// Bytes from hex digits; spaces are ignored, and so is the rest of a line
/// after `//`.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .flat_map(|line| line.split("//").next().unwrap_or_default().bytes())
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
            u8::from_str_radix(pair, 16).expect("two hex digits")
        })
        .collect()
}

fn header() -> Header {
    Header {
        digest: [0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8],
        sender: 4,
        destination: 0,
        incarnation: 1_700_000_000_000_000,
        counter: 77,
    }
}

/// Relayed entries: (node, incarnation, age in units).
fn relayed(entries: &[(u8, u64, u16)]) -> Relayed {
    let mut relayed = Relayed::default();
    for &(node, incarnation, units) in entries {
        relayed.insert(node, incarnation, RELAYED_AGE_UNIT * u32::from(units));
    }
    relayed
}

fn view(ltime: u64) -> ViewId {
    ViewId {
        ltime,
        coordinator: 2,
        incarnation: 0xDEAD_BEEF,
    }
}

fn members(n: u8) -> Vec<Member> {
    (0..n)
        .map(|node| Member {
            node,
            incarnation: 1_000 + u64::from(node),
        })
        .collect()
}

fn message(seq: u32, payload_len: usize) -> Sequenced {
    Sequenced {
        seq,
        origin: (seq % 32) as u8,
        local: seq.wrapping_mul(3),
        payload: (0..payload_len).map(|i| (i % 251) as u8).collect(),
    }
}

/// One body or more of every kind, with the boundary values of each field.
fn samples() -> Vec<Body> {
    let max_view = ViewId {
        ltime: MAX_LTIME,
        coordinator: u8::MAX,
        incarnation: u64::MAX,
    };
    vec![
        Body::Heartbeat(Heartbeat {
            hears: 0,
            reach: 0,
            choice: None,
            view: None,
            delivered: 0,
            sequenced: 0,
            stable: 0,
            max_ltime: 0,
            sent: 0,
            echo: None,
            wants_answers: false,
            relayed: Relayed::default(),
        }),
        Body::Heartbeat(Heartbeat {
            hears: u32::MAX,
            reach: u32::MAX,
            choice: Some(31),
            view: Some(max_view),
            delivered: u32::MAX,
            sequenced: u32::MAX,
            stable: u32::MAX,
            max_ltime: MAX_LTIME,
            sent: u64::MAX,
            echo: Some(Echo {
                incarnation: u64::MAX,
                sent: u64::MAX,
                in_view: true,
            }),
            wants_answers: true,
            relayed: Relayed {
                nodes: u32::MAX,
                incarnations: [u64::MAX; 32],
                ages: [u16::MAX; 32],
            },
        }),
        Body::Heartbeat(Heartbeat {
            hears: 0b1011,
            reach: 0b1,
            choice: Some(0),
            view: Some(view(1)),
            delivered: 1,
            sequenced: 2,
            stable: 1,
            max_ltime: 1,
            sent: 1,
            echo: Some(Echo {
                incarnation: 1,
                sent: 0,
                in_view: false,
            }),
            wants_answers: false,
            relayed: relayed(&[(1, 7, 0), (3, 1, 1)]),
        }),
        Body::Propose {
            proposal: view(5),
            members: Vec::new(),
        },
        Body::Propose {
            proposal: max_view,
            members: members(32),
        },
        Body::Flush {
            proposal: view(9),
            old_view: None,
            delivered: 0,
            max_ltime: 9,
            messages: Vec::new(),
        },
        Body::Flush {
            proposal: view(9),
            old_view: Some(view(5)),
            delivered: 3,
            max_ltime: MAX_LTIME,
            messages: vec![message(4, 0), message(5, MAX_PAYLOAD), message(6, 1)],
        },
        Body::Install {
            view: view(9),
            members: members(32),
            old_view: Some(view(5)),
            cut: 6,
            messages: vec![message(4, 0), message(5, MAX_PAYLOAD)],
        },
        Body::Install {
            view: view(9),
            members: members(1),
            old_view: None,
            cut: 0,
            messages: Vec::new(),
        },
        Body::Data {
            view: view(9),
            local: 0,
            payload: Vec::new(),
        },
        Body::Data {
            view: view(9),
            local: u32::MAX,
            payload: vec![0xAB; MAX_PAYLOAD],
        },
        Body::Sequenced {
            view: view(9),
            message: message(1, 0),
        },
        Body::Sequenced {
            view: max_view,
            message: message(u32::MAX, MAX_PAYLOAD),
        },
        Body::Leave,
    ]
}

/// Samples small enough to flip every bit of, or cut at every length.
fn small_samples() -> Vec<Body> {
    samples()
        .into_iter()
        .filter(|body| encoded_len(body) < 1_000)
        .collect()
}

fn body_bytes(body: &Body) -> Vec<u8> {
    let mut out = Vec::new();
    body::write(&mut out, body);
    out
}

/// A datagram of arbitrary bytes before the tag, correctly signed.
fn signed(key: &Key, unsigned: &[u8]) -> Vec<u8> {
    let mut out = unsigned.to_vec();
    out.extend_from_slice(&key.tag(unsigned));
    out
}

/// The unsigned header of a datagram of kind `kind`.
fn raw_header(kind: u8) -> Vec<u8> {
    let mut out = encode(&key(), &header(), &Body::Leave);
    out.truncate(HEADER_LEN);
    out[3] = kind;
    out
}

#[test]
fn every_kind_round_trips_with_boundary_values() {
    let key = key();
    let mut kinds = Vec::new();
    for body in samples() {
        let datagram = encode(&key, &header(), &body);
        assert_eq!(datagram.len(), encoded_len(&body), "{body:?}");
        assert!(datagram.len() <= MAX_DATAGRAM);
        let opened = open(&key, &datagram).expect("a datagram we made opens");
        assert_eq!(opened.header, header());
        assert_eq!(opened.kind, body.kind().byte());
        assert_eq!(decode_body(opened.kind, opened.body), Ok(body.clone()));
        kinds.push(body.kind());
    }
    kinds.dedup();
    assert_eq!(kinds.len(), 7, "every kind is sampled: {kinds:?}");
}

#[test]
fn heartbeat_is_laid_out_byte_for_byte() {
    let header = Header {
        digest: [1, 2, 3, 4, 5, 6, 7, 8],
        sender: 3,
        destination: 5,
        incarnation: 0x1122_3344_5566_7788,
        counter: 42,
    };
    let body = Body::Heartbeat(Heartbeat {
        hears: 0b1011,
        reach: 0b1001,
        choice: Some(0),
        view: Some(ViewId {
            ltime: 256,
            coordinator: 0,
            incarnation: 0x99AA_BBCC_DDEE_FF00,
        }),
        delivered: 7,
        sequenced: 9,
        stable: 5,
        max_ltime: 0x102,
        sent: 0x0304,
        echo: Some(Echo {
            incarnation: 0x1234,
            sent: 0x0506,
            in_view: true,
        }),
        wants_answers: true,
        relayed: relayed(&[(1, 0x77, 0x0203), (4, 0x88, 0)]),
    });
    let expected = hex("574D 03 01             // magic, version, kind
         0102030405060708       // digest (offset 4)
         03 05                  // sender, destination (12, 13)
         1122334455667788       // incarnation (14)
         000000000000002A       // counter (22)
         0000000B 00000009      // hears, reach (30, 34)
         00                     // choice (38)
         0000000000000100 00 99AABBCCDDEEFF00   // view id (39)
         00000007 00000009 00000005             // delivered, sequenced, stable (56)
         0000000000000102                       // max ltime (68)
         0000000000000304                       // send time (76)
         0000000000001234 0000000000000506 01   // echo: incarnation, send time, flag (84)
         01                                     // flags: answers wanted (101)
         00000012                               // relayed bitmap: nodes 1 and 4 (102)
         0000000000000077 0203                  // node 1: incarnation, age (106)
         0000000000000088 0000                  // node 4 (116)
         65438bd214dffab8179105104314f3cc3b3b21e9eccbd4e571102c8a3af6b7f7   // MAC (126)");
    assert_eq!(expected.len(), 158);
    assert_eq!(encode(&key(), &header, &body), expected);
    let opened = open(&key(), &expected).expect("the expected datagram opens");
    assert_eq!(opened.header, header);
    assert_eq!(decode_body(opened.kind, opened.body), Ok(body));
}

#[test]
fn fixed_parts_have_the_documented_sizes() {
    let empty = |body: Body| {
        assert_eq!(body_bytes(&body).len() + MIN_DATAGRAM, encoded_len(&body));
        encoded_len(&body) - MIN_DATAGRAM
    };
    assert_eq!(empty(samples()[0].clone()), 76);
    assert_eq!(
        empty(Body::Propose {
            proposal: view(1),
            members: Vec::new()
        }),
        18
    );
    assert_eq!(
        empty(Body::Flush {
            proposal: view(1),
            old_view: None,
            delivered: 0,
            max_ltime: 0,
            messages: Vec::new()
        }),
        48
    );
    assert_eq!(
        empty(Body::Install {
            view: view(1),
            members: Vec::new(),
            old_view: None,
            cut: 0,
            messages: Vec::new()
        }),
        41
    );
    assert_eq!(
        empty(Body::Data {
            view: view(1),
            local: 0,
            payload: Vec::new()
        }),
        23
    );
    assert_eq!(
        empty(Body::Sequenced {
            view: view(1),
            message: message(1, 0)
        }),
        17 + MESSAGE_OVERHEAD
    );
    assert_eq!(empty(Body::Leave), 0);
}

#[test]
fn the_key_is_hmac_sha256() {
    // RFC 4231, test case 1.
    let key = Key::new(&[0x0b; 20]).expect("a 20-byte key");
    assert_eq!(
        key.tag(b"Hi There").to_vec(),
        hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
}

#[test]
fn short_keys_are_refused() {
    assert_eq!(
        Key::new(&[7; 15]).map(|_| ()),
        Err(KeyError::TooShort { len: 15 })
    );
    assert_eq!(
        Key::new(b"").map(|_| ()),
        Err(KeyError::TooShort { len: 0 })
    );
    assert!(Key::new(&[7; MIN_KEY_LEN]).is_ok());
    assert_eq!(
        KeyError::TooShort { len: 5 }.to_string(),
        "the cluster key has 5 bytes; it needs at least 16"
    );
}

#[test]
fn debug_does_not_show_the_secret() {
    let shown = format!(
        "{:?}",
        Key::new(b"very secret password").expect("long enough")
    );
    assert_eq!(shown, "Key { .. }");
}

#[test]
fn cluster_digest_covers_addresses_ports_and_order() {
    let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4803);
    let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 4803);
    // Expected values from sha256sum over the hand-written bytes
    // 0a000001 12c3 0a000002 12c3 (and the reverse order).
    assert_eq!(cluster_digest(&[a, b]).to_vec(), hex("8cdbf46b5f9616c9"));
    assert_eq!(cluster_digest(&[b, a]).to_vec(), hex("25de6c61ecc98267"));
    assert_eq!(cluster_digest(&[]).to_vec(), hex("e3b0c44298fc1c14"));
    let other_port = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 4804);
    assert_ne!(cluster_digest(&[a, other_port]), cluster_digest(&[a, b]));
}

mod hostile;
mod keys;
