//! The bodies against hand-built bytes, in both byte orders.

use std::net::Ipv4Addr;

use super::*;

fn sample_state() -> StateBody {
    StateBody {
        group_id: GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]),
        identity: Ipv4Addr::new(10, 99, 0, 1),
        index: 0,
        mature: true,
        held: vec![
            (Ipv4Addr::new(10, 99, 0, 101), ClaimPriority::Claimed),
            (Ipv4Addr::new(10, 99, 0, 102), ClaimPriority::PreferClaimed),
        ],
        preferred: vec![Ipv4Addr::new(10, 99, 0, 102)],
    }
}

#[test]
fn state_round_trips() {
    let s = sample_state();
    assert_eq!(StateBody::decode(&s.encode(), false), Ok(s));
}

/// `value` as a host of the other byte order writes it.
fn foreign_int(value: i32) -> [u8; 4] {
    let mut bytes = value.to_ne_bytes();
    bytes.reverse();
    bytes
}

#[test]
fn state_from_other_byte_order_swaps_its_integers_not_its_addresses() {
    let s = sample_state();
    // Built field by field as a host of the other order writes it.
    let mut foreign = Vec::new();
    for part in s.group_id.raw() {
        foreign.extend_from_slice(&foreign_int(part as i32));
    }
    foreign.extend_from_slice(&[10, 99, 0, 1]);
    foreign.extend_from_slice(&foreign_int(0));
    foreign.extend_from_slice(&foreign_int(1));
    foreign.extend_from_slice(&foreign_int(2));
    foreign.extend_from_slice(&[10, 99, 0, 101]);
    foreign.extend_from_slice(&foreign_int(2));
    foreign.extend_from_slice(&[10, 99, 0, 102]);
    foreign.extend_from_slice(&foreign_int(5));
    foreign.extend_from_slice(&foreign_int(1));
    foreign.extend_from_slice(&[10, 99, 0, 102]);
    assert_eq!(StateBody::decode(&foreign, true), Ok(s.clone()));
    // Told no mismatch, the same bytes read as nonsense counts.
    assert!(StateBody::decode(&foreign, false).is_err());
}

#[test]
fn balance_and_proceed_from_other_byte_order_keep_their_addresses() {
    let mut foreign = foreign_int(1).to_vec();
    foreign.extend_from_slice(&[10, 99, 0, 2, 10, 99, 0, 101]);
    let balance = decode_balance(&foreign, true).expect("decodes");
    assert_eq!(
        balance.moves,
        vec![Move {
            owner: Ipv4Addr::new(10, 99, 0, 2),
            vif: Ipv4Addr::new(10, 99, 0, 101),
        }]
    );
    assert_eq!(balance.announced, 1);
    let gid = GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]);
    let foreign: Vec<u8> = gid
        .raw()
        .iter()
        .flat_map(|&g| foreign_int(g as i32))
        .collect();
    assert_eq!(decode_proceed(&foreign, true), Ok(gid));
}

#[test]
fn state_with_oversized_count_is_rejected() {
    let mut body = sample_state().encode();
    // held count lives at byte 24
    body[24..28].copy_from_slice(&1000i32.to_ne_bytes());
    let err = StateBody::decode(&body, false).unwrap_err();
    assert!(matches!(err, CodecError::BadCount { count: 1000, .. }));
    assert!(err
        .to_string()
        .contains("STATE body announces 1000 held VIFs"));
}

#[test]
fn state_with_negative_count_is_rejected() {
    let mut body = sample_state().encode();
    body[24..28].copy_from_slice(&(-1i32).to_ne_bytes());
    assert!(matches!(
        StateBody::decode(&body, false),
        Err(CodecError::BadCount { count: -1, .. })
    ));
}

#[test]
fn state_with_unknown_priority_is_rejected() {
    let mut body = sample_state().encode();
    body[32..36].copy_from_slice(&9i32.to_ne_bytes());
    assert_eq!(
        StateBody::decode(&body, false),
        Err(CodecError::UnknownPriority {
            offset: 32,
            value: 9
        })
    );
}

#[test]
fn truncated_and_padded_states_are_rejected() {
    let body = sample_state().encode();
    for cut in 0..body.len() {
        assert!(StateBody::decode(&body[..cut], false).is_err(), "cut {cut}");
    }
    let mut longer = body.clone();
    longer.push(0);
    assert!(matches!(
        StateBody::decode(&longer, false),
        Err(CodecError::TrailingBytes { .. })
    ));
}

#[test]
fn balance_round_trips() {
    let moves = vec![Move {
        owner: Ipv4Addr::new(10, 99, 0, 2),
        vif: Ipv4Addr::new(10, 99, 0, 101),
    }];
    let body = encode_balance(&moves);
    assert_eq!(
        decode_balance(&body, false),
        Ok(BalanceBody {
            moves,
            announced: 1
        })
    );
    assert_eq!(
        decode_balance(&encode_balance(&[]), false),
        Ok(BalanceBody {
            moves: vec![],
            announced: 0
        })
    );
    assert!(decode_balance(&[], false).is_err());
}

#[test]
fn balance_announcing_more_than_it_carries_yields_the_pairs_present() {
    let moves = vec![Move {
        owner: Ipv4Addr::new(10, 99, 0, 2),
        vif: Ipv4Addr::new(10, 99, 0, 101),
    }];
    // A C leader with AcquisitionsPerRound 3 that made one move.
    let mut short = encode_balance(&moves);
    short[0..4].copy_from_slice(&3i32.to_ne_bytes());
    assert_eq!(
        decode_balance(&short, false),
        Ok(BalanceBody {
            moves,
            announced: 3
        })
    );
    // ... or none at all.
    let empty = 2i32.to_ne_bytes();
    let decoded = decode_balance(&empty, false).expect("decodes");
    assert_eq!((decoded.moves.len(), decoded.announced), (0, 2));
}

#[test]
fn malformed_balances_are_rejected() {
    let body = encode_balance(&[Move {
        owner: Ipv4Addr::new(10, 99, 0, 2),
        vif: Ipv4Addr::new(10, 99, 0, 101),
    }]);
    let mut negative = body.clone();
    negative[0..4].copy_from_slice(&(-1i32).to_ne_bytes());
    let err = decode_balance(&negative, false).unwrap_err();
    assert_eq!(
        err,
        CodecError::BadCount {
            kind: BodyKind::Balance,
            field: "moves",
            count: -1,
            room: 1
        }
    );
    assert!(err.to_string().contains("BALANCE body announces -1 moves"));
    let mut partial = body.clone();
    partial.push(0);
    assert!(matches!(
        decode_balance(&partial, false),
        Err(CodecError::TrailingBytes { offset: 12, .. })
    ));
    let mut beyond = body.clone();
    beyond[0..4].copy_from_slice(&0i32.to_ne_bytes());
    assert!(matches!(
        decode_balance(&beyond, false),
        Err(CodecError::TrailingBytes { offset: 4, .. })
    ));
}

#[test]
fn arp_cache_round_trips_and_rejects_partial_entries() {
    let entries = vec![ArpEntry {
        addr: Ipv4Addr::new(10, 99, 0, 2),
        mac: [0xee, 0x62, 0x2c, 0x35, 0xde, 0x6a],
    }];
    let body = encode_arp_cache(&entries);
    assert_eq!(body.len(), 12);
    assert_eq!(decode_arp_cache(&body), Ok(entries));
    assert_eq!(decode_arp_cache(&[]), Ok(vec![]));
    assert!(decode_arp_cache(&body[..11]).is_err());
}

#[test]
fn maturing_must_be_empty_and_proceed_carries_a_group_id() {
    assert_eq!(decode_maturing(&[]), Ok(()));
    assert!(decode_maturing(&[1]).is_err());
    let gid = GroupId::from_raw([1, 2, 3]);
    assert_eq!(decode_proceed(&encode_proceed(gid), false), Ok(gid));
    assert!(decode_proceed(&[0; 8], false).is_err());
}

#[test]
fn body_decodes_each_type_to_its_variant_and_reports_the_others() {
    let s = sample_state();
    let gid = s.group_id;
    let vif = Ipv4Addr::new(10, 99, 0, 101);
    let list = VifList {
        group_id: gid,
        vifs: vec![vif],
    };
    let health = HealthBody {
        group_id: gid,
        healthy: true,
        vifs: vec![true, false],
        releases_unservable: false,
    };
    let entry = ArpEntry {
        addr: vif,
        mac: [2; 6],
    };
    let moves = [Move { owner: vif, vif }];
    for (kind, body, expected) in [
        (mess_type::STATE, s.encode(), Body::State(s.clone())),
        (mess_type::MATURING, vec![], Body::Maturing),
        (
            mess_type::BALANCE,
            encode_balance(&moves),
            Body::Balance(BalanceBody {
                moves: moves.to_vec(),
                announced: 1,
            }),
        ),
        (mess_type::OPERATOR, vec![1, 2, 3], Body::Operator),
        (
            mess_type::ARPCACHE,
            encode_arp_cache(&[entry]),
            Body::ArpCache(vec![entry]),
        ),
        (mess_type::PROCEED, encode_proceed(gid), Body::Proceed(gid)),
        (
            mess_type::HOLDING,
            encode_holding(gid, &[vif]),
            Body::Holding(list.clone()),
        ),
        (
            mess_type::RELEASED,
            encode_released(gid, &[vif]),
            Body::Released(list),
        ),
        (
            mess_type::HEALTH,
            encode_health(gid, true, &[true, false], false),
            Body::Health(health),
        ),
        (42, vec![9; 7], Body::Unknown(42)),
    ] {
        assert_eq!(
            Body::decode(kind, &body, false, 2),
            Ok(expected),
            "type {kind}"
        );
    }
    // A malformed body is its decoder's error, naming the message.
    assert_eq!(
        Body::decode(mess_type::MATURING, &[0], false, 2),
        Err(CodecError::TrailingBytes {
            kind: BodyKind::Maturing,
            offset: 0,
            len: 1
        })
    );
    assert!(matches!(
        Body::decode(
            mess_type::HEALTH,
            &encode_health(gid, true, &[true], false),
            false,
            2
        ),
        Err(CodecError::VifCount { ours: 2, .. })
    ));
}
