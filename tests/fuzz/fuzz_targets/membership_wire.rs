//! The built-in membership's datagrams: the header and authentication
//! check of any bytes, and the bodies of every kind as an authenticated
//! peer could send them. A body that decodes must survive encoding,
//! sealing and opening unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::membership::wire::{
    decode_body, encode, encoded_len, open, Header, Key, MAX_DATAGRAM,
};
use wackamole_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let key = Key::new(&[7u8; 32]).expect("a valid key");
    if let Ok(opened) = open(&key, data) {
        let _ = decode_body(opened.kind, opened.body);
    }
    let mut input = Bytes::new(data);
    let kind = input.u8();
    let body = input.rest();
    let Ok(decoded) = decode_body(kind, body) else {
        return;
    };
    if encoded_len(&decoded) > MAX_DATAGRAM {
        return;
    }
    let header = Header {
        digest: [1, 2, 3, 4, 5, 6, 7, 8],
        sender: 1,
        destination: 0,
        incarnation: 42,
        counter: 9,
    };
    let bytes = encode(&key, &header, &decoded);
    let opened = open(&key, &bytes).expect("our own datagram opens");
    assert_eq!(opened.header, header);
    assert_eq!(decode_body(opened.kind, opened.body).ok(), Some(decoded));
});
