//! Clusters of the real `wackamole` binary running the built-in group
//! service (a `Membership` block, no Spread) for root-only end-to-end tests
//! and benchmarks: the built-in backend of the harness of
//! tests/it/support/cluster.rs, whose network it uses: a hub
//! namespace holding a bridge `br0` (and a second one, `br1`, to split the
//! cluster in two), one namespace per node whose `wm0` is a veth to a
//! bridge port `p<i>` in the hub. Each node's own address, listed in
//! `Nodes`, is the primary of its `wm0`; the VIPs are secondaries of the
//! same /16. The cluster key is written by `wackamole keygen` (mode 0600).
//!
//! Everything is torn down on drop, even when a test fails: every daemon
//! this cluster started is killed by its pid and reaped, every namespace
//! deleted, the directory removed. Every wait is bounded and fails with
//! each node's status, addresses and log.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use crate::support::cluster::port_name;
use crate::support::cluster::{self, Backend, Capture, Harness, Waits, BINARY};
use crate::support::netns::{self, Netns};
use crate::support::status::Status;
use wackamole::membership::{DEFAULT_HEARTBEAT, DEFAULT_TIMEOUT};

/// The UDP port of every node.
pub const PORT: u16 = 4810;
/// How often [`BuiltinCluster::wait_exit`] looks.
const EXIT_POLL: Duration = Duration::from_millis(1);
/// How long a control request may take before the node counts as silent.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(2);

/// Node `i`'s own address: listed in `Nodes`, the primary of its `wm0`.
pub fn node_address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 78, 0, 10 + u8::try_from(i).expect("at most 200 nodes"))
}

/// VIF `k`'s only address, a secondary of the nodes' /16.
pub fn vip(k: usize) -> Ipv4Addr {
    assert!(k < 254, "at most 254 VIFs");
    Ipv4Addr::new(10, 78, 1, (k + 1) as u8)
}

/// An address on the bridge that no node uses (a foreign host).
pub const FOREIGN: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 250);

/// What a cluster looks like (`Spec::new(nodes, vifs)`: maturity 1 s, one
/// acquisition per balance round every second, the [`Membership`]
/// defaults).
pub type Spec = cluster::Spec<Membership>;

/// What every node's built-in membership is configured with.
#[derive(Debug, Clone)]
pub struct Membership {
    /// `Heartbeat` and `Timeout` of the `Membership` block.
    pub heartbeat: String,
    pub timeout: String,
    /// Lines added inside every node's `Membership` block.
    pub extra: String,
    /// `Quorum` of every node.
    pub quorum: String,
}

impl Default for Membership {
    /// The membership's default timings, no quorum.
    fn default() -> Membership {
        Membership {
            heartbeat: millis(DEFAULT_HEARTBEAT),
            timeout: millis(DEFAULT_TIMEOUT),
            extra: String::new(),
            quorum: "none".into(),
        }
    }
}

impl Spec {
    /// The same at other membership timings.
    pub fn timing(mut self, heartbeat: &str, timeout: &str) -> Spec {
        self.service.heartbeat = heartbeat.into();
        self.service.timeout = timeout.into();
        self
    }
}

/// A cluster on the built-in membership; see the module documentation.
pub type BuiltinCluster = Harness<Builtin>;

/// The built-in membership backend: every node lists the others in its
/// `Membership` block and shares the cluster's key.
pub struct Builtin {
    key: PathBuf,
}

impl BuiltinCluster {
    /// Builds the network, writes the key and every node's configuration;
    /// no node runs yet.
    pub fn new(tag: &str, spec: Spec) -> BuiltinCluster {
        Harness::assemble(tag, spec, |dir| {
            let key = dir.path("cluster.key");
            keygen(&key);
            Builtin { key }
        })
    }

    /// `ip link set p<i> down` in the hub: node `i`'s link is down (its
    /// `wm0` loses its carrier, its addresses stay).
    pub fn link_down(&self, i: usize) {
        self.hub.ip(&["link", "set", &port_name(i), "down"]);
    }

    pub fn link_up(&self, i: usize) {
        self.hub.ip(&["link", "set", &port_name(i), "up"]);
    }

    /// Moves node `i`'s port to `bridge` (`br0` or `br1`): nodes on
    /// different bridges cannot reach each other, links stay up.
    pub fn move_to_bridge(&self, i: usize, bridge: &str) {
        self.hub
            .ip(&["link", "set", &port_name(i), "master", bridge]);
    }

    /// A host on `br0` that is no node: a namespace (deleted when the
    /// returned value is dropped) whose `fx0` has [`FOREIGN`].
    pub fn foreign_host(&self, tag: &str) -> (Netns, [u8; 6]) {
        let ns = Netns::new(tag);
        netns::quiet_veth(&ns, "fx0", &self.hub, "pf");
        self.hub.ip(&["link", "set", "pf", "master", "br0"]);
        ns.ip(&["addr", "add", &format!("{FOREIGN}/16"), "dev", "fx0"]);
        let mac = netns::mac_of(&ns, "fx0");
        (ns, mac)
    }

    pub fn key(&self) -> &Path {
        &self.backend.key
    }

    /// Captures every ARP frame reaching `br0`.
    pub fn capture(&self) -> Capture {
        Capture::on_bridge(&self.hub, "br0")
    }

    /// Gives node `i` a key of its own (another `wackamole keygen`), so
    /// that nothing it sends authenticates for the others.
    pub fn give_wrong_key(&self, i: usize) -> PathBuf {
        let wrong = self.dir.path(&format!("wrong{i}.key"));
        keygen(&wrong);
        let text = self.config_text(i).replace(
            &self.backend.key.display().to_string(),
            &wrong.display().to_string(),
        );
        self.write_config(i, &text);
        wrong
    }

    /// Waits until every node in `nodes` reports a view of exactly those
    /// nodes in its status.
    pub fn wait_view_of(&mut self, nodes: &[usize], within: Duration) {
        let what = format!("nodes {nodes:?} in one view of {} members", nodes.len());
        let size = nodes.len();
        self.wait_for(&what, within, |c| {
            let reports: Vec<_> = nodes.iter().map(|&i| c.try_status(i)).collect();
            let ids: Vec<Option<String>> = reports
                .iter()
                .map(|r| r.as_ref().ok().and_then(Status::view_id))
                .collect();
            reports
                .iter()
                .all(|r| r.as_ref().is_ok_and(|r| r.view_size() == size))
                && ids[0].is_some()
                && ids.iter().all(|id| *id == ids[0])
        });
    }
}

impl Backend for Builtin {
    type Service = Membership;

    fn node_address(i: usize) -> Ipv4Addr {
        node_address(i)
    }

    fn vip(k: usize) -> Ipv4Addr {
        vip(k)
    }

    /// IPv6 off, so that only the cluster's traffic crosses.
    const VETH: fn(&Netns, &str, &Netns, &str) = netns::quiet_veth;
    const EXIT_POLL: Duration = EXIT_POLL;

    fn start_args(_: usize) -> Vec<String> {
        Vec::new()
    }

    fn default_config(cluster: &BuiltinCluster, i: usize) -> String {
        let spec = &cluster.spec;
        let membership = &spec.service;
        let nodes: Vec<String> = (0..spec.nodes)
            .map(|n| node_address(n).to_string())
            .collect();
        let service = format!(
            "Membership {{\n\
             \tNodes {{ {nodes} }}\n\
             \tPort = {PORT}\n\
             \tKey = {key}\n\
             \tHeartbeat = {heartbeat}\n\
             \tTimeout = {timeout}\n\
             {extra}\
             }}\n\
             Quorum = {quorum}\n",
            nodes = nodes.join(" "),
            key = cluster.backend.key.display(),
            heartbeat = membership.heartbeat,
            timeout = membership.timeout,
            extra = membership.extra,
            quorum = membership.quorum,
        );
        cluster.config_with(i, &service)
    }

    /// Asked on node `i`'s control socket.
    fn try_status(cluster: &BuiltinCluster, i: usize) -> Result<Status, String> {
        Status::ask(&cluster.nodes[i].control, CONTROL_TIMEOUT)
    }

    fn diagnostics(cluster: &mut BuiltinCluster) -> String {
        let status = |c: &BuiltinCluster, i| match c.try_status(i) {
            Ok(report) => format!(", status: {}", report.summary()),
            Err(e) => format!(", status: {e}"),
        };
        cluster.describe("", status, Some(80))
    }
}

/// `d` as the configuration writes it, in milliseconds.
pub fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// `wackamole keygen PATH`: a fresh key, mode 0600.
pub fn keygen(path: &Path) {
    let out = Command::new(BINARY)
        .arg("keygen")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BINARY} keygen: {e}"));
    assert!(
        out.status.success(),
        "keygen {path:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "keygen wrote {path:?} with mode {mode:o}");
}
