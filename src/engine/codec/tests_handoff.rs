//! HOLDING and RELEASED against hand-built bytes, in both byte orders,
//! and hostile bodies.

use std::net::Ipv4Addr;

use super::*;

const GID: GroupId = GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]);
const A: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 101);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);

fn sample() -> VifList {
    VifList {
        group_id: GID,
        vifs: vec![A, B],
    }
}

#[test]
fn holding_and_released_round_trip_with_the_documented_layout() {
    let body = encode_released(GID, &[A, B]);
    let mut by_hand = Vec::new();
    for part in GID.raw() {
        by_hand.extend_from_slice(&(part as i32).to_ne_bytes());
    }
    by_hand.extend_from_slice(&2i32.to_ne_bytes());
    by_hand.extend_from_slice(&[10, 99, 0, 101, 192, 0, 2, 7]);
    assert_eq!(body, by_hand);
    assert_eq!(encode_holding(GID, &[A, B]), body, "one layout for both");
    assert_eq!(decode_released(&body, false), Ok(sample()));
    assert_eq!(decode_holding(&body, false), Ok(sample()));
    let empty = encode_holding(GID, &[]);
    assert_eq!(empty.len(), 16);
    assert_eq!(
        decode_holding(&empty, false),
        Ok(VifList {
            group_id: GID,
            vifs: vec![]
        })
    );
}

#[test]
fn a_peer_of_the_other_byte_order_has_its_integers_swapped_not_its_addresses() {
    let swapped = |v: i32| {
        let mut b = v.to_ne_bytes();
        b.reverse();
        b
    };
    let mut foreign = Vec::new();
    for part in GID.raw() {
        foreign.extend_from_slice(&swapped(part as i32));
    }
    foreign.extend_from_slice(&swapped(2));
    foreign.extend_from_slice(&[10, 99, 0, 101, 192, 0, 2, 7]);
    assert_eq!(decode_released(&foreign, true), Ok(sample()));
    assert_eq!(decode_holding(&foreign, true), Ok(sample()));
    assert!(decode_released(&foreign, false).is_err(), "count misread");
}

#[test]
fn short_bodies_are_rejected_naming_the_field() {
    let body = encode_released(GID, &[A, B]);
    for cut in 0..body.len() {
        let err = decode_released(&body[..cut], false).unwrap_err();
        assert!(err.to_string().starts_with("RELEASED body"), "{err}");
    }
    assert_eq!(
        decode_holding(&body[..14], false),
        Err(CodecError::Truncated {
            kind: BodyKind::Holding,
            field: "VIFs",
            offset: 12,
            len: 14
        })
    );
}

#[test]
fn counts_beyond_the_bytes_or_negative_are_rejected() {
    let mut body = encode_released(GID, &[A]);
    body[12..16].copy_from_slice(&2i32.to_ne_bytes());
    let err = decode_released(&body, false).unwrap_err();
    assert_eq!(
        err,
        CodecError::BadCount {
            kind: BodyKind::Released,
            field: "VIFs",
            count: 2,
            room: 1
        }
    );
    assert!(err.to_string().contains("RELEASED body announces 2 VIFs"));
    body[12..16].copy_from_slice(&(-1i32).to_ne_bytes());
    assert!(matches!(
        decode_released(&body, false),
        Err(CodecError::BadCount { count: -1, .. })
    ));
    body[12..16].copy_from_slice(&i32::MAX.to_ne_bytes());
    assert!(matches!(
        decode_holding(&body, false),
        Err(CodecError::BadCount { .. })
    ));
}

#[test]
fn trailing_bytes_and_repeated_vifs_are_rejected() {
    let mut longer = encode_released(GID, &[A]);
    longer.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode_released(&longer, false),
        Err(CodecError::TrailingBytes {
            kind: BodyKind::Released,
            offset: 20,
            len: 22
        })
    );
    let twice = encode_released(GID, &[A, B, A]);
    let err = decode_released(&twice, false).unwrap_err();
    assert_eq!(
        err,
        CodecError::RepeatedAddress {
            kind: BodyKind::Released,
            offset: 24,
            addr: A
        }
    );
    assert!(err.to_string().contains("lists 10.99.0.101 a second time"));
}
