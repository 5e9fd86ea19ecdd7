//! Clusters of the real `wackamole` binary for root-only end-to-end tests
//! and benchmarks, one harness for both group services: [`Harness`] over
//! a [`Backend`], the Spread test daemon ([`Spread`], [`Cluster`]) or the
//! built-in membership (`builtin::Builtin`, `builtin::BuiltinCluster`).
//! A hub namespace holds the bridges `br0` and `br1`, one namespace per
//! node is wired to `br0` by a veth (`wm0` in the node, its peer a bridge
//! port `p<i>` in the hub), and one daemon process runs per node, started
//! straight inside its namespace so the child's pid is the daemon's own.
//! With Spread, the in-process Spread test daemon listens on a Unix socket
//! in the cluster's directory.
//!
//! Everything is torn down on drop, even when a test fails: every daemon
//! is killed by pid and reaped, every namespace deleted, the directory
//! removed. Every wait is bounded and fails with the node logs and each
//! node's addresses.
//!
//! The parts, in cluster/: node.rs (one node and its daemon), spread.rs
//! (the Spread test daemon), observe.rs (who holds which VIP), capture.rs
//! (ARP on the bridge), wait.rs (the bounded waits, [`Waits`]),
//! takeover.rs (VIFs moving to the survivors, checked and timed).

mod capture;
mod node;
mod observe;
mod spread;
mod takeover;
mod wait;

pub use capture::Capture;
pub use node::{describe_exit, Node};
pub use observe::{owners, Observer, Sampler};
pub use takeover::{assert_announced, ms, takeover_watch};
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
/// How many sweeps a sampler of VIP owners must have made for its "never
/// on two nodes" to mean anything; a test samples on (within its settle
/// bound) until it has, however slowly a loaded machine lets it.
pub const MIN_SWEEPS: usize = 10;
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

/// What a cluster looks like: its size and what every node's engine is
/// configured with, whatever the backend, and `service`, what the
/// backend's group service needs on top ([`Backend::Service`]: nothing
/// for Spread, the `Membership` block for the built-in membership).
#[derive(Debug, Clone)]
pub struct Spec<S = ()> {
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
    /// The group service's own settings, the same on every node.
    pub service: S,
}

impl<S: Default> Spec<S> {
    /// `nodes` nodes sharing `vifs` VIFs, with short timers: maturity 1 s,
    /// one acquisition per balance round every second; the group
    /// service's defaults.
    pub fn new(nodes: usize, vifs: usize) -> Spec<S> {
        Spec {
            nodes,
            vifs,
            mature: "1s".into(),
            balance_interval: "1s".into(),
            acquisitions_per_round: "1".into(),
            extra: vec![String::new(); nodes],
            service: S::default(),
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

/// What a cluster's group service brings to the harness: the Spread test
/// daemon ([`Spread`]) or the built-in membership
/// (`crate::support::builtin::Builtin`).
pub trait Backend: Sized {
    /// What the group service needs in a [`Spec`], beside what every
    /// cluster has.
    type Service;
    /// Node `i`'s own address.
    fn node_address(i: usize) -> Ipv4Addr;
    /// VIF `k`'s address.
    fn vip(k: usize) -> Ipv4Addr;
    /// How a node's `wm0` is wired to the hub.
    const VETH: fn(&Netns, &str, &Netns, &str);
    /// How often an exit is looked for.
    const EXIT_POLL: Duration;
    /// The arguments node `i`'s daemon starts with, after `-d -c <config>`.
    fn start_args(i: usize) -> Vec<String>;
    /// The configuration node `i` starts with.
    fn default_config(cluster: &Harness<Self>, i: usize) -> String;
    /// Node `i`'s JSON status, or why not.
    fn try_status(cluster: &Harness<Self>, i: usize) -> Result<Status, String>;
    /// Everything that explains a failure.
    fn diagnostics(cluster: &mut Harness<Self>) -> String;
    /// Stops what the backend runs in the test process, once every node
    /// has been killed.
    fn stop(_cluster: &mut Harness<Self>) {}
}

/// A running cluster on backend `B`; see the module documentation.
pub struct Harness<B: Backend> {
    pub spec: Spec<B::Service>,
    /// The program every node runs ([`BINARY`] unless changed).
    pub binary: PathBuf,
    pub(crate) nodes: Vec<Node>,
    pub(crate) hub: Netns,
    pub(crate) vips: Vec<Ipv4Addr>,
    pub(crate) observer: Observer,
    pub(crate) backend: B,
    // Last, so it outlives the sockets, keys and logs in it.
    pub(crate) dir: Scratch,
}

/// A cluster on the Spread test daemon.
pub type Cluster = Harness<Spread>;

/// The Spread backend: the in-process Spread test daemon (see
/// cluster/spread.rs) on a Unix socket in the cluster's directory.
pub struct Spread {
    pub(crate) daemon: Option<TestDaemon>,
    pub(crate) path: PathBuf,
}

impl<B: Backend> Harness<B> {
    /// Builds the network (a hub with bridges `br0` and `br1`, every node
    /// wired to `br0`) around `backend`, made in the cluster's directory,
    /// and writes every node's configuration; no node runs yet.
    pub(crate) fn assemble(
        tag: &str,
        spec: Spec<B::Service>,
        backend: impl FnOnce(&Scratch) -> B,
    ) -> Self {
        let (nodes, vifs) = (spec.nodes, spec.vifs);
        assert_eq!(spec.extra.len(), nodes, "one extra text per node");
        let dir = Scratch::new(tag);
        let hub = Netns::new(&format!("{tag}h"));
        for bridge in ["br0", "br1"] {
            hub.ip(&["link", "add", bridge, "type", "bridge"]);
            hub.ip(&["link", "set", bridge, "up"]);
        }
        let backend = backend(&dir);
        let vips: Vec<Ipv4Addr> = (0..vifs).map(B::vip).collect();
        let (nodes, observer) = make_nodes(tag, nodes, dir.dir(), &vips);
        let mut cluster = Harness {
            spec,
            binary: PathBuf::from(BINARY),
            nodes,
            hub,
            vips,
            observer,
            backend,
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
        let peer = port_name(i);
        self.nodes[i].plug(&self.hub, &peer, B::node_address(i), B::VETH);
    }

    /// Pulls node `i`'s cable: deletes its `wm0` (and so every address on
    /// it), as if the machine had died with its VIPs configured.
    pub fn cut(&mut self, i: usize) {
        self.nodes[i].unplug();
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn hub(&self) -> &Netns {
        &self.hub
    }

    pub fn dir(&self) -> &Path {
        self.dir.dir()
    }

    /// The configuration node `i` starts with.
    pub fn default_config(&self, i: usize) -> String {
        B::default_config(self, i)
    }

    /// Node `i`'s configuration: the group service's `service` lines, then
    /// the engine's timing and node `i`'s extra lines from the spec (see
    /// [`node_config`]).
    pub(crate) fn config_with(&self, i: usize, service: &str) -> String {
        let spec = &self.spec;
        let timing = [
            &spec.mature,
            &spec.acquisitions_per_round,
            &spec.balance_interval,
        ];
        node_config(
            service,
            &self.nodes[i].control,
            B::node_address(i),
            timing.map(String::as_str),
            &self.vips,
            &spec.extra[i],
        )
    }

    pub fn config_text(&self, i: usize) -> String {
        self.nodes[i].config_text()
    }

    pub fn write_config(&self, i: usize, text: &str) {
        self.nodes[i].write_config(text);
    }

    /// Starts node `i`'s daemon in the foreground (`-d`) inside its
    /// namespace, logging to its log file; the child's pid is the
    /// daemon's own.
    pub fn start(&mut self, i: usize) {
        let args = B::start_args(i);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[i].start(&self.binary, &args);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Sends `signal` to node `i`'s daemon (by the pid we started).
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
        match self.nodes[i].wait_exit(within, B::EXIT_POLL) {
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

    /// Node `i`'s JSON status, or why not.
    pub fn try_status(&self, i: usize) -> Result<Status, String> {
        B::try_status(self, i)
    }

    /// SIGTERM to node `i`, then a bounded wait for its exit: fails unless
    /// it exits 0 with none of its VIPs left on its interface (read the
    /// instant it has exited: nothing but the daemon removes them).
    pub fn terminate_releasing(&mut self, i: usize, within: Duration) {
        self.signal(i, libc::SIGTERM);
        let status = self.wait_exit(i, within);
        let left = self.holders()[i].clone();
        if status.code() != Some(0) || !left.is_empty() {
            self.fail(&format!(
                "after SIGTERM: {}, still on its interface: {left:?}",
                describe_exit(status)
            ));
        }
    }

    /// What explains a failure: who holds which VIP, `head`, then per node
    /// its namespace, state, `note(i)`, addresses and log (the last `tail`
    /// lines of it, or all with `None`).
    pub(crate) fn describe(
        &mut self,
        head: &str,
        note: impl Fn(&Self, usize) -> String,
        tail: Option<usize>,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "holders: {:?}", self.holders());
        out.push_str(head);
        for i in 0..self.nodes.len() {
            let state = self.nodes[i].state();
            let note = note(self, i);
            let node = &self.nodes[i];
            let log = node.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let (shown, which) = match tail {
                Some(n) if lines.len() > n => {
                    (&lines[lines.len() - n..], format!(" (last {n} lines)"))
                }
                _ => (&lines[..], String::new()),
            };
            let _ = writeln!(
                out,
                "==== node {i} ({}, {state}){note}, addresses:\n{}---- log{which}:\n{}",
                node.ns().name(),
                node.addresses(),
                shown.join("\n")
            );
        }
        out
    }

    /// Node `i`'s JSON status; fails the test when it cannot be had
    /// within [`STATUS_PATIENCE`].
    /// This cluster with every node started, once the nodes hold `counts`
    /// VIPs (node by node) within `within`.
    pub fn settled(mut self, counts: &[usize], within: Duration) -> Self {
        self.start_all();
        self.wait_spread_as(counts, within);
        self
    }

    pub fn status(&mut self, i: usize) -> Status {
        match patiently(STATUS_PATIENCE, || self.try_status(i)) {
            Ok(status) => status,
            Err(e) => self.fail(&format!("no status from node {i}: {e}")),
        }
    }
}

impl<B: Backend> Waits for Harness<B> {
    fn watched(&self) -> (&Observer, &[Ipv4Addr]) {
        (&self.observer, &self.vips)
    }

    fn diagnostics(&mut self) -> String {
        B::diagnostics(self)
    }
}

impl<B: Backend> Drop for Harness<B> {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        B::stop(self);
        // Then the fields: namespaces deleted, the directory removed.
    }
}

impl Cluster {
    /// Builds the network and starts the Spread test daemon; no node runs
    /// yet (see [`Harness::start`]).
    pub fn new(tag: &str, spec: Spec) -> Cluster {
        let mut cluster = Harness::assemble(tag, spec, |dir| Spread {
            daemon: None,
            path: dir.path("spread.sock"),
        });
        cluster.start_spread();
        cluster
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
}

impl Backend for Spread {
    type Service = ();

    fn node_address(i: usize) -> Ipv4Addr {
        node_address(i)
    }

    fn vip(k: usize) -> Ipv4Addr {
        vip(k)
    }

    const VETH: fn(&Netns, &str, &Netns, &str) = netns::veth;
    const EXIT_POLL: Duration = POLL;

    fn start_args(i: usize) -> Vec<String> {
        vec!["-u".into(), format!("node{i}")]
    }

    fn default_config(cluster: &Cluster, i: usize) -> String {
        let service = format!(
            "Spread = {spread}\n\
             SpreadRetryInterval = 1s\n\
             Group = {GROUP}\n",
            spread = cluster.backend.path.display(),
        );
        cluster.config_with(i, &service)
    }

    /// `wackatrl -l --json` of node `i`.
    fn try_status(cluster: &Cluster, i: usize) -> Result<Status, String> {
        Status::from_listing(&cluster.ctl(i, &["-l", "--json"]))
    }

    fn diagnostics(cluster: &mut Cluster) -> String {
        let members = format!("group members: {:?}\n", cluster.members());
        cluster.describe(&members, |_, _| String::new(), None)
    }

    fn stop(cluster: &mut Cluster) {
        cluster.stop_spread();
    }
}

/// Node `i`'s bridge port in the hub.
pub fn port_name(i: usize) -> String {
    format!("p{i}")
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
