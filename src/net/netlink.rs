//! Just enough rtnetlink to manage addresses: a `NETLINK_ROUTE` socket
//! that sends the requests of [`addrmsg`] (one, or many in few
//! datagrams) and waits for the kernel's acknowledgement of each, and
//! that reads a dump of a family's addresses. Only rtnetlink can give an
//! address a lifetime (`IFA_CACHEINFO`) or set `IFA_F_NODAD`. The replies
//! are read by pure functions (tested here); [`Netlink`] only moves bytes.
//!
//! [`addrmsg`]: super::addrmsg

use std::collections::BTreeMap;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::addrmsg::{
    self, address_request, dump_request, error_code, malformed, messages, Change, KernelAddress,
    NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR, RTM_NEWADDR,
};

/// How long the kernel may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests sent in one datagram. The kernel queues all their
/// acknowledgements before we read one; a refusal echoes the request, so
/// this many stay well inside the default receive buffer.
const BATCH: usize = 32;
/// The largest datagram the kernel sends a dump in is 32 KiB.
const RECEIVE_BUFFER: usize = 64 * 1024;
/// Dumps tried again when the kernel says the list changed under them.
const DUMP_TRIES: usize = 8;

/// The acknowledgements in one datagram: (sequence number, errno), errno
/// 0 for success.
pub fn read_acks(datagram: &[u8]) -> io::Result<Vec<(u32, i32)>> {
    messages(datagram)?
        .into_iter()
        .filter(|m| m.kind == NLMSG_ERROR)
        .map(|m| Ok((m.seq, error_code(m.body)?)))
        .collect()
}

/// What one datagram of the dump `seq` holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DumpPart {
    /// The addresses in it.
    pub addresses: Vec<KernelAddress>,
    /// The dump ended with it.
    pub done: bool,
    /// The kernel saw the list change while dumping it: it may be
    /// inconsistent.
    pub interrupted: bool,
}

/// Reads one datagram of the dump `seq`; a refusal is the kernel's errno.
/// Messages about other requests are skipped.
pub fn read_dump(datagram: &[u8], seq: u32) -> io::Result<DumpPart> {
    let mut part = DumpPart::default();
    for message in messages(datagram)? {
        if message.seq != seq {
            continue;
        }
        part.interrupted |= message.flags & NLM_F_DUMP_INTR != 0;
        match message.kind {
            RTM_NEWADDR => part.addresses.extend(addrmsg::read_address(message.body)?),
            NLMSG_DONE => {
                // The body holds the dump's own error code, when it has one.
                match error_code(message.body) {
                    Ok(errno) if errno != 0 => return Err(io::Error::from_raw_os_error(errno)),
                    _ => part.done = true,
                }
            }
            NLMSG_ERROR => match error_code(message.body)? {
                0 => part.done = true,
                errno => return Err(io::Error::from_raw_os_error(errno)),
            },
            _ => {}
        }
    }
    Ok(part)
}

/// A NETLINK_ROUTE socket in the calling thread's network namespace.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    buffer: Vec<u8>,
}

impl Netlink {
    /// Opens an rtnetlink socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        let fd = route_socket()?;
        let timeout = libc::timeval {
            tv_sec: REPLY_TIMEOUT.as_secs().try_into().unwrap_or(0x7fff_ffff),
            tv_usec: 0,
        };
        set_socket_option(&fd, libc::SO_RCVTIMEO, &timeout)?;
        Ok(Netlink {
            fd,
            seq: 0,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Applies `change` to `address` and waits for the kernel's answer; a
    /// refusal is the kernel's errno as an `io::Error`.
    pub fn change(&mut self, change: Change, address: &KernelAddress) -> io::Result<()> {
        self.change_all(change, &[address])?
            .pop()
            .unwrap_or_else(|| Err(malformed("no answer")))
    }

    /// Applies `change` to each of `addresses`, many per datagram, and
    /// returns the kernel's answer to each, in order. The outer error is
    /// the socket's (nothing is known of the requests not yet answered).
    pub fn change_all(
        &mut self,
        change: Change,
        addresses: &[&KernelAddress],
    ) -> io::Result<Vec<io::Result<()>>> {
        let mut answers = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(BATCH) {
            let first = self.seq.wrapping_add(1);
            let mut datagram = Vec::with_capacity(chunk.len() * 96);
            for address in chunk {
                self.seq = self.seq.wrapping_add(1);
                datagram.extend_from_slice(&address_request(change, self.seq, address));
            }
            self.send(&datagram)?;
            let mut errnos: BTreeMap<u32, i32> = BTreeMap::new();
            while errnos.len() < chunk.len() {
                let got = self.receive()?;
                for (seq, errno) in read_acks(&self.buffer[..got])? {
                    let offset = seq.wrapping_sub(first);
                    if (offset as usize) < chunk.len() {
                        errnos.insert(offset, errno);
                    }
                }
            }
            answers.extend(errnos.into_values().map(|errno| match errno {
                0 => Ok(()),
                errno => Err(io::Error::from_raw_os_error(errno)),
            }));
        }
        Ok(answers)
    }

    /// Every address of `family` (`libc::AF_INET` or `libc::AF_INET6`) in
    /// the namespace, from one consistent dump.
    pub fn addresses(&mut self, family: u8) -> io::Result<Vec<KernelAddress>> {
        for _ in 0..DUMP_TRIES {
            self.seq = self.seq.wrapping_add(1);
            let seq = self.seq;
            self.send(&dump_request(family, seq))?;
            let (mut all, mut interrupted) = (Vec::new(), false);
            loop {
                let got = self.receive()?;
                let part = read_dump(&self.buffer[..got], seq)?;
                all.extend(part.addresses);
                interrupted |= part.interrupted;
                if part.done {
                    break;
                }
            }
            if !interrupted {
                return Ok(all);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            format!("the address list kept changing during {DUMP_TRIES} dumps"),
        ))
    }

    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        send(&self.fd, datagram)
    }

    /// Receives one datagram into the buffer; its length.
    fn receive(&mut self) -> io::Result<usize> {
        receive(&self.fd, &mut self.buffer)
    }
}

/// A fresh `NETLINK_ROUTE` socket in the calling thread's namespace.
pub(super) fn route_socket() -> io::Result<OwnedFd> {
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
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the `SOL_SOCKET` option `name` of `socket` to `value`, which must
/// be of the type the option takes (an int or a timeval here).
pub(super) fn set_socket_option<T>(
    socket: &OwnedFd,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: a valid descriptor, and a pointer to a value of the size
    // given, read during the call only.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends one datagram to the kernel.
pub(super) fn send(socket: &OwnedFd, datagram: &[u8]) -> io::Result<()> {
    // SAFETY: the buffer is valid for its length; with no address the
    // datagram goes to the kernel.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            datagram.as_ptr() as *const libc::c_void,
            datagram.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram into `buffer` (blocking, or up to the socket's
/// receive time-out); its length. One larger than the buffer is an error.
pub(super) fn receive(socket: &OwnedFd, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the buffer is valid for writes of its length; with
        // MSG_TRUNC the kernel still writes at most that much and returns
        // the datagram's full length.
        let got = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr() as *mut libc::c_void,
                buffer.len(),
                libc::MSG_TRUNC,
            )
        };
        if got < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let got = got as usize;
        if got > buffer.len() {
            return Err(malformed("datagram larger than the receive buffer"));
        }
        return Ok(got);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::addrmsg::tests::{ne16, ne32};
    use crate::net::addrmsg::Lifetimes;
    use std::net::IpAddr;

    fn header(len: u32, kind: u16, flags: u16, seq: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&ne32(len));
        m.extend_from_slice(&ne16(kind));
        m.extend_from_slice(&ne16(flags));
        m.extend_from_slice(&ne32(seq));
        m.extend_from_slice(&ne32(0));
        m
    }

    fn error_message(seq: u32, code: i32) -> Vec<u8> {
        let mut m = header(36, 2, 0, seq);
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&[0; 16]); // the request's header, echoed
        m
    }

    #[test]
    fn acknowledgements_are_read_with_their_request() {
        assert_eq!(read_acks(&error_message(5, 0)).unwrap(), [(5, 0)]);
        let mut two = error_message(4, -libc::EINVAL);
        two.extend_from_slice(&error_message(5, -libc::EADDRNOTAVAIL));
        assert_eq!(
            read_acks(&two).unwrap(),
            [(4, libc::EINVAL), (5, libc::EADDRNOTAVAIL)]
        );
    }

    #[test]
    fn truncated_replies_are_errors() {
        let mut m = error_message(5, 0);
        m[..4].copy_from_slice(&ne32(400));
        assert!(read_acks(&m).is_err());
        assert!(read_acks(&[0; 8]).unwrap().is_empty());
        // An error message cut before its code.
        let mut short = header(20, 2, 0, 5);
        short.extend_from_slice(&[0; 4]);
        short[..4].copy_from_slice(&ne32(18));
        assert!(read_acks(&short).is_err());
    }

    /// A dump entry as the kernel writes it: 10.0.0.5/24 on index 3,
    /// labelled `va:1`, 7 s left, created at 12.34 s after boot.
    fn dump_entry(seq: u32, flags: u16) -> Vec<u8> {
        let mut body = vec![2, 24, 0, 0];
        body.extend_from_slice(&ne32(3));
        for kind in [1u16, 2] {
            body.extend_from_slice(&ne16(8));
            body.extend_from_slice(&ne16(kind));
            body.extend_from_slice(&[10, 0, 0, 5]);
        }
        body.extend_from_slice(&ne16(8));
        body.extend_from_slice(&ne16(4)); // IFA_BROADCAST
        body.extend_from_slice(&[10, 0, 0, 255]);
        body.extend_from_slice(&ne16(9));
        body.extend_from_slice(&ne16(3)); // IFA_LABEL
        body.extend_from_slice(b"va:1\0\0\0\0");
        body.extend_from_slice(&ne16(8));
        body.extend_from_slice(&ne16(8)); // IFA_FLAGS
        body.extend_from_slice(&ne32(0));
        body.extend_from_slice(&ne16(20));
        body.extend_from_slice(&ne16(6)); // IFA_CACHEINFO
        for word in [7u32, 7, 1234, 1300] {
            body.extend_from_slice(&ne32(word));
        }
        let mut m = header(16 + body.len() as u32, 20, flags, seq);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn dumps_are_read_to_their_end() {
        let mut datagram = dump_entry(9, 0x2);
        datagram.extend_from_slice(&dump_entry(8, 0x2)); // another request's
        let part = read_dump(&datagram, 9).unwrap();
        assert!(!part.done && !part.interrupted);
        assert_eq!(
            part.addresses,
            [KernelAddress {
                index: 3,
                local: IpAddr::from([10, 0, 0, 5]),
                peer: IpAddr::from([10, 0, 0, 5]),
                prefix_len: 24,
                label: Some("va:1".into()),
                broadcast: Some([10, 0, 0, 255].into()),
                scope: 0,
                flags: 0,
                lifetimes: Some(Lifetimes {
                    preferred: 7,
                    valid: 7
                }),
                created: 1234,
                metric: None,
            }]
        );
        let mut end = header(20, 3, 0x2, 9);
        end.extend_from_slice(&ne32(0));
        let part = read_dump(&end, 9).unwrap();
        assert!(part.done && part.addresses.is_empty());
        // Changed while dumped.
        assert!(read_dump(&dump_entry(9, 0x12), 9).unwrap().interrupted);
        // Refused.
        let err = read_dump(&error_message(9, -libc::EPERM), 9).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    }

    #[test]
    fn a_cut_dump_entry_is_an_error_never_a_panic() {
        let whole = dump_entry(9, 0x2);
        // Where the attributes of the entry start and end.
        let boundaries = [24, 32, 40, 48, 60, 68, 88];
        for cut in 16..whole.len() {
            let mut part = whole[..cut].to_vec();
            part[..4].copy_from_slice(&ne32(cut as u32));
            let read = read_dump(&part, 9);
            if cut < 24 {
                assert!(read.is_err(), "cut at {cut}");
            }
            if boundaries.contains(&cut) {
                let part = read.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
                assert_eq!(part.addresses.len(), usize::from(cut > 24), "cut at {cut}");
            }
        }
        let mut bad = whole.clone();
        // The label attribute claims more than the message holds.
        bad[48] = 200;
        assert!(read_dump(&bad, 9).is_err());
    }
}
