//! Splits configuration text into tokens, each with the position where it
//! starts.

use super::error::{ErrorKind, Position};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    OpenBrace,
    CloseBrace,
    Equals,
    /// A run of characters other than white space, `#`, `{`, `}` and `=`:
    /// keywords, numbers, intervals, addresses and unquoted strings.
    Word(String),
    /// A `"..."` or `'...'` string, without its quotes.
    Quoted(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub position: Position,
}

impl Token {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match &self.kind {
            TokenKind::OpenBrace => "`{`".to_string(),
            TokenKind::CloseBrace => "`}`".to_string(),
            TokenKind::Equals => "`=`".to_string(),
            TokenKind::Word(word) => format!("`{word}`"),
            TokenKind::Quoted(text) => format!("\"{text}\""),
        }
    }
}

/// Tokenizes `text`; the only lexical error is an unterminated quote.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, (Position, ErrorKind)> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut column = 1;
    while let Some(&c) = chars.peek() {
        let position = Position::new(line, column);
        match c {
            '\n' => {
                chars.next();
                line += 1;
                column = 1;
            }
            c if c.is_whitespace() => {
                chars.next();
                column += 1;
            }
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            '{' | '}' | '=' => {
                chars.next();
                column += 1;
                let kind = match c {
                    '{' => TokenKind::OpenBrace,
                    '}' => TokenKind::CloseBrace,
                    _ => TokenKind::Equals,
                };
                tokens.push(Token { kind, position });
            }
            '"' | '\'' => {
                chars.next();
                column += 1;
                let mut content = String::new();
                loop {
                    match chars.next_if(|&next| next != '\n') {
                        Some(next) if next == c => break,
                        Some(next) => content.push(next),
                        None => {
                            return Err((
                                position,
                                ErrorKind::Syntax {
                                    found: format!("an unterminated string starting with {c}"),
                                    expected: format!("a closing {c} on the same line"),
                                },
                            ))
                        }
                    }
                }
                column += content.chars().count() + 1;
                tokens.push(Token {
                    kind: TokenKind::Quoted(content),
                    position,
                });
            }
            _ => {
                let mut word = String::new();
                while let Some(next) = chars.next_if(|&next| !ends_word(next)) {
                    word.push(next);
                }
                column += word.chars().count();
                tokens.push(Token {
                    kind: TokenKind::Word(word),
                    position,
                });
            }
        }
    }
    Ok(tokens)
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '#' | '{' | '}' | '=')
}

/// The position just after the last character of `text`, where "end of
/// file" errors point.
pub(super) fn end_position(text: &str) -> Position {
    let line = text.matches('\n').count() + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    Position::new(line, last_line.chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn word(s: &str) -> TokenKind {
        TokenKind::Word(s.to_string())
    }

    #[test]
    fn splits_braces_and_equals_out_of_words() {
        assert_eq!(
            kinds("Group=wack1 {a}b"),
            vec![
                word("Group"),
                TokenKind::Equals,
                word("wack1"),
                TokenKind::OpenBrace,
                word("a"),
                TokenKind::CloseBrace,
                word("b"),
            ]
        );
    }

    #[test]
    fn comments_run_to_the_end_of_the_line() {
        assert_eq!(
            kinds("Spread = 4803 # the port\n# whole line\nGroup#x\n= g"),
            vec![
                word("Spread"),
                TokenKind::Equals,
                word("4803"),
                word("Group"),
                TokenKind::Equals,
                word("g"),
            ]
        );
    }

    #[test]
    fn quoted_strings_keep_spaces_hashes_and_the_other_quote() {
        assert_eq!(
            kinds(r#"Run "logger 'up # now'" 'a "b" {c}'"#),
            vec![
                word("Run"),
                TokenKind::Quoted("logger 'up # now'".to_string()),
                TokenKind::Quoted("a \"b\" {c}".to_string()),
            ]
        );
    }

    #[test]
    fn positions_count_lines_and_characters_with_tabs_as_one() {
        let tokens = tokenize("a\n\tbb = \"q\" c\r\n  é d").expect("tokenizes");
        let positions: Vec<(usize, usize)> = tokens
            .iter()
            .map(|t| (t.position.line, t.position.column))
            .collect();
        assert_eq!(
            positions,
            vec![(1, 1), (2, 2), (2, 5), (2, 7), (2, 11), (3, 3), (3, 5)]
        );
    }

    #[test]
    fn unterminated_quote_is_reported_where_it_opens() {
        let (position, kind) = tokenize("Group = ok\nRun \"echo up\n on up").unwrap_err();
        assert_eq!(position, Position::new(2, 5));
        assert!(matches!(kind, ErrorKind::Syntax { .. }));
    }

    #[test]
    fn empty_and_comment_only_text_has_no_tokens() {
        assert!(kinds("").is_empty());
        assert!(kinds("  # nothing\n\t\n").is_empty());
    }

    #[test]
    fn end_position_is_after_the_last_character() {
        assert_eq!(end_position(""), Position::new(1, 1));
        assert_eq!(end_position("ab\ncd"), Position::new(2, 3));
        assert_eq!(end_position("ab\n"), Position::new(2, 1));
    }

    #[test]
    fn describe_quotes_tokens_for_messages() {
        let tokens = tokenize("{ x \"y\"").expect("tokenizes");
        let described: Vec<String> = tokens.iter().map(Token::describe).collect();
        assert_eq!(described, vec!["`{`", "`x`", "\"y\""]);
    }
}
