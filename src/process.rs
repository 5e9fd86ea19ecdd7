//! The daemon as a Unix process: detaching, the pid file, and signals
//! turned into events.
//!
//! Order at start: [`block_signals`] and [`daemonize`] (unless `-d`)
//! before any thread exists, then [`PidFile::create`], then the threads,
//! among them [`spawn_signal_thread`], then [`StartupReport::ready`]. No signal handler is installed:
//! the signals are only ever taken by `sigwait` on the signal thread, so
//! nothing runs in signal context.

use std::ffi::CStr;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use crate::log_notice;

/// The default pid file.
pub const DEFAULT_PID_FILE: &str = "/var/run/wackamole.pid";

/// Why the daemon could not become a daemon.
#[derive(Debug)]
pub enum ProcessError {
    /// A system call of detaching failed.
    Detach {
        /// The system call.
        step: &'static str,
        /// Its error.
        source: io::Error,
    },
    /// The pid file could not be written.
    PidFile {
        /// The pid file.
        path: PathBuf,
        /// Why it could not be written.
        source: io::Error,
    },
    /// Another live process holds the pid file.
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The process it names, if it could be read.
        pid: Option<u32>,
    },
    /// The signal mask or the signal thread could not be set up.
    Signals(io::Error),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Detach { step, source } => write!(f, "cannot detach: {step}: {source}"),
            ProcessError::PidFile { path, source } => {
                write!(f, "pid file {}: {source}", path.display())
            }
            ProcessError::AlreadyRunning {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "pid file {}: wackamole is already running as pid {pid}",
                path.display()
            ),
            ProcessError::AlreadyRunning { path, pid: None } => write!(
                f,
                "pid file {}: held by another running process",
                path.display()
            ),
            ProcessError::Signals(source) => write!(f, "cannot set up signal handling: {source}"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Detach { source, .. }
            | ProcessError::PidFile { source, .. }
            | ProcessError::Signals(source) => Some(source),
            ProcessError::AlreadyRunning { .. } => None,
        }
    }
}

fn detach_step(step: &'static str, result: libc::c_int) -> Result<libc::c_int, ProcessError> {
    if result < 0 {
        Err(ProcessError::Detach {
            step,
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(result)
    }
}

/// Detaches from the terminal: fork, new session, fork again (so no
/// terminal can be reacquired), working directory `/`, umask 027,
/// stdin/stdout/stderr on /dev/null. Returns in the final process. Call it
/// before any thread is started: only the calling thread survives a fork.
///
/// The process that called it does not exit at once: it waits until the
/// detached daemon reports through the returned [`StartupReport`], then
/// exits 0 when the daemon is ready, or prints the daemon's error on its
/// own stderr and exits 1. So an init script sees a daemon that could not
/// start (a pid file it cannot write, say) as a failed start, not as a
/// success followed by silence.
pub fn daemonize() -> Result<StartupReport, ProcessError> {
    let mut ends = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    detach_step("pipe", unsafe {
        libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    let [read_end, write_end] = ends;
    // SAFETY: fork/close touch no Rust state; the parent branch never
    // returns.
    let pid = unsafe { libc::fork() };
    if pid > 0 {
        // SAFETY: write_end is the parent's copy of the pipe's write end,
        // which nothing else closes; the parent only reads.
        unsafe { libc::close(write_end) };
        await_startup(read_end);
    }
    // SAFETY: read_end is this process's copy of the pipe's read end,
    // which nothing else closes; the child only writes.
    unsafe { libc::close(read_end) };
    // SAFETY: write_end is open (pipe2 above) and nothing else owns it, so
    // the OwnedFd is its only owner from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(write_end) };
    let report = StartupReport { fd };
    detach_step("fork", pid)?;
    match detach_child() {
        Ok(()) => Ok(report),
        Err(err) => {
            if let ProcessError::Detach { step, .. } = &err {
                report.send(b"cannot detach: ");
                report.send(step.as_bytes());
            }
            Err(err)
        }
    }
}

/// The first child's part of [`daemonize`]: returns in the grandchild.
fn detach_child() -> Result<(), ProcessError> {
    // Only async-signal-safe calls below, so this is sound even if the
    // caller broke the rule of starting no thread before.
    // SAFETY: setsid/fork/chdir/umask/open/dup2/close/_exit touch no Rust
    // state.
    unsafe {
        detach_step("setsid", libc::setsid())?;
        if detach_step("second fork", libc::fork())? > 0 {
            libc::_exit(0);
        }
        let root: &CStr = c"/";
        detach_step("chdir /", libc::chdir(root.as_ptr()))?;
        libc::umask(0o027);
        let null: &CStr = c"/dev/null";
        let fd = detach_step("open /dev/null", libc::open(null.as_ptr(), libc::O_RDWR))?;
        for target in 0..=2 {
            detach_step("redirect stdio", libc::dup2(fd, target))?;
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
    Ok(())
}

/// The byte that says "ready"; anything else is an error message.
const READY: u8 = 0;

/// In the process that called [`daemonize`]: waits for the detached
/// daemon's report and exits with it.
fn await_startup(read_end: libc::c_int) -> ! {
    let mut report = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: reading into a buffer we own, at most its length.
        let n = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => break,
            n if n > 0 => report.extend_from_slice(&buf[..n as usize]),
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    let code = match report.first() {
        Some(&READY) => 0,
        Some(_) => {
            eprintln!("wackamole: {}", String::from_utf8_lossy(&report).trim_end());
            1
        }
        None => {
            eprintln!("wackamole: the daemon exited while starting (see the system log)");
            1
        }
    };
    // SAFETY: ends this process without running the caller's destructors,
    // which belong to the detached daemon now.
    unsafe { libc::_exit(code) }
}

/// The detached daemon's one message to the command that started it (see
/// [`daemonize`]). Dropping it unsent reports a start-up failure without
/// details.
#[derive(Debug)]
pub struct StartupReport {
    fd: OwnedFd,
}

impl StartupReport {
    /// Start-up is complete: the starting command exits 0. Callable
    /// between fork and exec.
    pub fn ready(self) {
        self.send(&[READY]);
    }

    /// Start-up failed: the starting command prints `message` and exits 1.
    pub fn failed(self, message: &str) {
        let text = if message.is_empty() {
            "start-up failed"
        } else {
            message
        };
        self.send(text.as_bytes());
    }

    /// Only write(2): callable between fork and exec.
    fn send(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: writing from a live slice to a descriptor we own.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
            if n <= 0 {
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The starting command has gone: nobody to tell.
                return;
            }
            bytes = &bytes[n as usize..];
        }
    }
}

/// The pid file, locked for as long as it lives. Liveness is the lock
/// (`flock`), not the number in the file: a stale file left by a crash is
/// taken over, and a recycled pid never blocks a start. Dropping it
/// removes the file; drop it before the process exits.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    // Holds the lock.
    _file: File,
}

impl PidFile {
    /// Writes our pid to `path`, refusing if another live process holds it.
    pub fn create(path: &Path) -> Result<PidFile, ProcessError> {
        let fail = |source| ProcessError::PidFile {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(fail)?;
        // SAFETY: flock on a descriptor we own; no memory is touched.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(fail(err));
            }
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(ProcessError::AlreadyRunning {
                path: path.to_path_buf(),
                pid: text.trim().parse().ok(),
            });
        }
        file.set_len(0).map_err(fail)?;
        file.rewind().map_err(fail)?;
        writeln!(file, "{}", std::process::id()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _file: file,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Removed while still locked, so no other daemon's file goes.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM, SIGINT, SIGQUIT: release everything and exit.
    Terminate,
    /// SIGHUP: re-read the configuration.
    Reload,
}

const HANDLED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP];

fn handled_set() -> Result<libc::sigset_t, ProcessError> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in HANDLED {
            if libc::sigaddset(&mut set, signal) != 0 {
                return Err(ProcessError::Signals(io::Error::last_os_error()));
            }
        }
        Ok(set)
    }
}

/// Blocks SIGTERM, SIGINT, SIGQUIT and SIGHUP in the calling thread and
/// every thread it starts afterwards, so they stay pending until the
/// signal thread takes them. (Hooks still start with an empty mask: the
/// standard library clears it when spawning a child.)
pub fn block_signals() -> Result<(), ProcessError> {
    let set = handled_set()?;
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(ProcessError::Signals(io::Error::from_raw_os_error(rc)));
    }
    Ok(())
}

fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        _ => "SIGHUP",
    }
}

/// Starts the thread that waits for the blocked signals and sends
/// `map(Signal)` on `events` for each. It ends when `events` is closed
/// (after the next signal). Call [`block_signals`] first.
pub fn spawn_signal_thread<T, F>(events: Sender<T>, map: F) -> Result<JoinHandle<()>, ProcessError>
where
    T: Send + 'static,
    F: Fn(Signal) -> T + Send + 'static,
{
    let set = handled_set()?;
    thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: a valid set and a place for the result.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                continue;
            }
            log_notice!("received {}", signal_name(signal));
            let event = match signal {
                libc::SIGHUP => Signal::Reload,
                _ => Signal::Terminate,
            };
            if events.send(map(event)).is_err() {
                return;
            }
        })
        .map_err(ProcessError::Signals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn pid_file_holds_our_pid_and_refuses_a_second_daemon() {
        let dir = TempDir::new("pidfile");
        let path = dir.path().join("wackamole.pid");
        let held = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        match PidFile::create(&path) {
            Err(ProcessError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()))
            }
            other => panic!("a held pid file was taken: {other:?}"),
        }
        // The refusal left the holder's file intact.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(held);
        assert!(!path.exists(), "the pid file is removed on drop");
    }

    #[test]
    fn a_stale_pid_file_is_taken_over() {
        let dir = TempDir::new("pidfile-stale");
        let path = dir.path().join("wackamole.pid");
        std::fs::write(&path, "999999999\ngarbage that is longer than a pid\n").unwrap();
        let _held = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn an_unwritable_pid_file_names_its_path() {
        let dir = TempDir::new("pidfile-missing");
        let path = dir.path().join("no-such-dir/wackamole.pid");
        let err = PidFile::create(&path).unwrap_err();
        assert!(
            err.to_string().contains("no-such-dir/wackamole.pid"),
            "{err}"
        );
    }
}
