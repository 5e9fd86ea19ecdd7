//! A JSON document as a tree of values, read from text that
//! [`super::check::check_object`] has accepted.
//!
//! The reader trusts nothing: it runs the grammar check first, so the
//! nesting it recurses through is at most [`MAX_DEPTH`] deep, and every
//! step consumes input or fails with an error. Numbers are kept as
//! written; the decoder of each field says which numbers it accepts.

use super::check::{check_object, JsonError, MAX_DEPTH};

/// One JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members in document order (a repeated name keeps
    /// every occurrence; lookups find the first).
    Object(Vec<(String, Value)>),
}

/// Reads `text`, which must be one JSON object and nothing else.
pub fn parse_object(text: &str) -> Result<Value, JsonError> {
    check_object(text.as_bytes())?;
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
    };
    reader.value(0)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn error(&self, expected: &'static str) -> JsonError {
        JsonError {
            offset: self.at,
            expected,
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.text.get(self.at).copied();
        self.at += usize::from(byte.is_some());
        byte
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), JsonError> {
        self.skip_space();
        match self.next() {
            Some(b) if b == byte => Ok(()),
            _ => Err(self.error(expected)),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error(super::check::TOO_DEEP));
        }
        self.skip_space();
        match self.text.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => Ok(self.number()),
            _ => Err(self.error("a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            let name = self.string()?;
            self.expect(b':', "`:`")?;
            members.push((name, self.value(depth + 1)?));
            self.skip_space();
            match self.next() {
                Some(b',') => {}
                Some(b'}') => return Ok(Value::Object(members)),
                _ => return Err(self.error("`,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.next() {
                Some(b',') => {}
                Some(b']') => return Ok(Value::Array(items)),
                _ => return Err(self.error("`,` or `]`")),
            }
        }
    }

    fn word(&mut self, word: &'static str, value: Value) -> Result<Value, JsonError> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error(word))
        }
    }

    fn number(&mut self) -> Value {
        let start = self.at;
        while matches!(
            self.text.get(self.at),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        Value::Number(String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    fn string(&mut self) -> Result<String, JsonError> {
        if self.next() != Some(b'"') {
            return Err(self.error("a string"));
        }
        let mut bytes = Vec::new();
        loop {
            match self.next() {
                None => return Err(self.error("`\"`")),
                Some(b'"') => break,
                Some(b'\\') => self.escape(&mut bytes)?,
                Some(byte) => bytes.push(byte),
            }
        }
        // The text is a &str, and escapes push whole characters.
        String::from_utf8(bytes).map_err(|_| self.error("UTF-8 text"))
    }

    /// One escape after its backslash, appended to `out` as UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let plain = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => self.unicode_escape()?,
            _ => return Err(self.error("an escape")),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(plain.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    /// The four hex digits after `\u`, with the low surrogate that follows
    /// when they name a high one. A lone surrogate reads as U+FFFD, as it
    /// names no character.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if !(0xd800..0xdc00).contains(&first) {
            return Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        if !self.text[self.at..].starts_with(b"\\u") {
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let mark = self.at;
        self.at += 2;
        let second = self.hex4()?;
        if !(0xdc00..0xe000).contains(&second) {
            // Not a pair: the second escape stands on its own.
            self.at = mark;
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .next()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error("four hex digits"))?;
            code = code * 16 + digit;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(members: &[(&str, Value)]) -> Value {
        Value::Object(
            members
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        )
    }

    #[test]
    fn every_kind_of_value_is_read() {
        let text =
            r#" { "a" : [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": [], "f": {} } "#;
        let expected = object(&[
            (
                "a",
                Value::Array(vec![
                    Value::Number("1".into()),
                    Value::Number("-2.5e3".into()),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                ]),
            ),
            ("b", object(&[("c", Value::String("d".into()))])),
            ("e", Value::Array(vec![])),
            ("f", object(&[])),
        ]);
        assert_eq!(parse_object(text), Ok(expected));
    }

    #[test]
    fn escapes_are_unescaped_and_lone_surrogates_replaced() {
        let text = r#"{"s":"q\"b\\s\/\b\f\n\r\t\u00e9\ud83d\ude00 \ud800x\udc00"}"#;
        let expected = "q\"b\\s/\u{8}\u{c}\n\r\té\u{1f600} \u{fffd}x\u{fffd}";
        assert_eq!(
            parse_object(text),
            Ok(object(&[("s", Value::String(expected.into()))]))
        );
        // A high surrogate followed by an escape that is not a low one.
        let text = r#"{"s":"\ud800\u0041"}"#;
        assert_eq!(
            parse_object(text),
            Ok(object(&[("s", Value::String("\u{fffd}A".into()))]))
        );
    }

    #[test]
    fn malformed_text_is_refused_by_the_grammar_check_with_its_offset() {
        for (text, offset) in [("", 0), ("[1]", 0), (r#"{"a":}"#, 5), (r#"{"a":1"#, 6)] {
            let err = parse_object(text).expect_err(text);
            assert_eq!(err.offset, offset, "{text}: {err}");
        }
    }

    #[test]
    fn nesting_at_the_limit_is_read_and_beyond_it_refused() {
        let nested = |depth: usize| {
            let mut text = String::from("{\"a\":");
            text.push_str(&"[".repeat(depth - 1));
            text.push_str(&"]".repeat(depth - 1));
            text.push('}');
            text
        };
        assert!(parse_object(&nested(MAX_DEPTH)).is_ok());
        assert!(parse_object(&nested(MAX_DEPTH + 1)).is_err());
    }
}
