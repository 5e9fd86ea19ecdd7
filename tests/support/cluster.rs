//! Clusters of the real `wackamole` binary for root-only end-to-end tests
//! and benchmarks: a hub namespace holding a bridge, one namespace per
//! node wired to it by a veth (`wm0` in the node, its peer a bridge port in
//! the hub), the in-process Spread test daemon on a Unix socket in a
//! per-cluster directory (Unix sockets cross network namespaces), and one
//! daemon process per node, started straight inside its namespace so the
//! child's pid is the daemon's own.
//!
//! Everything is torn down on drop, even when a test fails: every daemon
//! is killed by pid and reaped, every namespace deleted, the directory
//! removed. Every wait is bounded and fails with the node logs and each
//! node's addresses.
//!
//! Include beside its helpers:
//!
//! ```ignore
//! #[path = "support/netns.rs"] mod netns;
//! #[path = "support/sniffer.rs"] mod sniffer;
//! #[path = "support/spread_daemon.rs"] mod spread_daemon;
//! #[path = "support/cluster.rs"] mod cluster;
//! ```
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::netns::{self, Netns};
use crate::sniffer::{Arp, Sniffer};
use crate::spread_daemon::{Listen, TestDaemon};

/// The daemon under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_wackamole");
/// The interface every node's VIPs live on.
pub const INTERFACE: &str = "wm0";
/// The Spread group of every cluster.
pub const GROUP: &str = "wmtest";
/// Longest a poll sleeps between two looks.
const POLL: Duration = Duration::from_millis(20);

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// Node `i`'s own address (its identity), the primary of `wm0`'s /16.
pub fn node_address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, 10 + u8::try_from(i).expect("at most 200 nodes"))
}

/// VIF `k`'s (only) address: 10.77.1.(k+1), a secondary of the node's /16,
/// so taking it down never touches the node's own address.
pub fn vip(k: usize) -> Ipv4Addr {
    assert!(k < 254, "at most 254 VIFs");
    Ipv4Addr::new(10, 77, 1, (k + 1) as u8)
}

/// What a cluster looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    pub nodes: usize,
    pub vifs: usize,
    /// `Mature` of every node.
    pub mature: String,
    /// `Balance { Interval }` of every node.
    pub balance_interval: String,
    /// `Balance { AcquisitionsPerRound }` of every node.
    pub acquisitions_per_round: String,
    /// Lines appended to node i's configuration (Prefer, Run, ...).
    pub extra: Vec<String>,
}

impl Spec {
    /// `nodes` nodes sharing `vifs` VIFs, with short timers: maturity 1 s,
    /// one acquisition per balance round every second.
    pub fn new(nodes: usize, vifs: usize) -> Spec {
        Spec {
            nodes,
            vifs,
            mature: "1s".into(),
            balance_interval: "1s".into(),
            acquisitions_per_round: "1".into(),
            extra: vec![String::new(); nodes],
        }
    }
}

/// A directory removed (with its contents) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "wk-{tag}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {path:?}: {e}"));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One node: its namespace and, while it runs, its daemon.
pub struct Node {
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
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running cluster; see the module documentation.
pub struct Cluster {
    pub spec: Spec,
    /// The program every node runs ([`BINARY`] unless changed).
    pub binary: PathBuf,
    nodes: Vec<Node>,
    hub: Netns,
    spread: Option<TestDaemon>,
    spread_path: PathBuf,
    vips: Vec<Ipv4Addr>,
    observer: Observer,
    // Last, so it outlives the sockets and logs in it.
    dir: TempDir,
}

impl Cluster {
    /// Builds the network and starts the Spread test daemon; no node runs
    /// yet (see [`Cluster::start`]).
    pub fn new(tag: &str, spec: Spec) -> Cluster {
        assert_eq!(spec.extra.len(), spec.nodes, "one extra text per node");
        let dir = TempDir::new(tag);
        let hub = Netns::new(&format!("{tag}h"));
        hub.ip(&["link", "add", "br0", "type", "bridge"]);
        hub.ip(&["link", "set", "br0", "up"]);
        let spread_path = dir.0.join("spread.sock");
        let spread = TestDaemon::start(Listen::Unix(spread_path.clone()), "wm1")
            .unwrap_or_else(|e| panic!("cannot start the Spread test daemon: {e}"));
        let vips: Vec<Ipv4Addr> = (0..spec.vifs).map(vip).collect();
        let nodes: Vec<Node> = (0..spec.nodes)
            .map(|i| {
                let ns = Netns::new(&format!("{tag}{i}"));
                let path = format!("/run/netns/{}", ns.name());
                let ns_file =
                    File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
                Node {
                    ns,
                    ns_file: Arc::new(ns_file),
                    mac: [0; 6],
                    config: dir.0.join(format!("node{i}.conf")),
                    control: dir.0.join(format!("node{i}.sock")),
                    log: dir.0.join(format!("node{i}.log")),
                    child: None,
                }
            })
            .collect();
        let namespaces: Vec<Arc<File>> = nodes.iter().map(|n| n.ns_file.clone()).collect();
        let mut cluster = Cluster {
            spec,
            binary: PathBuf::from(BINARY),
            nodes,
            hub,
            spread: Some(spread),
            spread_path,
            observer: Observer::spawn(&namespaces, &vips),
            vips,
            dir,
        };
        for i in 0..cluster.nodes.len() {
            cluster.wire(i);
            let text = cluster.default_config(i);
            cluster.write_config(i, &text);
        }
        cluster
    }

    /// Connects node `i` to the bridge (again): a fresh `wm0` with the
    /// node's own address.
    pub fn wire(&mut self, i: usize) {
        let peer = format!("p{i}");
        let node = &mut self.nodes[i];
        netns::veth(&node.ns, INTERFACE, &self.hub, &peer);
        self.hub.ip(&["link", "set", &peer, "master", "br0"]);
        let own = format!("{}/16", node_address(i));
        node.ns.ip(&["addr", "add", &own, "dev", INTERFACE]);
        node.mac = netns::mac_of(&node.ns, INTERFACE);
    }

    /// Pulls node `i`'s cable: deletes its `wm0` (and so every address on
    /// it), as if the machine had died with its VIPs configured.
    pub fn cut(&mut self, i: usize) {
        self.nodes[i].ns.ip(&["link", "del", INTERFACE]);
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn hub(&self) -> &Netns {
        &self.hub
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    pub fn vips(&self) -> &[Ipv4Addr] {
        &self.vips
    }

    /// The configuration node `i` starts with.
    pub fn default_config(&self, i: usize) -> String {
        let spec = &self.spec;
        let mut text = format!(
            "Spread = {spread}\n\
             SpreadRetryInterval = 1s\n\
             Group = {GROUP}\n\
             Control = {control}\n\
             Identity = {identity}\n\
             Mature = {mature}\n\
             Arp-Cache = 90s\n\
             Balance {{\n\
             \tAcquisitionsPerRound = {apr}\n\
             \tInterval = {interval}\n\
             }}\n\
             VirtualInterfaces {{\n",
            spread = self.spread_path.display(),
            control = self.nodes[i].control.display(),
            identity = node_address(i),
            mature = spec.mature,
            apr = spec.acquisitions_per_round,
            interval = spec.balance_interval,
        );
        for vip in &self.vips {
            let _ = writeln!(text, "\t{INTERFACE}:{vip}/16");
        }
        text.push_str("}\n");
        text.push_str(&spec.extra[i]);
        text.push('\n');
        text
    }

    pub fn config_text(&self, i: usize) -> String {
        fs::read_to_string(&self.nodes[i].config).expect("node configuration")
    }

    pub fn write_config(&self, i: usize, text: &str) {
        let path = &self.nodes[i].config;
        fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    }

    /// Starts node `i`'s daemon in the foreground (`-d`) inside its
    /// namespace, logging to its log file.
    pub fn start(&mut self, i: usize) {
        let binary = self.binary.clone();
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} already runs");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap_or_else(|e| panic!("cannot open {:?}: {e}", node.log));
        let err = log.try_clone().expect("log file");
        let fd = node.ns_file.as_raw_fd();
        let mut command = Command::new(&binary);
        command
            .args(["-d", "-c"])
            .arg(&node.config)
            .args(["-u", &format!("node{i}")])
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
        node.child = Some(child);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Sends `signal` to node `i`'s daemon.
    pub fn signal(&self, i: usize, signal: libc::c_int) {
        let pid = self.nodes[i].pid().expect("the node runs");
        // SAFETY: kill on the pid of a child we have not reaped yet.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill {pid}: {}", io::Error::last_os_error());
    }

    /// SIGKILL of node `i`'s daemon, reaped at once.
    pub fn kill(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_some(), "node {i} does not run");
        self.nodes[i].kill();
    }

    /// Waits (bounded) for node `i`'s daemon to exit and reaps it.
    pub fn wait_exit(&mut self, i: usize, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let child = self.nodes[i].child.as_mut().expect("the node runs");
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.nodes[i].child = None;
                    return status;
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
                Ok(None) => self.fail(&format!("node {i} did not exit within {within:?}")),
                Err(e) => panic!("waiting for node {i}: {e}"),
            }
        }
    }

    /// Whether node `i`'s daemon still runs (an unexpected exit fails).
    pub fn running(&mut self, i: usize) -> bool {
        let Some(child) = self.nodes[i].child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => self.fail(&format!("node {i} exited unexpectedly: {status}")),
            Err(e) => panic!("waiting for node {i}: {e}"),
        }
    }

    /// The Spread test daemon (while it runs).
    pub fn spread(&self) -> &TestDaemon {
        self.spread.as_ref().expect("the Spread test daemon runs")
    }

    /// Stops the Spread test daemon: every session is closed.
    pub fn stop_spread(&mut self) {
        if let Some(mut daemon) = self.spread.take() {
            daemon.stop();
        }
    }

    /// Starts the Spread test daemon again on the same socket.
    pub fn restart_spread(&mut self) {
        assert!(self.spread.is_none(), "the Spread test daemon already runs");
        self.spread = Some(
            TestDaemon::start(Listen::Unix(self.spread_path.clone()), "wm1")
                .unwrap_or_else(|e| panic!("cannot restart the Spread test daemon: {e}")),
        );
    }

    /// The sessions (`#node<i>#wm1`) in the group, sorted.
    pub fn members(&self) -> Vec<String> {
        self.spread
            .as_ref()
            .map(|d| d.members(GROUP))
            .unwrap_or_default()
    }

    /// An observer of every node's VIPs, usable from other threads.
    pub fn observer(&self) -> Observer {
        self.observer.clone()
    }

    /// The VIPs on each node's `wm0`, by node.
    pub fn holders(&self) -> Vec<Vec<Ipv4Addr>> {
        self.observer.sweep()
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    /// Runs `wackamole ctl -c <node i's configuration> args...`.
    pub fn ctl(&self, i: usize, args: &[&str]) -> Output {
        Command::new(BINARY)
            .arg("ctl")
            .arg("-c")
            .arg(&self.nodes[i].config)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run wackamole ctl: {e}"))
    }

    /// Polls `done` until it holds or `within` passes; then fails with
    /// `what` and the diagnostics.
    pub fn wait_for(&mut self, what: &str, within: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if done(self) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {within:?} waiting for {what}"));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until every VIF is on exactly one node and each node holds
    /// `counts[i]` of them.
    pub fn wait_spread_as(&mut self, counts: &[usize], within: Duration) {
        let what = format!("every VIF on exactly one node, held {counts:?}");
        self.wait_for(&what, within, |c| {
            let holders = c.holders();
            c.each_once(&holders) && holders.iter().map(Vec::len).eq(counts.iter().copied())
        });
    }

    /// Waits until every VIF is on exactly one node (however spread).
    pub fn wait_each_once(&mut self, within: Duration) {
        self.wait_for("every VIF on exactly one node", within, |c| {
            c.each_once(&c.holders())
        });
    }

    /// Waits until no node holds any VIF.
    pub fn wait_all_released(&mut self, within: Duration) {
        self.wait_for("every VIF released", within, |c| {
            c.holders().iter().all(Vec::is_empty)
        });
    }

    /// Whether every VIF is on exactly one node in `holders`.
    pub fn each_once(&self, holders: &[Vec<Ipv4Addr>]) -> bool {
        let owners = owners(holders);
        self.vips
            .iter()
            .all(|v| owners.get(v).is_some_and(|o| o.len() == 1))
    }

    /// Fails the test with `message`, every node's log and addresses, and
    /// what the Spread test daemon knows.
    pub fn fail(&mut self, message: &str) -> ! {
        panic!("{message}\n{}", self.diagnostics());
    }

    pub fn diagnostics(&mut self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "holders: {:?}", self.holders());
        let _ = writeln!(out, "group members: {:?}", self.members());
        for i in 0..self.nodes.len() {
            let state = match self.nodes[i].child.as_mut().map(Child::try_wait) {
                None => "not running".to_string(),
                Some(Ok(None)) => format!("running, pid {}", self.nodes[i].pid().unwrap_or(0)),
                Some(Ok(Some(status))) => format!("exited: {status}"),
                Some(Err(e)) => format!("unknown: {e}"),
            };
            let node = &self.nodes[i];
            let addresses = Command::new("ip")
                .args(["-n", node.ns.name(), "-4", "-o", "addr"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_else(|e| format!("(ip failed: {e})"));
            let _ = writeln!(
                out,
                "==== node {i} ({}, {state}), addresses:\n{addresses}---- log:\n{}",
                node.ns.name(),
                self.log(i)
            );
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        self.stop_spread();
        // Then the fields: namespaces deleted, the directory removed.
    }
}

/// Which nodes hold each VIP, from a sweep.
pub fn owners(holders: &[Vec<Ipv4Addr>]) -> BTreeMap<Ipv4Addr, Vec<usize>> {
    let mut owners: BTreeMap<Ipv4Addr, Vec<usize>> = BTreeMap::new();
    for (node, vips) in holders.iter().enumerate() {
        for vip in vips {
            owners.entry(*vip).or_default().push(node);
        }
    }
    owners
}

/// Reads the VIPs on every node's `wm0` quickly, from any thread: each
/// node has a reader thread that entered its namespace once (entering a
/// network namespace costs milliseconds) and lists `wm0` with ioctls on
/// request. The readers end when the last observer is dropped.
#[derive(Clone)]
pub struct Observer {
    readers: Vec<mpsc::Sender<mpsc::Sender<Vec<Ipv4Addr>>>>,
}

impl Observer {
    /// One reader per namespace (by its open `/run/netns` file), each
    /// reporting which of `vips` are on its [`INTERFACE`].
    pub fn spawn(namespaces: &[Arc<File>], vips: &[Ipv4Addr]) -> Observer {
        let readers = namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let (requests, inbox) = mpsc::channel::<mpsc::Sender<Vec<Ipv4Addr>>>();
                let (ns, vips) = (ns.clone(), vips.to_vec());
                thread::spawn(move || {
                    enter(&ns);
                    for reply in inbox {
                        let present = wackamole::net::iface::list(INTERFACE).unwrap_or_else(|e| {
                            panic!("cannot list the addresses of node {i}: {e}")
                        });
                        let held = present
                            .into_iter()
                            .map(|a| a.addr)
                            .filter(|a| vips.contains(a))
                            .collect();
                        let _ = reply.send(held);
                    }
                });
                requests
            })
            .collect();
        Observer { readers }
    }

    /// The VIPs on each node's `wm0`, by node, read by all readers at once.
    pub fn sweep(&self) -> Vec<Vec<Ipv4Addr>> {
        let replies: Vec<_> = (0..self.readers.len()).map(|i| self.ask(i)).collect();
        replies
            .into_iter()
            .map(|r| r.recv().expect("reader"))
            .collect()
    }

    /// The VIPs on node `i`'s `wm0`.
    pub fn on_node(&self, i: usize) -> Vec<Ipv4Addr> {
        self.ask(i).recv().expect("reader")
    }

    fn ask(&self, i: usize) -> mpsc::Receiver<Vec<Ipv4Addr>> {
        let (reply, answer) = mpsc::channel();
        self.readers[i].send(reply).expect("reader");
        answer
    }

    /// Polls node `i` as fast as it can until `vip` is on it; returns when
    /// it was first seen, or None at `deadline`.
    pub fn wait_on_node(&self, i: usize, vip: Ipv4Addr, deadline: Instant) -> Option<Instant> {
        loop {
            if self.on_node(i).contains(&vip) {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_micros(100));
        }
    }

    /// Starts a thread that sweeps every `every` and records any VIP seen
    /// on two nodes in two consecutive sweeps (a sweep is not one instant:
    /// a VIP moving between two nodes while it runs may show on both).
    pub fn sample(&self, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(SamplerReport::default()));
        let thread = {
            let (observer, stop, seen) = (self.clone(), stop.clone(), seen.clone());
            thread::spawn(move || {
                let mut previous: BTreeMap<Ipv4Addr, Vec<usize>> = BTreeMap::new();
                while !stop.load(Ordering::SeqCst) {
                    let holders = observer.sweep();
                    let now = owners(&holders);
                    let mut report = seen.lock().unwrap_or_else(|p| p.into_inner());
                    report.sweeps += 1;
                    for (vip, nodes) in &now {
                        if nodes.len() > 1 && previous.get(vip) == Some(nodes) {
                            report.doubles.push((*vip, nodes.clone(), holders.clone()));
                        }
                    }
                    drop(report);
                    previous = now;
                    thread::sleep(every);
                }
            })
        };
        Sampler {
            stop,
            seen,
            thread: Some(thread),
        }
    }
}

/// Moves the calling thread into the namespace of `file`.
fn enter(file: &File) {
    // SAFETY: setns on a namespace descriptor we hold open.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
}

#[derive(Debug, Default, Clone)]
pub struct SamplerReport {
    pub sweeps: usize,
    /// (VIP, nodes holding it, the whole sweep) for every double seen.
    pub doubles: Vec<(Ipv4Addr, Vec<usize>, Vec<Vec<Ipv4Addr>>)>,
}

/// A running sampler; [`Sampler::finish`] stops it.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<SamplerReport>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn finish(mut self) -> SamplerReport {
        self.halt();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One ARP frame seen on the bridge.
#[derive(Debug, Clone)]
pub struct SeenArp {
    pub at: Instant,
    pub source: [u8; 6],
    pub arp: Arp,
}

impl SeenArp {
    /// A gratuitous ARP for `vip` from `mac`: sender and target are the VIP.
    pub fn announces(&self, vip: Ipv4Addr, mac: [u8; 6]) -> bool {
        self.source == mac
            && self.arp.sender_mac == mac
            && self.arp.sender_ip == vip
            && self.arp.is_gratuitous()
    }
}

/// Every ARP frame reaching the hub's bridge, captured on a thread.
pub struct Capture {
    seen: Arc<Mutex<Vec<SeenArp>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts capturing on the bridge of `cluster` (broadcasts from every
    /// node reach it).
    pub fn start(cluster: &Cluster) -> Capture {
        Capture::on_bridge(cluster.hub(), "br0")
    }

    /// Starts capturing on `bridge` in the namespace `hub`.
    pub fn on_bridge(hub: &Netns, bridge: &str) -> Capture {
        let sniffer = hub.run(|| Sniffer::open(bridge));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(frame) = sniffer.next(Instant::now() + Duration::from_millis(50))
                    else {
                        continue;
                    };
                    if let Some(arp) = frame.arp() {
                        let entry = SeenArp {
                            at: frame.at,
                            source: frame.source(),
                            arp,
                        };
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
                    }
                }
            })
        };
        Capture {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// When a gratuitous ARP for `vip` from `mac` was first seen at or
    /// after `since`.
    pub fn announced(&self, vip: Ipv4Addr, mac: [u8; 6], since: Instant) -> Option<Instant> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.at >= since && s.announces(vip, mac))
            .map(|s| s.at)
    }

    /// Polls [`Capture::announced`] until `deadline`.
    pub fn wait_announced(
        &self,
        vip: Ipv4Addr,
        mac: [u8; 6],
        since: Instant,
        deadline: Instant,
    ) -> Option<Instant> {
        loop {
            if let Some(at) = self.announced(vip, mac, since) {
                return Some(at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Everything seen so far, for failure messages.
    pub fn summary(&self) -> String {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = format!("{} ARP frames:\n", seen.len());
        for s in seen.iter().rev().take(60) {
            let _ = writeln!(
                out,
                "  from {:02x?} op {} {} -> {}",
                s.source, s.arp.operation, s.arp.sender_ip, s.arp.target_ip
            );
        }
        out
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
