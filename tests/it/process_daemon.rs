//! `daemonize` in a forked child: the first process exits 0, and the
//! detached one runs in a new session, in `/`, with umask 027 and its
//! stdio on /dev/null. The detached process reports on itself through a
//! shell it execs (only async-signal-safe calls happen after the fork).
//!
//! Then the real binary, detached: the command that starts it reports a
//! failed start-up with status 1 and the reason, and a good one with 0
//! once the pid file is written; SIGTERM removes the pid file. And in the
//! foreground: a Spread daemon that accepts but never answers does not
//! hold up the control socket while the connection is pending.

use crate::support::{scratch, status};

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use scratch::Scratch;
use status::Status;
use wackamole::process::daemonize;

#[test]
fn daemonize_detaches_into_a_clean_session() {
    let scratch = Scratch::new("daemonize");
    let report = scratch.path("report");
    let partial = report.with_extension("partial");
    let script = format!(
        "fds=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2); \
         {{ read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; \
           echo \"$$ $pgrp $sid\"; pwd; umask; echo \"$fds\"; }} > '{p}' && mv '{p}' '{r}'",
        p = partial.display(),
        r = report.display()
    );
    let sh = CString::new("/bin/sh").unwrap();
    let argv = [
        CString::new("sh").unwrap(),
        CString::new("-c").unwrap(),
        CString::new(script).unwrap(),
    ];
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();

    // SAFETY: the child calls only daemonize (async-signal-safe libc
    // calls), execv and _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        if let Ok(report) = daemonize() {
            report.ready();
            unsafe { libc::execv(sh.as_ptr(), argv_ptrs.as_ptr()) };
        }
        unsafe { libc::_exit(99) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);

    let deadline = Instant::now() + Duration::from_secs(10);
    while !report.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(&report).expect("the detached process reported");
    let _ = std::fs::remove_file(&report);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    let ids: Vec<i32> = lines[0].split(' ').map(|n| n.parse().unwrap()).collect();
    let (pid, pgrp, sid) = (ids[0], ids[1], ids[2]);
    // SAFETY: getsid(0) only reads our own session id.
    let our_sid = unsafe { libc::getsid(0) };
    assert_ne!(sid, our_sid, "still in the test's session");
    assert_ne!(pid, sid, "a session leader could reacquire a terminal");
    assert_eq!(pgrp, sid);
    assert_eq!(lines[1], "/");
    assert_eq!(lines[2], "0027");
    assert_eq!(lines[3..], ["/dev/null", "/dev/null", "/dev/null"]);
}

/// A scratch directory with a configuration whose VIF is on an interface
/// that does not exist and whose Spread daemon is absent, so a running
/// daemon touches nothing on the host. Drop ends a daemon that was
/// started from it (by the pid it wrote), then the directory goes.
struct Setup {
    config: PathBuf,
    pid_file: PathBuf,
    // Last, so the daemon is ended before its directory goes.
    scratch: Scratch,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        Setup::with_spread(tag, None, false)
    }

    /// With `Spread = spread` (a socket path in the directory that nothing
    /// listens on when None) and, if `control`, the control socket
    /// `control.sock` in the directory.
    fn with_spread(tag: &str, spread: Option<&str>, control: bool) -> Setup {
        let scratch = Scratch::new(tag);
        let spread = spread.map_or_else(
            || scratch.path("no-spread-here").display().to_string(),
            str::to_string,
        );
        let control = if control {
            format!("Control = {}\n", scratch.path("control.sock").display())
        } else {
            String::new()
        };
        let config = scratch.write(
            "wackamole.conf",
            &format!(
                "Spread = {spread}\nGroup = wack1\nIdentity = 192.0.2.1\n\
                 VirtualInterfaces {{ wkabsent0:192.0.2.200/32 }}\n{control}"
            ),
        );
        Setup {
            config,
            pid_file: scratch.path("wackamole.pid"),
            scratch,
        }
    }

    fn start(&self, pid_file: &Path) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_wackamole"))
            .arg("-c")
            .arg(&self.config)
            .arg("--pidfile")
            .arg(pid_file)
            .output()
            .expect("run wackamole")
    }

    fn daemon_pid(&self) -> Option<libc::pid_t> {
        std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            // SAFETY: a daemon this test started, named by its own pid file.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_detached_start_that_fails_says_why_and_exits_1() {
    let setup = Setup::new("detach-fail");
    let unwritable = setup.scratch.path("no-such-dir/wackamole.pid");
    let out = setup.start(&unwritable);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("no-such-dir/wackamole.pid"),
        "the error names the pid file: {stderr}"
    );
}

#[test]
fn a_detached_start_exits_0_once_ready_and_sigterm_removes_the_pid_file() {
    let setup = Setup::new("detach-ok");
    let out = setup.start(&setup.pid_file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ready means the pid file is already there, naming a live daemon.
    let pid = setup
        .daemon_pid()
        .expect("a pid file once the start returned");
    // SAFETY: signal 0 only checks that the process exists.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "daemon {pid} is running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "wackamole");

    // SAFETY: the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while setup.pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!setup.pid_file.exists(), "SIGTERM removes the pid file");
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(pid), "daemon {pid} has exited");
}

/// Alive and not a zombie (a detached daemon's reaper is init, which in a
/// container may never reap it).
fn running(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Ends the foreground daemon it holds, even when the test fails.
struct Foreground(std::process::Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_spread_daemon_that_never_answers_does_not_hold_up_the_control_socket() {
    use std::io::Read;
    use std::net::TcpListener;

    let spread = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = spread.local_addr().unwrap().port();
    let setup = Setup::with_spread("hung", Some(&format!("{port}@127.0.0.1")), true);
    let _daemon = Foreground(
        Command::new(env!("CARGO_BIN_EXE_wackamole"))
            .args(["-d", "-c"])
            .arg(&setup.config)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start wackamole"),
    );

    // The daemon is inside its connection attempt once its handshake
    // request has arrived; we never answer it.
    spread.set_nonblocking(false).unwrap();
    let (mut pending, _) = spread.accept().unwrap();
    pending
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = [0u8; 1];
    pending
        .read_exact(&mut request)
        .expect("a handshake request");

    let listing = Status::listing(&setup.config).unwrap_or_else(|e| panic!("{e}"));
    let json = &listing.text;
    assert_eq!(listing.state(), "DISCONNECTED", "{json}");
    assert_eq!(listing.service(), Some(("spread", "connecting")), "{json}");

    // The answer came while the attempt was still open: the daemon has
    // neither finished nor abandoned the handshake (it would have closed
    // the connection).
    pending.set_nonblocking(true).unwrap();
    let mut rest = [0u8; 256];
    loop {
        match pending.read(&mut rest) {
            Ok(0) => panic!("the daemon gave up the connection before it answered wackatrl"),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("the pending connection failed: {e}"),
        }
    }
}
