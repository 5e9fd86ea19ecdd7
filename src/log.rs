//! The daemon's one logging facade: syslog when detached (facility from
//! the configuration, changeable on reload), timestamped stderr lines in
//! the foreground. Usable from any thread through the `log_*!` macros.
//!
//! Until [`init`] is called, records go to stderr at the default level, so
//! errors met while starting up are never lost.

use std::fmt;
use std::io::Write;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::base::Level;
use crate::base::LogFacility;

/// Where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Timestamped lines on stderr (`-d`).
    Stderr,
    /// The local syslog daemon, with this facility.
    Syslog(LogFacility),
}

/// Logging could not be set up.
#[derive(Debug)]
pub enum LogError {
    /// No syslog daemon answered on its socket.
    SyslogUnavailable {
        /// The socket tried.
        socket: String,
        /// Why it failed.
        reason: String,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::SyslogUnavailable { socket, reason } => {
                write!(f, "cannot reach syslog at {socket}: {reason}")
            }
        }
    }
}

impl std::error::Error for LogError {}

const PROCESS_NAME: &str = "wackamole";
/// Where the system's syslog daemon listens.
const DEFAULT_SOCKET: &str = "/dev/log";

/// An open connection to the syslog socket: a datagram socket as
/// nearly every syslog daemon offers, or a stream for those configured
/// so (records then end with a NUL byte, as the C library's `syslog()`
/// sends them).
enum Connection {
    Datagram(UnixDatagram),
    Stream(UnixStream),
}

impl Connection {
    fn open(path: &Path) -> std::io::Result<Connection> {
        let datagram = UnixDatagram::unbound()?;
        match datagram.connect(path) {
            Ok(()) => Ok(Connection::Datagram(datagram)),
            Err(err) if err.raw_os_error() == Some(libc::EPROTOTYPE) => {
                UnixStream::connect(path).map(Connection::Stream)
            }
            Err(err) => Err(err),
        }
    }

    fn send(&mut self, record: &[u8]) -> std::io::Result<()> {
        match self {
            Connection::Datagram(socket) => socket.send(record).map(drop),
            Connection::Stream(stream) => {
                stream.write_all(record)?;
                stream.write_all(&[0])
            }
        }
    }
}

/// A connection to syslog that remembers how to reconnect: syslogd may be
/// restarted under a long-running daemon, or start after it.
struct SyslogSink {
    /// `None`: the system's default socket (`/dev/log`).
    socket: Option<PathBuf>,
    facility: LogFacility,
    /// `None` while syslog cannot be reached.
    connection: Option<Connection>,
}

impl SyslogSink {
    fn connect(facility: LogFacility, socket: Option<&Path>) -> Result<SyslogSink, LogError> {
        let path = socket.unwrap_or(Path::new(DEFAULT_SOCKET));
        let connection = Connection::open(path).map_err(|e| LogError::SyslogUnavailable {
            socket: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(SyslogSink {
            socket: socket.map(Path::to_path_buf),
            facility,
            connection: Some(connection),
        })
    }

    /// A sink that connects when syslog can be reached, and until then
    /// drops records: a daemon that keeps addresses available must not
    /// refuse to run because the system logger is not up (yet).
    fn connect_later(facility: LogFacility, socket: Option<&Path>) -> SyslogSink {
        SyslogSink::connect(facility, socket).unwrap_or(SyslogSink {
            socket: socket.map(Path::to_path_buf),
            facility,
            connection: None,
        })
    }

    fn send(&mut self, level: Level, message: &str) -> bool {
        let Some(connection) = &mut self.connection else {
            return false;
        };
        let record = syslog_record(self.facility, level, std::process::id(), message);
        connection.send(record.as_bytes()).is_ok()
    }

    /// Sends, reconnecting once if the socket went away. A record that
    /// still cannot be delivered is dropped: there is nowhere left to
    /// report it (stderr is /dev/null once detached).
    fn write(&mut self, level: Level, message: &str) {
        if self.send(level, message) {
            return;
        }
        if let Ok(fresh) = SyslogSink::connect(self.facility, self.socket.as_deref()) {
            *self = fresh;
            self.send(level, message);
        }
    }
}

/// One record for the local syslog socket: `<PRI>wackamole[PID]: text`,
/// the priority being facility × 8 + severity. It carries no timestamp
/// or host name: the local syslog daemon stamps records without one as
/// they arrive (RFC 3164, 4.3), which spares the binary a time-zone
/// library.
fn syslog_record(facility: LogFacility, level: Level, pid: u32, message: &str) -> String {
    // Level runs from Error (0) to Debug (4); syslog's severities from
    // err (3) to debug (7).
    let priority = facility_code(facility) * 8 + 3 + level as u32;
    format!("<{priority}>{PROCESS_NAME}[{pid}]: {message}")
}

/// The facility's number in the syslog protocol.
fn facility_code(facility: LogFacility) -> u32 {
    match facility {
        LogFacility::Kern => 0,
        LogFacility::User => 1,
        LogFacility::Mail => 2,
        LogFacility::Daemon => 3,
        LogFacility::Auth => 4,
        LogFacility::Syslog => 5,
        LogFacility::Lpr => 6,
        LogFacility::News => 7,
        LogFacility::Uucp => 8,
        LogFacility::Cron => 9,
        LogFacility::AuthPriv => 10,
        LogFacility::Ftp => 11,
        LogFacility::Local0 => 16,
        LogFacility::Local1 => 17,
        LogFacility::Local2 => 18,
        LogFacility::Local3 => 19,
        LogFacility::Local4 => 20,
        LogFacility::Local5 => 21,
        LogFacility::Local6 => 22,
        LogFacility::Local7 => 23,
    }
}

/// Whether the system's syslog can be reached now (checked before
/// detaching, while a warning can still reach the terminal).
pub fn syslog_reachable() -> Result<(), LogError> {
    SyslogSink::connect(LogFacility::Daemon, None).map(drop)
}

enum Sink {
    Stderr,
    Syslog(SyslogSink),
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Stderr);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

fn sink() -> MutexGuard<'static, Sink> {
    // A thread that panicked while logging leaves a usable sink behind.
    SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Directs every later record to `target`, showing records up to `max`
/// (`Level::Debug` under `-d`). Syslog need not be reachable yet: records
/// reach it once it is.
pub fn init(target: Target, max: Level) {
    let new_sink = match target {
        Target::Stderr => Sink::Stderr,
        Target::Syslog(facility) => Sink::Syslog(SyslogSink::connect_later(facility, None)),
    };
    install(new_sink, max);
}

fn install(new_sink: Sink, max: Level) {
    *sink() = new_sink;
    set_max_level(max);
}

/// Changes the most verbose level shown.
pub fn set_max_level(max: Level) {
    MAX_LEVEL.store(max as u8, Ordering::Relaxed);
}

/// The most detailed level records are emitted at.
pub fn max_level() -> Level {
    Level::from_u8(MAX_LEVEL.load(Ordering::Relaxed))
}

/// Switches the syslog facility (a reloaded configuration). Does nothing
/// when logging to stderr. When syslog cannot be reached now, the new
/// facility applies once it can.
pub fn set_facility(facility: LogFacility) {
    let mut guard = sink();
    if let Sink::Syslog(current) = &mut *guard {
        if current.facility != facility {
            *current = SyslogSink::connect_later(facility, current.socket.as_deref());
        }
    }
}

/// Writes one record; what the `log_*!` macros expand to.
pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    if level > max_level() {
        return;
    }
    let mut guard = sink();
    match &mut *guard {
        Sink::Stderr => {
            let line = stderr_line(SystemTime::now(), level, args);
            // One write per line keeps lines from different threads whole.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        Sink::Syslog(syslog) => syslog.write(level, &args.to_string()),
    }
}

/// `2024-05-01T12:34:56.789Z notice: message\n` (UTC).
fn stderr_line(now: SystemTime, level: Level, args: fmt::Arguments<'_>) -> String {
    format!("{} {}: {args}\n", utc_timestamp(now), level.as_str())
}

/// `2024-05-01T12:34:56.789Z`: the time in UTC to the millisecond, as log
/// lines and `wackatrl --watch` show it (times before 1970 read as 1970).
pub fn utc_timestamp(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis(),
    )
}

/// Proleptic Gregorian date of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Logs a record at [`Level::Error`], `format!`-style.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Logs a record at [`Level::Warning`], `format!`-style.
#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Warning, format_args!($($arg)*)) };
}

/// Logs a record at [`Level::Notice`], `format!`-style.
#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Notice, format_args!($($arg)*)) };
}

/// Logs a record at [`Level::Info`], `format!`-style.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Logs a record at [`Level::Debug`], `format!`-style.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Debug, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 2048];
        let n = socket
            .recv(&mut buf)
            .expect("a syslog record within the time-out");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn stderr_lines_carry_a_utc_millisecond_timestamp() {
        let at = UNIX_EPOCH + Duration::from_millis(1_714_566_896_789);
        let line = stderr_line(
            at,
            Level::Notice,
            format_args!("UP: {}", "eth0:10.0.0.5/24"),
        );
        assert_eq!(
            line,
            "2024-05-01T12:34:56.789Z notice: UP: eth0:10.0.0.5/24\n"
        );
    }

    #[test]
    fn calendar_dates_are_right_across_leap_days_and_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn syslog_records_carry_facility_severity_and_process() {
        let dir = TempDir::new("log-sink");
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut sink = SyslogSink::connect(LogFacility::Local3, Some(&path)).unwrap();
        sink.write(Level::Warning, "VIF eth0:10.0.0.5 released");
        let record = receive(&server);
        // local3 = 19, warning = 4: 19 * 8 + 4.
        assert!(record.starts_with("<156>"), "{record}");
        let tail = format!(
            "wackamole[{}]: VIF eth0:10.0.0.5 released",
            std::process::id()
        );
        assert!(record.ends_with(&tail), "{record}");
    }

    #[test]
    fn records_number_every_facility_and_severity_as_syslog_does() {
        let cases = [
            (LogFacility::Kern, Level::Error, 3),
            (LogFacility::Daemon, Level::Debug, 31),
            (LogFacility::AuthPriv, Level::Info, 86),
            (LogFacility::Ftp, Level::Notice, 93),
            (LogFacility::Local7, Level::Warning, 188),
        ];
        for (facility, level, priority) in cases {
            assert_eq!(
                syslog_record(facility, level, 42, "text"),
                format!("<{priority}>wackamole[42]: text")
            );
        }
    }

    #[test]
    fn a_stream_socket_receives_records_ending_in_nul() {
        let dir = TempDir::new("log-stream");
        let path = dir.path().join("log");
        let listener = UnixListener::bind(&path).unwrap();
        let mut sink = SyslogSink::connect(LogFacility::User, Some(&path)).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        accepted
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        sink.write(Level::Info, "one");
        sink.write(Level::Info, "two");
        drop(sink);
        let mut bytes = Vec::new();
        accepted.read_to_end(&mut bytes).unwrap();
        let pid = std::process::id();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            format!("<14>wackamole[{pid}]: one\0<14>wackamole[{pid}]: two\0")
        );
    }

    #[test]
    fn an_absent_syslog_is_a_clear_error() {
        let dir = TempDir::new("log-absent");
        let path = dir.path().join("nobody-here");
        let err = SyslogSink::connect(LogFacility::Daemon, Some(&path))
            .err()
            .expect("connecting to a missing socket fails");
        assert!(err.to_string().contains("nobody-here"), "{err}");
    }

    #[test]
    fn a_syslog_that_starts_later_receives_later_records() {
        let dir = TempDir::new("log-late");
        let path = dir.path().join("log");
        let mut sink = SyslogSink::connect_later(LogFacility::Daemon, Some(&path));
        sink.write(Level::Error, "nobody listens yet");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        sink.write(Level::Error, "syslog is up");
        assert!(receive(&server).ends_with("syslog is up"));
    }

    // The only test touching the process-wide sink.
    #[test]
    fn global_facade_filters_levels_serves_threads_and_reloads_facility() {
        let dir = TempDir::new("log-global");
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let sink = SyslogSink::connect(LogFacility::Daemon, Some(&path)).unwrap();
        install(Sink::Syslog(sink), Level::Info);

        log_debug!("hidden below the level");
        let threads: Vec<_> = (0..4)
            .map(|i| std::thread::spawn(move || log_error!("from thread {i}")))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut seen: Vec<String> = (0..4).map(|_| receive(&server)).collect();
        seen.sort();
        for (i, record) in seen.iter().enumerate() {
            // daemon = 3, err = 3.
            assert!(record.starts_with("<27>"), "{record}");
            assert!(record.ends_with(&format!("from thread {i}")), "{record}");
        }

        set_facility(LogFacility::Local0);
        log_notice!("after reload");
        let record = receive(&server);
        // local0 = 16, notice = 5.
        assert!(record.starts_with("<133>"), "{record}");

        set_max_level(Level::Debug);
        log_debug!("now shown");
        assert!(receive(&server).ends_with("now shown"));

        install(Sink::Stderr, Level::Info);
    }
}
