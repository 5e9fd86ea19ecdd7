//! The bodies of Spread membership messages (regular and transitional),
//! in both byte orders: group id, virtual-synchrony sets and the offset of
//! our own set.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::spread::wire::membership_body::{decode_regular_body, decode_transitional_body};
use wackamole::spread::wire::ByteOrder;
use wackamole_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let choice = input.u8();
    let order = if choice & 1 == 0 {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };
    let body = input.rest();
    if choice & 2 == 0 {
        if let Ok(regular) = decode_regular_body(order, body) {
            if let Some(mine) = regular.my_vs_set {
                assert!(mine < regular.vs_sets.len());
            }
        }
    } else {
        let _ = decode_transitional_body(order, body);
    }
});
