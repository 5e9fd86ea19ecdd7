//! How severe a log record is, and which syslog facility records go to:
//! named by the configuration, produced by the engine, written by the log.

/// Severity of a record, most severe first (syslog's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warning = 1,
    Notice = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
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
        match value {
            0 => Level::Error,
            1 => Level::Warning,
            2 => Level::Notice,
            3 => Level::Info,
            _ => Level::Debug,
        }
    }
}

/// The syslog facility named by `LogFacility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFacility {
    Kern,
    User,
    Mail,
    #[default]
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    AuthPriv,
    Ftp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}
