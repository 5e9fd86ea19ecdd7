//! What `wackatrl` reads from whatever answers on the control socket: the
//! length prefix, the state reply of the original protocol, our JSON
//! document, which is checked and printed as received (`--json`) or read
//! into a tree and decoded (`-l`, `--metrics`), and the lines of a watch
//! (`--watch`). A state reply that decodes must encode to the same bytes'
//! meaning, a JSON reply that passes comes back unchanged, the tree reader
//! accepts exactly what the check does, a status that decodes renders
//! metrics Prometheus can read, and a watch line that decodes travels
//! again unchanged and prints as one line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::control::client::{decode_status, json_reply};
use wackamole::control::metrics;
use wackamole::control::watch_client::LineReader;
use wackamole::control::WatchRecord;
use wackamole::control::json::value::parse_object;
use wackamole::control::json::check::{check_object, TOO_DEEP};
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
    match choice % 3 {
        0 => {
            if let Ok(reply) = decode_state(body) {
                let bytes = encode_state(&reply);
                assert_eq!(decode_state(&bytes[4..]).ok(), Some(reply));
            }
        }
        1 => {
            let ours = json_reply(body.to_vec());
            if let Ok(text) = &ours {
                assert_eq!(text.as_bytes(), body);
                assert!(parse_object(text).is_ok(), "the check passed it");
                if let Ok(status) = decode_status(text) {
                    well_formed_metrics(&metrics::render(&status));
                }
            }
            same_verdict_as_serde_json(body, ours.is_ok());
        }
        _ => watch_lines(body),
    }
});

/// A watch stream: bounded lines, each decoded; what decodes encodes to
/// a line that decodes to the same, and prints as one line of text
/// without control characters.
fn watch_lines(mut stream: &[u8]) {
    let mut lines = LineReader::new(4096);
    while let Ok(Some(line)) = lines.next_line(&mut stream) {
        assert!(line.len() <= 4096, "a line beyond the bound");
        let Ok(record) = WatchRecord::decode(&line) else {
            continue;
        };
        let again = record.to_line();
        assert_eq!(again.matches('\n').count(), 1, "{again:?}");
        assert_eq!(WatchRecord::decode(again.trim_end()).ok(), Some(record.clone()));
        let text = record.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}

/// The exposition's outline: HELP and TYPE before each family's samples,
/// every line whole, every label value closed (the unit tests hold the
/// same renderer to a full checker).
fn well_formed_metrics(text: &str) {
    assert!(text.is_empty() || text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            assert!(rest.starts_with("HELP wackamole_") || rest.starts_with("TYPE wackamole_"));
            continue;
        }
        assert!(line.starts_with("wackamole_"), "{line:?}");
        let (_, value) = line.rsplit_once(' ').expect("a value");
        assert!(value.parse::<f64>().is_ok(), "{line:?}");
        // Quotes inside values are escaped: the unescaped ones pair up.
        let bare = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(bare.matches('"').count() % 2, 0, "{line:?}");
    }
}

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
