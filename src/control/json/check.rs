//! A well-formedness check of the JSON status as `wackatrl` receives it.
//!
//! Whatever answers on the control socket is untrusted input to the
//! client, so the document is not decoded: it is checked against the JSON
//! grammar (RFC 8259) and printed as received. The check runs in one pass
//! without recursion: every step consumes at least one byte or ends the
//! check, and nesting deeper than [`MAX_DEPTH`] is refused, so no reply can
//! make it panic, loop or exhaust the stack.

use std::fmt;

/// Deepest nesting of objects and arrays accepted. The status document
/// nests four deep; the rest is room for fields added later.
pub const MAX_DEPTH: usize = 64;

/// What [`JsonError::expected`] says of nesting beyond [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "no deeper nesting";

/// Where and why a document is not well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the first byte that does not fit (the length of
    /// the text when it ends too early).
    pub offset: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: expected {}", self.offset, self.expected)
    }
}

impl std::error::Error for JsonError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// Checks that `text` is one JSON object, optionally surrounded by
/// whitespace, and nothing else.
pub fn check_object(text: &[u8]) -> Result<(), JsonError> {
    let mut s = Scanner { text, at: 0 };
    let mut open: Vec<Container> = Vec::new();
    s.skip_space();
    if s.peek() != Some(b'{') {
        return Err(s.error("an object"));
    }
    loop {
        // A value starts here: a scalar, or a container that may be empty.
        s.skip_space();
        match s.peek() {
            Some(b'{') => {
                s.open(&mut open, Container::Object)?;
                if !s.eat(b'}') {
                    s.member_name()?;
                    continue;
                }
                open.pop();
            }
            Some(b'[') => {
                s.open(&mut open, Container::Array)?;
                if !s.eat(b']') {
                    continue;
                }
                open.pop();
            }
            Some(b'"') => s.string()?,
            Some(b't') => s.literal(b"true")?,
            Some(b'f') => s.literal(b"false")?,
            Some(b'n') => s.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => s.number()?,
            _ => return Err(s.error("a value")),
        }
        // After a value: close containers until one goes on with a comma.
        loop {
            s.skip_space();
            match open.last() {
                None if s.at == text.len() => return Ok(()),
                None => return Err(s.error("the end of the document")),
                Some(Container::Object) => {
                    if s.eat(b',') {
                        s.member_name()?;
                        break;
                    }
                    if !s.eat(b'}') {
                        return Err(s.error("',' or '}'"));
                    }
                }
                Some(Container::Array) => {
                    if s.eat(b',') {
                        break;
                    }
                    if !s.eat(b']') {
                        return Err(s.error("',' or ']'"));
                    }
                }
            }
            open.pop();
        }
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn error(&self, expected: &'static str) -> JsonError {
        JsonError {
            offset: self.at,
            expected,
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes the opening bracket of a container and what space follows.
    fn open(&mut self, open: &mut Vec<Container>, container: Container) -> Result<(), JsonError> {
        if open.len() == MAX_DEPTH {
            return Err(self.error(TOO_DEEP));
        }
        open.push(container);
        self.at += 1;
        self.skip_space();
        Ok(())
    }

    /// A member's name and its colon.
    fn member_name(&mut self) -> Result<(), JsonError> {
        self.skip_space();
        if self.peek() != Some(b'"') {
            return Err(self.error("a member name"));
        }
        self.string()?;
        self.skip_space();
        if !self.eat(b':') {
            return Err(self.error("':'"));
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("true, false or null"));
        }
        self.at += word.len();
        Ok(())
    }

    /// A string, its opening quote at `at`. Bytes of 0x80 and above are
    /// left to the UTF-8 check of the whole text.
    fn string(&mut self) -> Result<(), JsonError> {
        self.at += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            self.at += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                    return Err(self.error("a hexadecimal digit"));
                                }
                                self.at += 1;
                            }
                        }
                        _ => return Err(self.error("an escape")),
                    }
                }
                Some(0x20..=0xff) => self.at += 1,
                _ => return Err(self.error("'\"' or a character")),
            }
        }
    }

    fn number(&mut self) -> Result<(), JsonError> {
        self.eat(b'-');
        if !self.eat(b'0') {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.digits()?;
        }
        Ok(())
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Result<(), JsonError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("a digit"));
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status_report::tests::membership_status;

    fn error_at(text: &str) -> usize {
        check_object(text.as_bytes()).expect_err(text).offset
    }

    #[test]
    fn the_daemon_s_documents_are_well_formed() {
        for status in [
            membership_status(),
            crate::control::status_report::tests::sample_status(),
        ] {
            assert_eq!(check_object(status.to_json().as_bytes()), Ok(()));
        }
        let spaced = " {\"a\" : [ 1 , -0.5e+3, \"\\u00e9\\n\" , {} , [ ] ], \"b\": {\"c\": null, \"d\": true}, \"e\": false}\n";
        assert_eq!(check_object(spaced.as_bytes()), Ok(()));
    }

    #[test]
    fn replies_that_broke_the_derived_decoder_are_refused() {
        // An unknown member followed by no value, and an unclosed array.
        assert_eq!(error_at(r#"{"":"#), 4);
        assert_eq!(error_at(r#"{"":["#), 5);
        assert_eq!(error_at(r#"{"":[[[[[[[[1]]]]"#), 17);
    }

    #[test]
    fn malformed_documents_name_the_first_bad_byte() {
        for (text, offset) in [
            ("", 0),
            ("[]", 0),
            ("{", 1),
            ("{}}", 2),
            ("{} {}", 3),
            (r#"{"a" 1}"#, 5),
            (r#"{"a":}"#, 5),
            (r#"{"a":1,}"#, 7),
            (r#"{"a":[1,]}"#, 8),
            (r#"{"a":01}"#, 6),
            (r#"{"a":1.}"#, 7),
            (r#"{"a":-}"#, 6),
            (r#"{"a":1e}"#, 7),
            (r#"{"a":tru}"#, 5),
            (r#"{"a":"\x"}"#, 7),
            (r#"{"a":"\u12g4"}"#, 10),
            ("{\"a\":\"\n\"}", 6),
            (r#"{1:2}"#, 1),
            (r#"{"a":1 "b":2}"#, 7),
        ] {
            assert_eq!(error_at(text), offset, "{text}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}{}", "{\"a\":".repeat(n), "1", "}".repeat(n));
        assert_eq!(check_object(deep(MAX_DEPTH).as_bytes()), Ok(()));
        let err = check_object(deep(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(err.expected, TOO_DEEP);
        // A million open brackets are refused at the limit, not recursed into.
        let text = format!("{{\"a\":{}", "[".repeat(1_000_000));
        assert_eq!(
            check_object(text.as_bytes()).unwrap_err().offset,
            5 + MAX_DEPTH - 1
        );
    }
}
