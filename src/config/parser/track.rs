//! The `Track { ... }` block (ours): the trackers that make this node
//! unhealthy while they fail. Several blocks add up; `HoldDown` and
//! `Unservable` keep the last value written.

use std::path::PathBuf;

use super::{bad_value, Located, Parser};
use crate::base::interface_name_fault;
use crate::config::error::Position;
use crate::config::keywords::{CheckParameter, TrackParameter, CHECK_PARAMETERS, TRACK_PARAMETERS};
use crate::config::lexer::TokenKind;
use crate::config::values;
use crate::config::{CheckCommand, Unservable};

const PARAMETER: &str = "Interface, Command, File, HoldDown or Unservable inside Track";
const CHECK_PARAMETER: &str = "Interval, Timeout, Fall or Rise inside a Track Command's braces";
const INTERFACE_EXPECTED: &str = "an interface name of 1 to 15 characters (as in eth1)";
const COMMAND_EXPECTED: &str = "a command line in quotes (run by /bin/sh -c)";
const FILE_EXPECTED: &str = "the absolute path of a file (as in /var/run/wackamole.drain)";
const UNSERVABLE_EXPECTED: &str = "keep or release";
const COUNT_EXPECTED: &str = "a count of at least 1";

impl Parser<'_> {
    pub(super) fn track(&mut self) -> Located<()> {
        let open = self.open_brace("Track")?;
        self.braced(
            open,
            PARAMETER,
            Some("a tracker (Interface, Command or File) inside Track"),
            Self::track_parameter,
        )
    }

    fn track_parameter(&mut self) -> Located<()> {
        let (parameter, _) = self.keyword(TRACK_PARAMETERS, PARAMETER)?;
        match parameter {
            TrackParameter::Interface => {
                self.expect_equals("Interface")?;
                let (interface, at) = self.string(INTERFACE_EXPECTED)?;
                if interface_name_fault(interface).is_some() {
                    return Err(bad_value(
                        at,
                        format!("interface name `{interface}`"),
                        INTERFACE_EXPECTED,
                    ));
                }
                let track = &mut self.config.track;
                if track.interfaces.iter().any(|i| i == interface) {
                    return Err(twice(at, format!("interface {interface}")));
                }
                track.interfaces.push(interface.to_string());
            }
            TrackParameter::Command => {
                self.expect_equals("Command")?;
                let (command, at) = self.string(COMMAND_EXPECTED)?;
                if command.trim().is_empty() {
                    return Err(bad_value(
                        at,
                        "an empty command".to_string(),
                        COMMAND_EXPECTED,
                    ));
                }
                let mut check = CheckCommand::new(command);
                if matches!(self.peek(), Some(t) if t.kind == TokenKind::OpenBrace) {
                    self.check_settings(&mut check)?;
                }
                let track = &mut self.config.track;
                if track.commands.iter().any(|c| c.command == check.command) {
                    return Err(twice(at, format!("command \"{command}\"")));
                }
                track.commands.push(check);
            }
            TrackParameter::File => {
                self.expect_equals("File")?;
                let (path, at) = self.string(FILE_EXPECTED)?;
                // The daemon runs from `/`: a relative path would name
                // another file there than under `-t`.
                if !path.starts_with('/') {
                    return Err(bad_value(at, format!("path \"{path}\""), FILE_EXPECTED));
                }
                let path = PathBuf::from(path);
                let track = &mut self.config.track;
                if track.files.contains(&path) {
                    return Err(twice(at, format!("file {}", path.display())));
                }
                track.files.push(path);
            }
            TrackParameter::HoldDown => {
                self.expect_equals("HoldDown")?;
                self.config.track.hold_down = self.interval()?;
            }
            TrackParameter::Unservable => {
                self.expect_equals("Unservable")?;
                let (word, at) = self.word(UNSERVABLE_EXPECTED)?;
                self.config.track.unservable = match word.to_ascii_lowercase().as_str() {
                    "keep" => Unservable::Keep,
                    "release" => Unservable::Release,
                    _ => return Err(bad_value(at, format!("`{word}`"), UNSERVABLE_EXPECTED)),
                };
            }
        }
        Ok(())
    }

    /// `{ Interval = T  Timeout = T  Fall = N  Rise = N }` after a
    /// command; the `Timeout` not written is half the interval.
    fn check_settings(&mut self, check: &mut CheckCommand) -> Located<()> {
        let open = self.expect(TokenKind::OpenBrace, "`{`")?.position;
        let mut timeout_at = None;
        self.braced(
            open,
            CHECK_PARAMETER,
            Some("a setting (Interval, Timeout, Fall or Rise) of the command"),
            |p| {
                let (parameter, _) = p.keyword(CHECK_PARAMETERS, CHECK_PARAMETER)?;
                match parameter {
                    CheckParameter::Interval => {
                        check.interval = p.positive_interval("Interval")?;
                    }
                    CheckParameter::Timeout => {
                        timeout_at = p.peek().map(|t| t.position);
                        check.timeout = p.positive_interval("Timeout")?;
                    }
                    CheckParameter::Fall => check.fall = p.count("Fall")?,
                    CheckParameter::Rise => check.rise = p.count("Rise")?,
                }
                Ok(())
            },
        )?;
        match timeout_at {
            None => check.timeout = check.interval / 2,
            Some(at) if check.timeout >= check.interval => {
                return Err(bad_value(
                    at,
                    format!(
                        "a Timeout of {} with an Interval of {}",
                        values::format_interval(check.timeout),
                        values::format_interval(check.interval)
                    ),
                    "a Timeout below the command's Interval",
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// `= N` with N at least 1.
    fn count(&mut self, parameter: &str) -> Located<u32> {
        self.expect_equals(parameter)?;
        let (text, at) = self.word(COUNT_EXPECTED)?;
        values::parse_number(text)
            .filter(|&n| n > 0)
            .ok_or_else(|| bad_value(at, format!("{parameter} `{text}`"), COUNT_EXPECTED))
    }
}

/// The same tracker listed twice.
fn twice(at: Position, what: String) -> (Position, crate::config::ErrorKind) {
    bad_value(
        at,
        format!("{what} tracked a second time"),
        "each tracker once inside Track",
    )
}
