//! The configuration language: any text through the lexer, the parser
//! and validation, then what `-t` and the daemon derive from a file that
//! passes (the normalized summary, the preferred addresses of STATE).
//! Errors and warnings must say where they are, within the text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::config::{parse, summary};

fuzz_target!(|data: &[u8]| {
    // Files are read as UTF-8; anything else is refused before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match parse(text, "fuzz.conf") {
        Ok((config, warnings)) => {
            let _ = summary(&config);
            let preferred = config.preferred_addresses();
            let mut unique = preferred.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), preferred.len(), "an address preferred twice");
            for warning in warnings {
                let at = warning.position;
                assert!(at.line >= 1 && at.line <= lines, "{warning}");
            }
        }
        Err(error) => {
            let _ = error.to_string();
            if let Some(at) = error.position {
                assert!(at.line >= 1 && at.line <= lines, "{error}");
            }
        }
    }
});
