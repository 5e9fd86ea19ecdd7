//! Datagrams in batches: one `recvmmsg` reads every datagram the socket
//! holds (up to [`SLOTS`]) and one `sendmmsg` sends all a turn of the
//! worker has to send (a heartbeat tick to every peer). At 32 nodes a node
//! sends and receives some 390 heartbeats a second (1,550 with a quorum:
//! see the membership's "Heartbeats in turn"). Since followers send
//! in step with their coordinator (see the membership's "Timing"), they
//! come in bursts, and one wake-up and one read take a burst: about 300
//! wake-ups a second instead of one per datagram.
//!
//! `wait_readable` waits for the next datagram or error on any socket.
//!
//! Both batches keep what the worker did with one call per datagram: every
//! datagram is read or sent in order, and an error belongs to the one
//! datagram it concerns (the call stops there and is made again past it).

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Datagrams read by one call.
pub(super) const SLOTS: usize = 32;
/// Room for one datagram: the longest the protocol sends, plus room to
/// see a longer one.
const SLOT_LEN: usize = 65_536;

/// The buffers [`Inbox::receive`] fills. Its memory (2 MiB) is mapped on
/// demand: only the pages datagrams were written to are ever resident.
pub(super) struct Inbox {
    buffer: Vec<u8>,
    lens: [usize; SLOTS],
    from: [Option<SocketAddr>; SLOTS],
    count: usize,
}

impl Inbox {
    pub(super) fn new() -> Inbox {
        Inbox {
            buffer: vec![0; SLOTS * SLOT_LEN],
            lens: [0; SLOTS],
            from: [None; SLOTS],
            count: 0,
        }
    }

    /// Reads what `socket` holds without blocking, up to [`SLOTS`]
    /// datagrams; `Ok(0)` never comes (an empty socket is `WouldBlock`).
    pub(super) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.count = 0;
        let mut names = [sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); SLOTS];
        let (mut iovs, mut headers) = empty_messages();
        let slots = self.buffer.chunks_exact_mut(SLOT_LEN);
        for (((slot, iov), header), name) in slots
            .zip(iovs.iter_mut())
            .zip(headers.iter_mut())
            .zip(names.iter_mut())
        {
            iov.iov_base = slot.as_mut_ptr().cast();
            iov.iov_len = slot.len();
            header.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
            header.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at its own iovec, name and slot of
        // `self.buffer`, all alive and unaliased for the call; the kernel
        // writes at most the lengths given.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let count = usize::try_from(rc).unwrap_or(0).min(SLOTS);
        for i in 0..count {
            let header = &headers[i];
            // A datagram longer than its slot is cut to the slot (the
            // receiver then refuses it as too long or badly signed).
            self.lens[i] = (header.msg_len as usize).min(SLOT_LEN);
            self.from[i] = source(&names[i], header.msg_hdr.msg_namelen);
        }
        self.count = count;
        Ok(count)
    }

    /// The `i`th datagram of the last [`Inbox::receive`]: its source (none
    /// when it was no IPv4 address) and its bytes.
    pub(super) fn datagram(&self, i: usize) -> (Option<SocketAddr>, &[u8]) {
        debug_assert!(i < self.count);
        let start = i * SLOT_LEN;
        (self.from[i], &self.buffer[start..start + self.lens[i]])
    }
}

fn source(name: &libc::sockaddr_in, len: libc::socklen_t) -> Option<SocketAddr> {
    if (len as usize) < mem::size_of::<libc::sockaddr_in>()
        || libc::c_int::from(name.sin_family) != libc::AF_INET
    {
        return None;
    }
    let ip = Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr));
    Some(SocketAddr::V4(SocketAddrV4::new(
        ip,
        u16::from_be(name.sin_port),
    )))
}

/// [`SLOTS`] message headers and buffer descriptors, all empty.
fn empty_messages() -> ([libc::iovec; SLOTS], [libc::mmsghdr; SLOTS]) {
    // SAFETY: a zeroed iovec (null base, length 0) is a valid value of
    // this plain C struct.
    let iovs = unsafe { mem::zeroed() };
    // SAFETY: a zeroed mmsghdr (null pointers, zero lengths and flags) is
    // a valid value of this plain C struct.
    let headers = unsafe { mem::zeroed() };
    (iovs, headers)
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: a zeroed sockaddr_in is valid; the fields that matter are
    // set below.
    let mut name: libc::sockaddr_in = unsafe { mem::zeroed() };
    name.sin_family = libc::AF_INET as libc::sa_family_t;
    name.sin_port = addr.port().to_be();
    name.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    name
}

/// Sends each datagram to its address, [`SLOTS`] to a call; `failed` is
/// told of each that could not be sent (its index and the error), and the
/// others still go.
pub(super) fn send_all(
    socket: &UdpSocket,
    datagrams: &[(SocketAddrV4, &[u8])],
    mut failed: impl FnMut(usize, io::Error),
) {
    let mut next = 0;
    while next < datagrams.len() {
        let batch = &datagrams[next..(next + SLOTS).min(datagrams.len())];
        let mut names = [sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); SLOTS];
        let (mut iovs, mut headers) = empty_messages();
        for (i, (addr, bytes)) in batch.iter().enumerate() {
            names[i] = sockaddr(*addr);
            iovs[i].iov_base = bytes.as_ptr() as *mut libc::c_void;
            iovs[i].iov_len = bytes.len();
            headers[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_in).cast();
            headers[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            headers[i].msg_hdr.msg_iov = &mut iovs[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `batch.len()` headers point at their own name
        // and iovec, whose bytes stay borrowed for the call; the kernel
        // only reads them.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                batch.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if rc > 0 {
            next += usize::try_from(rc).unwrap_or(1);
            continue;
        }
        let err = io::Error::last_os_error();
        if rc < 0 && err.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // The first datagram of the batch failed: told, and skipped.
        failed(next, err);
        next += 1;
    }
}

/// Blocks until one of `sockets` is readable or reports an error, or
/// `timeout` passes; bit `k` of the answer is set if the socket of link
/// `k` reports an error (its error queue holds one).
pub(super) fn wait_readable(sockets: &[UdpSocket], timeout: Duration) -> io::Result<u8> {
    let mut pollfds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|socket| libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let spec = libc::timespec {
        // The type of tv_sec differs between C libraries and CPUs; a wait
        // beyond 2^31 - 1 s (68 years) is cut to that, which fits all.
        tv_sec: timeout.as_secs().try_into().unwrap_or(0x7fff_ffff),
        // Below 10^9: fits every c_long.
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `pollfds.len()` valid pollfds and a valid timespec for the
    // duration of the call; no signal mask is changed.
    let rc = unsafe {
        libc::ppoll(
            pollfds.as_mut_ptr(),
            pollfds.len() as libc::nfds_t,
            &spec,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pollfds
        .iter()
        .enumerate()
        .filter(|(_, p)| p.revents & libc::POLLERR != 0)
        .fold(0, |bits, (k, _)| bits | 1 << k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
        (a, b)
    }

    fn v4(socket: &UdpSocket) -> SocketAddrV4 {
        match socket.local_addr().expect("address") {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => panic!("bound to IPv4"),
        }
    }

    /// Every datagram of a batch larger than one call arrives, in order,
    /// with its length and source, and an empty socket would block.
    #[test]
    fn sends_and_receives_every_datagram_in_order() {
        let (a, b) = pair();
        let payloads: Vec<Vec<u8>> = (0..SLOTS + 7).map(|i| vec![i as u8; 10 + i]).collect();
        let datagrams: Vec<(SocketAddrV4, &[u8])> =
            payloads.iter().map(|p| (v4(&b), p.as_slice())).collect();
        send_all(&a, &datagrams, |i, err| {
            panic!("datagram {i} not sent: {err}")
        });
        let mut inbox = Inbox::new();
        let mut got = Vec::new();
        while got.len() < payloads.len() {
            let n = inbox.receive(&b).expect("the datagrams are there");
            for i in 0..n {
                let (from, bytes) = inbox.datagram(i);
                assert_eq!(from, Some(SocketAddr::V4(v4(&a))));
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, payloads);
        let empty = inbox.receive(&b).expect_err("nothing left");
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
    }

    /// A datagram the kernel refuses is reported by its index, and the
    /// ones after it still go.
    #[test]
    fn a_failed_datagram_is_reported_and_the_rest_still_go() {
        let (a, b) = pair();
        let too_long = vec![0u8; 70_000];
        let datagrams: Vec<(SocketAddrV4, &[u8])> = vec![
            (v4(&b), b"first"),
            (v4(&b), too_long.as_slice()),
            (v4(&b), b"last"),
        ];
        let mut failures = Vec::new();
        send_all(&a, &datagrams, |i, err| failures.push((i, err.kind())));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].0, 1);
        let mut inbox = Inbox::new();
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = inbox.receive(&b).expect("two datagrams");
            got.extend((0..n).map(|i| inbox.datagram(i).1.to_vec()));
        }
        assert_eq!(got, vec![b"first".to_vec(), b"last".to_vec()]);
    }
}
