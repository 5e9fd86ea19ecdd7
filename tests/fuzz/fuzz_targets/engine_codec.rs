//! The engine's message bodies (STATE, MATURING, BALANCE, ARPCACHE,
//! PROCEED, HOLDING, RELEASED) as other nodes send them, from senders of either byte order.
//! Whatever decodes must encode into bytes that decode to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::engine::codec::{
    decode_arp_cache, decode_balance, decode_holding, decode_maturing, decode_proceed,
    decode_released, encode_arp_cache, encode_balance, encode_holding, encode_proceed,
    encode_released, StateBody,
};
use wackamole_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let choice = input.u8();
    let mismatch = choice & 0x80 != 0;
    let body = input.rest();
    match choice & 0x7f {
        0 => {
            if let Ok(state) = StateBody::decode(body, mismatch) {
                assert_eq!(StateBody::decode(&state.encode(), false), Ok(state));
            }
        }
        1 => {
            let _ = decode_maturing(body);
        }
        2 => {
            if let Ok(balance) = decode_balance(body, mismatch) {
                assert!(balance.moves.len() <= balance.announced);
                let again = decode_balance(&encode_balance(&balance.moves), false).map(|b| b.moves);
                assert_eq!(again, Ok(balance.moves));
            }
        }
        3 => {
            if let Ok(entries) = decode_arp_cache(body) {
                assert_eq!(decode_arp_cache(&encode_arp_cache(&entries)), Ok(entries));
            }
        }
        4 => {
            if let Ok(list) = decode_holding(body, mismatch) {
                let again = encode_holding(list.group_id, &list.vifs);
                assert_eq!(decode_holding(&again, false), Ok(list));
            }
        }
        5 => {
            if let Ok(list) = decode_released(body, mismatch) {
                let again = encode_released(list.group_id, &list.vifs);
                assert_eq!(decode_released(&again, false), Ok(list));
            }
        }
        _ => {
            if let Ok(id) = decode_proceed(body, mismatch) {
                assert_eq!(decode_proceed(&encode_proceed(id), false), Ok(id));
            }
        }
    }
});
