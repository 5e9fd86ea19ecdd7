//! Trackers on the wire (root only): a second interface per node, the
//! "uplink" `up0`, a veth whose peer `u<i>` sits alone in the hub, so that
//! setting the peer down drops `up0`'s carrier as a pulled cable would; a
//! second bridge `br2` in the hub for VIFs on an interface of their own
//! (`vx0`, its peer `q<i>` a port of `br2`); a switch that sets links of
//! one namespace down and up by ioctl from the test's own thread, so that
//! the time taken just before is the time the kernel acts (no `ip`
//! process started in between); and the words of a `Track` block.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::support::netns::{self, Netns};

/// Every node's tracked uplink.
pub const UPLINK: &str = "up0";
/// Every node's interface of the VIFs on their own bridge.
pub const VIF_LINK: &str = "vx0";
/// The hub's bridge of [`VIF_LINK`].
pub const VIF_BRIDGE: &str = "br2";

/// Node `i`'s uplink peer in the hub.
pub fn uplink_peer(i: usize) -> String {
    format!("u{i}")
}

/// Node `i`'s [`VIF_LINK`] peer in the hub, a port of [`VIF_BRIDGE`].
pub fn vif_port(i: usize) -> String {
    format!("q{i}")
}

/// The `k`th address of the VIFs on [`VIF_LINK`]: 10.79.1.(k+1)/24.
pub fn vif_link_address(k: usize) -> Ipv4Addr {
    assert!(k < 254, "at most 254 VIFs");
    Ipv4Addr::new(10, 79, 1, (k + 1) as u8)
}

/// Gives the node in `node` (index `i`) its uplink: `up0` there, its peer
/// `u<i>` in `hub` on no bridge, both up.
pub fn add_uplink(node: &Netns, hub: &Netns, i: usize) {
    netns::quiet_veth(node, UPLINK, hub, &uplink_peer(i));
}

/// Gives the node in `node` (index `i`) its [`VIF_LINK`], its peer a port
/// of [`VIF_BRIDGE`] in `hub` (made when missing).
pub fn add_vif_link(node: &Netns, hub: &Netns, i: usize) {
    if !hub
        .ip(&["-o", "link", "show"])
        .contains(&format!(" {VIF_BRIDGE}:"))
    {
        hub.ip(&["link", "add", VIF_BRIDGE, "type", "bridge"]);
        hub.ip(&["link", "set", VIF_BRIDGE, "up"]);
    }
    netns::quiet_veth(node, VIF_LINK, hub, &vif_port(i));
    hub.ip(&["link", "set", &vif_port(i), "master", VIF_BRIDGE]);
}

/// A `Track` block of `lines` (each a directive).
pub fn track_block(lines: &[String]) -> String {
    let mut text = "Track {\n".to_string();
    for line in lines {
        text.push('\t');
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("}\n");
    text
}

/// `IFF_UP` and `IFNAMSIZ` as the kernel has them.
const IFF_UP: libc::c_short = 1;
const IFNAMSIZ: usize = 16;

/// Sets links of one namespace down and up by `SIOCSIFFLAGS` on a socket
/// opened in it.
pub struct LinkSwitch {
    socket: OwnedFd,
}

impl LinkSwitch {
    /// A switch for the links of `ns`.
    pub fn open(ns: &Netns) -> LinkSwitch {
        let socket = ns.run(|| {
            // SAFETY: a plain socket(2); the descriptor is owned below.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        LinkSwitch { socket }
    }

    /// `ip link set <name> up|down`, done by this thread at once.
    pub fn set(&self, name: &str, up: bool) {
        // struct ifreq: the name, then (at 16) the flags, 40 bytes in all.
        let mut req = [0u8; 40];
        assert!(name.len() < IFNAMSIZ, "interface name {name} too long");
        req[..name.len()].copy_from_slice(name.as_bytes());
        self.ioctl(libc::SIOCGIFFLAGS, &mut req, name);
        let mut flags = libc::c_short::from_ne_bytes([req[16], req[17]]);
        if up {
            flags |= IFF_UP;
        } else {
            flags &= !IFF_UP;
        }
        req[16..18].copy_from_slice(&flags.to_ne_bytes());
        self.ioctl(libc::SIOCSIFFLAGS, &mut req, name);
    }

    fn ioctl(&self, request: libc::c_ulong, req: &mut [u8; 40], name: &str) {
        // SAFETY: `req` is a buffer of the size of struct ifreq that
        // outlives the call.
        let rc = unsafe { libc::ioctl(self.socket.as_raw_fd(), request as _, req.as_mut_ptr()) };
        assert_eq!(
            rc,
            0,
            "ioctl {request:#x} on {name}: {}",
            io::Error::last_os_error()
        );
    }
}
