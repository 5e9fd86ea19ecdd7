//! The control socket (`Control = PATH`) and the `wackatrl` client.
//!
//! The byte protocol is the original's, so old tooling keeps working: a
//! client writes one request byte and reads the reply, and may go on with
//! further requests on the same connection (the original `wackatrl -f`
//! sends 1, then 0). Integers are int32 in network byte order.
//!
//! | byte | request | reply |
//! |---|---|---|
//! | 0 | get state | int32 L, then L bytes: per VIF 900 bytes (see [`wire`]) |
//! | 1 | simulate failure | int32 0 |
//! | 2 | end the simulated failure | int32 0 |
//! | 3 | get JSON status (ours) | int32 L, then L bytes of UTF-8 JSON (see [`status_report`]) |
//! | 4 | watch (ours) | lines of JSON, one per event, until either side closes (see [`watch`]); the client sends nothing more |
//!
//! Bytes 3 and 4 are extensions: the original protocol has no room for the
//! node state, members or view, and the original client never sends them
//! (the original daemon closes the connection on them). `wackatrl
//! --metrics` renders the JSON status in the Prometheus text format
//! ([`metrics`]) on the client's side. The JSON status document (its
//! types, the grammar check a reply passes, the value tree and the
//! decoder) is in [`json`].
//!
//! The tool's side: [`client`] holds a connection to the socket (the
//! requests, their time-outs) and renders the listing, [`watch_client`]
//! follows a watch over such a connection, and [`wackatrl`] is what the
//! command does with the two.

pub mod client;
pub mod json;
pub mod metrics;
pub mod server;
pub mod status_report;
pub mod wackatrl;
pub mod watch;
pub mod watch_client;
pub mod watchers;
pub mod wire;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use client::{render_listing, ControlClient};
pub use server::{ControlHandle, ControlServer, Limits, Request, Responder};
pub use status_report::{
    MemberStatus, QuorumStatus, ServiceStatus, StatusReport, TrackerStatus, VifStatus,
};
pub use wackatrl::{run, Action};
pub use watch::{EndCause, MoveReason, RefusalReason, WatchEvent, WatchItem, WatchRecord};
pub use watchers::{WatchLimits, Watchers};
pub use wire::{AddressRecord, RequestKind, StateReply, VifRecord};

/// What went wrong on the control socket, on either side.
#[derive(Debug)]
pub enum ControlError {
    /// A system call on the socket failed.
    Io {
        /// What was being done.
        context: String,
        /// The socket error.
        source: io::Error,
    },
    /// `bind`: a daemon already answers on this socket.
    InUse(PathBuf),
    /// `bind`: the path exists and is not a socket; we never delete it.
    NotASocket(PathBuf),
    /// The peer did not answer in time.
    TimedOut(&'static str),
    /// The peer closed the connection before the reply was complete.
    Truncated(&'static str),
    /// A request byte that is not in the protocol.
    UnknownRequest(u8),
    /// A reply that does not follow the protocol.
    BadReply(String),
    /// The daemon answered a failure/success request with a non-zero code.
    Refused(i32),
    /// The daemon's engine did not take or answer the request.
    DaemonGone,
    /// The daemon ended a watch for this reason (refused or dropped it).
    WatchEnded(String),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Io { context, source } => write!(f, "{context}: {source}"),
            ControlError::InUse(path) => write!(
                f,
                "control socket {}: another wackamole answers on it",
                path.display()
            ),
            ControlError::NotASocket(path) => write!(
                f,
                "control socket {}: exists and is not a socket (not removed)",
                path.display()
            ),
            ControlError::TimedOut(what) => write!(f, "control socket: timed out {what}"),
            ControlError::Truncated(what) => {
                write!(f, "control socket: connection closed {what}")
            }
            ControlError::UnknownRequest(byte) => {
                write!(f, "control socket: unknown request byte {byte}")
            }
            ControlError::BadReply(what) => write!(f, "control socket: malformed reply: {what}"),
            ControlError::Refused(code) => {
                write!(
                    f,
                    "control socket: the daemon refused the request (code {code})"
                )
            }
            ControlError::DaemonGone => {
                write!(f, "control socket: the daemon did not answer the request")
            }
            ControlError::WatchEnded(reason) => write!(f, "control socket: {reason}"),
        }
    }
}

impl std::error::Error for ControlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ControlError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl ControlError {
    fn io(context: impl Into<String>, source: io::Error) -> ControlError {
        ControlError::Io {
            context: context.into(),
            source,
        }
    }

    /// Maps a read/write error, telling time-outs apart.
    fn transfer(what: &'static str, source: io::Error) -> ControlError {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ControlError::TimedOut(what),
            io::ErrorKind::UnexpectedEof => ControlError::Truncated(what),
            _ => ControlError::io(format!("control socket: {what}"), source),
        }
    }
}
