//! Spread message frames as a daemon sends them: the header, the group
//! list and the body, then what the session makes of a frame (a message,
//! a membership with its body, a reject). Decoding the header and the
//! payload apart must agree with decoding the whole frame.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::spread::wire::{decode_frame, decode_header, decode_payload, HEADER_LEN};
use wackamole::spread::SessionEvent;

fuzz_target!(|data: &[u8]| {
    let whole = decode_frame(data);
    if let Ok(header) = decode_header(data) {
        let end = HEADER_LEN + header.payload_len();
        if let Some(payload) = data.get(HEADER_LEN..end) {
            let parts = decode_payload(header, payload).map(|frame| (frame, end));
            assert_eq!(parts.is_ok(), whole.is_ok());
            if let (Ok(a), Ok(b)) = (&parts, &whole) {
                assert_eq!(a, b);
            }
        }
    }
    if let Ok((frame, len)) = whole {
        assert!(len <= data.len());
        let _ = SessionEvent::from_frame(frame, "#wack1#wm1");
    }
});
