//! Just enough rtnetlink to add and remove one IPv6 address:
//! `RTM_NEWADDR` / `RTM_DELADDR` with an acknowledgement. Only rtnetlink
//! can set `IFA_F_NODAD`, which makes a new address usable at once instead
//! of "tentative" for the second or more of duplicate address detection.
//! The messages are built and the replies read by pure functions (tested
//! here byte for byte); [`Netlink`] only moves them.

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
/// No duplicate address detection: the address is never tentative.
pub const IFA_F_NODAD: u32 = 0x02;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;

const HEADER_LEN: usize = 16;

/// How long the kernel may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// What to do with the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add the address.
    Add,
    /// Delete the address.
    Delete,
}

/// The request for `change` of `addr/prefix_len` on interface `ifindex`,
/// with sequence number `seq`. Adding asks for an acknowledgement and
/// refuses to replace an address already there (`EEXIST`).
pub fn address_request(
    change: Change,
    seq: u32,
    ifindex: u32,
    addr: Ipv6Addr,
    prefix_len: u8,
) -> Vec<u8> {
    let (kind, flags) = match change {
        Change::Add => (
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ),
        Change::Delete => (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
    };
    let scope = if addr.segments()[0] & 0xffc0 == 0xfe80 {
        RT_SCOPE_LINK
    } else {
        RT_SCOPE_UNIVERSE
    };
    let mut message = Vec::with_capacity(64);
    message.extend_from_slice(&[0; 4]); // length, filled in below
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // to the kernel
                                                    // ifaddrmsg: family, prefix length, flags (the low eight), scope, index.
    message.extend_from_slice(&[AF_INET6, prefix_len, IFA_F_NODAD as u8, scope]);
    message.extend_from_slice(&ifindex.to_ne_bytes());
    attribute(&mut message, IFA_LOCAL, &addr.octets());
    attribute(&mut message, IFA_ADDRESS, &addr.octets());
    if change == Change::Add {
        attribute(&mut message, IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
    }
    let len = message.len() as u32;
    message[..4].copy_from_slice(&len.to_ne_bytes());
    message
}

/// An rtattr: length, type, payload padded to four bytes.
fn attribute(message: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    message.extend_from_slice(&(len as u16).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(payload);
    message.resize(message.len() + (4 - len % 4) % 4, 0);
}

/// What one datagram from the kernel says about request `seq`.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The request succeeded.
    Ack,
    /// The request failed with this errno.
    Refused(i32),
    /// Nothing about `seq` in it (another message): read on.
    Unrelated,
}

/// Reads the acknowledgement of request `seq` in `datagram`.
pub fn read_reply(datagram: &[u8], seq: u32) -> io::Result<Reply> {
    let mut rest = datagram;
    while rest.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < HEADER_LEN || len > rest.len() {
            return Err(malformed("message length outside the datagram"));
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let msg_seq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if kind == NLMSG_ERROR && msg_seq == seq {
            if len < HEADER_LEN + 4 {
                return Err(malformed("error message without its code"));
            }
            let body = &rest[HEADER_LEN..];
            let code = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
            return Ok(if code == 0 {
                Reply::Ack
            } else {
                Reply::Refused(code.saturating_neg())
            });
        }
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    Ok(Reply::Unrelated)
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink reply: {what}"),
    )
}

/// A NETLINK_ROUTE socket for one request at a time.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// Opens an rtnetlink socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the descriptor is owned right below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval {
            tv_sec: REPLY_TIMEOUT.as_secs().try_into().unwrap_or(0x7fff_ffff),
            tv_usec: 0,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of the size we pass.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &timeout as *const libc::timeval as *const libc::c_void,
                mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink { fd, seq: 0 })
    }

    /// Applies `change` and waits for the kernel's answer; a refusal is
    /// the kernel's errno as an `io::Error`.
    pub fn change_address(
        &mut self,
        change: Change,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let request = address_request(change, self.seq, ifindex, addr, prefix_len);
        // SAFETY: the buffer is valid for its length; with no address the
        // datagram goes to the kernel.
        let sent = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                request.as_ptr() as *const libc::c_void,
                request.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buffer = [0u8; 8192];
        loop {
            // SAFETY: the buffer is valid for writes of its length.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr() as *mut libc::c_void,
                    buffer.len(),
                    0,
                )
            };
            if got < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            match read_reply(&buffer[..got as usize], self.seq)? {
                Reply::Ack => return Ok(()),
                Reply::Refused(errno) => return Err(io::Error::from_raw_os_error(errno)),
                Reply::Unrelated => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }

    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    const ADDR: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    #[test]
    fn add_request_is_byte_exact() {
        let addr = Ipv6Addr::from(ADDR);
        let message = address_request(Change::Add, 7, 3, addr, 64);
        let mut expected = Vec::new();
        expected.extend_from_slice(&ne32(72)); // 16 + 8 + 20 + 20 + 8
        expected.extend_from_slice(&ne16(20)); // RTM_NEWADDR
        expected.extend_from_slice(&ne16(0x0605)); // REQUEST|ACK|EXCL|CREATE
        expected.extend_from_slice(&ne32(7));
        expected.extend_from_slice(&ne32(0));
        expected.extend_from_slice(&[10, 64, 0x02, 0]); // AF_INET6, /64, NODAD, universe
        expected.extend_from_slice(&ne32(3));
        for kind in [2u16, 1] {
            expected.extend_from_slice(&ne16(20));
            expected.extend_from_slice(&ne16(kind));
            expected.extend_from_slice(&ADDR);
        }
        expected.extend_from_slice(&ne16(8));
        expected.extend_from_slice(&ne16(8)); // IFA_FLAGS
        expected.extend_from_slice(&ne32(0x02));
        assert_eq!(message, expected);
    }

    #[test]
    fn delete_request_names_address_and_prefix_only() {
        let addr: Ipv6Addr = "fe80::10".parse().unwrap();
        let message = address_request(Change::Delete, 9, 4, addr, 128);
        assert_eq!(message.len(), 64);
        assert_eq!(message[4..6], ne16(21)); // RTM_DELADDR
        assert_eq!(message[6..8], ne16(0x0005)); // REQUEST|ACK
        assert_eq!(message[16..20], [10, 128, 0x02, 253]); // link scope
        assert_eq!(message[20..24], ne32(4));
    }

    fn error_message(seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&ne32(36));
        m.extend_from_slice(&ne16(2));
        m.extend_from_slice(&ne16(0));
        m.extend_from_slice(&ne32(seq));
        m.extend_from_slice(&ne32(0));
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&[0; 16]); // the request's header, echoed
        m
    }

    #[test]
    fn replies_are_matched_to_their_request() {
        assert_eq!(read_reply(&error_message(5, 0), 5).unwrap(), Reply::Ack);
        assert_eq!(
            read_reply(&error_message(5, -libc::EEXIST), 5).unwrap(),
            Reply::Refused(libc::EEXIST)
        );
        assert_eq!(
            read_reply(&error_message(4, 0), 5).unwrap(),
            Reply::Unrelated
        );
        let mut two = error_message(4, -libc::EINVAL);
        two.extend_from_slice(&error_message(5, -libc::EADDRNOTAVAIL));
        assert_eq!(
            read_reply(&two, 5).unwrap(),
            Reply::Refused(libc::EADDRNOTAVAIL)
        );
    }

    #[test]
    fn truncated_replies_are_errors() {
        let mut m = error_message(5, 0);
        m[..4].copy_from_slice(&ne32(400));
        assert!(read_reply(&m, 5).is_err());
        assert_eq!(read_reply(&[0; 8], 5).unwrap(), Reply::Unrelated);
    }
}
