//! What the drivers observe: a link's state, a check command's outcome,
//! and the bounded text that is kept of a command's output.

use std::fmt;
use std::time::Duration;

/// Longest result text kept and shown (characters of the first line).
pub const MAX_RESULT_CHARS: usize = 200;

/// An interface as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Administratively up, with carrier: it can serve.
    Up,
    /// Administratively down.
    Down,
    /// Up, but without carrier (a cable pulled, a peer down).
    NoCarrier,
    /// No interface of that name exists (never did, deleted or renamed).
    Missing,
}

impl LinkState {
    /// Whether an address on it can be served.
    pub fn serves(self) -> bool {
        self == LinkState::Up
    }

    /// Why, as a log notice words it after the interface's name.
    pub fn reason(self) -> &'static str {
        match self {
            LinkState::Up => "is up with carrier",
            LinkState::Down => "is down",
            LinkState::NoCarrier => "lost carrier",
            LinkState::Missing => "does not exist",
        }
    }

    /// The short word of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::NoCarrier => "no carrier",
            LinkState::Missing => "missing",
        }
    }
}

/// How one run of a check command ended. The output is what the driver
/// read of it (bounded there); only its first line is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It exited with this status (0 passes).
    Exited {
        /// The exit status.
        status: i32,
        /// What it wrote (stdout and stderr).
        output: String,
    },
    /// A signal ended it.
    Killed {
        /// The signal's number.
        signal: i32,
        /// What it wrote.
        output: String,
    },
    /// Still running at its time-out: its process group was killed.
    TimedOut {
        /// The time-out it exceeded.
        after: Duration,
        /// What it wrote before.
        output: String,
    },
    /// It could not be started at all.
    CannotRun {
        /// Why.
        error: String,
    },
}

impl CheckOutcome {
    /// Whether the run passes.
    pub fn passed(&self) -> bool {
        matches!(self, CheckOutcome::Exited { status: 0, .. })
    }

    /// One bounded line: how it ended and the first line of its output.
    pub fn summary(&self) -> String {
        let (how, output) = match self {
            CheckOutcome::Exited { status, output } => (format!("exit status {status}"), output),
            CheckOutcome::Killed { signal, output } => {
                (format!("killed by signal {signal}"), output)
            }
            CheckOutcome::TimedOut { after, output } => {
                (format!("timed out after {after:?}, killed"), output)
            }
            CheckOutcome::CannotRun { error } => {
                return bounded_line(&format!("cannot be run: {error}"))
            }
        };
        let first = bounded_line(output);
        if first.is_empty() {
            how
        } else {
            bounded_line(&format!("{how}: {first}"))
        }
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// The first non-empty line of `text`, trimmed, control characters
/// replaced, at most [`MAX_RESULT_CHARS`] characters (an ellipsis marks
/// a cut): safe to log and to show whatever a command wrote.
pub fn bounded_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    let mut out = String::new();
    for (count, c) in line.chars().enumerate() {
        if count == MAX_RESULT_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}
