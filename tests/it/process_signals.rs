//! The signal thread, in a test binary of its own: it blocks the daemon's
//! signals in its thread and sends them with pthread_kill, which would
//! disturb other tests sharing the process.

use crate::support::scratch;

use std::os::unix::thread::JoinHandleExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scratch::Scratch;
use wackamole::config::{Hook, HookEvent};
use wackamole::hooks::{HookDetails, HookRunner};
use wackamole::process::{block_signals, spawn_signal_thread, Signal};

#[derive(Debug, PartialEq)]
enum Event {
    FromSignal(Signal),
}

fn send(thread: libc::pthread_t, signal: libc::c_int) {
    // SAFETY: the thread is alive (it is joined only at the end).
    assert_eq!(unsafe { libc::pthread_kill(thread, signal) }, 0);
}

#[test]
fn signals_become_events_and_hooks_start_unblocked() {
    block_signals().unwrap();
    let (events, received) = mpsc::channel();
    let handle = spawn_signal_thread(events, Event::FromSignal).unwrap();
    let thread = handle.as_pthread_t();

    for (signal, expected) in [
        (libc::SIGHUP, Signal::Reload),
        (libc::SIGTERM, Signal::Terminate),
        (libc::SIGINT, Signal::Terminate),
        (libc::SIGQUIT, Signal::Terminate),
        (libc::SIGHUP, Signal::Reload),
    ] {
        send(thread, signal);
        let event = received
            .recv_timeout(Duration::from_secs(5))
            .expect("an event for the signal");
        assert_eq!(event, Event::FromSignal(expected), "signal {signal}");
    }

    // Hooks run from a thread that has the signals blocked must not
    // inherit that mask, or `kill` and `timeout` in scripts would not work.
    let scratch = Scratch::new("sigmask");
    let out = scratch.path("sigblk");
    let runner = HookRunner::spawn(Duration::from_secs(10)).unwrap();
    let hook = Hook {
        command: format!("grep SigBlk /proc/self/status > '{}'", out.display()),
        event: HookEvent::OnUp,
    };
    runner.run(HookEvent::OnUp, &[hook], &HookDetails::default());
    runner.finish();
    let status = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(status.trim(), "SigBlk:\t0000000000000000");

    // Once the daemon has gone, the thread ends at the next signal.
    drop(received);
    send(thread, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !handle.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        handle.is_finished(),
        "the signal thread outlived its receiver"
    );
    handle.join().unwrap();
}
