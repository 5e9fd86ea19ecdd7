//! What the benches read of a running process in /proc: its memory and
//! its time on a CPU. Included by the benches that measure the daemon.

use std::time::Duration;

/// The value of `field` (in kB) in /proc/<pid>/status.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {path}"))
}

/// Time on a CPU of every thread of `pid`, from the scheduler's own
/// accounting (nanoseconds, much finer than the clock ticks of `stat`);
/// a thread gone meanwhile counts nothing.
pub fn on_cpu(pid: u32) -> Duration {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let ns: u64 = tasks
        .map(|task| {
            let path = task.expect("task entry").path().join("schedstat");
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        })
        .sum();
    Duration::from_nanos(ns)
}

/// Voluntary context switches of every thread of `pid`: how often its
/// threads slept and were woken.
// Read by the builtin bench only; the daemon bench includes this file too.
#[allow(dead_code)]
pub fn wakeups(pid: u32) -> u64 {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    tasks
        .filter_map(|task| {
            let text = std::fs::read_to_string(task.ok()?.path().join("status")).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .sum()
}
