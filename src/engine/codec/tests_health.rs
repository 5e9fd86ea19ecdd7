//! HEALTH against hand-built bytes, in both byte orders, and hostile
//! bodies.

use super::*;

const GID: GroupId = GroupId::from_raw([0x0a63_0001, 1_795_562_366, 2]);

fn by_hand(order: fn(i32) -> [u8; 4], flags: i32, count: i32, bitmap: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in GID.raw() {
        body.extend_from_slice(&order(part as i32));
    }
    body.extend_from_slice(&order(flags));
    body.extend_from_slice(&order(count));
    body.extend_from_slice(bitmap);
    body
}

fn native(v: i32) -> [u8; 4] {
    v.to_ne_bytes()
}

fn foreign(v: i32) -> [u8; 4] {
    let mut b = v.to_ne_bytes();
    b.reverse();
    b
}

/// VIFs 0, 2 and 9 of 10 servable.
fn sample_vifs() -> Vec<bool> {
    (0..10).map(|i| [0, 2, 9].contains(&i)).collect()
}

#[test]
fn health_round_trips_with_the_documented_layout() {
    let body = encode_health(GID, true, &sample_vifs(), false);
    assert_eq!(body, by_hand(native, 1, 10, &[0b0000_0101, 0b0000_0010]));
    let decoded = decode_health(&body, false, 10).expect("our own body decodes");
    assert_eq!(
        decoded,
        HealthBody {
            group_id: GID,
            healthy: true,
            vifs: sample_vifs(),
            releases_unservable: false,
        }
    );
    let unhealthy = encode_health(GID, false, &[], false);
    assert_eq!(unhealthy, by_hand(native, 0, 0, &[]));
    assert!(
        !decode_health(&unhealthy, false, 0)
            .expect("decodes")
            .healthy
    );
    // Bit 1 of the flags: the sender releases what nobody can serve.
    let releasing = encode_health(GID, false, &[], true);
    assert_eq!(releasing, by_hand(native, 2, 0, &[]));
    let decoded = decode_health(&releasing, false, 0).expect("decodes");
    assert!(decoded.releases_unservable && !decoded.healthy);
}

#[test]
fn a_peer_of_the_other_byte_order_has_its_integers_swapped_not_its_bitmap() {
    let body = by_hand(foreign, 1, 10, &[0b0000_0101, 0b0000_0010]);
    let decoded = decode_health(&body, true, 10).expect("decodes");
    assert!(decoded.healthy);
    assert_eq!(decoded.vifs, sample_vifs());
    assert_eq!(decoded.group_id, GID);
    assert!(decode_health(&body, false, 10).is_err(), "flags misread");
}

#[test]
fn a_count_other_than_ours_is_a_configuration_mismatch() {
    let body = encode_health(GID, true, &sample_vifs(), false);
    let err = decode_health(&body, false, 9).unwrap_err();
    assert_eq!(
        err,
        CodecError::VifCount {
            kind: BodyKind::Health,
            count: 10,
            ours: 9
        }
    );
    assert!(err.to_string().contains("configurations differ"), "{err}");
    for count in [-1, i32::MAX, i32::MIN] {
        let body = by_hand(native, 1, count, &[0, 0]);
        assert!(matches!(
            decode_health(&body, false, 10),
            Err(CodecError::VifCount { .. })
        ));
    }
}

#[test]
fn hostile_health_bodies_are_rejected_naming_what_is_wrong() {
    let body = encode_health(GID, true, &sample_vifs(), false);
    for cut in 0..body.len() {
        let err = decode_health(&body[..cut], false, 10).unwrap_err();
        assert!(err.to_string().starts_with("HEALTH body"), "{err}");
    }
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        decode_health(&longer, false, 10),
        Err(CodecError::TrailingBytes {
            kind: BodyKind::Health,
            offset: 22,
            len: 23
        })
    );
    let flags = by_hand(native, 5, 10, &[0, 0]);
    assert_eq!(
        decode_health(&flags, false, 10),
        Err(CodecError::UnknownBits {
            kind: BodyKind::Health,
            field: "flags",
            offset: 12
        })
    );
    let past_the_end = by_hand(native, 1, 10, &[0, 0b0000_0100]);
    let err = decode_health(&past_the_end, false, 10).unwrap_err();
    assert_eq!(
        err,
        CodecError::UnknownBits {
            kind: BodyKind::Health,
            field: "VIF bitmap",
            offset: 21
        }
    );
    // Every byte pattern of a short body decodes or fails, never panics.
    for a in 0..=255u8 {
        for len in 0..24 {
            let junk = vec![a; len];
            let _ = decode_health(&junk, false, 10);
            let _ = decode_health(&junk, true, 3);
        }
    }
}
