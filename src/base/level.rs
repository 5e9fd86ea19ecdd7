//! How severe a log record is, and which syslog facility records go to:
//! named by the configuration, produced by the engine, written by the log.

super::wire_enum::wire_enum! {
/// Severity of a record, most severe first (syslog's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level: u8 {
    /// A failure the operator must act on.
    Error = 0,
    /// Something went wrong but the daemon goes on.
    Warning = 1,
    /// A normal event worth noting (a VIF moving).
    Notice = 2,
    /// Informational.
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
}
}

impl Level {
    /// The lowercase name, as the configuration and stderr spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// The level stored as `self as u8`; anything above is `Debug`.
    pub fn from_u8(value: u8) -> Level {
        match Level::from_wire_value(value) {
            Some(level) => level,
            None => Level::Debug,
        }
    }
}

/// The syslog facility named by `LogFacility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFacility {
    /// `kern`.
    Kern,
    /// `user`.
    User,
    /// `mail`.
    Mail,
    /// `daemon` (the default).
    #[default]
    Daemon,
    /// `auth`.
    Auth,
    /// `syslog`.
    Syslog,
    /// `lpr`.
    Lpr,
    /// `news`.
    News,
    /// `uucp`.
    Uucp,
    /// `cron`.
    Cron,
    /// `authpriv`.
    AuthPriv,
    /// `ftp`.
    Ftp,
    /// `local0`.
    Local0,
    /// `local1`.
    Local1,
    /// `local2`.
    Local2,
    /// `local3`.
    Local3,
    /// `local4`.
    Local4,
    /// `local5`.
    Local5,
    /// `local6`.
    Local6,
    /// `local7`.
    Local7,
}
