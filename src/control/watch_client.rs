//! `wackatrl --watch`: asks the daemon to watch (request 4), then prints
//! every line it sends, as text or (`--json`) as received, until the watch
//! ends or the tool is interrupted.

use std::io::{Read, Write};
use std::path::Path;

use super::client::{ControlClient, DEFAULT_TIMEOUT};
use super::watch::{EndCause, WatchItem, WatchRecord};
use super::ControlError;

/// Longest line accepted from the daemon: far more than a view of every
/// member or a VIF of every address takes.
pub const MAX_LINE: usize = 1 << 20;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 << 10;

/// Cuts a byte stream into lines of at most a given length, holding no
/// more than one line and one read in memory.
#[derive(Debug)]
pub struct LineReader {
    max: usize,
    pending: Vec<u8>,
    /// Bytes of `pending` already searched for a newline.
    searched: usize,
}

impl LineReader {
    /// A reader of lines up to `max` bytes, newline excluded.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            max,
            pending: Vec::new(),
            searched: 0,
        }
    }

    fn too_long(&self) -> ControlError {
        ControlError::BadReply(format!("a watch line longer than {} bytes", self.max))
    }

    /// The next line of `source` as UTF-8 text without its newline; none
    /// at the end of the stream between lines. A stream that ends within a
    /// line, a line longer than the bound or one that is not UTF-8 is an
    /// error.
    pub fn next_line(&mut self, source: &mut dyn Read) -> Result<Option<String>, ControlError> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if let Some(at) = self.pending[self.searched..]
                .iter()
                .position(|&b| b == b'\n')
            {
                let end = self.searched + at;
                if end > self.max {
                    return Err(self.too_long());
                }
                let rest = self.pending.split_off(end + 1);
                let mut line = std::mem::replace(&mut self.pending, rest);
                line.truncate(end);
                self.searched = 0;
                return String::from_utf8(line)
                    .map(Some)
                    .map_err(|_| ControlError::BadReply("a watch line is not UTF-8".to_string()));
            }
            self.searched = self.pending.len();
            if self.pending.len() > self.max {
                return Err(self.too_long());
            }
            let n = match source.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ControlError::transfer("watching", e)),
            };
            if n == 0 {
                return if self.pending.is_empty() {
                    Ok(None)
                } else {
                    Err(ControlError::Truncated("within a watch line"))
                };
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Watches the daemon at `socket`, printing each line to `out` (as
/// received with `json`) until the watch ends: returns when the daemon
/// stops, fails when the watch is refused or dropped or the connection
/// breaks. A reader of `out` that has gone ends the watch quietly.
pub fn watch(socket: &Path, json: bool, out: &mut dyn Write) -> Result<(), ControlError> {
    let mut stream = ControlClient::connect(socket, DEFAULT_TIMEOUT)?.into_watch()?;
    let mut lines = LineReader::new(MAX_LINE);
    // An original daemon hangs up on request 4; ours answers at once.
    let older =
        || ControlError::BadReply("the daemon does not serve --watch (an older wackamole?)".into());
    let mut text = match lines.next_line(&mut stream) {
        Ok(Some(line)) => line,
        Ok(None) | Err(ControlError::Truncated(_)) => return Err(older()),
        Err(ControlError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::ConnectionReset =>
        {
            return Err(older())
        }
        Err(e) => return Err(e),
    };
    // From now on the daemon speaks when something happens, however late.
    stream
        .set_read_timeout(None)
        .map_err(|e| ControlError::io("control socket: set time-outs", e))?;
    let mut number = 1;
    loop {
        let record = WatchRecord::decode(&text)
            .map_err(|e| ControlError::BadReply(format!("watch line {number}: {e}")))?;
        let opening = matches!(record.item, WatchItem::Watching | WatchItem::End { .. });
        if number == 1 && !opening {
            return Err(ControlError::BadReply(
                "watch line 1: expected the event `watching`".to_string(),
            ));
        }
        let printed = if json {
            text + "\n"
        } else {
            format!("{record}\n")
        };
        match out.write_all(printed.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            written => written.map_err(|e| ControlError::io("writing the watch", e))?,
        }
        if let WatchItem::End { cause, reason } = record.item {
            return match cause {
                EndCause::Stopping => Ok(()),
                _ => Err(ControlError::WatchEnded(reason)),
            };
        }
        text = lines
            .next_line(&mut stream)?
            .ok_or(ControlError::Truncated(
                "while watching (the daemon went away)",
            ))?;
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::client::tests::fake_daemon_with;

    const WATCHING: &str = "{\"time\":\"T\",\"event\":\"watching\"}\n";

    /// `wackatrl --watch` against a daemon that answers request 4 with
    /// `bytes` and closes: the outcome and what was printed.
    fn against(bytes: Vec<u8>) -> (Result<(), ControlError>, String) {
        // The client may hang up first on what it refuses.
        let (_dir, path, daemon) = fake_daemon_with(move |stream| drop(stream.write_all(&bytes)));
        let mut out = Vec::new();
        let outcome = watch(&path, false, &mut out);
        daemon.join().expect("the fake daemon");
        (outcome, String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn what_a_daemon_must_not_send_is_an_error_naming_it() {
        let view = "{\"time\":\"T\",\"event\":\"view\",\"members\":[\"a\"]}\n";
        let long = format!("{WATCHING}{}", "x".repeat(MAX_LINE + 10));
        let cases: [(String, &str); 5] = [
            ("hello\n".to_string(), "watch line 1: byte 0"),
            (view.to_string(), "expected the event `watching`"),
            (format!("{WATCHING}{view}{{\"time\""), "within a watch line"),
            (format!("{WATCHING}{view}"), "the daemon went away"),
            (long, "longer than 1048576 bytes"),
        ];
        for (bytes, gist) in cases {
            let (outcome, _) = against(bytes.into_bytes());
            let err = outcome.expect_err(gist);
            assert!(err.to_string().contains(gist), "{err}");
        }
    }

    #[test]
    fn a_refused_or_dropped_watch_is_printed_then_an_error() {
        let end = "{\"time\":\"T\",\"event\":\"end\",\"reason\":\"too many watchers\",\"end\":\"too_many_watchers\"}\n";
        let (outcome, printed) = against(end.as_bytes().to_vec());
        assert_eq!(printed, "T watch ended: too many watchers\n");
        match outcome {
            Err(ControlError::WatchEnded(why)) => assert_eq!(why, "too many watchers"),
            other => panic!("{other:?}"),
        }
        let dropped = end.replace("too_many_watchers", "fell_behind");
        let (outcome, printed) = against(format!("{WATCHING}{dropped}").into_bytes());
        assert_eq!(printed, "T watching\nT watch ended: too many watchers\n");
        assert!(
            matches!(outcome, Err(ControlError::WatchEnded(_))),
            "{outcome:?}"
        );
    }

    fn lines_of(bytes: &[u8], max: usize) -> Result<Vec<String>, ControlError> {
        let mut reader = LineReader::new(max);
        let mut source = bytes;
        let mut out = Vec::new();
        while let Some(line) = reader.next_line(&mut source)? {
            out.push(line);
        }
        Ok(out)
    }

    /// A source that hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn lines_are_cut_at_newlines_whatever_the_reads() {
        assert_eq!(lines_of(b"a\n\nbc\n", 10).unwrap(), ["a", "", "bc"]);
        let mut reader = LineReader::new(10);
        let mut source = Trickle(b"one\ntwo\n");
        assert_eq!(
            reader.next_line(&mut source).unwrap().as_deref(),
            Some("one")
        );
        assert_eq!(
            reader.next_line(&mut source).unwrap().as_deref(),
            Some("two")
        );
        assert_eq!(reader.next_line(&mut source).unwrap(), None);
    }

    #[test]
    fn long_unfinished_and_non_utf8_lines_are_errors() {
        assert_eq!(lines_of(b"0123456789\n", 10).unwrap(), ["0123456789"]);
        // Too long, even when it arrives whole in one read.
        let whole = lines_of(b"01234567890\n", 10).unwrap_err();
        assert!(whole.to_string().contains("longer than 10"), "{whole}");
        let long = lines_of(&[b'x'; 100_000], 1000).unwrap_err();
        assert!(long.to_string().contains("longer than 1000"), "{long}");
        let cut = lines_of(b"done\nhalf", 10).unwrap_err();
        assert!(matches!(cut, ControlError::Truncated(_)), "{cut}");
        let binary = lines_of(b"\xff\xfe\n", 10).unwrap_err();
        assert!(binary.to_string().contains("UTF-8"), "{binary}");
    }
}
