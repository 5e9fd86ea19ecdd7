//! The connect handshake, both sides: the daemon's auth-method list and
//! accept as a client reads them (for clients of every version), and the
//! client's connect request and auth choice as a daemon reads them. A
//! complete parse never claims more bytes than it was given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::spread::wire::handshake::{decode_auth_choice, parse_auth_list, AUTH_CHOICE_LEN};
use wackamole::spread::wire::{Accept, ConnectRequest, Parse, Version};
use wackamole_fuzz::Bytes;

fn within<T>(parse: &Parse<T>, len: usize) {
    match parse {
        Parse::Complete { len: used, .. } => assert!(*used <= len),
        Parse::Incomplete { needed } => assert!(*needed > len),
        Parse::Rejected(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    match input.below(4) {
        0 => {
            let bytes = input.rest();
            within(&parse_auth_list(bytes), bytes.len());
        }
        1 => {
            let client = Version {
                major: input.u8(),
                minor: input.u8(),
                patch: input.u8(),
            };
            let bytes = input.rest();
            if let Ok(parse) = Accept::parse(client, bytes) {
                within(&parse, bytes.len());
            }
        }
        2 => {
            let bytes = input.rest();
            within(&ConnectRequest::parse(bytes), bytes.len());
        }
        _ => {
            let mut choice = [0u8; AUTH_CHOICE_LEN];
            let bytes = input.take(AUTH_CHOICE_LEN);
            choice[..bytes.len()].copy_from_slice(bytes);
            let _ = decode_auth_choice(&choice);
        }
    }
});
