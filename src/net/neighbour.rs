//! A unicast neighbour advertisement to one IPv6 neighbour (a `Notify`
//! entry), sent through a raw ICMPv6 socket: the kernel finds the
//! neighbour's MAC and the way out, which a hand-built frame could not
//! know. The message itself comes from `ndp`.

use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::arp::Mac;
use super::error::{Action, Error, Result};
use super::ndp;

/// Sends the advertisement of `vip` (at `mac`) to `neighbour` on
/// `interface`, from `vip` itself with hop limit 255.
pub fn advertise(interface: &str, vip: Ipv6Addr, mac: Mac, neighbour: Ipv6Addr) -> Result<()> {
    let fail = |e| Error::os(Action::SendFrame, interface, Some(IpAddr::V6(vip)), e);
    let socket =
        Socket::new(Domain::IPV6, Type::RAW.cloexec(), Some(Protocol::ICMPV6)).map_err(fail)?;
    socket
        .bind_device(Some(interface.as_bytes()))
        .map_err(fail)?;
    socket
        .set_unicast_hops_v6(u32::from(ndp::HOP_LIMIT))
        .map_err(fail)?;
    socket
        .bind(&SockAddr::from(SocketAddrV6::new(vip, 0, 0, 0)))
        .map_err(fail)?;
    let mut message = ndp::advertisement(vip, neighbour, vip, mac);
    // The kernel computes the checksum of raw ICMPv6 itself (over the
    // addresses it really uses) and expects the field zero.
    message[2..4].fill(0);
    let scope = if neighbour.segments()[0] & 0xffc0 == 0xfe80 {
        ifindex(interface)
    } else {
        0
    };
    let to = SockAddr::from(SocketAddrV6::new(neighbour, 0, 0, scope));
    match socket.send_to(&message, &to) {
        Ok(n) if n == message.len() => Ok(()),
        Ok(_) => Err(fail(std::io::ErrorKind::WriteZero.into())),
        Err(e) => Err(fail(e)),
    }
}

/// The index of `interface`, 0 when it has none.
fn ifindex(interface: &str) -> u32 {
    let Ok(name) = std::ffi::CString::new(interface) else {
        return 0;
    };
    // SAFETY: `name` is a valid NUL-terminated string.
    unsafe { libc::if_nametoindex(name.as_ptr()) }
}
