//! The membership socket's error queue: the ICMP errors that answer our
//! datagrams, among them the port unreachable of a host whose daemon is
//! gone (see `membership/unreachable.rs`).
//!
//! With `IP_RECVERR` set, the kernel keeps each ICMP error for a datagram
//! of this socket on the socket's error queue, which `poll` reports as
//! `POLLERR` and a receive as one failure (`ECONNREFUSED` for a port
//! unreachable). `recvmsg(MSG_ERRQUEUE)` then gives, per error, the
//! destination the datagram was sent to (as the message's address), what
//! the ICMP message quoted of the datagram (as the data), and a
//! `sock_extended_err` saying where the error came from.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

/// ICMP "destination unreachable".
const ICMP_DEST_UNREACH: u8 = 3;
/// Its code "port unreachable".
const ICMP_PORT_UNREACH: u8 = 3;
/// Room for the control messages of one error (one `sock_extended_err`
/// and the offender's address, about 40 bytes).
const CONTROL: usize = 256;

/// Asks the kernel to queue the ICMP errors for our datagrams.
pub(super) fn enable(socket: &UdpSocket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and a pointer to an int of the size
    // given, read during the call only.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_IP,
            libc::IP_RECVERR,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One error taken from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queued {
    /// The host of `to` has no socket on that port: `len` bytes of
    /// `buffer` hold what the ICMP message quoted of our datagram.
    PortUnreachable {
        /// Where our datagram went.
        to: SocketAddrV4,
        /// How much of the datagram was quoted.
        len: usize,
    },
    /// Any other error (another ICMP message, a local error).
    Other,
}

/// Takes the next error off the queue of `socket`, the quoted datagram
/// into `buffer`; `None` when the queue is empty.
pub(super) fn take(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Option<Queued>> {
    let mut name = MaybeUninit::<libc::sockaddr_in>::zeroed();
    // u64 cells: aligned for every control message header.
    let mut control = [0u64; CONTROL / 8];
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // SAFETY: msghdr is plain data; zero is a valid value of each field.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = CONTROL as _;
    // SAFETY: every pointer in `msg` points to live memory of the length
    // given, owned by this frame or by `buffer`, for the call's duration.
    let len = unsafe {
        libc::recvmsg(
            socket.as_raw_fd(),
            &mut msg,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        )
    };
    if len < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(err),
        };
    }
    let len = (len as usize).min(buffer.len());
    if (msg.msg_namelen as usize) < size_of::<libc::sockaddr_in>() {
        return Ok(Some(Queued::Other));
    }
    // SAFETY: the kernel filled a sockaddr_in (the length says so); it
    // was zeroed before, so every byte is initialised either way.
    let name = unsafe { name.assume_init() };
    if libc::c_int::from(name.sin_family) != libc::AF_INET {
        return Ok(Some(Queued::Other));
    }
    let to = SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
        u16::from_be(name.sin_port),
    );
    let mut port_unreachable = false;
    // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of the
    // control buffer, as the kernel set it; the data of a control
    // message is read unaligned, and only when it is long enough.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let data_len = (header.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if header.cmsg_level == libc::SOL_IP
                && header.cmsg_type == libc::IP_RECVERR
                && data_len >= size_of::<libc::sock_extended_err>()
            {
                let err = std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>(),
                );
                port_unreachable = err.ee_origin == libc::SO_EE_ORIGIN_ICMP
                    && err.ee_type == ICMP_DEST_UNREACH
                    && err.ee_code == ICMP_PORT_UNREACH;
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Some(if port_unreachable {
        Queued::PortUnreachable { to, len }
    } else {
        Queued::Other
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// On loopback: a datagram to a port nobody listens on comes back as
    /// a port unreachable naming that port and quoting the datagram.
    #[test]
    fn a_datagram_to_a_closed_port_comes_back_quoted() {
        let closed = UdpSocket::bind("127.0.0.1:0").expect("a socket");
        let to = match closed.local_addr().expect("bound") {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("not IPv4: {other}"),
        };
        drop(closed);
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a socket");
        socket.set_nonblocking(true).expect("non-blocking");
        enable(&socket).expect("IP_RECVERR");
        let payload = b"a heartbeat nobody hears";
        socket.send_to(payload, to).expect("sent");
        let mut buffer = [0u8; 512];
        let deadline = Instant::now() + Duration::from_secs(5);
        let queued = loop {
            match take(&socket, &mut buffer).expect("the error queue reads") {
                Some(q) => break q,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                None => panic!("no error was queued within 5 s"),
            }
        };
        let Queued::PortUnreachable { to: named, len } = queued else {
            panic!("not a port unreachable: {queued:?}");
        };
        assert_eq!(named, to);
        assert_eq!(&buffer[..len], payload);
        assert_eq!(take(&socket, &mut buffer).expect("reads"), None);
    }
}
