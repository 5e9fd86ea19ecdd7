//! What `wackatrl` reads from whatever answers on the control socket: the
//! length prefix, the state reply of the original protocol, and our JSON
//! document, which is checked and printed as received (`--json`) or read
//! into a tree and decoded (`-l`). A state reply that decodes must encode
//! to the same bytes' meaning, a JSON reply that passes comes back
//! unchanged, and the tree reader accepts exactly what the check does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::control::client::{decode_status, json_reply};
use wackamole::control::json_value::parse_object;
use wackamole::control::json_check::{check_object, TOO_DEEP};
use wackamole::control::wire::{decode_length, decode_state, encode_state};
use wackamole_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let choice = input.u8();
    let prefix = [input.u8(), input.u8(), input.u8(), input.u8()];
    let body = input.rest();
    if let Ok(len) = decode_length(prefix, body.len()) {
        assert!(len <= body.len());
    }
    if choice & 1 == 0 {
        if let Ok(reply) = decode_state(body) {
            let bytes = encode_state(&reply);
            assert_eq!(decode_state(&bytes[4..]).ok(), Some(reply));
        }
    } else {
        let ours = json_reply(body.to_vec());
        if let Ok(text) = &ours {
            assert_eq!(text.as_bytes(), body);
            assert!(parse_object(text).is_ok(), "the check passed it");
            let _ = decode_status(text);
        }
        same_verdict_as_serde_json(body, ours.is_ok());
    }
});

/// A second opinion on well-formedness from an independent parser, where
/// both are meant to agree: within our nesting limit, and not on what is
/// grammatical JSON that serde_json refuses (escapes of lone surrogates,
/// numbers beyond a double).
fn same_verdict_as_serde_json(body: &[u8], ours: bool) {
    if check_object(body).is_err_and(|e| e.expected == TOO_DEEP) {
        return;
    }
    let theirs = serde_json::from_slice::<serde_json::Value>(body);
    if let Err(e) = &theirs {
        let why = e.to_string();
        if ["surrogate", "recursion limit", "out of range"]
            .iter()
            .any(|w| why.contains(w))
        {
            return;
        }
    }
    let theirs = theirs.is_ok_and(|v| v.is_object());
    assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(body));
}
