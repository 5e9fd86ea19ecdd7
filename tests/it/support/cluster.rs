//! Clusters of the real `wackamole` binary for root-only end-to-end tests
//! and benchmarks: a hub namespace holding a bridge, one namespace per
//! node wired to it by a veth (`wm0` in the node, its peer a bridge port in
//! the hub), the in-process Spread test daemon on a Unix socket in a
//! per-cluster directory, and one daemon process per node, started
//! straight inside its namespace so the child's pid is the daemon's own.
//!
//! Everything is torn down on drop, even when a test fails: every daemon
//! is killed by pid and reaped, every namespace deleted, the directory
//! removed. Every wait is bounded and fails with the node logs and each
//! node's addresses.
//!
//! The parts, in cluster/: node.rs (one node and its daemon), spread.rs
//! (the Spread test daemon), observe.rs (who holds which VIP), capture.rs
//! (ARP on the bridge), wait.rs (the bounded waits, [`Waits`]).

mod capture;
mod node;
mod observe;
mod spread;
mod wait;

pub use capture::Capture;
pub use node::{describe_exit, Node};
pub use observe::{owners, Observer, Sampler};
pub use wait::{patiently, Waits, STATUS_PATIENCE};

use std::fmt::Write as _;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::sync::Arc;
use std::time::Duration;

use crate::support::netns::{self, Netns};
use crate::support::scratch::Scratch;
use crate::support::spread_daemon::TestDaemon;
use crate::support::status::Status;

/// The daemon under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_wackamole");
/// The interface every node's VIPs live on.
pub const INTERFACE: &str = "wm0";
/// The Spread group of every cluster.
pub const GROUP: &str = "wmtest";
/// Longest a poll sleeps between two looks.
const POLL: Duration = Duration::from_millis(20);

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

/// The namespaces of `nodes`, made and opened (not wired), and an
/// observer of `vips` on them.
pub fn make_nodes(tag: &str, count: usize, dir: &Path, vips: &[Ipv4Addr]) -> (Vec<Node>, Observer) {
    let nodes: Vec<Node> = (0..count)
        .map(|i| Node::new(i, Netns::new(&format!("{tag}{i}")), dir))
        .collect();
    let namespaces: Vec<Arc<File>> = nodes.iter().map(Node::ns_file).collect();
    let observer = Observer::spawn(&namespaces, vips);
    (nodes, observer)
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
    dir: Scratch,
}

impl Cluster {
    /// Builds the network and starts the Spread test daemon; no node runs
    /// yet (see [`Cluster::start`]).
    pub fn new(tag: &str, spec: Spec) -> Cluster {
        assert_eq!(spec.extra.len(), spec.nodes, "one extra text per node");
        let dir = Scratch::new(tag);
        let hub = Netns::new(&format!("{tag}h"));
        hub.ip(&["link", "add", "br0", "type", "bridge"]);
        hub.ip(&["link", "set", "br0", "up"]);
        let vips: Vec<Ipv4Addr> = (0..spec.vifs).map(vip).collect();
        let (nodes, observer) = make_nodes(tag, spec.nodes, dir.dir(), &vips);
        let mut cluster = Cluster {
            spec,
            binary: PathBuf::from(BINARY),
            nodes,
            hub,
            spread: None,
            spread_path: dir.path("spread.sock"),
            observer,
            vips,
            dir,
        };
        cluster.start_spread();
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
        self.nodes[i].plug(&self.hub, &peer, node_address(i), netns::veth);
    }

    /// Pulls node `i`'s cable: deletes its `wm0` (and so every address on
    /// it), as if the machine had died with its VIPs configured.
    pub fn cut(&mut self, i: usize) {
        self.nodes[i].unplug();
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn hub(&self) -> &Netns {
        &self.hub
    }

    pub fn dir(&self) -> &Path {
        self.dir.dir()
    }

    /// The configuration node `i` starts with.
    pub fn default_config(&self, i: usize) -> String {
        let spec = &self.spec;
        let service = format!(
            "Spread = {spread}\n\
             SpreadRetryInterval = 1s\n\
             Group = {GROUP}\n",
            spread = self.spread_path.display(),
        );
        let timing = [
            &spec.mature,
            &spec.acquisitions_per_round,
            &spec.balance_interval,
        ];
        let control = &self.nodes[i].control;
        let (identity, extra) = (node_address(i), &spec.extra[i]);
        node_config(
            &service,
            control,
            identity,
            timing.map(String::as_str),
            &self.vips,
            extra,
        )
    }

    pub fn config_text(&self, i: usize) -> String {
        self.nodes[i].config_text()
    }

    pub fn write_config(&self, i: usize, text: &str) {
        self.nodes[i].write_config(text);
    }

    /// Starts node `i`'s daemon in the foreground (`-d`) inside its
    /// namespace, logging to its log file.
    pub fn start(&mut self, i: usize) {
        let user = format!("node{i}");
        self.nodes[i].start(&self.binary, &["-u", &user]);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Sends `signal` to node `i`'s daemon.
    pub fn signal(&self, i: usize, signal: libc::c_int) {
        self.nodes[i].signal(signal);
    }

    /// SIGKILL of node `i`'s daemon, reaped at once.
    pub fn kill(&mut self, i: usize) {
        assert!(self.nodes[i].pid().is_some(), "node {i} does not run");
        self.nodes[i].kill();
    }

    /// Waits (bounded) for node `i`'s daemon to exit and reaps it.
    pub fn wait_exit(&mut self, i: usize, within: Duration) -> ExitStatus {
        match self.nodes[i].wait_exit(within, POLL) {
            Ok(status) => status,
            Err(message) => self.fail(&message),
        }
    }

    /// Whether node `i`'s daemon still runs (an unexpected exit fails).
    pub fn running(&mut self, i: usize) -> bool {
        match self.nodes[i].running() {
            Ok(running) => running,
            Err(message) => self.fail(&message),
        }
    }

    /// An observer of every node's VIPs, usable from other threads.
    pub fn observer(&self) -> Observer {
        self.observer.clone()
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        self.nodes[i].log_text()
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

    /// Node `i`'s `wackatrl -l --json`, or why not.
    pub fn try_status(&self, i: usize) -> Result<Status, String> {
        Status::from_listing(&self.ctl(i, &["-l", "--json"]))
    }

    /// Node `i`'s `wackatrl -l --json`; fails the test when it cannot be
    /// had within [`STATUS_PATIENCE`].
    pub fn status(&mut self, i: usize) -> Status {
        match patiently(STATUS_PATIENCE, || self.try_status(i)) {
            Ok(status) => status,
            Err(e) => self.fail(&format!("no status from node {i}: {e}")),
        }
    }
}

impl Waits for Cluster {
    fn watched(&self) -> (&Observer, &[Ipv4Addr]) {
        (&self.observer, &self.vips)
    }

    fn diagnostics(&mut self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "holders: {:?}", self.holders());
        let _ = writeln!(out, "group members: {:?}", self.members());
        for i in 0..self.nodes.len() {
            let state = self.nodes[i].state();
            let node = &self.nodes[i];
            let _ = writeln!(
                out,
                "==== node {i} ({}, {state}), addresses:\n{}---- log:\n{}",
                node.ns().name(),
                node.addresses(),
                node.log_text()
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

/// A node's configuration: `service` (the group service's lines), the
/// engine's lines with `timing` (Mature, AcquisitionsPerRound and
/// Interval), every VIP on [`INTERFACE`], then `extra`.
pub fn node_config(
    service: &str,
    control: &Path,
    identity: Ipv4Addr,
    [mature, apr, interval]: [&str; 3],
    vips: &[Ipv4Addr],
    extra: &str,
) -> String {
    let mut text = format!(
        "{service}\
         Control = {control}\n\
         Identity = {identity}\n\
         Mature = {mature}\n\
         Arp-Cache = 90s\n\
         Balance {{\n\
         \tAcquisitionsPerRound = {apr}\n\
         \tInterval = {interval}\n\
         }}\n\
         VirtualInterfaces {{\n",
        control = control.display(),
    );
    for vip in vips {
        let _ = writeln!(text, "\t{INTERFACE}:{vip}/16");
    }
    text.push_str("}\n");
    text.push_str(extra);
    text.push('\n');
    text
}
