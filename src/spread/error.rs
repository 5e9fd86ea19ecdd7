//! The Spread layer's error: every failure a caller can meet, with a
//! message that says what to do about it.

use super::wire::{
    DecodeError, RejectCode, Version, MAX_GROUPS_PER_REQUEST, MAX_GROUP_NAME, MAX_PRIVATE_NAME,
};
use std::fmt;
use std::io;

/// What can go wrong between a client and its Spread daemon.
#[derive(Debug)]
pub enum Error {
    /// The private name is too long or has a character outside `$`..`~`.
    IllegalPrivateName {
        /// The name asked for.
        name: String,
    },
    /// Priority other than 0 or 1.
    IllegalPriority(u8),
    /// A group name the daemon would refuse.
    IllegalGroup {
        /// The group name.
        group: String,
    },
    /// A multicast to no group, or to more than 100.
    GroupCount {
        /// Groups addressed.
        count: usize,
    },
    /// Body plus group list above Spread's message limit.
    MessageTooLong {
        /// Bytes of body and group list.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The daemon's host name does not resolve.
    Resolve {
        /// The address as given.
        address: String,
        /// Why it does not resolve.
        source: io::Error,
    },
    /// No connection to the daemon.
    CouldNotConnect {
        /// The address tried.
        address: String,
        /// Why the connection failed.
        source: io::Error,
    },
    /// The daemon did not complete the handshake in time.
    Timeout {
        /// The daemon's address.
        address: String,
    },
    /// The daemon does not offer the NULL authentication method.
    NoNullAuth {
        /// The methods it offers.
        offered: Vec<String>,
    },
    /// The daemon refused the session.
    Rejected {
        /// The daemon's address.
        address: String,
        /// Its reason.
        code: RejectCode,
    },
    /// The daemon is older than this protocol supports.
    DaemonTooOld {
        /// The version it speaks.
        version: Version,
    },
    /// The daemon closed the connection (or it was shut down locally).
    ConnectionClosed,
    /// The daemon took longer than `ConnectOptions::send_timeout` to take
    /// a message; the session has been shut down.
    SendTimedOut,
    /// A socket error after the connection was made.
    Io {
        /// What was being done.
        context: &'static str,
        /// The socket error.
        source: io::Error,
    },
    /// The daemon sent bytes that are not a valid message: the session
    /// cannot be trusted any more.
    Protocol(DecodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::IllegalPrivateName { name } => write!(
                f,
                "Spread private name {name:?} is illegal: use at most {MAX_PRIVATE_NAME} characters from '$' to '~'"
            ),
            Error::IllegalPriority(p) => write!(f, "Spread priority {p} is illegal: use 0 or 1"),
            Error::IllegalGroup { group } => write!(
                f,
                "Spread group name {group:?} is illegal: use 1 to {MAX_GROUP_NAME} characters from '$' to '~'"
            ),
            Error::GroupCount { count } => write!(
                f,
                "a Spread message goes to 1 to {MAX_GROUPS_PER_REQUEST} groups, not {count}"
            ),
            Error::MessageTooLong { len, max } => write!(
                f,
                "Spread message of {len} bytes (body plus 32 per group) is over the limit of {max}: send less"
            ),
            Error::Resolve { address, source } => {
                write!(f, "cannot resolve the Spread daemon's host {address}: {source}; check the Spread setting")
            }
            Error::CouldNotConnect { address, source } => write!(
                f,
                "cannot connect to the Spread daemon at {address}: {source}; is the daemon running there?"
            ),
            Error::Timeout { address } => write!(
                f,
                "the Spread daemon at {address} did not complete the connection in time; check that it is healthy"
            ),
            Error::NoNullAuth { offered } => write!(
                f,
                "the Spread daemon offers only the authentication methods {offered:?}; allow NULL in its configuration"
            ),
            Error::Rejected { address, code } => {
                write!(f, "the Spread daemon at {address} refused the session: ")?;
                match code {
                    RejectCode::NotUnique => {
                        write!(f, "the private name is already connected; choose another name or stop the other client")
                    }
                    RejectCode::IllegalName => {
                        write!(f, "illegal private name; use at most 10 characters from '$' to '~'")
                    }
                    RejectCode::Version => write!(f, "it does not accept this client version; upgrade the daemon"),
                    RejectCode::Auth => {
                        write!(f, "authentication or access control refused; check the daemon's access rules")
                    }
                    RejectCode::Quota => write!(f, "its session table is full; disconnect other clients"),
                    RejectCode::NoName => write!(f, "no private name was given; give one"),
                    RejectCode::Other(c) => write!(f, "unknown reject code {c}"),
                }
            }
            Error::DaemonTooOld { version } => {
                write!(f, "the Spread daemon is version {version}; 3.1.0 or later is needed (3.8.0 for priority 1)")
            }
            Error::ConnectionClosed => {
                write!(f, "the connection to the Spread daemon is closed; reconnect")
            }
            Error::SendTimedOut => write!(
                f,
                "the Spread daemon stopped taking our messages in time; the session is closed, \
                 reconnect (and check that the daemon is healthy)"
            ),
            Error::Io { context, source } => {
                write!(f, "Spread connection failed while {context}: {source}; reconnect")
            }
            Error::Protocol(e) => write!(
                f,
                "the Spread daemon sent an invalid message ({e}); disconnect and reconnect"
            ),
        }
    }
}

impl Error {
    /// Whether trying the same thing again can succeed without someone
    /// changing a configuration: `false` for a daemon that cannot be
    /// reached, is busy or dropped us (transient), `true` for a refusal by
    /// its access control, a version it will never accept, or a name or
    /// group it will never take (permanent). Callers retry permanent
    /// failures at a slow pace, and report them as errors.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::IllegalPrivateName { .. }
            | Error::IllegalPriority(_)
            | Error::IllegalGroup { .. }
            | Error::GroupCount { .. }
            | Error::MessageTooLong { .. }
            | Error::NoNullAuth { .. }
            | Error::DaemonTooOld { .. } => true,
            Error::Rejected { code, .. } => match code {
                RejectCode::Auth
                | RejectCode::Version
                | RejectCode::IllegalName
                | RejectCode::NoName => true,
                // Our previous session may still be registered (a restart
                // faster than the daemon noticed), or the table frees up.
                RejectCode::NotUnique | RejectCode::Quota | RejectCode::Other(_) => false,
            },
            Error::Resolve { .. }
            | Error::CouldNotConnect { .. }
            | Error::Timeout { .. }
            | Error::ConnectionClosed
            | Error::SendTimedOut
            | Error::Io { .. }
            | Error::Protocol(_) => false,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resolve { source, .. }
            | Error::CouldNotConnect { source, .. }
            | Error::Io { source, .. } => Some(source),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Protocol(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_only_a_person_can_lift_are_permanent() {
        let rejected = |code| Error::Rejected {
            address: "4803".into(),
            code,
        };
        assert!(rejected(RejectCode::Auth).is_permanent());
        assert!(rejected(RejectCode::Version).is_permanent());
        assert!(rejected(RejectCode::IllegalName).is_permanent());
        assert!(Error::NoNullAuth { offered: vec![] }.is_permanent());
        assert!(Error::IllegalGroup {
            group: "a b".into()
        }
        .is_permanent());
    }

    #[test]
    fn a_daemon_that_is_away_busy_or_still_holding_our_name_is_transient() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(!Error::CouldNotConnect {
            address: "4803".into(),
            source: refused
        }
        .is_permanent());
        assert!(!Error::Timeout {
            address: "4803".into()
        }
        .is_permanent());
        assert!(!Error::ConnectionClosed.is_permanent());
        for code in [
            RejectCode::NotUnique,
            RejectCode::Quota,
            RejectCode::Other(-20),
        ] {
            let err = Error::Rejected {
                address: "4803".into(),
                code,
            };
            assert!(!err.is_permanent(), "{err}");
        }
    }
}
