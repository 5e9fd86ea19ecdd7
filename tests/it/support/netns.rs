//! Network namespaces for root-only tests: each test makes its own, with
//! names unique per test and per process, wires them with veth pairs (both
//! ends always inside test namespaces, never in the host's), runs code in
//! them on dedicated threads, and deletes them on drop, even when the test
//! fails. Nothing here touches the host's interfaces, routes or sysctls.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A network namespace created by the test; deleted on drop.
pub struct Netns {
    name: String,
    /// Cluster tests time their daemons: no simulation runs meanwhile.
    _cpu: super::Shared<'static>,
}

/// Runs `ip` with `args`; panics with its stderr when it fails, since a
/// test that cannot build its network must fail loudly.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run ip {args:?}: {e} (these tests need root and iproute2)")
    });
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Netns {
    /// A fresh namespace named `wk-<tag>-<pid>-<n>`, loopback up.
    pub fn new(tag: &str) -> Netns {
        let cpu = super::shared();
        let name = format!(
            "wk-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name, _cpu: cpu };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <this namespace> args...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command run inside the namespace (`ip netns exec`).
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name));
        assert!(
            out.status.success(),
            "{program} {args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Moves the calling thread into this namespace. Only for threads the
    /// test owns and that live no longer than it (see `run`).
    pub fn enter(&self) {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        // SAFETY: setns on a namespace file descriptor we hold open.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns into {} failed: {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }

    /// Runs `f` on a dedicated thread inside the namespace and returns its
    /// result. Sockets it creates stay in the namespace wherever they are
    /// used later; threads it spawns start in the namespace too.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter();
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace also destroys every interface in it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair: `a_name` in `a`, `b_name` in `b`, both up.
pub fn veth(a: &Netns, a_name: &str, b: &Netns, b_name: &str) {
    a.ip(&[
        "link",
        "add",
        "name",
        a_name,
        "type",
        "veth",
        "peer",
        "name",
        b_name,
        "netns",
        b.name(),
    ]);
    a.ip(&["link", "set", a_name, "up"]);
    b.ip(&["link", "set", b_name, "up"]);
}

/// A veth pair as [`veth`] with IPv6 off on both ends, so that nothing
/// but what the test sends crosses the link (no router solicitations).
pub fn quiet_veth(a: &Netns, a_name: &str, b: &Netns, b_name: &str) {
    veth(a, a_name, b, b_name);
    for (ns, dev) in [(a, a_name), (b, b_name)] {
        ns.exec(
            "sysctl",
            &["-q", "-w", &format!("net.ipv6.conf.{dev}.disable_ipv6=1")],
        );
    }
}

/// The MAC address of `interface` in `ns`.
pub fn mac_of(ns: &Netns, interface: &str) -> [u8; 6] {
    let out = ns.ip(&["-o", "link", "show", "dev", interface]);
    let word = out
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for {interface} in: {out}"));
    wackamole::net::arptable::parse_mac(word).unwrap_or_else(|| panic!("bad MAC {word}"))
}
