//! Hostile and broken datagrams: flipped bits, truncations, wrong keys,
//! oversized counts and mangled bodies are refused without panic or
//! allocation beyond bounds, and the errors say what is wrong.

use super::*;

#[test]
fn every_single_bit_flip_is_refused() {
    let key = key();
    for body in small_samples() {
        let datagram = encode(&key, &header(), &body);
        for bit in 0..datagram.len() * 8 {
            let mut flipped = datagram.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let refusal = open(&key, &flipped).expect_err("a flipped bit is refused");
            let expected = match bit / 8 {
                0 | 1 => WireError::BadMagic {
                    found: u16::from_be_bytes([flipped[0], flipped[1]]),
                },
                2 => WireError::BadVersion { found: flipped[2] },
                _ => WireError::BadMac,
            };
            assert_eq!(refusal, expected, "bit {bit} of {body:?}");
        }
    }
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let key = key();
    for body in small_samples() {
        let datagram = encode(&key, &header(), &body);
        for len in 0..datagram.len() {
            let refusal = open(&key, &datagram[..len]).expect_err("a cut datagram is refused");
            let expected = if len < MIN_DATAGRAM {
                WireError::TooShort { len }
            } else {
                WireError::BadMac
            };
            assert_eq!(refusal, expected, "cut at {len}: {body:?}");
        }
    }
    // A shortened body signed again passes the MAC: the layout refuses it.
    for body in samples() {
        let bytes = body_bytes(&body);
        for len in 0..bytes.len() {
            let refusal = decode_body(body.kind().byte(), &bytes[..len]);
            assert!(refusal.is_err(), "cut at {len}: {body:?}");
        }
    }
}

#[test]
fn datagram_length_bounds() {
    let key = key();
    assert_eq!(open(&key, &[0; 12]), Err(WireError::TooShort { len: 12 }));
    let mut longest = raw_header(Kind::Data.byte());
    longest.resize(MAX_DATAGRAM - MAC_LEN, 0);
    let longest = signed(&key, &longest);
    assert_eq!(longest.len(), MAX_DATAGRAM);
    assert!(open(&key, &longest).is_ok());
    let mut too_long = longest;
    too_long.push(0);
    assert_eq!(
        open(&key, &too_long),
        Err(WireError::TooLong {
            len: MAX_DATAGRAM + 1
        })
    );
}

#[test]
fn magic_and_version_are_checked_before_the_mac() {
    let key = key();
    let mut datagram = encode(&key, &header(), &Body::Leave);
    assert_eq!(datagram[2], 3, "this release speaks version 3");
    // Nodes of the releases before (versions 1 and 2) are refused by
    // version.
    for older in [1, 2] {
        datagram[2] = older;
        assert_eq!(
            open(&key, &datagram),
            Err(WireError::BadVersion { found: older })
        );
    }
    datagram[0] = b'S';
    assert_eq!(
        open(&key, &datagram),
        Err(WireError::BadMagic { found: 0x534D })
    );
}

#[test]
fn a_wrong_key_is_refused() {
    let datagram = encode(&key(), &header(), &samples()[2]);
    let other = Key::new(b"0123456789abcdeF").expect("a 16-byte key");
    let refusal = open(&other, &datagram).expect_err("another key does not open it");
    assert_eq!(refusal, WireError::BadMac);
    assert_eq!(refusal.reason(), Refusal::BadMac);
}

#[test]
fn trailing_bytes_are_refused() {
    let key = key();
    for body in samples() {
        let mut unsigned = encode(&key, &header(), &body);
        unsigned.truncate(unsigned.len() - MAC_LEN);
        unsigned.push(0);
        let datagram = signed(&key, &unsigned);
        let opened = open(&key, &datagram).expect("the MAC is right");
        assert_eq!(
            decode_body(opened.kind, opened.body),
            Err(WireError::TrailingBytes {
                kind: body.kind(),
                extra: 1
            })
        );
    }
}

#[test]
fn unknown_kinds_are_refused() {
    for kind in [0, 8, 0xFF] {
        assert_eq!(decode_body(kind, &[]), Err(WireError::UnknownKind { kind }));
    }
    // The kind is authenticated but only checked with the body.
    let key = key();
    let datagram = signed(&key, &raw_header(8));
    let opened = open(&key, &datagram).expect("the frame is valid");
    assert_eq!(opened.kind, 8);
    assert_eq!(
        decode_body(opened.kind, opened.body),
        Err(WireError::UnknownKind { kind: 8 })
    );
}

#[test]
fn oversized_counts_are_refused_before_allocating() {
    let kind = Kind::Flush;
    let mut flush = body_bytes(&Body::Flush {
        proposal: view(9),
        old_view: None,
        delivered: 0,
        max_ltime: 9,
        messages: Vec::new(),
    });
    let count_at = flush.len() - 2;
    flush[count_at..].copy_from_slice(&60_000u16.to_be_bytes());
    flush.extend_from_slice(&[0; 40]);
    let (refusal, allocated) = allocations::during(|| decode_body(kind.byte(), &flush));
    let refusal = refusal.expect_err("60000 messages do not fit 40 bytes");
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal.to_string(),
        "FLUSH announces 60000 messages but only 40 bytes follow (each takes at least 11)"
    );
    assert_eq!(refusal.reason(), Refusal::Malformed);

    // 32 members need 288 bytes.
    let mut install = body_bytes(&Body::Install {
        view: view(9),
        members: Vec::new(),
        old_view: None,
        cut: 0,
        messages: Vec::new(),
    });
    install[17] = 32;
    let (refusal, allocated) = allocations::during(|| decode_body(Kind::Install.byte(), &install));
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal,
        Err(WireError::CountExceedsBody {
            kind: Kind::Install,
            items: "members",
            count: 32,
            min_each: 9,
            left: 23
        })
    );

    // More members than a cluster has, even with the bytes for them.
    let mut propose = body_bytes(&Body::Propose {
        proposal: view(9),
        members: Vec::new(),
    });
    propose[17] = 33;
    propose.resize(propose.len() + 33 * 9, 0);
    let (refusal, allocated) = allocations::during(|| decode_body(Kind::Propose.byte(), &propose));
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal,
        Err(WireError::TooManyMembers {
            kind: Kind::Propose,
            count: 33
        })
    );

    // A payload length beyond the limit, with the bytes there.
    let mut data = body_bytes(&Body::Data {
        view: view(9),
        local: 1,
        payload: Vec::new(),
    });
    let len_at = data.len() - 2;
    data[len_at..].copy_from_slice(&(MAX_PAYLOAD as u16 + 1).to_be_bytes());
    data.resize(data.len() + MAX_PAYLOAD + 1, 0);
    let (refusal, allocated) = allocations::during(|| decode_body(Kind::Data.byte(), &data));
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal,
        Err(WireError::PayloadTooLong {
            kind: Kind::Data,
            len: MAX_PAYLOAD + 1
        })
    );

    // A payload length beyond what follows.
    let mut sequenced = body_bytes(&Body::Sequenced {
        view: view(9),
        message: message(1, 0),
    });
    let len_at = sequenced.len() - 2;
    sequenced[len_at..].copy_from_slice(&1_000u16.to_be_bytes());
    sequenced.extend_from_slice(&[0; 10]);
    let (refusal, allocated) =
        allocations::during(|| decode_body(Kind::Sequenced.byte(), &sequenced));
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal,
        Err(WireError::Truncated {
            kind: Kind::Sequenced,
            field: "payload",
            offset: HEADER_LEN + 28,
            needed: 1_000,
            left: 10
        })
    );

    // The same decoding does allocate when the body is valid, so the
    // counts above are real.
    let valid = body_bytes(&samples()[6]);
    let (decoded, allocated) = allocations::during(|| decode_body(Kind::Flush.byte(), &valid));
    assert!(decoded.is_ok());
    assert!(allocated > 0);
}

#[test]
fn opening_does_not_allocate() {
    let key = key();
    let datagram = encode(&key, &header(), &samples()[1]);
    let (opened, allocated) = allocations::during(|| open(&key, &datagram).map(|o| o.kind));
    assert_eq!(opened, Ok(Kind::Heartbeat.byte()));
    assert_eq!(allocated, 0);
}

#[test]
fn view_ids_that_must_be_present_are() {
    // A PROPOSE whose proposal reads as none.
    let mut propose = vec![0; 17];
    propose.push(0);
    assert_eq!(
        decode_body(Kind::Propose.byte(), &propose),
        Err(WireError::MissingView {
            kind: Kind::Propose,
            field: "proposal view id"
        })
    );
    // A "none" with a coordinator set is not one a sender writes.
    let mut heartbeat = body_bytes(&samples()[0]);
    heartbeat[9 + 8] = 1;
    let refusal = decode_body(Kind::Heartbeat.byte(), &heartbeat);
    assert_eq!(
        refusal,
        Err(WireError::BadNoneView {
            kind: Kind::Heartbeat,
            field: "view id"
        })
    );
}

/// An echo is all zeros (none) or names an incarnation; its flag is 0
/// or 1. Any other byte is refused, naming what is wrong.
#[test]
fn echoes_decode_only_canonically() {
    let kind = Kind::Heartbeat.byte();
    let bytes = body_bytes(&samples()[0]);
    // Flags and an empty relayed bitmap follow the echo.
    let echo_at = bytes.len() - 17 - 5;
    let mut with_time = bytes.clone();
    with_time[echo_at + 15] = 9;
    assert_eq!(decode_body(kind, &with_time), Err(WireError::BadNoEcho));
    let mut with_flag = bytes.clone();
    with_flag[echo_at + 16] = 1;
    assert_eq!(decode_body(kind, &with_flag), Err(WireError::BadNoEcho));
    let mut echo = bytes.clone();
    echo[echo_at + 7] = 5;
    echo[echo_at + 15] = 3;
    match decode_body(kind, &echo) {
        Ok(Body::Heartbeat(hb)) => assert_eq!(
            hb.echo,
            Some(Echo {
                incarnation: 5,
                sent: 3,
                in_view: false
            })
        ),
        other => panic!("an echo decodes: {other:?}"),
    }
    for flag in 2..=u8::MAX {
        echo[echo_at + 16] = flag;
        assert_eq!(
            decode_body(kind, &echo),
            Err(WireError::BadEchoFlag { found: flag })
        );
    }
    assert_eq!(
        WireError::BadEchoFlag { found: 7 }.to_string(),
        "HEARTBEAT has an echo flag of 7; only 0 and 1 are defined"
    );
}

/// A heartbeat's flags define bit 0 only; its relayed bitmap announces
/// entries that must all be there, and nothing may follow them.
#[test]
fn heartbeat_flags_and_relayed_entries_decode_only_canonically() {
    let kind = Kind::Heartbeat.byte();
    let bytes = body_bytes(&samples()[0]);
    let flags_at = bytes.len() - 5;
    for flags in 2..=u8::MAX {
        let mut odd = bytes.clone();
        odd[flags_at] = flags;
        assert_eq!(
            decode_body(kind, &odd),
            Err(WireError::BadHeartbeatFlags { found: flags })
        );
    }
    assert_eq!(
        WireError::BadHeartbeatFlags { found: 6 }.to_string(),
        "HEARTBEAT has flags 0x06; only bit 0 (answers wanted) is defined"
    );
    // Every node announced, but no entry follows.
    let mut announced = bytes.clone();
    announced[flags_at + 1..].copy_from_slice(&u32::MAX.to_be_bytes());
    let (refusal, allocated) = allocations::during(|| decode_body(kind, &announced));
    assert_eq!(allocated, 0);
    assert_eq!(
        refusal
            .expect_err("32 entries do not fit 0 bytes")
            .to_string(),
        "HEARTBEAT announces 32 relayed entries but only 0 bytes follow (each takes at least 10)"
    );
    // One entry announced, one given, then a stray byte.
    let mut one = bytes.clone();
    one[flags_at + 1..].copy_from_slice(&0b100u32.to_be_bytes());
    one.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 3]);
    match decode_body(kind, &one) {
        Ok(Body::Heartbeat(hb)) => assert_eq!(
            hb.relayed.entries().collect::<Vec<_>>(),
            vec![(2, 9, RELAYED_AGE_UNIT * 3)]
        ),
        other => panic!("one entry decodes: {other:?}"),
    }
    one.push(0);
    assert!(
        decode_body(kind, &one).is_err(),
        "a stray byte after the entries"
    );
}

/// Found by fuzzing a node: a peer's max ltime of 2^64 - 1 made the
/// node's next proposal overflow (`ltime + 1`), a panic in a debug build
/// and a proposal of ltime 0 ("none") in a release build.
#[test]
fn ltimes_beyond_the_limit_are_refused() {
    let heartbeat = |max_ltime, view_ltime| {
        body_bytes(&Body::Heartbeat(Heartbeat {
            hears: 1,
            reach: 1,
            choice: None,
            view: Some(view(view_ltime)),
            delivered: 0,
            sequenced: 0,
            stable: 0,
            max_ltime,
            sent: 0,
            echo: None,
            wants_answers: false,
            relayed: Relayed::default(),
        }))
    };
    let kind = Kind::Heartbeat.byte();
    assert!(decode_body(kind, &heartbeat(MAX_LTIME, MAX_LTIME)).is_ok());
    for (max_ltime, view_ltime, field) in [
        (u64::MAX, 1, "max ltime"),
        (MAX_LTIME + 1, 1, "max ltime"),
        (1, MAX_LTIME + 1, "view id"),
    ] {
        let refusal = decode_body(kind, &heartbeat(max_ltime, view_ltime)).unwrap_err();
        assert_eq!(refusal.reason(), Refusal::Malformed);
        assert!(refusal.to_string().contains(field), "{refusal}");
    }
    let mut flush = body_bytes(&samples()[5]);
    assert!(matches!(samples()[5], Body::Flush { .. }));
    // The FLUSH's max ltime follows its two view ids and delivered count.
    flush[2 * 17 + 4..2 * 17 + 12].copy_from_slice(&u64::MAX.to_be_bytes());
    let refusal = decode_body(Kind::Flush.byte(), &flush).unwrap_err();
    assert!(refusal.to_string().contains("max ltime"), "{refusal}");
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        WireError::TooShort { len: 12 }.to_string(),
        "datagram of 12 bytes is shorter than the 62-byte minimum"
    );
    assert_eq!(
        WireError::BadMac.to_string(),
        "authentication failed (wrong key or altered datagram)"
    );
    assert_eq!(
        WireError::BadMagic { found: 0x1234 }.to_string(),
        "datagram starts with 0x1234 instead of 0x574D: it is not a membership datagram"
    );
    let cut = decode_body(Kind::Heartbeat.byte(), &[0; 10]).expect_err("10 bytes are too few");
    assert_eq!(
        cut.to_string(),
        "HEARTBEAT ends inside its view id at byte 39 (8 bytes needed, 1 left before the 32-byte MAC)"
    );
    for refusal in [
        WireError::TooShort { len: 1 },
        WireError::TooLong { len: 70_000 },
        WireError::BadMagic { found: 0 },
        WireError::BadVersion { found: 9 },
        WireError::UnknownKind { kind: 9 },
        cut,
    ] {
        assert_eq!(refusal.reason(), Refusal::Malformed, "{refusal}");
    }
}

/// A small deterministic generator (xorshift64*), so failures replay.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mangled_bodies_never_panic_and_decode_only_canonically() {
    let mut noise = Noise(0x5EED_1234_ABCD_0001);
    let originals: Vec<(u8, Vec<u8>)> = small_samples()
        .iter()
        .map(|body| (body.kind().byte(), body_bytes(body)))
        .collect();
    for round in 0..20_000 {
        let (mut kind, original) = originals[round % originals.len()].clone();
        let mut bytes = original;
        match noise.below(4) {
            0 => {
                // Change a few bytes.
                for _ in 0..=noise.below(3) {
                    if !bytes.is_empty() {
                        let at = noise.below(bytes.len());
                        bytes[at] = noise.next() as u8;
                    }
                }
            }
            1 => bytes.truncate(noise.below(bytes.len() + 1)),
            2 => {
                for _ in 0..=noise.below(20) {
                    bytes.push(noise.next() as u8);
                }
            }
            _ => kind = noise.below(9) as u8,
        }
        if let Ok(decoded) = decode_body(kind, &bytes) {
            // Whatever is accepted is exactly what encoding it writes:
            // one body has one layout.
            assert_eq!(body_bytes(&decoded), bytes, "round {round}");
            assert_eq!(decoded.kind().byte(), kind);
        }
    }
}

/// A relayed entry about a node beyond the cluster's list is refused
/// with the rest of the body, as a choice of such a node is.
#[test]
fn relayed_entries_name_listed_nodes_only() {
    let mut hb = match samples()[0].clone() {
        Body::Heartbeat(hb) => hb,
        other => panic!("a heartbeat sample: {other:?}"),
    };
    hb.relayed.insert(2, 9, RELAYED_AGE_UNIT);
    assert!(Body::Heartbeat(hb.clone()).names_listed_nodes(3));
    hb.relayed.insert(3, 9, RELAYED_AGE_UNIT);
    assert!(!Body::Heartbeat(hb.clone()).names_listed_nodes(3));
    assert!(Body::Heartbeat(hb.clone()).names_listed_nodes(4));
    hb.relayed.insert(31, 9, RELAYED_AGE_UNIT);
    assert!(Body::Heartbeat(hb).names_listed_nodes(MAX_NODES));
}
