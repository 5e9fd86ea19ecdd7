//! The hook runner: `Run "COMMAND" on up|on down|post up|post down`.
//!
//! Hooks run one at a time, in the order they were queued, on a thread of
//! their own, so a slow script never delays the state machine. Each runs as
//! `/bin/sh -c COMMAND` in a process group of its own, with stdin from
//! /dev/null and these environment variables:
//!
//! | variable | value |
//! |---|---|
//! | `WACKAMOLE_EVENT` | `on-up`, `on-down`, `post-up` or `post-down` |
//! | `WACKAMOLE_VIF` | index of the VIF in the configuration, from 0 (`on-*` only) |
//! | `WACKAMOLE_PRIMARY` | the VIF's primary address, `10.0.0.5` (`on-*` only) |
//! | `WACKAMOLE_ADDRESSES` | space-separated `IF:ADDR/BITS`, primary first |
//! | `WACKAMOLE_INTERFACES` | the distinct interfaces of those addresses, space-separated |
//!
//! For `post-*` events the addresses are those of every VIF acquired (or
//! released) in the round. A hook still running after the time-out is
//! killed with its whole process group; failures, non-zero exits and
//! time-outs are logged as errors.

use std::fmt::Write as _;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::{Hook, HookEvent, VifAddress};
use crate::{log_debug, log_error};

/// A reasonable bound for scripts that ping or reconfigure services.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Jobs waiting beyond this are dropped (and logged): the queue must stay
/// bounded even if every hook hangs until its time-out.
const QUEUE_CAPACITY: usize = 1024;

/// What a hook is told about the event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookDetails {
    /// The VIF concerned (`on up` / `on down`); `None` for `post` events.
    pub vif_index: Option<usize>,
    /// Its addresses, primary first (for `post` events: those of every
    /// VIF that moved in the round).
    pub addresses: Vec<VifAddress>,
}

/// The event's name in `WACKAMOLE_EVENT`.
pub fn event_name(event: HookEvent) -> &'static str {
    match event {
        HookEvent::OnUp => "on-up",
        HookEvent::OnDown => "on-down",
        HookEvent::PostUp => "post-up",
        HookEvent::PostDown => "post-down",
    }
}

/// The environment a hook runs with (see the module documentation).
pub fn environment(event: HookEvent, details: &HookDetails) -> Vec<(&'static str, String)> {
    let mut env = vec![("WACKAMOLE_EVENT", event_name(event).to_string())];
    if let Some(index) = details.vif_index {
        env.push(("WACKAMOLE_VIF", index.to_string()));
        if let Some(primary) = details.addresses.first() {
            env.push(("WACKAMOLE_PRIMARY", primary.addr.to_string()));
        }
    }
    let mut addresses = String::new();
    let mut interfaces: Vec<&str> = Vec::new();
    for a in &details.addresses {
        if !addresses.is_empty() {
            addresses.push(' ');
        }
        let _ = write!(addresses, "{a}");
        if !interfaces.contains(&a.interface.as_str()) {
            interfaces.push(&a.interface);
        }
    }
    env.push(("WACKAMOLE_ADDRESSES", addresses));
    env.push(("WACKAMOLE_INTERFACES", interfaces.join(" ")));
    env
}

struct Job {
    command: String,
    event: HookEvent,
    env: Vec<(&'static str, String)>,
}

/// How one hook ended.
#[derive(Debug)]
enum Outcome {
    Exited(ExitStatus),
    TimedOut,
    NotStarted(io::Error),
    Lost(io::Error),
}

/// Handle to the hook thread. Dropping it (or [`HookRunner::finish`])
/// waits for the queued hooks, each bounded by the time-out, so `on down`
/// hooks of a clean exit still run.
pub struct HookRunner {
    queue: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl HookRunner {
    /// Starts the hook thread; each hook may run at most `timeout`.
    pub fn spawn(timeout: Duration) -> io::Result<HookRunner> {
        let (queue, jobs) = mpsc::sync_channel(QUEUE_CAPACITY);
        let worker = thread::Builder::new()
            .name("hooks".to_string())
            .spawn(move || work(jobs, timeout))?;
        Ok(HookRunner {
            queue: Some(queue),
            worker: Some(worker),
        })
    }

    /// Queues every hook of `hooks` registered for `event`; returns at once.
    pub fn run(&self, event: HookEvent, hooks: &[Hook], details: &HookDetails) {
        let Some(queue) = &self.queue else { return };
        let mut env = None;
        for hook in hooks.iter().filter(|h| h.event == event) {
            let job = Job {
                command: hook.command.clone(),
                event,
                env: env
                    .get_or_insert_with(|| environment(event, details))
                    .clone(),
            };
            match queue.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => log_error!(
                    "hook `{}` ({}) dropped: {QUEUE_CAPACITY} hooks already waiting",
                    job.command,
                    event.as_str()
                ),
                Err(TrySendError::Disconnected(job)) => log_error!(
                    "hook `{}` ({}) dropped: the hook thread has stopped",
                    job.command,
                    event.as_str()
                ),
            }
        }
    }

    /// Waits for every queued hook to finish (each bounded by the time-out).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.queue = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for HookRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(jobs: Receiver<Job>, timeout: Duration) {
    for job in jobs {
        let outcome = execute(&job, timeout);
        report(&job, &outcome, timeout);
    }
}

fn report(job: &Job, outcome: &Outcome, timeout: Duration) {
    let (command, event) = (&job.command, job.event.as_str());
    match outcome {
        Outcome::Exited(status) if status.success() => {
            log_debug!("hook `{command}` ({event}) succeeded")
        }
        Outcome::Exited(status) => match status.signal() {
            Some(signal) => log_error!("hook `{command}` ({event}) killed by signal {signal}"),
            None => log_error!(
                "hook `{command}` ({event}) failed with exit status {}",
                status.code().unwrap_or(-1)
            ),
        },
        Outcome::TimedOut => log_error!(
            "hook `{command}` ({event}) still running after {:?}: killed with its process group",
            timeout
        ),
        Outcome::NotStarted(e) => {
            log_error!("hook `{command}` ({event}) could not start /bin/sh: {e}")
        }
        Outcome::Lost(e) => log_error!("hook `{command}` ({event}): cannot wait for it: {e}"),
    }
}

fn execute(job: &Job, timeout: Duration) -> Outcome {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&job.command)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // Its own group, so a time-out also ends whatever it started.
        .process_group(0);
    match command.spawn() {
        Ok(child) => wait_bounded(child, timeout),
        Err(e) => Outcome::NotStarted(e),
    }
}

fn wait_bounded(mut child: Child, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Outcome::Exited(status),
            Ok(None) => {}
            Err(e) => return Outcome::Lost(e),
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    // The child leads its group (process_group(0)), so its pid names it.
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory effects; a negative pid targets
        // exactly the group we created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    let _ = child.wait();
    Outcome::TimedOut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::net::Ipv4Addr;
    use std::path::Path;

    fn address(interface: &str, addr: [u8; 4], prefix_len: u8) -> VifAddress {
        VifAddress {
            interface: interface.to_string(),
            addr: Ipv4Addr::from(addr).into(),
            prefix_len,
            network_len: 24,
        }
    }

    fn hook(command: String, event: HookEvent) -> Hook {
        Hook { command, event }
    }

    fn job(command: &str) -> Job {
        Job {
            command: command.to_string(),
            event: HookEvent::OnUp,
            env: Vec::new(),
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn environment_describes_the_vif() {
        let details = HookDetails {
            vif_index: Some(2),
            addresses: vec![
                address("eth0", [10, 0, 0, 5], 24),
                address("eth1", [192, 0, 2, 5], 32),
                address("eth0", [10, 0, 0, 6], 24),
            ],
        };
        let env = environment(HookEvent::OnUp, &details);
        let expected: Vec<(&str, String)> = vec![
            ("WACKAMOLE_EVENT", "on-up".into()),
            ("WACKAMOLE_VIF", "2".into()),
            ("WACKAMOLE_PRIMARY", "10.0.0.5".into()),
            (
                "WACKAMOLE_ADDRESSES",
                "eth0:10.0.0.5/24 eth1:192.0.2.5/32 eth0:10.0.0.6/24".into(),
            ),
            ("WACKAMOLE_INTERFACES", "eth0 eth1".into()),
        ];
        assert_eq!(env, expected);
    }

    #[test]
    fn post_events_name_no_single_vif() {
        let details = HookDetails {
            vif_index: None,
            addresses: vec![address("eth0", [10, 0, 0, 5], 24)],
        };
        let env = environment(HookEvent::PostDown, &details);
        assert_eq!(env[0], ("WACKAMOLE_EVENT", "post-down".to_string()));
        assert!(env
            .iter()
            .all(|(k, _)| *k != "WACKAMOLE_VIF" && *k != "WACKAMOLE_PRIMARY"));
        assert!(env.contains(&("WACKAMOLE_ADDRESSES", "eth0:10.0.0.5/24".to_string())));
    }

    #[test]
    fn hooks_of_the_event_run_in_order_with_their_environment() {
        let dir = TempDir::new("hooks-order");
        let out = dir.path().join("out");
        let append = |tag: &str| {
            format!(
                "printf '%s %s %s %s|%s\\n' {tag} \"$WACKAMOLE_EVENT\" \"$WACKAMOLE_VIF\" \
                 \"$WACKAMOLE_PRIMARY\" \"$WACKAMOLE_ADDRESSES\" >> '{}'",
                out.display()
            )
        };
        let hooks = vec![
            hook(append("first"), HookEvent::OnUp),
            hook(append("never"), HookEvent::OnDown),
            hook(append("second"), HookEvent::OnUp),
            hook(format!("sleep 0.05; {}", append("third")), HookEvent::OnUp),
            hook(append("post"), HookEvent::PostUp),
        ];
        let details = HookDetails {
            vif_index: Some(0),
            addresses: vec![address("eth0", [10, 0, 0, 5], 24)],
        };
        let runner = HookRunner::spawn(Duration::from_secs(10)).unwrap();
        runner.run(HookEvent::OnUp, &hooks, &details);
        runner.run(
            HookEvent::PostUp,
            &hooks,
            &HookDetails {
                vif_index: None,
                ..details.clone()
            },
        );
        runner.finish();
        assert_eq!(
            read(&out),
            "first on-up 0 10.0.0.5|eth0:10.0.0.5/24\n\
             second on-up 0 10.0.0.5|eth0:10.0.0.5/24\n\
             third on-up 0 10.0.0.5|eth0:10.0.0.5/24\n\
             post post-up  |eth0:10.0.0.5/24\n"
        );
    }

    #[test]
    fn run_returns_before_the_hook_finishes() {
        let dir = TempDir::new("hooks-async");
        let (go, out) = (dir.path().join("go"), dir.path().join("out"));
        // The hook can only finish after `run` has returned and the test
        // has created `go`; had `run` waited, the time-out would kill it
        // and `out` would never be written.
        let command = format!(
            "while [ ! -e '{}' ]; do sleep 0.01; done; echo done > '{}'",
            go.display(),
            out.display()
        );
        let runner = HookRunner::spawn(Duration::from_secs(20)).unwrap();
        runner.run(
            HookEvent::OnDown,
            &[hook(command, HookEvent::OnDown)],
            &HookDetails::default(),
        );
        std::fs::write(&go, "").unwrap();
        runner.finish();
        assert_eq!(read(&out), "done\n");
    }

    #[test]
    fn exit_statuses_are_reported() {
        match execute(&job("exit 3"), Duration::from_secs(10)) {
            Outcome::Exited(status) => assert_eq!(status.code(), Some(3)),
            other => panic!("unexpected outcome {other:?}"),
        }
        match execute(&job("true"), Duration::from_secs(10)) {
            Outcome::Exited(status) => assert!(status.success()),
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    #[test]
    fn a_hook_past_its_time_out_is_killed_with_its_process_group() {
        let dir = TempDir::new("hooks-timeout");
        let pid_file = dir.path().join("pid");
        let command = format!("sleep 60 & echo $! > '{}'; wait", pid_file.display());
        let started = Instant::now();
        let outcome = execute(&job(&command), Duration::from_millis(300));
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(30));
        let grandchild: i32 = read(&pid_file)
            .trim()
            .parse()
            .expect("the hook wrote its pid");
        assert!(
            crate::testutil::process_gone_within(grandchild, Duration::from_secs(5)),
            "the hook's background job {grandchild} survived"
        );
    }

    #[test]
    fn a_failing_hook_does_not_stop_the_next() {
        let dir = TempDir::new("hooks-failing");
        let out = dir.path().join("out");
        let hooks = vec![
            hook("exit 1".to_string(), HookEvent::PostDown),
            hook("kill -9 $$".to_string(), HookEvent::PostDown),
            hook(
                format!("echo ran > '{}'", out.display()),
                HookEvent::PostDown,
            ),
        ];
        let runner = HookRunner::spawn(Duration::from_secs(10)).unwrap();
        runner.run(HookEvent::PostDown, &hooks, &HookDetails::default());
        runner.finish();
        assert_eq!(read(&out), "ran\n");
    }
}
