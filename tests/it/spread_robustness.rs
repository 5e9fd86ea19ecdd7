//! Frames from big-endian senders, and a flood of random and mutated
//! frames through the decoder: typed errors, never a panic, bounded
//! allocation.

use wackamole::spread::wire::membership_body::{encode_regular_body, encode_transitional_body};
use wackamole::spread::wire::service_bits as bits;
use wackamole::spread::wire::{
    decode_frame, encode_frame, ByteOrder, GroupId, Outgoing, HEADER_LEN,
};
use wackamole::spread::{Cause, MembershipKind, Service, SessionEvent};

fn other_order() -> ByteOrder {
    match ByteOrder::native() {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    }
}

fn frame(
    order: ByteOrder,
    service_type: u32,
    sender: &str,
    groups: &[&str],
    mess_type: i16,
    body: &[u8],
) -> Vec<u8> {
    encode_frame(
        order,
        &Outgoing {
            service_type,
            sender,
            groups,
            mess_type,
            original_type: None,
            body,
        },
    )
    .unwrap()
}

#[test]
fn byte_swapped_frames_decode_with_the_mismatch_reported() {
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let bytes = frame(
            order,
            bits::AGREED,
            "#peer#wm2",
            &["wack1", "other"],
            -300,
            &[1, 2, 3, 4],
        );
        let (f, used) = decode_frame(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        match SessionEvent::from_frame(f, "#me#wm1").unwrap() {
            SessionEvent::Message(m) => {
                assert_eq!(m.service, Service::Agreed);
                assert_eq!(m.sender, "#peer#wm2");
                assert_eq!(m.groups, vec!["wack1", "other"]);
                assert_eq!(m.mess_type, -300);
                assert_eq!(m.endian_mismatch, order != ByteOrder::native());
                assert_eq!(m.body, vec![1, 2, 3, 4], "bodies are never converted");
            }
            other => panic!("{other:?}"),
        }
    }
    // A big-endian wire form really is a different byte sequence.
    let le = frame(ByteOrder::Little, bits::SAFE, "#a#b", &["g"], 7, b"");
    let be = frame(ByteOrder::Big, bits::SAFE, "#a#b", &["g"], 7, b"");
    assert_ne!(le, be);
    assert_eq!(&be[..4], &[0, 0, 0, 0x20]);
}

#[test]
fn byte_swapped_memberships_decode() {
    let order = other_order();
    let gid = GroupId::from_raw([0x0a63_0002, 1_795_562_366, 4]);
    let sets = vec![vec!["#a#wm1".to_string()], vec!["#b#wm2".to_string()]];
    let body = encode_regular_body(order, gid, &sets, 1).unwrap();
    let bytes = frame(
        order,
        bits::REG_MEMB | bits::CAUSED_BY_NETWORK,
        "wack1",
        &["#a#wm1", "#b#wm2"],
        0,
        &body,
    );
    let (f, _) = decode_frame(&bytes).unwrap();
    match SessionEvent::from_frame(f, "#b#wm2").unwrap() {
        SessionEvent::Membership(m) => {
            assert_eq!(m.kind, MembershipKind::Regular(Cause::Network));
            assert_eq!(m.group_id, gid);
            assert_eq!(m.group_id.raw(), [0x0a63_0002, 1_795_562_366, 4]);
            assert_eq!(m.my_index, Some(1));
            assert_eq!((m.vs_sets, m.my_vs_set), (sets, Some(1)));
        }
        other => panic!("{other:?}"),
    }
    let trans = frame(
        order,
        bits::TRANSITION,
        "wack1",
        &[],
        0,
        &encode_transitional_body(order, gid),
    );
    let (f, _) = decode_frame(&trans).unwrap();
    match SessionEvent::from_frame(f, "#b#wm2").unwrap() {
        SessionEvent::Membership(m) => {
            assert_eq!((m.kind, m.group_id), (MembershipKind::Transitional, gid))
        }
        other => panic!("{other:?}"),
    }
}

/// The library converts a membership body by the order its `type` field
/// tells (the daemon writes header and body in its own order); `hint` only
/// speaks for the sender of a regular message.
#[test]
fn membership_bodies_follow_the_order_of_the_type_field() {
    let order = ByteOrder::native();
    let gid = GroupId::from_raw([0x0a63_0001, 1_795_562_150, 2]);
    let sets = vec![vec!["#a#wm1".to_string()]];
    let body = encode_regular_body(order, gid, &sets, 0).unwrap();
    let mut bytes = frame(
        order,
        bits::REG_MEMB | bits::CAUSED_BY_JOIN,
        "g",
        &["#a#wm1"],
        0,
        &body,
    );
    let other = other_order();
    bytes[40..44].copy_from_slice(&other.write_u32(other.marker()));
    let (f, _) = decode_frame(&bytes).unwrap();
    assert_eq!((f.header.order, f.header.hint_order), (order, other));
    match SessionEvent::from_frame(f, "#a#wm1").unwrap() {
        SessionEvent::Membership(m) => {
            assert_eq!(m.group_id, gid);
            assert_eq!((m.vs_sets, m.my_vs_set), (sets, Some(0)));
        }
        other => panic!("{other:?}"),
    }
    let mut trans = frame(
        order,
        bits::TRANSITION,
        "g",
        &[],
        0,
        &encode_transitional_body(order, gid),
    );
    trans[40..44].copy_from_slice(&other.write_u32(other.marker()));
    let (f, _) = decode_frame(&trans).unwrap();
    match SessionEvent::from_frame(f, "#a#wm1").unwrap() {
        SessionEvent::Membership(m) => assert_eq!(m.group_id, gid),
        other => panic!("{other:?}"),
    }
}

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let order = ByteOrder::native();
    let gid = GroupId::from_raw([1, 2, 3]);
    let sets = vec![
        vec!["#a#d".to_string()],
        vec!["#b#d".to_string(), "#c#d".to_string()],
    ];
    vec![
        frame(order, bits::AGREED, "#a#d", &["g"], 1, b"hello"),
        frame(
            other_order(),
            bits::FIFO | bits::SELF_DISCARD,
            "#a#d",
            &["g", "h"],
            2,
            &[0; 40],
        ),
        frame(
            order,
            bits::REG_MEMB | bits::CAUSED_BY_JOIN,
            "g",
            &["#a#d", "#b#d", "#c#d"],
            0,
            &encode_regular_body(order, gid, &sets, 1).unwrap(),
        ),
        frame(
            order,
            bits::TRANSITION,
            "g",
            &[],
            0,
            &encode_transitional_body(order, gid),
        ),
        frame(order, bits::CAUSED_BY_LEAVE, "g", &[], 0, &[]),
        encode_frame(
            order,
            &Outgoing {
                service_type: bits::REJECT,
                sender: "#a#d",
                groups: &["g"],
                mess_type: 3,
                original_type: Some(bits::JOIN),
                body: b"",
            },
        )
        .unwrap(),
    ]
}

/// A million inputs: mutated valid frames (bit flips, byte overwrites
/// aimed at the count fields, truncations) and pure noise.
#[test]
fn a_million_hostile_frames_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = Vec::with_capacity(4096);
    let (mut ok, mut errors) = (0u32, 0u32);
    for i in 0..1_000_000 {
        buf.clear();
        if i % 10 == 0 {
            let len = rng.below(400);
            buf.extend((0..len).map(|_| rng.next() as u8));
        } else {
            buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
            for _ in 0..=rng.below(4) {
                let at = match rng.below(3) {
                    // The counts and the membership body's counts.
                    0 => {
                        [0, 36, 40, 44, HEADER_LEN + 96 + 12, HEADER_LEN + 96 + 16][rng.below(6)]
                            + rng.below(4)
                    }
                    _ => rng.below(buf.len()),
                };
                if at < buf.len() {
                    match rng.below(3) {
                        0 => buf[at] ^= 1 << rng.below(8),
                        1 => buf[at] = [0, 0x7f, 0x80, 0xff][rng.below(4)],
                        _ => buf[at] = rng.next() as u8,
                    }
                }
            }
            if rng.below(8) == 0 {
                buf.truncate(rng.below(buf.len() + 1));
            }
        }
        match decode_frame(&buf) {
            Ok((f, used)) => {
                assert!(used <= buf.len());
                if SessionEvent::from_frame(f, "#a#d").is_ok() {
                    ok += 1;
                } else {
                    errors += 1;
                }
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    // Both paths were exercised.
    assert!(ok > 10_000 && errors > 10_000, "ok {ok}, errors {errors}");
}
