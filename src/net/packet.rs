//! Sending whole Ethernet frames on one interface through an AF_PACKET
//! socket. The socket is opened with protocol 0, so it receives nothing
//! and needs no draining.

use std::mem;
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};

use super::arp::Mac;
use super::error::{Action, Error, Result};
use super::ifreq;

/// An AF_PACKET socket bound to one interface, with that interface's MAC.
pub struct PacketSender {
    socket: Socket,
    interface: String,
    mac: Mac,
}

impl PacketSender {
    /// Opens a sender on `interface` (in the caller's network namespace).
    pub fn open(interface: &str) -> Result<PacketSender> {
        let fail = |e| Error::os(Action::OpenPacketSocket, interface, None, e);
        let socket = Socket::new(Domain::PACKET, Type::RAW.cloexec(), None).map_err(fail)?;
        let ifindex = ifreq::index(&socket, interface).map_err(fail)?;
        let mac = ifreq::hardware_address(&socket, interface).map_err(fail)?;
        // SAFETY: an all-zero sockaddr_ll is valid; we fill in its fields.
        let mut link: libc::sockaddr_ll = unsafe { mem::zeroed() };
        link.sll_family = libc::AF_PACKET as u16;
        link.sll_ifindex = ifindex;
        // SAFETY: `link` is a sockaddr_ll of the size we pass.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                &link as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::last_os(Action::OpenPacketSocket, interface, None));
        }
        Ok(PacketSender {
            socket,
            interface: interface.to_string(),
            mac,
        })
    }

    /// The interface's MAC address, the source of everything we send.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Sends one complete Ethernet frame. The error names the interface;
    /// the caller adds the address the frame concerns.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        let fail = |e| Error::os(Action::SendFrame, &self.interface, None, e);
        match self.socket.send(frame) {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(_) => Err(fail(std::io::Error::from(std::io::ErrorKind::WriteZero))),
            Err(e) => Err(fail(e)),
        }
    }
}
