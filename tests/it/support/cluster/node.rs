//! One node of a cluster (Spread or built-in): its network namespace,
//! its files, and while it runs its daemon, started straight inside the
//! namespace so that the child's pid is the daemon's own. Only the
//! process started here is ever signalled, by that pid.

use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::netns::{self, Netns};

use super::INTERFACE;

/// One node: its namespace and, while it runs, its daemon.
pub struct Node {
    index: usize,
    ns: Netns,
    /// Held open for `setns` in the daemon's `pre_exec` and the observer.
    ns_file: Arc<File>,
    pub mac: [u8; 6],
    pub config: PathBuf,
    pub control: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Node `index` in `ns`, its configuration, control socket and log
    /// named after it in `dir`; not wired, not running.
    pub fn new(index: usize, ns: Netns, dir: &Path) -> Node {
        let path = format!("/run/netns/{}", ns.name());
        let ns_file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        Node {
            index,
            ns,
            ns_file: Arc::new(ns_file),
            mac: [0; 6],
            config: dir.join(format!("node{index}.conf")),
            control: dir.join(format!("node{index}.sock")),
            log: dir.join(format!("node{index}.log")),
            child: None,
        }
    }

    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// The open namespace file, for threads that enter it.
    pub fn ns_file(&self) -> Arc<File> {
        self.ns_file.clone()
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A fresh `wm0` made by `veth`, its peer `peer` a port of the hub's
    /// `br0`, with `own`/16 as its primary address.
    pub fn plug(
        &mut self,
        hub: &Netns,
        peer: &str,
        own: Ipv4Addr,
        veth: fn(&Netns, &str, &Netns, &str),
    ) {
        veth(&self.ns, INTERFACE, hub, peer);
        hub.ip(&["link", "set", peer, "master", "br0"]);
        self.ns
            .ip(&["addr", "add", &format!("{own}/16"), "dev", INTERFACE]);
        self.mac = netns::mac_of(&self.ns, INTERFACE);
    }

    /// Deletes `wm0`, and with it every address on it.
    pub fn unplug(&self) {
        self.ns.ip(&["link", "del", INTERFACE]);
    }

    /// Starts `binary -d -c <config> args...` inside the namespace,
    /// logging to the log file.
    pub fn start(&mut self, binary: &Path, args: &[&str]) {
        let i = self.index;
        assert!(self.child.is_none(), "node {i} already runs");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open {:?}: {e}", self.log));
        let err = log.try_clone().expect("log file");
        let fd = self.ns_file.as_raw_fd();
        let mut command = Command::new(binary);
        command
            .args(["-d", "-c"])
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        // SAFETY: setns is a plain system call on a descriptor we hold
        // open; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary:?} for node {i}: {e}"));
        self.child = Some(child);
    }

    /// Sends `signal` to the daemon (by the pid we started).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.pid().expect("the node runs");
        // SAFETY: kill on the pid of a child we have not reaped yet.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill {pid}: {}", io::Error::last_os_error());
    }

    /// SIGKILL of the daemon, if it runs, reaped at once (a stopped
    /// process dies of SIGKILL too).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `within`, looking every `poll`, for the daemon to
    /// exit, and reaps it; Err says why not.
    pub fn wait_exit(&mut self, within: Duration, poll: Duration) -> Result<ExitStatus, String> {
        let i = self.index;
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut().expect("the node runs");
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(poll),
                Ok(None) => return Err(format!("node {i} did not exit within {within:?}")),
                Err(e) => panic!("waiting for node {i}: {e}"),
            }
        }
    }

    /// Whether the daemon still runs; Err when it exited unexpectedly.
    pub fn running(&mut self) -> Result<bool, String> {
        let i = self.index;
        let Some(child) = self.child.as_mut() else {
            return Ok(false);
        };
        match child.try_wait() {
            Ok(None) => Ok(true),
            Ok(Some(status)) => Err(format!("node {i} exited unexpectedly: {status}")),
            Err(e) => panic!("waiting for node {i}: {e}"),
        }
    }

    /// The daemon's state in words, for failure messages.
    pub fn state(&mut self) -> String {
        match self.child.as_mut().map(Child::try_wait) {
            None => "not running".to_string(),
            Some(Ok(None)) => format!("running, pid {}", self.pid().unwrap_or(0)),
            Some(Ok(Some(status))) => format!("exited: {status}"),
            Some(Err(e)) => format!("unknown: {e}"),
        }
    }

    /// The namespace's IPv4 addresses (`ip -4 -o addr`), for failure
    /// messages.
    pub fn addresses(&self) -> String {
        Command::new("ip")
            .args(["-n", self.ns.name(), "-4", "-o", "addr"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| format!("(ip failed: {e})"))
    }

    /// The configuration file's text.
    pub fn config_text(&self) -> String {
        fs::read_to_string(&self.config).expect("node configuration")
    }

    pub fn write_config(&self, text: &str) {
        let path = &self.config;
        fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// How a daemon ended, in words for assertions.
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => format!("{status}"),
    }
}
