//! Runs the trackers' check commands: each run on a thread of its own
//! (the daemon's loop never waits for one), through `/bin/sh -c`, in a
//! process group of its own that is killed whole at the time-out. What
//! it writes (standard output and error together) is read up to
//! [`OUTPUT_LIMIT`]; the rest is read and dropped, so a chatty command
//! neither blocks on a full pipe nor costs memory.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::track::CheckOutcome;

/// Bytes of a command's output kept.
pub const OUTPUT_LIMIT: usize = 4096;

/// Longest pause between two looks at a child that closed its output
/// but has not exited yet.
const MAX_PAUSE: Duration = Duration::from_millis(5);

/// Starts `command` on a thread of its own; `report` gets how it ended.
/// Only a thread that cannot be started is an error here.
pub fn spawn(
    command: String,
    timeout: Duration,
    report: impl FnOnce(CheckOutcome) + Send + 'static,
) -> io::Result<()> {
    thread::Builder::new()
        .name("check".into())
        .spawn(move || report(run(&command, timeout)))
        .map(|_| ())
}

/// Runs `command` to its end or its time-out, on the calling thread.
pub fn run(command: &str, timeout: Duration) -> CheckOutcome {
    let deadline = Instant::now() + timeout;
    let (reader, writer) = match pipe() {
        Ok(ends) => ends,
        Err(err) => return cannot_run(&err),
    };
    let child = {
        let mut shell = Command::new("/bin/sh");
        let stderr = match writer.try_clone() {
            Ok(fd) => fd,
            Err(err) => return cannot_run(&err),
        };
        shell
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(stderr))
            // Its own group, so a time-out also ends whatever it started.
            .process_group(0);
        // `shell` (with our copies of the pipe's write end) is dropped
        // at the end of this block, so the reader sees the end of the
        // output when the command's side closes.
        shell.spawn()
    };
    let mut child = match child {
        Ok(child) => child,
        Err(err) => return cannot_run(&err),
    };
    let (tx, output) = mpsc::channel();
    let collector = thread::Builder::new()
        .name("check-output".into())
        .spawn(move || {
            let _ = tx.send(collect(File::from(reader)));
        });
    if collector.is_err() {
        kill_group(&mut child);
        return CheckOutcome::CannotRun {
            error: "cannot start a thread to read its output".into(),
        };
    }
    // The output ends when the command exits (unless it passed the pipe
    // on to something that outlives it).
    let text = output
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok();
    match wait_until(&mut child, deadline) {
        Ok(Some(status)) => {
            let output = text.unwrap_or_default();
            match (status.code(), signal_of(status)) {
                (Some(status), _) => CheckOutcome::Exited { status, output },
                (None, Some(signal)) => CheckOutcome::Killed { signal, output },
                (None, None) => CheckOutcome::Exited { status: -1, output },
            }
        }
        Ok(None) => {
            kill_group(&mut child);
            let output = text
                .or_else(|| output.recv_timeout(Duration::from_millis(100)).ok())
                .unwrap_or_default();
            CheckOutcome::TimedOut {
                after: timeout,
                output,
            }
        }
        Err(err) => {
            kill_group(&mut child);
            cannot_run(&err)
        }
    }
}

fn cannot_run(err: &io::Error) -> CheckOutcome {
    CheckOutcome::CannotRun {
        error: err.to_string(),
    }
}

/// The first [`OUTPUT_LIMIT`] bytes of everything `reader` gives, as text.
fn collect(mut reader: File) -> String {
    let mut kept = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(got) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..got.min(room)]);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The child's status once it exits, or `None` at `deadline`.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> io::Result<Option<std::process::ExitStatus>> {
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Kills the child's whole process group, then reaps the child.
fn kill_group(child: &mut Child) {
    // The child leads its group (process_group(0)) and is not reaped
    // yet, so its pid names that group.
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory effects; a negative pid targets
        // exactly the group we created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    let _ = child.wait();
}

fn signal_of(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// A pipe whose ends are closed on exec (the child gets its copies
/// through `Stdio`).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    const LONG: Duration = Duration::from_secs(20);

    #[test]
    fn a_passing_command_passes_with_its_output() {
        let outcome = run("echo ready; echo detail >&2", LONG);
        assert!(outcome.passed(), "{outcome:?}");
        assert_eq!(
            outcome,
            CheckOutcome::Exited {
                status: 0,
                output: "ready\ndetail\n".into()
            }
        );
    }

    #[test]
    fn a_failing_command_fails_with_its_status() {
        let outcome = run("echo 'backend down' >&2; exit 3", LONG);
        assert!(!outcome.passed());
        assert_eq!(outcome.summary(), "exit status 3: backend down");
    }

    #[test]
    fn a_command_that_does_not_exist_fails_with_the_shells_word() {
        let outcome = run("/nonexistent/check-proxy", LONG);
        let CheckOutcome::Exited { status, output } = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(*status, 127);
        assert!(output.contains("/nonexistent/check-proxy"), "{output}");
        assert!(!outcome.passed());
    }

    #[test]
    fn a_command_past_its_time_out_is_killed_with_its_group() {
        let dir = TempDir::new("check-timeout");
        let pid_file = dir.path().join("pid");
        let command = format!(
            "echo started; sleep 60 & echo $! > '{}'; wait",
            pid_file.display()
        );
        let started = Instant::now();
        let outcome = run(&command, Duration::from_millis(300));
        assert!(started.elapsed() < LONG);
        let CheckOutcome::TimedOut { after, .. } = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(*after, Duration::from_millis(300));
        assert!(!outcome.passed());
        let grandchild: i32 = std::fs::read_to_string(&pid_file)
            .expect("the command wrote its pid")
            .trim()
            .parse()
            .expect("a pid");
        assert!(
            crate::testutil::process_gone_within(grandchild, LONG),
            "its background job {grandchild} survived"
        );
    }

    #[test]
    fn huge_output_is_bounded_and_does_not_block_the_command() {
        // 8 MiB: far more than a pipe holds.
        let outcome = run("head -c 8388608 /dev/zero | tr '\\0' x; exit 1", LONG);
        let CheckOutcome::Exited { status, output } = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(*status, 1);
        assert_eq!(output.len(), OUTPUT_LIMIT);
        assert!(outcome.summary().chars().count() <= crate::track::MAX_RESULT_CHARS + 20);
    }

    #[test]
    fn spawn_reports_from_a_thread_of_its_own() {
        let (tx, rx) = mpsc::channel();
        spawn("exit 0".into(), LONG, move |outcome| {
            let _ = tx.send(outcome);
        })
        .expect("a thread");
        let outcome = rx.recv_timeout(LONG).expect("a report");
        assert!(outcome.passed());
    }
}
