//! `daemonize` in a forked child: the first process exits 0, and the
//! detached one runs in a new session, in `/`, with umask 027 and its
//! stdio on /dev/null. The detached process reports on itself through a
//! shell it execs (only async-signal-safe calls happen after the fork).

use std::ffi::CString;
use std::time::{Duration, Instant};

use wackamole::process::daemonize;

#[test]
fn daemonize_detaches_into_a_clean_session() {
    let report = std::env::temp_dir().join(format!("wackamole-daemon-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
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
        if daemonize().is_ok() {
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
